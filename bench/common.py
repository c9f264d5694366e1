# SPDX-License-Identifier: Apache-2.0
"""What every benchmark shares: timing, medians and percentiles, the result records, the table, the JSON file.

A benchmark module exposes ``NAME``, ``TITLE`` and ``run(ctx: RunContext) -> BenchResult``. It reports
:class:`Metric` rows: a measured value, the baseline measured in the same run, and their ratio. Ratios are
always *cost relative to the baseline*: ``1.00`` means "as good as the baseline", ``2.0`` means twice the time
(or half the throughput, or twice the interval width). Timings are medians of several runs; the per-run values
are kept in the JSON file so the spread is visible.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Final

__all__ = [
    "RESULTS_DIR",
    "ROOT",
    "Attribution",
    "BenchResult",
    "Metric",
    "RunContext",
    "machine_description",
    "median",
    "percentile",
    "render_table",
    "repeat",
    "stopwatch",
    "wilson_interval",
    "write_results",
]

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS_DIR: Final = ROOT / "bench" / "results"
_PACKAGES: Final = (
    "tipshare",
    "opendp",
    "pynacl",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "psycopg",
    "httpx",
    "rfc8785",
)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What ``python -m bench`` hands every benchmark."""

    quick: bool
    #: A private scratch directory for this benchmark (deleted afterwards unless ``--keep``).
    workdir: Path
    #: Progress lines go here (stderr), results only into the returned :class:`BenchResult`.
    log: Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Metric:
    """One reported figure: ``value`` against ``baseline`` (same run), and ``ratio`` = cost relative to it."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    ratio: float | None = None
    target: str | None = None
    #: Whether the target is met (``None``: no target, or not decidable).
    met: bool | None = None
    #: Per-run values behind a median (empty for single values).
    runs: tuple[float, ...] = ()
    note: str = ""


@dataclass(slots=True)
class BenchResult:
    """Everything one benchmark reports: its metrics, free-form details for the JSON file, and notes."""

    name: str
    title: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric


# ---------------------------------------------------------------------------------------------- timing


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of nothing")
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): an observed value, never an interpolation."""
    if not values:
        raise ValueError("percentile of nothing")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[rank - 1])


