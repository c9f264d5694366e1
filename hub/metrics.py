# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics with ``prometheus_client``: one set of counters however many workers serve the hub.

Counted as requests are served (:class:`Metrics`): submissions accepted, duplicate and rejected (by reason code),
ingest latency, HTTP requests (by method, route and status) and their latency, requests refused by the rate limits
(by class). ``tipshare-hub serve --workers N`` runs prometheus_client in **multiprocess mode**: it points
``PROMETHEUS_MULTIPROC_DIR`` at a private directory before the workers start (:func:`prepare_multiprocess_dir`),
every worker writes its counts there, and a scrape answered by any worker adds up all of them
(:meth:`Metrics.render`). One worker (and the tests) count in the process.

Read from the database when ``/metrics`` is scraped (:class:`HubStateCollector`; never per worker): the log size,
the hotlines enrolled, the age of the newest checkpoint and of each witness's newest cosignature, and each hotline's
late and missing monthly reports over the last twelve months.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "INGEST_BUCKETS",
    "LATENCY_BUCKETS",
    "MULTIPROCESS_ENV",
    "HubState",
    "HubStateCollector",
    "Metrics",
    "mark_worker_dead",
    "multiprocess_dir",
    "prepare_multiprocess_dir",
]

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INGEST_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The variable prometheus_client reads (at import) to count in files shared by the workers.
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
#: The text exposition format ``/metrics`` answers in.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> Path | None:
    """The shared metrics directory of this process's workers, or ``None`` when counting in the process.

    prometheus_client chose where to count when it was imported: a directory named only later is not used.
    """
    value = os.environ.get(MULTIPROCESS_ENV)
    return Path(value) if value and values.ValueClass is not values.MutexValue else None


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """An empty private directory (0700) for the workers' metric files: ``<data dir>/metrics``, wiped first.

    Called by ``serve`` before the workers start; the counts of an earlier run are gone (counters restart at 0,
    which Prometheus reads as a restart).
    """
    path = data_dir / "metrics"
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)
    path.chmod(stat.S_IRWXU)
    return path


def mark_worker_dead(pid: int) -> None:
    """Tell prometheus_client that worker ``pid`` is gone (its live gauges drop out; its counts stay, as they must)."""
    value = os.environ.get(MULTIPROCESS_ENV)
    path = Path(value) if value else None
    if path is not None and path.is_dir():
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


