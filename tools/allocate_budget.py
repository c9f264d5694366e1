# SPDX-License-Identifier: Apache-2.0
"""Compute a taxonomy's budget weights from its workload and write them into the document.

    python tools/allocate_budget.py                       # taxonomy v2: print the weights and expected accuracy
    python tools/allocate_budget.py --write               # ... and write them into protocol/data/taxonomy-v2.json
    python tools/allocate_budget.py --check               # exit 1 if the document's weights are not the computed ones

The weights minimise the expected error of the coordinators' questions recorded in the taxonomy's ``workload``
(see protocol/allocation.py for the objective and the method). Changing the workload, a table or a bound changes
the weights: run this with ``--write`` and commit both. The taxonomy's content hash changes with its weights, so
only ever do this for a taxonomy that no hub has published yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from protocol.allocation import allocate, expected_halfwidths
from protocol.taxonomy import load_taxonomy

_DEFAULT = Path(__file__).resolve().parent.parent / "protocol" / "data" / "taxonomy-v2.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("document", nargs="?", type=Path, default=_DEFAULT, help="taxonomy JSON (default: v2)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write the computed weights into the document")
    action.add_argument("--check", action="store_true", help="fail if the document's weights differ")
    args = parser.parse_args(argv)

    document = json.loads(args.document.read_text(encoding="utf-8"))
    taxonomy = load_taxonomy(document)
    computed = {mechanism: allocate(taxonomy, mechanism) for mechanism in ("discrete_gaussian", "discrete_laplace")}
    for mechanism, weights in computed.items():
        print(f"{mechanism}: weights per mille")
        for table, weight in weights.items():
            print(f"  {table:28s} {weight:4d}")
        shares = {table: weight / sum(weights.values()) for table, weight in weights.items()}
        print(f"  expected 95% half-widths at {taxonomy.workload_hotlines} hotlines (default budget), needed:")
        for expected in expected_halfwidths(taxonomy, shares, mechanism):
            q = expected.question
            print(f"    {q.id:28s} {expected.halfwidth:8.1f}  (needs {q.halfwidth}, priority {q.priority})")
    recorded = document.get("budget", {}).get("weights", {})
    if args.check:
        if recorded != computed:
            print(f"{args.document}: recorded weights differ from the computed ones; run with --write", file=sys.stderr)
            return 1
        print(f"{args.document}: recorded weights are the computed ones")
        return 0
    if args.write:
        document["budget"]["weights"] = computed
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        args.document.write_text(text, encoding="utf-8")
        print(f"wrote {args.document} ({load_taxonomy(json.loads(text)).content_hash})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
