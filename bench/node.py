# SPDX-License-Identifier: Apache-2.0
"""Node: ``tipshare-node prepare`` on 10k, 100k and 1M-row exports, against parsing the same files with ``csv``.

What is measured
----------------
* **Exports.** Synthetic, messy HTCDS exports (:func:`node.synth.generate_export`, profile ``ua``, twelve
  months, ``dirty=True``: duplicates, historic events, mixed spellings, free text with quotes and line breaks),
  ``cases.csv`` plus ``contacts.csv``; rows = data rows of both files. The 1M-row export (and the quick run's
  20k) is the 100k (10k) export copied ten (two) times with the person, case and contactor ids suffixed per copy
  (generating 1M rows directly takes a minute); its true counts are the copies' sum, checked once on the
  smallest replica with :func:`node.aggregate.prepare_tables`.
* **prepare.** ``node.cli.main(["prepare", "--period", P, cases, "--contacts", contacts, "--json"])`` in a fresh
  process, in a node home made by ``tipshare-node init`` against a real in-process hub and copied afresh for
  every run (a home that already holds the period would return its stored release without reading anything).
  It reads, checks and aggregates every row, calibrates, draws the noise once (OpenDP), checks the release as the
  hub will, stores it in the ledger and prints the preview. The time spent in :func:`node.noise.add_noise` and
  in :func:`node.aggregate.prepare_tables` is measured by wrapping them in the child.
* **Baseline.** The same two files read with ``csv.reader`` in a fresh process: the floor for any reader.
* **Memory.** Peak resident set of the child (``VmHWM``), and its growth over the resident set just before
  the command ran (imports excluded).

Runs alternate baseline / prepare, per size; medians are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from bench.common import ROOT, BenchResult, Metric, RunContext, median

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "node"
TITLE: Final = "tipshare-node prepare on 10k/100k/1M-row exports vs csv parsing; memory; noise share"

PERIOD: Final = "2025-06"
PROFILE: Final = "ua"
_ID_COLUMNS: Final = {"cases.csv": ("ext_PersonID", "ext_CaseID"), "contacts.csv": ("ext_ContactorID",)}
#: Rows per person-month of profile ``ua`` with ``contacts_per_month == persons_per_month``: about 1.3 case rows
#: and 1 contact row per person, twelve months.
_ROWS_PER_PERSON_MONTH: Final = 27.7


# ---------------------------------------------------------------------------------------------- the child


def _status_kib(field: str) -> int:
    """A memory figure of this process from ``/proc/self/status`` (``VmRSS``, ``VmHWM``), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _rss_kib() -> int:
    return _status_kib("VmRSS")


def _timed(function: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - started)

    return wrapper


def _child_prepare(cases: Path, contacts: Path, result: Path) -> None:
    import node.aggregate
    import node.noise
    import node.release
    from node.cli import main

    reading: list[float] = []
    noise: list[float] = []
    # Module attributes looked up at call time: prepare_tables by node.cli, add_noise by node.release.
    setattr(node.aggregate, "prepare_tables", _timed(node.aggregate.prepare_tables, reading))  # noqa: B010
    setattr(node.release, "add_noise", _timed(node.noise.add_noise, noise))  # noqa: B010
    before = _rss_kib()
    started = time.perf_counter()
    code = main(["prepare", "--period", PERIOD, str(cases), "--contacts", str(contacts), "--json"])
    seconds = time.perf_counter() - started
    _write(result, code, seconds, before, read_seconds=sum(reading), noise_seconds=sum(noise))


def _child_csv(cases: Path, contacts: Path, result: Path) -> None:
    before = _rss_kib()
    started = time.perf_counter()
    rows = 0
    for path in (cases, contacts):
        with path.open(encoding="utf-8", newline="") as handle:
            for _ in csv.reader(handle):
                rows += 1
    seconds = time.perf_counter() - started
    _write(result, 0, seconds, before, rows=rows)


def _write(result: Path, code: int, seconds: float, before: int, **extra: float) -> None:
    # VmHWM, not ru_maxrss: after fork + exec Linux carries the parent's ru_maxrss over into the child.
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    document = {"code": code, "seconds": seconds, "rss_before_kib": before, "peak_rss_kib": peak, **extra}
    result.write_text(json.dumps(document), encoding="utf-8")