def repeat(function: Callable[[], object], *, runs: int, warmup: int = 0) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``function`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        function()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return timings


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as elapsed: ...``; afterwards ``elapsed[0]`` holds the seconds taken."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score 95 % interval of a binomial proportion."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - spread), min(1.0, centre + spread))


class Attribution:
    """Exclusive wall time per category: a wrapped call's time goes to the innermost wrapped call running.

    Wrapping a handful of functions costs microseconds per call, so unlike ``cProfile`` (which inflates code that
    makes many small Python calls several times over) the split is of unprofiled time. Time outside every wrapped
    call goes to ``other``.
    """

    def __init__(self, categories: Sequence[str]) -> None:
        self._categories = tuple(categories) if "other" in categories else (*categories, "other")
        self.seconds: dict[str, float] = dict.fromkeys(self._categories, 0.0)
        self._stack: list[str] = []
        self._mark = time.perf_counter()

    def _switch(self) -> None:
        now = time.perf_counter()
        self.seconds[self._stack[-1] if self._stack else "other"] += now - self._mark
        self._mark = now

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self._categories, 0.0)
        self._mark = time.perf_counter()

    def enter(self, category: str) -> None:
        """Time from now on goes to ``category`` until :meth:`leave` (for what no function marks, e.g. the garbage
        collector through ``gc.callbacks``)."""
        self._switch()
        self._stack.append(category)

    def leave(self) -> None:
        self._switch()
        self._stack.pop()

    def wrap(self, function: Callable[..., Any], category: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._switch()
            self._stack.append(category)
            try:
                return function(*args, **kwargs)
            finally:
                self._switch()
                self._stack.pop()

        return wrapper


# ---------------------------------------------------------------------------------------------- the machine


def machine_description() -> dict[str, Any]:
    """CPU, memory, OS, Python, package and database versions, and the load when the run started."""
    cpu = "unknown"
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [f for f in line.split(":", 1)[1].split() if f in ("avx2", "avx512f", "sha_ni", "aes")]
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    packages: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            packages[name] = package_version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": _os_release(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(),
        "packages": packages,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _postgres_version() -> str | None:
    from tools.postgres_cluster import PostgresUnavailable, find_binaries

    try:
        binary = find_binaries() / "postgres"
    except PostgresUnavailable:
        return None
    try:
        found = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603 - a fixed binary
    except OSError:
        return None
    return found.stdout.strip() or None


# ---------------------------------------------------------------------------------------------- output


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "nan"
    magnitude = abs(value)
    if unit == "%":
        text = f"{value:.2f}"
    elif magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.1f}"
    elif magnitude >= 10:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}" if magnitude < 1 else f"{value:.2f}"
    return f"{text} {unit}".rstrip() if unit not in ("", "x") else text


def render_table(results: Sequence[BenchResult]) -> str:
    """One plain-text table of every metric: value, baseline, ratio (cost relative to the baseline), target."""
    header = ("benchmark", "metric", "value", "baseline", "ratio", "target")
    lines: list[tuple[str, ...]] = []
    for result in results:
        for metric in result.metrics:
            baseline = _number(metric.baseline, metric.unit)
            if metric.baseline_name and baseline:
                baseline = f"{baseline} ({metric.baseline_name})"
            target = metric.target or ""
            if metric.met is not None:
                target = f"{target} {'ok' if metric.met else 'MISSED'}".strip()
            ratio = "" if metric.ratio is None else f"{metric.ratio:.2f}x"
            lines.append((result.name, metric.name, _number(metric.value, metric.unit), baseline, ratio, target))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    rendered = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True)), rule]
    previous = None
    for row in lines:
        if previous is not None and row[0] != previous:
            rendered.append(rule)
        previous = row[0]
        rendered.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(rendered)


def write_results(
    path: Path, results: Sequence[BenchResult], *, machine: dict[str, Any], argv: Sequence[str], seconds: float
) -> None:
    """``bench/results/latest.json``: the machine, the command, and every benchmark's metrics and details.

    Benchmarks this run did not run keep their entries from the file already there (``python -m bench ingest``
    updates ingest's figures and leaves the others), each with a ``recorded`` block saying when and by which
    command its figures were measured.
    """
    machine = dict(machine, load_average_at_end=[round(x, 2) for x in os.getloadavg()])
    finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = [Path(sys.executable).name, "-m", "bench", *argv]
    recorded = {
        "finished_at": finished,
        "command": command,
        "load_average": [machine.get("load_average_at_start"), machine["load_average_at_end"]],
    }
    fresh = {result.name: asdict(result) | {"recorded": recorded} for result in results}
    kept = [entry for entry in _earlier_results(path) if entry.get("name") not in fresh]
    document = {
        "type": "tipshare-bench-results",
        "version": 1,
        "finished_at": finished,
        "command": command,
        "total_seconds": round(seconds, 1),
        "machine": machine,
        "benchmarks": sorted([*kept, *fresh.values()], key=lambda entry: _ORDER.get(str(entry.get("name")), 99)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


#: The order of the benchmarks in the results file (that of ``python -m bench``).
_ORDER: Final = {name: i for i, name in enumerate(("accuracy", "workload", "query", "ingest", "node", "auditor"))}


def _earlier_results(path: Path) -> list[dict[str, Any]]:
    """The benchmark entries of an earlier results file (each with its ``recorded`` block), or none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(document, dict) or document.get("type") != "tipshare-bench-results":
        return []
    machine = document.get("machine") or {}
    earlier = {
        "finished_at": document.get("finished_at"),
        "command": document.get("command"),
        "load_average": [machine.get("load_average_at_start"), machine.get("load_average_at_end")],
    }
    return [
        entry if "recorded" in entry else entry | {"recorded": earlier}
        for entry in document.get("benchmarks", [])
        if isinstance(entry, dict)
    ]
