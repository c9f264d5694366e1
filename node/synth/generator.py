# SPDX-License-Identifier: Apache-2.0
"""Write a synthetic HTCDS-style export (cases.csv, contacts.csv) with its true counts (truth.json) alongside.

>>> import tempfile
>>> from pathlib import Path
>>> directory = tempfile.TemporaryDirectory()
>>> export = generate_export(out_dir=Path(directory.name), profile="ua", months=3, seed=1)
>>> export.periods
('2025-01', '2025-02', '2025-03')
>>> sorted(export.truth()["2025-02"])[:2]
['cases_opened', 'contacts']
>>> directory.cleanup()

Everything is SYNTHETIC and written on purpose: this is the one place in ``node`` that writes records and true
counts, for tests, the demo and benchmarks. It is deterministic for a given seed (``random.Random(seed)``, never
used for noise or keys).

**The truth is computed independently.** The generator decides each person's meaning first (citizenship, where
they were exploited, forms of exploitation, age, ...), derives the codes from its own small tables and its own
reading of the taxonomy's rules (:mod:`node.synth.oracle`), and only then writes values, dirty ones included
(:mod:`node.synth.population`). It never calls the node's input
code, so a test that runs :func:`node.aggregate.prepare_tables` on the export and compares with ``truth.json`` checks
the one against the other. The taxonomy is used only for its code lists and cell order.

**Dirty but valid.** With ``dirty=True`` the export has the mess of a real one that the taxonomy's input rules
still accept: white space around values, lower-case country codes, HTCDS 0.x and CTDC gender spellings, the EL
alias for Greece, ICAO codes (XXA, XXX), blank cells, multiselect cells separated by ``;`` or ``|``, dual
citizenships, ISO date-times, duplicate rows of one person, one row per historic trafficking event (the later event
sometimes first), a semicolon-delimited file (profile ``pl``), and free-text notes with commas, quotes, line breaks
and a formula. ``invalid_rows`` adds rows with values no rule accepts, listed in :attr:`SynthExport.invalid`.
"""

from __future__ import annotations

import csv
import gc
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from node.i18n import N_, Text
from node.synth.oracle import add_months
from node.synth.population import InvalidCell, Population
from node.synth.profiles import SynthError
from node.synth.profiles import profile as get_profile
from protocol.taxonomy import Taxonomy, builtin_taxonomy

__all__ = ["InvalidCell", "SynthExport", "generate_export"]

TRUTH_TYPE: Final = "tipshare-synth-truth"


@dataclass(frozen=True, slots=True)
class SynthExport:
    """Paths of a synthetic export and what it covers."""

    cases: Path
    contacts: Path
    truth_path: Path
    periods: tuple[str, ...]
    profile: str
    seed: int
    hotline_id: str
    case_rows: int
    contact_rows: int
    invalid: tuple[InvalidCell, ...] = field(default=())

    def truth(self) -> dict[str, dict[str, list[int]]]:
        """``truth[period][table]``: the true dense counts the generator computed."""
        document: dict[str, Any] = json.loads(self.truth_path.read_text(encoding="utf-8"))
        periods: dict[str, dict[str, list[int]]] = document["periods"]
        return periods


def generate_export(
    *,
    out_dir: Path,
    profile: str,
    months: int,
    seed: int,
    start: str = "2025-01",
    hotline_id: str | None = None,
    persons_per_month: int | None = None,
    contacts_per_month: int | None = None,
    dirty: bool = True,
    invalid_rows: int = 0,
    taxonomy: Taxonomy | None = None,
) -> SynthExport:
    """Write ``cases.csv``, ``contacts.csv`` and ``truth.json`` for ``months`` months from ``start`` (YYYY-MM)."""
    chosen = get_profile(profile)
    volumes = [v for v in (persons_per_month, contacts_per_month) if v is not None]
    if months < 1 or invalid_rows < 0 or any(v < 1 for v in volumes):
        raise SynthError(Text(N_("months, persons and contacts per month must be at least 1, invalid_rows at least 0")))
    try:
        first = date.fromisoformat(f"{start}-01")
    except ValueError:
        raise SynthError(Text(N_("start must be a month YYYY-MM, not %(start)s"), start=repr(start))) from None
    taxonomy = taxonomy or builtin_taxonomy()
    periods = tuple(add_months(first, m).strftime("%Y-%m") for m in range(months))
    rng = random.Random(f"{seed}/{chosen.name}")
    writer = Population(chosen, rng, dirty=dirty, taxonomy=taxonomy)
    collecting = gc.isenabled()
    gc.disable()  # many small, acyclic objects: the collector's passes would cost a third of the time
    try:
        for period in periods:
            month = date.fromisoformat(f"{period}-01")
            writer.month(
                month,
                chosen.persons_per_month if persons_per_month is None else persons_per_month,
                chosen.contacts_per_month if contacts_per_month is None else contacts_per_month,
            )
    finally:
        if collecting:
            gc.enable()
    invalid = writer.corrupt(invalid_rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases, contacts, truth = out_dir / "cases.csv", out_dir / "contacts.csv", out_dir / "truth.json"
    _write_csv(cases, writer.case_columns, writer.case_rows, chosen.delimiter)
    _write_csv(contacts, _CONTACT_COLUMNS, writer.contact_rows, chosen.delimiter)
    document = {
        "type": TRUTH_TYPE,
        "profile": chosen.name,
        "seed": seed,
        "hotline_id": hotline_id or chosen.hotline_id,
        "taxonomy": {"id": taxonomy.id, "hash": taxonomy.content_hash},
        "periods": {p: writer.truth.get(p) or writer.empty_truth() for p in periods},
    }
    truth.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    return SynthExport(
        cases=cases,
        contacts=contacts,
        truth_path=truth,
        periods=periods,
        profile=chosen.name,
        seed=seed,
        hotline_id=hotline_id or chosen.hotline_id,
        case_rows=len(writer.case_rows),
        contact_rows=len(writer.contact_rows),
        invalid=invalid,
    )


_CONTACT_COLUMNS: Final = ("ext_ContactorID", "ext_ContactDate", "ext_ContactChannel", "ext_ContactType", "Notes")


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]], delimiter: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        out.writerow(columns)
        out.writerows([row.get(c, "") for c in columns] for row in rows)