def _child(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.node")
    parser.add_argument("mode", choices=("prepare", "csv"))
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--contacts", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    options = parser.parse_args(argv)
    if options.mode == "prepare":
        _child_prepare(options.cases, options.contacts, options.result)
    else:
        _child_csv(options.cases, options.contacts, options.result)
    return 0


# ---------------------------------------------------------------------------------------------- exports


def _generate(directory: Path, rows: int, seed: int) -> Path:
    from node.synth import generate_export

    persons = max(1, round(rows / _ROWS_PER_PERSON_MONTH))
    generate_export(
        out_dir=directory,
        profile=PROFILE,
        months=12,
        seed=seed,
        persons_per_month=persons,
        contacts_per_month=persons,
        dirty=True,
    )
    return directory


def _replicate(source: Path, target: Path, copies: int) -> Path:
    """``copies`` copies of an export, ids suffixed per copy: an export of ``copies`` times the persons."""
    target.mkdir(parents=True, exist_ok=True)
    for name, columns in _ID_COLUMNS.items():
        with (source / name).open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows = list(reader)
        positions = [header.index(column) for column in columns]
        with (target / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(header)
            for copy in range(copies):
                if copy == 0:
                    writer.writerows(rows)
                    continue
                for row in rows:
                    changed = list(row)
                    for position in positions:
                        if changed[position].strip():
                            changed[position] = f"{changed[position].strip()}-x{copy}"
                    writer.writerow(changed)
    return target


def _data_rows(directory: Path) -> int:
    total = 0
    for name in _ID_COLUMNS:
        with (directory / name).open(encoding="utf-8", newline="") as handle:
            total += sum(1 for _ in csv.reader(handle)) - 1
    return total


def _check_replica(original: Path, replica: Path, copies: int) -> None:
    """The replica's true tables are ``copies`` times the original's (both read by the node's input code)."""
    from node.aggregate import prepare_tables
    from protocol.taxonomy import builtin_taxonomy

    taxonomy = builtin_taxonomy()

    def tables(directory: Path) -> dict[str, list[int]]:
        found = prepare_tables(
            cases=directory / "cases.csv",
            contacts=directory / "contacts.csv",
            mapping=None,
            period=PERIOD,
            taxonomy=taxonomy,
        )
        return {name: list(counts) for name, counts in found.counts.items()}

    single, multiple = tables(original), tables(replica)
    expected = {name: [copies * v for v in counts] for name, counts in single.items()}
    if multiple != expected:
        raise AssertionError("the replicated export does not hold exactly the copies' persons")


# ---------------------------------------------------------------------------------------------- node home


def _node_home(workdir: Path) -> Path:
    """A node home made by ``tipshare-node init`` against a real hub (in process, through starlette's client)."""
    with warnings.catch_warnings():  # starlette would prefer the httpx2 fork; the hub's tests use httpx too
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        from fastapi.testclient import TestClient

    from hub.app import create_app
    from hub.settings import Settings
    from hub.setup import initialise_hub
    from node.cli import main
    from node.settings import NodeSettings

    context = initialise_hub(Settings(data_dir=workdir / "hub"), origin="bench.tipshare/node")
    app = create_app(context=context)

    def factory(settings: NodeSettings) -> TestClient:
        return TestClient(app)

    home = workdir / "node-home"
    previous = os.environ.get("TIPSHARE_NODE_HOME")
    os.environ["TIPSHARE_NODE_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(
                ["init", "--hotline-id", "bench-node", "--hub", "https://testserver", "--json"],
                http_client_factory=factory,
            )
    finally:
        if previous is None:
            os.environ.pop("TIPSHARE_NODE_HOME", None)
        else:
            os.environ["TIPSHARE_NODE_HOME"] = previous
        context.engine.dispose()
    if code != 0:
        raise RuntimeError("tipshare-node init failed")
    return home


# ---------------------------------------------------------------------------------------------- the run


def _spawn(mode: str, export: Path, workdir: Path, home: Path | None) -> dict[str, Any]:
    result = workdir / f"result-{mode}.json"
    result.unlink(missing_ok=True)
    environment = dict(os.environ)
    if home is not None:
        environment["TIPSHARE_NODE_HOME"] = str(home)
    command = [sys.executable, "-m", "bench.node", mode, "--cases", str(export / "cases.csv")]
    command += ["--contacts", str(export / "contacts.csv"), "--result", str(result)]
    finished = subprocess.run(  # noqa: S603 - this module, fixed arguments
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if finished.returncode != 0 or not result.exists():
        raise RuntimeError(f"bench.node {mode} failed: {finished.stderr.decode(errors='replace')[-2000:]}")
    document: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    if document["code"] != 0:
        raise RuntimeError(f"tipshare-node prepare exited with {document['code']}")
    return document


def _size_label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}k"


def run(ctx: RunContext) -> BenchResult:
    result = BenchResult(name=NAME, title=TITLE)
    base_rows, copies = (10_000, 2) if ctx.quick else (100_000, 10)
    runs = 1 if ctx.quick else 3
    ctx.log("node home (tipshare-node init against an in-process hub)")
    template = _node_home(ctx.workdir)
    ctx.log(f"exports: {base_rows:,} rows generated, x{copies} replicated")
    exports: list[tuple[str, Path]] = []
    small = _generate(ctx.workdir / "export-10k", 10_000, seed=10)
    if not ctx.quick:
        exports.append(("10k", small))
    base = _generate(ctx.workdir / f"export-{base_rows // 1000}k", base_rows, seed=100) if not ctx.quick else small
    exports.append((_size_label(base_rows), base))
    replica = _replicate(base, ctx.workdir / "export-replica", copies)
    exports.append((_size_label(base_rows * copies), replica))
    _check_replica(small, _replicate(small, ctx.workdir / "export-check", 2), 2)
    details: dict[str, Any] = {"period": PERIOD, "profile": PROFILE, "runs": runs, "sizes": {}}
    for label, export in exports:
        rows = _data_rows(export)
        baseline_runs: list[dict[str, Any]] = []
        prepare_runs: list[dict[str, Any]] = []
        for attempt in range(runs):
            ctx.log(f"{label} ({rows:,} rows): run {attempt + 1}/{runs}")
            baseline_runs.append(_spawn("csv", export, ctx.workdir, None))
            home = ctx.workdir / "home-run"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(template, home)
            prepare_runs.append(_spawn("prepare", export, ctx.workdir, home))
        _report(result, label, rows, baseline_runs, prepare_runs)
        details["sizes"][label] = {"rows": rows, "csv": baseline_runs, "prepare": prepare_runs}
    result.details = details
    result.notes.append(
        f"prepare = the whole CLI command in a fresh process (read, check, aggregate, OpenDP noise, ledger, preview); "
        f"exports are synthetic, messy, 12 months of profile {PROFILE}; period {PERIOD}"
    )
    return result


def _report(
    result: BenchResult, label: str, rows: int, baseline: list[dict[str, Any]], prepared: list[dict[str, Any]]
) -> None:
    csv_rates = [rows / r["seconds"] for r in baseline]
    rates = [rows / r["seconds"] for r in prepared]
    rate, csv_rate = median(rates), median(csv_rates)
    result.add(
        Metric(
            f"{label} prepare",
            rate,
            "rows/s",
            baseline=csv_rate,
            baseline_name="csv.reader",
            ratio=csv_rate / rate,
            runs=tuple(round(r) for r in rates),
            note=f"{rows:,} rows, median {median([r['seconds'] for r in prepared]):.2f} s",
        )
    )
    peak = median([r["peak_rss_kib"] / 1024 for r in prepared])
    growth = median([(r["peak_rss_kib"] - r["rss_before_kib"]) / 1024 for r in prepared])
    csv_peak = median([r["peak_rss_kib"] / 1024 for r in baseline])
    result.add(
        Metric(
            f"{label} peak memory",
            peak,
            "MiB",
            baseline=csv_peak,
            baseline_name="csv.reader",
            ratio=peak / csv_peak,
            note=f"growth during prepare {growth:.0f} MiB ({growth * 1024 * 1024 / rows:.0f} bytes/row)",
        )
    )
    shares = [100.0 * r["noise_seconds"] / r["seconds"] for r in prepared]
    reading = median([100.0 * r["read_seconds"] / r["seconds"] for r in prepared])
    result.add(
        Metric(
            f"{label} noise share",
            median(shares),
            "%",
            runs=tuple(round(s, 1) for s in shares),
            note=f"noise {median([r['noise_seconds'] for r in prepared]):.2f} s; reading+aggregating {reading:.0f} %",
        )
    )


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