class Metrics:
    """The counters and histograms of one hub process (in multiprocess mode: its share of the workers' files)."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: a restart is visible as a counter reset anyway
        self._registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = multiprocess_dir()
        registry = self._registry
        self.accepted = Counter(
            "tipshare_submissions_accepted", "Submissions accepted and appended to the log.", registry=registry
        )
        self.duplicates = Counter(
            "tipshare_submissions_duplicate", "Resubmissions of already accepted payloads.", registry=registry
        )
        self.rejected = Counter(
            "tipshare_submissions_rejected", "Submissions rejected, by reason.", ["reason"], registry=registry
        )
        self.ingest = Histogram(
            "tipshare_ingest_seconds",
            "Time to answer a submission (read, verify, append), by outcome: accepted, duplicate or rejected.",
            ["outcome"],
            buckets=INGEST_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "tipshare_http_requests",
            "HTTP requests, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.limited = Counter(
            "tipshare_http_requests_limited",
            "Requests refused by a rate limit (429), by class.",
            ["class"],
            registry=registry,
        )
        self.latency = Histogram(
            "tipshare_http_request_seconds",
            "Request latency, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def submission_accepted(self, *, duplicate: bool, seconds: float | None = None) -> None:
        (self.duplicates if duplicate else self.accepted).inc()
        if seconds is not None:
            self.ingest.labels("duplicate" if duplicate else "accepted").observe(seconds)

    def submission_rejected(self, reason: str, *, seconds: float | None = None) -> None:
        self.rejected.labels(reason).inc()
        if seconds is not None:
            self.ingest.labels("rejected").observe(seconds)

    def request_limited(self, kind: str) -> None:
        self.limited.labels(kind).inc()

    def request_observed(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self, *collectors: Collector) -> bytes:
        """The exposition text: every worker's counts (or this process's), then ``collectors`` (scrape time)."""
        registry = CollectorRegistry(auto_describe=False)
        if self._multiprocess is not None and self._multiprocess.is_dir():
            MultiProcessCollector(registry, path=str(self._multiprocess))  # type: ignore[no-untyped-call]
        else:
            registry.register(_Registered(self._registry))
        for collector in collectors:
            registry.register(collector)
        return generate_latest(registry)


@dataclass(frozen=True, slots=True, eq=False)  # registries key collectors by identity
class _Registered:
    """A registry's metrics as one collector of another registry (the process's counts, in one-process mode)."""

    registry: CollectorRegistry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


@dataclass(frozen=True, slots=True)
class HubState:
    """What a scrape reads from the database (one snapshot), for :class:`HubStateCollector`."""

    log_size: int
    hotlines: int
    #: Seconds since the newest checkpoint was signed (``None``: no checkpoint yet).
    checkpoint_age: float | None
    #: Per registered witness: seconds since its newest cosignature (since it was added, if it has none yet).
    witness_cosignature_age: Mapping[str, float] = field(default_factory=dict)
    #: Per hotline: months of the last twelve reported after their deadline, and months not reported past it.
    late_reports: Mapping[str, int] = field(default_factory=dict)
    missing_reports: Mapping[str, int] = field(default_factory=dict)
    #: Secure rounds running, by the step they wait for (``shares``, ``masked``, ``reveal``), and rounds that failed.
    rounds_open: Mapping[str, int] = field(default_factory=dict)
    rounds_failed: int = 0
    #: Seconds until the earliest deadline of the step a running round waits for (negative: passed and not moved on;
    #: ``None``: no round runs).
    round_deadline_in: float | None = None


@dataclass(frozen=True, slots=True, eq=False)  # registries key collectors by identity
class HubStateCollector:
    """The database's gauges, computed once per scrape by the worker that answers it."""

    state: HubState

    def collect(self) -> Iterator[Metric]:
        state = self.state
        yield GaugeMetricFamily("tipshare_log_size", "Entries in the transparency log.", value=state.log_size)
        yield GaugeMetricFamily("tipshare_hotlines_enrolled", "Hotlines enrolled at this hub.", value=state.hotlines)
        checkpoint = GaugeMetricFamily(
            "tipshare_checkpoint_age_seconds", "Seconds since the newest checkpoint of the log was signed."
        )
        if state.checkpoint_age is not None:
            checkpoint.add_metric([], state.checkpoint_age)
        yield checkpoint
        witnesses = GaugeMetricFamily(
            "tipshare_witness_cosignature_age_seconds",
            "Seconds since each registered witness's newest cosignature (since it was added, if none yet).",
            labels=["witness"],
        )
        for name, age in sorted(state.witness_cosignature_age.items()):
            witnesses.add_metric([name], age)
        yield witnesses
        for name, help_text, counts in (
            (
                "tipshare_reports_late",
                "Months of the last twelve a hotline reported after the deadline, by hotline.",
                state.late_reports,
            ),
            (
                "tipshare_reports_missing",
                "Months of the last twelve a hotline was expected to report and has not, past the deadline.",
                state.missing_reports,
            ),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["hotline"])
            for hotline, count in sorted(counts.items()):
                family.add_metric([hotline], count)
            yield family
        yield from _round_gauges(state)


#: The steps a running secure round waits for (:class:`hub.models.SecaggRound`), each always reported.
ROUND_STEPS = ("shares", "masked", "reveal")


def _round_gauges(state: HubState) -> Iterator[Metric]:
    running = GaugeMetricFamily(
        "tipshare_secagg_rounds_open", "Secure rounds running, by the step they wait for.", labels=["step"]
    )
    for step in ROUND_STEPS:
        running.add_metric([step], state.rounds_open.get(step, 0))
    yield running
    yield GaugeMetricFamily(
        "tipshare_secagg_rounds_failed", "Secure rounds that ended failed, ever.", value=state.rounds_failed
    )
    deadline = GaugeMetricFamily(
        "tipshare_secagg_next_deadline_seconds",
        "Seconds until the earliest deadline of a running secure round's step (negative: passed, not moved on).",
    )
    if state.round_deadline_in is not None:
        deadline.add_metric([], state.round_deadline_in)
    yield deadline
