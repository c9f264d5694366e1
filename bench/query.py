# SPDX-License-Identifier: Apache-2.0
"""Query latency: the dashboard's typical questions through the HTTP API, against one hand-written SQL query.

What is measured
----------------
* **Database.** A hub on SQLite with 200 (and, for comparison, 50) hotlines in 10 countries, each reporting
  36 months (2023-11..2026-10) of the whole taxonomy; about 2 % of hotline-months are missing and 10 % late
  (for the completeness grid). It is bulk-loaded with :mod:`bench.loader`, which writes the rows ingest writes;
  the loader is checked against the real ingest service on a small instance first (identical rollups, current
  flags and noise rows). Built: hotlines and keys (enrolled through the hub's registry, so the log holds the key
  events), every submission row (placeholder payload bytes: no query reads them), every ``release_noise`` row, and
  the **region**-scope ``rollup_cells``/``rollup_noise`` of all eight tables (774,072 cells). Not built: the
  country- and hotline-scope rollups (7.7 M and, for 200 hotlines, 155 M rows, about 8 GB and most of an hour to
  write on SQLite), which none of these queries reads; they sit in other primary-key ranges of the same table.
* **Queries** (a coordinator token, one connection, keep-alive, one at a time):

  ``corridor matrix, a year``  ``/v1/stats/persons_corridor?group_by=citizenship,country_of_exploitation`` over
                              12 months: 3,844 rows, each the sum of 5 cells × 12 months
  ``36-month trend, filtered``  ``/v1/stats/persons_corridor?group_by=period&citizenship=UA&exploitation_group=
                              labour`` over 36 months: 36 rows, each the sum of 62 cells
  ``completeness grid``        ``/v1/completeness`` over 12 months: one row per hotline and month

* **Baseline.** The same answer's numbers from one hand-written SQL query on the same database file (sqlite3,
  read-only): the sums (and cell counts) per group from ``rollup_cells``, or the received times per hotline and
  month from ``hotlines`` ⟕ ``submissions``. It computes no interval, hotline counts or flags; the API does.
* **Service.** The same query through :class:`~hub.services.stats.StatsService` (or the completeness service)
  and the response schema's JSON, in process, to split the API's time into service and HTTP.

Both databases are served at once (one uvicorn worker each) and sampled in alternation, query by query, API then
SQL, so that the 50- and 200-hotline figures share the machine's conditions. Latencies are p50 and p99 (nearest
rank) over the samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx

from bench.common import BenchResult, Metric, RunContext, percentile
from bench.fixtures import COUNTRIES, BenchHub, NodeRelease, month_text, new_hub, node_release
from bench.loader import LoadedRelease, check_against_ingest, load_releases
from bench.serve import HUB_APP, served

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "query"
TITLE: Final = "dashboard queries via the HTTP API vs one hand-written SQL query (50 vs 200 hotlines)"

MONTHS: Final = 36
FIRST_MONTH: Final = 10  # 2023-11, counted from January 2023
YEAR: Final = ("2025-11", "2026-10")
RANGE: Final = ("2023-11", "2026-10")
BANK: Final = 4


@dataclass(frozen=True, slots=True)
class _Query:
    name: str
    path: str
    params: dict[str, str]
    sql: str
    sql_params: tuple[Any, ...]
    service: Callable[[Any], bytes] = field(compare=False)


def _queries(taxonomy: Any) -> list[_Query]:
    from hub.schemas_stats import CompletenessPublic, StatsPublic
    from hub.services.completeness import CompletenessService
    from hub.services.scope import Scope
    from hub.services.stats import StatsQuery, StatsService

    now = datetime(2026, 11, 21, 12, tzinfo=UTC)

    def stats(query: StatsQuery) -> Callable[[Any], bytes]:
        def answer(context: Any) -> bytes:
            from hub.db import read_session

            with read_session(context.sessions) as session:
                result = StatsService(session, taxonomy).query(query, now=now)
            return StatsPublic.from_result(result).model_dump_json().encode()

        return answer

    def completeness(context: Any) -> bytes:
        from hub.db import read_session

        with read_session(context.sessions) as session:
            result = CompletenessService(session, context.settings).grid(
                YEAR[0], YEAR[1], now=now, allowed_countries=None, scope=Scope.region()
            )
        return CompletenessPublic.from_result(result).model_dump_json().encode()

    matrix = StatsQuery(
        "persons_corridor", group_by=("citizenship", "country_of_exploitation"), period_from=YEAR[0], period_to=YEAR[1]
    )
    trend = StatsQuery(
        "persons_corridor",
        group_by=("period",),
        filters={"citizenship": ("UA",), "exploitation_group": ("labour",)},
        period_from=RANGE[0],
        period_to=RANGE[1],
    )
    return [
        _Query(
            "corridor matrix, a year",
            "/v1/stats/persons_corridor",
            {"group_by": "citizenship,country_of_exploitation", "period_from": YEAR[0], "period_to": YEAR[1]},
            "SELECT d1, d2, SUM(value), COUNT(*) FROM rollup_cells WHERE table_name = ? AND scope = 'region' "
            "AND period BETWEEN ? AND ? GROUP BY d1, d2",
            ("persons_corridor", *YEAR),
            stats(matrix),
        ),
        _Query(
            "36-month trend, filtered",
            "/v1/stats/persons_corridor",
            {
                "group_by": "period",
                "citizenship": "UA",
                "exploitation_group": "labour",
                "period_from": RANGE[0],
                "period_to": RANGE[1],
            },
            "SELECT period, SUM(value), COUNT(*) FROM rollup_cells WHERE table_name = ? AND scope = 'region' "
            "AND period BETWEEN ? AND ? AND d1 = ? AND d3 = ? GROUP BY period",
            ("persons_corridor", *RANGE, "UA", "labour"),
            stats(trend),
        ),
        _Query(
            "completeness grid, a year",
            "/v1/completeness",
            {"period_from": YEAR[0], "period_to": YEAR[1]},
            "SELECT h.id, h.country, s.period, MIN(s.received_at), MAX(s.received_at), MAX(s.revision), "
            "COUNT(s.id) FROM hotlines h LEFT JOIN submissions s ON s.hotline_id = h.id AND s.period BETWEEN ? AND ? "
            "GROUP BY h.id, s.period",
            YEAR,
            completeness,
        ),
    ]


# ---------------------------------------------------------------------------------------------- the database


def _build(workdir: Path, hotlines: int, bank: list[NodeRelease], taxonomy: Any) -> tuple[BenchHub, dict[str, int]]:
    from hub.db import make_engine

    enrolled = [(f"hl-{i:03d}", COUNTRIES[i % len(COUNTRIES)]) for i in range(hotlines)]
    hub = new_hub(workdir / f"hub-{hotlines}", enrolled)
    scales = {noise.table: noise.scale for noise in bank[0].privacy.tables}
    releases = []
    for i, (hotline_id, country) in enumerate(enrolled):
        key_id = hub.keys[hotline_id].verify_key.key_id
        for m in range(MONTHS):
            if (i * 37 + m * 11) % 50 == 0:
                continue  # about 2 % of hotline-months never reported
            period = month_text(FIRST_MONTH + m, start_year=2023)
            month_end = datetime(int(period[:4]), int(period[5:]), 1, tzinfo=UTC) + timedelta(days=32)
            month_end = month_end.replace(day=1)
            late = (i * 13 + m * 7) % 10 == 0
            digest = hashlib.sha256(f"{hotline_id}/{period}".encode()).hexdigest()
            releases.append(
                LoadedRelease(
                    hotline_id=hotline_id,
                    country=country,
                    key_id=key_id,
                    period=period,
                    revision=1,
                    received_at=month_end + timedelta(days=30 if late else 3, hours=i % 24),
                    payload_hash=f"sha256:{digest}",
                    payload=b'{"placeholder":"bulk-loaded for the query benchmark"}',
                    signature=bytes(64),
                    leaf_index=10**9 + i * MONTHS + m,
                    taxonomy_id=taxonomy.id,
                    mechanism=bank[0].privacy.mechanism,
                    scales=scales,
                    bank=(i + m) % len(bank),
                )
            )
    engine = make_engine(hub.settings.resolved_database_url)
    try:
        written = load_releases(engine, taxonomy, releases, [dict(r.tables) for r in bank], scope_levels=("region",))
    finally:
        engine.dispose()
    return hub, written


# ---------------------------------------------------------------------------------------------- measuring


@dataclass(slots=True)
class _Target:
    """One database under test: its hub, a client of its server, a raw read-only connection, an in-process hub."""

    hotlines: int
    http: httpx.Client
    raw: sqlite3.Connection
    context: Any
    timings: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)


def _sample(target: _Target, query: _Query, *, service: bool) -> None:
    timings = target.timings.setdefault(query.name, {"api": [], "sql": [], "service": []})
    started = time.perf_counter()
    response = target.http.get(query.path, params=query.params)
    response.raise_for_status()
    timings["api"].append(time.perf_counter() - started)
    started = time.perf_counter()
    rows = target.raw.execute(query.sql, query.sql_params).fetchall()
    timings["sql"].append(time.perf_counter() - started)
    if service:
        started = time.perf_counter()
        query.service(target.context)
        timings["service"].append(time.perf_counter() - started)
    target.sizes[query.name] = {"api_bytes": len(response.content), "sql_rows": len(rows)}


def _measure(ctx: RunContext, hubs: dict[int, BenchHub], queries: list[_Query], samples: int) -> dict[int, Any]:
    """Serve every database at once and alternate between them, query by query, so that they share conditions."""
    from hub.context import HubContext

    targets: list[_Target] = []
    with contextlib.ExitStack() as stack:
        for hotlines, hub in hubs.items():
            server = stack.enter_context(served(HUB_APP, hub.settings.data_dir, database_url=None, workers=1))
            headers = {"Authorization": f"Bearer {hub.tokens['coordinator']}"}
            http = stack.enter_context(httpx.Client(base_url=server.url, headers=headers, timeout=120))
            raw = sqlite3.connect(f"file:{hub.settings.data_dir / 'hub.sqlite'}?mode=ro", uri=True)
            stack.callback(raw.close)
            context = HubContext.open(hub.settings)
            stack.callback(context.engine.dispose)
            targets.append(_Target(hotlines, http, raw, context))
        for target in targets:  # warm-up
            for query in queries:
                for _ in range(2):
                    _sample(target, query, service=True)
            target.timings.clear()
        for sample in range(samples):
            for query in queries:
                for target in targets if sample % 2 == 0 else reversed(targets):
                    _sample(target, query, service=sample % 2 == 0)
        ctx.log(f"{samples} samples of {len(queries)} queries x {len(targets)} databases")
    return {
        target.hotlines: {
            query.name: {
                **target.sizes[query.name],
                **{f"{k}_p50_ms": percentile(v, 50) * 1000 for k, v in target.timings[query.name].items()},
                **{f"{k}_p99_ms": percentile(v, 99) * 1000 for k, v in target.timings[query.name].items()},
                "samples": {k: len(v) for k, v in target.timings[query.name].items()},
            }
            for query in queries
        }
        for target in targets
    }


def run(ctx: RunContext) -> BenchResult:
    from protocol.taxonomy import builtin_taxonomy

    result = BenchResult(name=NAME, title=TITLE)
    taxonomy = builtin_taxonomy()
    samples = 8 if ctx.quick else 40
    ctx.log(f"a bank of {BANK} real node releases")
    bank = [node_release(taxonomy, ctx.workdir, seed=seed) for seed in range(1, BANK + 1)]
    differences = check_against_ingest(ctx.workdir / "check", taxonomy, bank)
    if differences:
        raise RuntimeError(f"the bulk loader does not write what ingest writes: {differences[:5]}")
    queries = _queries(taxonomy)
    details: dict[str, Any] = {"loader_check": "identical to ingest (3 hotlines, 2 countries, a correction)"}
    hubs: dict[int, BenchHub] = {}
    for hotlines in (50, 200):
        ctx.log(f"bulk-loading {hotlines} hotlines x {MONTHS} months")
        started = time.perf_counter()
        hubs[hotlines], written = _build(ctx.workdir, hotlines, bank, taxonomy)
        details[f"build_{hotlines}"] = {
            "rows": written,
            "seconds": round(time.perf_counter() - started, 1),
            "database_mb": round((hubs[hotlines].settings.data_dir / "hub.sqlite").stat().st_size / 1e6, 1),
        }
    measured = _measure(ctx, hubs, queries, samples)
    details["latency"] = measured
    result.details = details
    for hotlines in (200, 50):
        for query in queries:
            found = measured[hotlines][query.name]
            result.add(
                Metric(
                    f"{hotlines} hotlines: {query.name} p50",
                    found["api_p50_ms"],
                    "ms",
                    baseline=found["sql_p50_ms"],
                    baseline_name="raw SQL",
                    ratio=found["api_p50_ms"] / found["sql_p50_ms"],
                    target="<= 2x",
                    met=found["api_p50_ms"] <= 2 * found["sql_p50_ms"],
                    note=(
                        f"p99 {found['api_p99_ms']:.1f} ms (SQL {found['sql_p99_ms']:.1f} ms); service in process "
                        f"{found['service_p50_ms']:.1f} ms; {found['api_bytes']:,} bytes of JSON, "
                        f"{found['sql_rows']:,} SQL rows"
                    ),
                )
            )
    for query in queries:
        big, small = measured[200][query.name]["api_p50_ms"], measured[50][query.name]["api_p50_ms"]
        growing = query.name.startswith("completeness")
        result.add(
            Metric(
                f"{query.name}: 200 vs 50 hotlines",
                big,
                "ms",
                baseline=small,
                baseline_name="50 hotlines",
                ratio=big / small,
                target=None if growing else "~1x",
                met=None if growing else big / small <= 1.25,
                note="the answer has a row per hotline: 4x the rows" if growing else "same answer size",
            )
        )
    result.notes.append(
        f"SQLite, 1 uvicorn worker, {samples} samples per query; region-scope rollups of 36 months "
        f"({details['build_200']['rows']['rollup_cells']:,} cells) for both sizes; 2% of hotline-months missing, "
        f"10% late; the 50-hotline database took {details['build_50']['seconds']} s to load, the 200 one "
        f"{details['build_200']['seconds']} s"
    )
    return result
