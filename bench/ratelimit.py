# SPDX-License-Identifier: Apache-2.0
"""Rate limits shared through the database: what they add to every limited request.

What is measured
----------------
* **Per request, in process.** One request's rate-limit decision as the hub's middleware takes it (two buckets:
  the source address and the credential, :meth:`~hub.rate_buckets.DatabaseRateLimiter.take_many`), against the
  in-memory buckets (:class:`~hub.ratelimit.RateLimiter`, which N workers would each keep) as the baseline; on
  SQLite (the hub's own file: WAL, the buckets' connections at ``synchronous=NORMAL``) and on a durable
  PostgreSQL cluster (``synchronous_commit=off`` for the buckets' transactions). 2,000 decisions over 200 keys
  (quick: 200), one thread; the figure is the median time per decision over 5 rounds.
* **Per request, through the API.** ``GET /v1/hub`` (the cheapest limited route) through the app in process
  (Starlette's TestClient) with the database's buckets, against the same app with in-memory buckets.

Ratios are cost relative to the in-memory buckets (1.0 = free).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Final

from fastapi.testclient import TestClient

from bench.common import BenchResult, Metric, RunContext, median
from hub.app import create_app
from hub.context import HubContext
from hub.rate_buckets import DatabaseRateLimiter
from hub.ratelimit import Limiter, Rate, RateLimiter
from hub.settings import Settings
from hub.setup import initialise_hub
from tools.postgres_cluster import PostgresUnavailable, running_cluster

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "ratelimit"
TITLE: Final = "Rate limits in the database: cost per request against in-memory buckets"
_RATE: Final = Rate(per_minute=1_000_000)  # never refuses: every decision is a full read-modify-write
_ORIGIN: Final = "bench.tipshare/ratelimit"


def _per_decision(limiter: Limiter, decisions: int) -> float:
    started = time.perf_counter()
    for i in range(decisions):
        key = i % 200
        limiter.take_many([(("query", "source", f"192.0.2.{key}"), _RATE), (("query", "credential", key), _RATE)])
    return (time.perf_counter() - started) / decisions


def _rounds(measure: Callable[[], float]) -> float:
    measure()  # warm-up
    return median([measure() for _ in range(5)])


def _hub(directory: Path, database_url: str | None, store: str) -> HubContext:
    settings = Settings(data_dir=directory, database_url=database_url, rate_limit_store=store)  # type: ignore[arg-type]
    if not (directory / "keys").exists():
        initialise_hub(settings, origin=_ORIGIN).engine.dispose()
    return HubContext.open(settings)


def _measure_backend(result: BenchResult, ctx: RunContext, label: str, database_url: str | None) -> None:
    decisions = 200 if ctx.quick else 2000
    directory = ctx.workdir / label
    context = _hub(directory, database_url, "database")
    shared = DatabaseRateLimiter(context.engine)
    memory = RateLimiter()
    in_memory = _rounds(lambda: _per_decision(memory, decisions))
    in_database = _rounds(lambda: _per_decision(shared, decisions))
    result.add(
        Metric(
            name=f"{label}: one decision (2 buckets)",
            value=round(in_database * 1e6, 1),
            unit="µs",
            baseline=round(in_memory * 1e6, 1),
            baseline_name="in-memory buckets",
            ratio=round(in_database / in_memory, 1),
        )
    )
    shared.dispose()
    requests = 100 if ctx.quick else 1000
    timings: dict[str, float] = {}
    with ExitStack() as stack:
        for store in ("memory", "database"):
            app = create_app(context=_hub(directory, database_url, store))
            client = stack.enter_context(TestClient(app))

            def get(client: TestClient = client) -> float:
                started = time.perf_counter()
                for _ in range(requests):
                    client.get("/v1/hub")
                return (time.perf_counter() - started) / requests

            timings[store] = _rounds(get)
    result.add(
        Metric(
            name=f"{label}: GET /v1/hub in process",
            value=round(timings["database"] * 1e3, 3),
            unit="ms",
            baseline=round(timings["memory"] * 1e3, 3),
            baseline_name="in-memory buckets",
            ratio=round(timings["database"] / timings["memory"], 2),
        )
    )
    context.engine.dispose()


def run(ctx: RunContext) -> BenchResult:
    result = BenchResult(name=NAME, title=TITLE)
    ctx.log("SQLite")
    _measure_backend(result, ctx, "SQLite", None)
    try:
        with running_cluster(durable=True) as cluster:
            ctx.log("PostgreSQL")
            _measure_backend(result, ctx, "PostgreSQL", cluster.url(cluster.create_database()))
    except PostgresUnavailable as e:
        result.notes.append(f"PostgreSQL not measured: {e}")
    return result
