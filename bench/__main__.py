# SPDX-License-Identifier: Apache-2.0
"""``python -m bench [NAME ...] [--quick]``: run the benchmarks, print one table, write ``results/latest.json``.

Each benchmark measures its own baseline in the same run and reports ratios (see :mod:`bench.common`). Progress
goes to stderr; the table goes to stdout. Exit status 0 when every benchmark ran (targets missed are reported,
never turned into a failure: timings are not assertions), 1 when a benchmark crashed.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Protocol

from bench.common import RESULTS_DIR, BenchResult, RunContext, machine_description, render_table, write_results

__all__ = ["BENCHMARKS", "main"]

#: name -> module, in the order ``python -m bench`` runs them.
BENCHMARKS: Final = {
    "accuracy": "bench.accuracy",
    "workload": "bench.workload",
    "query": "bench.query",
    "ingest": "bench.ingest",
    "node": "bench.node",
    "auditor": "bench.auditor",
    "answers": "bench.answers",
    "ratelimit": "bench.ratelimit",
}


class _Benchmark(Protocol):
    NAME: str
    TITLE: str

    def run(self, ctx: RunContext) -> BenchResult: ...


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _prefixed(name: str) -> Callable[[str], None]:
    return lambda message: _log(f"{name}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="tipshare benchmarks: accuracy and speed, as ratios to baselines measured in the same run.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: smaller sizes, fewer runs")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the results JSON (default: bench/results/latest.json; quick runs: quick.json)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories (printed on stderr)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    options = _parser().parse_args(arguments)
    if options.list:
        for name, path in BENCHMARKS.items():
            print(f"{name:10s} {importlib.import_module(path).TITLE}")
        return 0
    unknown = [name for name in options.names if name not in BENCHMARKS]
    if unknown:
        _parser().error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = options.names or list(BENCHMARKS)
    output = options.output or RESULTS_DIR / ("quick.json" if options.quick else "latest.json")
    machine = machine_description()
    started = time.perf_counter()
    results: list[BenchResult] = []
    failed: list[str] = []
    for name in names:
        benchmark: _Benchmark = importlib.import_module(BENCHMARKS[name])
        workdir = Path(tempfile.mkdtemp(prefix=f"tipshare-bench-{name}-"))
        _log(f"{name}: {benchmark.TITLE} ({'quick' if options.quick else 'full'}; scratch {workdir})")
        began = time.perf_counter()
        try:
            result = benchmark.run(RunContext(quick=options.quick, workdir=workdir, log=_prefixed(name)))
        except Exception:  # a crashed benchmark is reported, and the others still run
            failed.append(name)
            _log(f"{name} FAILED:\n{traceback.format_exc()}")
            result = BenchResult(name=name, title=benchmark.TITLE, notes=["crashed: see stderr"])
        finally:
            if not options.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        result.seconds = round(time.perf_counter() - began, 1)
        result.quick = options.quick
        results.append(result)
        _log(f"{name}: done in {result.seconds:.0f} s")
        write_results(output, results, machine=machine, argv=arguments, seconds=time.perf_counter() - started)
    total = time.perf_counter() - started
    print(render_table(results))
    print()
    for result in results:
        for note in result.notes:
            print(f"* {result.name}: {note}")
    print(f"\n{len(results)} benchmark(s) in {total:.0f} s; results in {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
