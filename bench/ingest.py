# SPDX-License-Identifier: Apache-2.0
"""Ingest: full-taxonomy submissions per second into a running hub, against the crypto + HTTP limit.

What is measured
----------------
* **Payload.** A real node release of the whole taxonomy (8 tables, 21,502 cells): synthetic truth noised by
  the node's plan and sampler under the default budget (:func:`bench.fixtures.node_release`), about 55 kB of
  canonical JSON and a 76 kB envelope. Each submission is a new (hotline, period) of 20 enrolled hotlines.
* **Hub.** The hub served exactly as ``tipshare-hub serve`` serves it (:func:`hub.cli.server.run`, via
  :mod:`bench.serve`) with 1 and 2 worker processes, on SQLite (WAL,
  ``synchronous=FULL``, the hub's settings) and on PostgreSQL (a throwaway cluster with production durability:
  fsync on, :mod:`tools.postgres_cluster`). The client keeps ``2 × workers`` requests in flight (closed loop).
* **Baseline.** ``POST /bench/verify-only`` in the *same* server processes (:mod:`bench.ingest_app`): read the
  body, parse the envelope, check both signatures and open the sealed box, on the same envelopes. Ratio =
  limit ÷ ingest throughput.
* **Where the time goes.** The route's work (:meth:`IngestService.submit`: its verify in a read session, then
  its accept in a write session and its commit) run in process, its wall time split by timers
  wrapped around the functions that mark each category (:class:`Attribution`; exclusive time, innermost wins):
  canonical JSON (parse + RFC 8785 re-encoding check, and encoding log entries), payload validation (pydantic +
  taxonomy checks), crypto (Ed25519, sealed box, checkpoint signature), rollups (the O(cells) writes), log append
  and receipt (Merkle nodes, checkpoint, proof), commit (fsync), and the rest (queries, inserts, glue). Medians
  per submission.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from bench.common import Attribution, BenchResult, Metric, RunContext, median, percentile
from bench.fixtures import COUNTRIES, NOW, BenchHub, month_text, new_hub, node_release, payload_for, seal_payload_bytes
from bench.ingest_app import BARE_PATH
from bench.serve import closed_loop, served

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "ingest"
TITLE: Final = "submissions/s of full-taxonomy releases into a served hub vs the crypto+HTTP limit"

APP: Final = "bench.ingest_app:app_from_environment"
HOTLINES: Final = 20
CATEGORIES: Final = ("canonical JSON", "validation", "crypto", "rollups", "log append + receipt", "commit", "other")


@dataclass(frozen=True, slots=True)
class _Sizes:
    runs: int
    #: Submissions per run, by backend (PostgreSQL ingests about four times slower: fewer, to fit the budget).
    per_run: dict[str, int]
    bare_seconds: float
    profiled: int


_FULL: Final = _Sizes(runs=3, per_run={"sqlite": 16, "postgresql": 8}, bare_seconds=3.0, profiled=8)
_QUICK: Final = _Sizes(runs=1, per_run={"sqlite": 4, "postgresql": 2}, bare_seconds=1.0, profiled=3)


@contextmanager
def _database(backend: str, cluster: Any) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    name = cluster.create_database()
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@dataclass(slots=True)
class _Bodies:
    """Payloads encoded once; sealed to each hub's key on demand."""

    payloads: list[tuple[str, bytes]]

    def sealed(self, hub: BenchHub, start: int, count: int) -> list[bytes]:
        from hub.keys import load_keys

        hub_key = load_keys(hub.settings.keys_dir).envelope.public_key
        return [
            seal_payload_bytes(payload_bytes, hotline_id=hotline_id, key=hub.keys[hotline_id], hub_key=hub_key)
            for hotline_id, payload_bytes in self.payloads[start : start + count]
        ]


def run(ctx: RunContext) -> BenchResult:
    from protocol.crypto import SigningKey
    from protocol.taxonomy import builtin_taxonomy

    sizes = _QUICK if ctx.quick else _FULL
    result = BenchResult(name=NAME, title=TITLE)
    taxonomy = builtin_taxonomy()
    release = node_release(taxonomy, ctx.workdir)
    hotlines = [(f"bench-{i:02d}", COUNTRIES[i % len(COUNTRIES)]) for i in range(HOTLINES)]
    keys = {hotline_id: SigningKey.generate() for hotline_id, _ in hotlines}
    needed = 2 + sizes.runs * max(sizes.per_run.values())
    ctx.log(f"{needed} full-taxonomy payloads ({release.cells:,} cells each)")
    payloads = []
    for j in range(max(needed, sizes.profiled)):
        hotline_id = hotlines[j % HOTLINES][0]
        payload = payload_for(
            release,
            taxonomy,
            keys[hotline_id],
            hotline_id=hotline_id,
            period=month_text(j // HOTLINES, start_year=2015),
        )
        payloads.append((hotline_id, payload.canonical_bytes()))
    bodies = _Bodies(payloads)
    details: dict[str, Any] = {
        "payload_bytes": len(payloads[0][1]),
        "cells": release.cells,
        "hotlines": HOTLINES,
        "configurations": {},
        "profiles": {},
    }
    from tools.postgres_cluster import running_cluster

    with running_cluster(durable=True) as cluster:
        for backend in ("sqlite", "postgresql"):
            for workers in (1, 2):
                label = f"{backend} {workers}w"
                ctx.log(f"{label}: serving")
                with _database(backend, cluster) as url:
                    hub = new_hub(ctx.workdir / f"hub-{backend}-{workers}", hotlines, database_url=url, keys=keys)
                    count = 2 + sizes.runs * sizes.per_run[backend]
                    sealed = bodies.sealed(hub, 0, count)
                    measured = _measure(
                        ctx, hub, sealed, workers=workers, runs=sizes.runs, per_run=sizes.per_run[backend],
                        bare_seconds=sizes.bare_seconds, label=label,
                    )  # fmt: skip
                _report(result, label, measured)
                details["configurations"][label] = measured
            ctx.log(f"{backend}: profile of {sizes.profiled} submissions in process")
            with _database(backend, cluster) as url:
                hub = new_hub(ctx.workdir / f"hub-{backend}-profile", hotlines, database_url=url, keys=keys)
                profile = _profile(hub, bodies.sealed(hub, 0, sizes.profiled))
            details["profiles"][backend] = profile
            _report_profile(result, backend, profile)
    result.details = details
    result.notes.append(
        f"payload = a real node release of the whole taxonomy ({release.cells:,} cells, "
        f"{len(payloads[0][1]):,} bytes); served as `tipshare-hub serve` runs uvicorn; PostgreSQL with fsync on"
    )
    return result


def _measure(
    ctx: RunContext,
    hub: BenchHub,
    sealed: list[bytes],
    *,
    workers: int,
    runs: int,
    per_run: int,
    bare_seconds: float,
    label: str,
) -> dict[str, Any]:
    rates: list[float] = []
    bare_rates: list[float] = []
    latencies: list[float] = []
    cpu: list[float] = []
    # The bare route is not the submission route, so the hub caps its body at the other routes' 64 KiB: give it the
    # submission route's cap, so both measure the same envelopes.
    bare_cap = {"TIPSHARE_HUB_MAX_REQUEST_BYTES": str(hub.settings.max_body_bytes)}
    with served(
        APP, hub.settings.data_dir, database_url=hub.settings.database_url, workers=workers, settings=bare_cap
    ) as server:
        connections = 2 * workers
        closed_loop(f"{server.url}/v1/submissions", sealed[:2], connections=1)  # warm-up
        closed_loop(f"{server.url}{BARE_PATH}", sealed[:2] * 4, connections=connections)
        for attempt in range(runs):
            start = 2 + attempt * per_run
            before = server.cpu_seconds()
            load = closed_loop(f"{server.url}/v1/submissions", sealed[start : start + per_run], connections=connections)
            cpu.append((server.cpu_seconds() - before) / load.completed)
            if load.statuses.get(201, 0) != load.completed:
                raise RuntimeError(f"{label}: submissions not all accepted: {load.statuses}")
            rates.append(load.rate)
            latencies += load.latencies
            bare = closed_loop(
                f"{server.url}{BARE_PATH}",
                list(itertools.islice(itertools.cycle(sealed), 100_000)),
                connections=connections,
                duration=bare_seconds,
                expect=frozenset({201}),
            )
            bare_rates.append(bare.rate)
            ctx.log(f"{label} run {attempt + 1}: {load.rate:.2f} submissions/s, limit {bare.rate:.0f}/s")
    return {
        "workers": workers,
        "connections": 2 * workers,
        "rates": rates,
        "bare_rates": bare_rates,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p99_s": percentile(latencies, 99),
        "server_cpu_s_per_submission": median(cpu),
    }


def _report(result: BenchResult, label: str, measured: dict[str, Any]) -> None:
    rate, bare = median(measured["rates"]), median(measured["bare_rates"])
    result.add(
        Metric(
            f"{label} submissions/s",
            rate,
            "/s",
            baseline=bare,
            baseline_name="verify+decrypt only",
            ratio=bare / rate,
            runs=tuple(round(r, 2) for r in measured["rates"]),
            note=(
                f"p50 {measured['latency_p50_s'] * 1000:.0f} ms, p99 {measured['latency_p99_s'] * 1000:.0f} ms at "
                f"{measured['connections']} in flight; server CPU {measured['server_cpu_s_per_submission'] * 1000:.0f} "
                "ms/submission"
            ),
        )
    )


# ---------------------------------------------------------------------------------------------- the profile


@contextmanager
def _stage_times(spent: dict[str, float]) -> Iterator[None]:
    """Time the stages of :meth:`hub.services.ingest.IngestService.submit` (its verify and accept, and the commit
    inside accept) into ``spent``, by stage; restore them afterwards."""
    from sqlalchemy.orm import Session

    from hub.services.ingest import IngestService

    def timed(function: Callable[..., Any], stage: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - started

        return wrapper

    targets: list[tuple[Any, str, str]] = [
        (IngestService, "verify", "verify"),
        (IngestService, "accept", "accept"),
        (Session, "commit", "commit"),  # only the writer's transaction commits (a read transaction rolls back)
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in targets]
    try:
        for owner, name, stage in targets:
            setattr(owner, name, timed(owner.__dict__[name], stage))
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


@contextmanager
def _attributed(attribution: Attribution) -> Iterator[None]:
    """Wrap the functions that mark each category where the ingest path looks them up; restore them afterwards."""
    import sqlalchemy.orm

    import hub.services.ingest
    import hub.services.log
    import hub.services.rollups
    import protocol.crypto
    import protocol.messages

    targets: list[tuple[Any, str, str]] = [
        (protocol.messages, "parse_canonical", "canonical JSON"),
        (protocol.messages, "canonical_bytes", "canonical JSON"),
        (hub.services.ingest, "check_payload", "validation"),
        (protocol.crypto, "unseal", "crypto"),
        (protocol.crypto.VerifyKey, "verify_message", "crypto"),
        (protocol.crypto.SigningKey, "sign", "crypto"),
        (hub.services.rollups.Rollups, "replace", "rollups"),
        (hub.services.log.TransparencyLog, "append", "log append + receipt"),
        (hub.services.log.TransparencyLog, "inclusion_proof", "log append + receipt"),
        (hub.services.ingest, "make_receipt", "log append + receipt"),
        (sqlalchemy.orm.Session, "commit", "commit"),  # the writer's commit, at the end of ingest's accept
    ]
    saved: list[tuple[Any, str, Any]] = []
    try:
        for owner, name, category in targets:
            original = owner.__dict__[name]
            saved.append((owner, name, original))
            setattr(owner, name, attribution.wrap(original, category))
        validate = protocol.messages.Message.__dict__["_validate"]  # pydantic: a classmethod
        saved.append((protocol.messages.Message, "_validate", validate))
        protocol.messages.Message._validate = classmethod(  # type: ignore[assignment,method-assign]
            attribution.wrap(validate.__func__, "validation")
        )
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def _profile(hub: BenchHub, sealed: Sequence[bytes]) -> dict[str, Any]:
    """The route's work in process, split into categories (``sealed[0]`` is a warm-up)."""
    from hub.context import HubContext
    from hub.services.ingest import IngestService

    context = HubContext.open(hub.settings, clock=lambda: NOW)
    attribution = Attribution(CATEGORIES)
    stages: dict[str, list[float]] = {"verify": [], "accept": [], "commit": []}
    totals: list[dict[str, float]] = []
    spent: dict[str, float] = {}
    try:
        with _attributed(attribution), _stage_times(spent):
            for number, body in enumerate(sealed):
                attribution.reset()
                spent.clear()
                IngestService(context).submit(body)  # the route's sequence (no rate limit here)
                if number == 0:
                    continue
                stages["verify"].append(spent["verify"])
                stages["accept"].append(spent["accept"] - spent["commit"])
                stages["commit"].append(spent["commit"])
                totals.append(dict(attribution.seconds))
    finally:
        context.engine.dispose()
    ms = {name: median([t[name] for t in totals]) * 1000 for name in CATEGORIES}
    total = sum(ms.values())
    return {
        "submissions": len(totals),
        "stage_ms": {stage: median(values) * 1000 for stage, values in stages.items()},
        "category_ms": ms,
        "total_ms": total,
        "category_percent": {name: 100.0 * value / total for name, value in ms.items()},
    }


def _report_profile(result: BenchResult, backend: str, profile: dict[str, Any]) -> None:
    shares = profile["category_percent"]
    ms = profile["category_ms"]
    stages = profile["stage_ms"]
    for name in CATEGORIES:
        result.add(Metric(f"{backend} time in {name}", ms[name], "ms", note=f"{shares[name]:.1f} % of one submission"))
    result.notes.append(
        f"{backend}: in process, one submission = verify {stages['verify']:.0f} ms + accept {stages['accept']:.0f} ms "
        f"+ commit {stages['commit']:.0f} ms (median of {profile['submissions']})"
    )
