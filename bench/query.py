# SPDX-License-Identifier: Apache-2.0
"""Query latency: coordinators' questions (``GET /v1/estimates``) and raw tables (``/v1/stats``) through the HTTP
API, each against hand-written SQL that reads the same sums from the same rollups.

What is measured
----------------
* **Database.** A hub on SQLite with 200 (and, for comparison, 50) hotlines in 10 countries reporting 48 months:
  **36 months of taxonomy v2** (2023-11..2026-10: every hotline releases v2's 13 tables), after a **transition
  year** (2022-11..2023-10) in which 10 % of the hotlines (two per country) still release taxonomy v1's 8 tables
  and the others v2's. About 2 % of hotline-months are missing and 10 % late. It is bulk-loaded with
  :mod:`bench.loader`, which writes the rows ingest writes, and which is first checked against the real ingest
  service on a small hub of both taxonomies (rollups of every scope, every submission row with its taxonomy,
  every noise row: identical). Built, as ingest leaves them: hotlines and keys (enrolled through the hub's
  registry, so the log holds the key events), every submission (placeholder payload bytes: no query reads them)
  with its taxonomy id, every ``release_noise`` row, and ``rollup_cells`` / ``rollup_noise`` at the **region,
  country and hotline** scopes for every table (at 200 hotlines 234 M cells, 30 GB, about 4 minutes to load).
  Noisy values come from a bank of four real node releases per taxonomy (synthetic truth + OpenDP noise, each
  taxonomy's default budget: v2's recorded weights).
* **Queries** (a coordinator token, one connection, keep-alive, one at a time):

  ``estimates: corridor matrix, a year``  ``/v1/estimates/person?group_by=citizenship,country_of_exploitation``
                              over 2025-11..2026-10 (v2): 3,844 rows
  ``estimates: 36-month trend, filtered``  ``/v1/estimates/person?group_by=period&citizenship=UA&
                              exploitation_group=labour`` over the 36 v2 months: 36 rows
  ``estimates: corridor matrix, mixed year``  the corridor matrix over the transition year (v1 and v2 side by
                              side: the v1 observations come from the v1 hotlines' own rollups)
  ``stats: …``                 the same two questions as raw sums of one table
                              (``/v1/stats/persons_corridor``), and ``/v1/completeness`` over a year

* **Baseline.** Hand-written SQL on the same database file (sqlite3, read-only), run one statement after the
  other: for an estimate, the **sums the least-squares plans read** — for each table (and taxonomy) a plan of the
  answer combines, one ``SELECT … SUM(value) … GROUP BY`` over ``rollup_cells`` by the question's dimensions the
  table carries (filtered dimensions as conditional sums inside the filter, one per subset of them), per month
  when the answer's months form several blocks (months that differ in who reported), over the region scope;
  for a table hotlines of both taxonomies released, also over the v1 hotlines' own scopes (the v2 part is the
  region's sum minus theirs: arithmetic). The plans themselves are the protocol's (:func:`protocol.estimation.
  plan_blocks` on the releases the bench loaded), so the baseline reads exactly the observations the answer
  combines, and the bench checks that the hub's answer has as many blocks. Each is written grouped by the code
  columns and grouped by the cell index (as the hub groups), and the faster is the baseline. For ``/v1/stats``:
  one ``GROUP BY``
  over ``persons_corridor``; for the grid, ``hotlines ⟕ submissions`` grouped by hotline and month. The
  baseline computes no plan, interval, p-value, ranking, hotline count or JSON; the API does.
* **Service.** The same question through the service in process (:class:`~hub.services.estimates.
  EstimatesService` or the stats/completeness service) and its JSON, to split the API's time into service and
  HTTP; for the estimates, where the service's time goes: its own SQL statements (captured, and replayed on a
  raw sqlite3 connection with every row fetched), the plans, the rows, the JSON, the garbage collector, and the
  rest.

Both databases are served at once (one uvicorn worker each) and sampled in alternation, query by query, API then
SQL, so that the 50- and 200-hotline figures share the machine's conditions (30 samples; the mixed year's corridor
matrix, seconds per answer, 10). Latencies are p50 and p99 (nearest rank) over the samples. Quick: 3 and 8
hotlines, 4 samples.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx

from bench.common import Attribution, BenchResult, Metric, RunContext, median, percentile
from bench.fixtures import COUNTRIES, NOW, BenchHub, NodeRelease, month_text, new_hub, node_release
from bench.loader import LoadedRelease, check_against_ingest, load_releases
from bench.serve import HUB_APP, served
from protocol.combination import MonthRelease, Question, observation, observed_table, resolve
from protocol.estimation import plan_blocks
from protocol.taxonomy import Table, Taxonomy

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "query"
TITLE: Final = "coordinators' questions (/v1/estimates) and raw tables via HTTP vs hand-written SQL of the same sums"

START_YEAR: Final = 2022
FIRST_MONTH: Final = 10  # 2022-11, counted from January 2022
MONTHS: Final = 48
#: The first months: a transition in which some hotlines still release taxonomy v1.
TRANSITION_MONTHS: Final = 12
TRANSITION: Final = ("2022-11", "2023-10")
RANGE: Final = ("2023-11", "2026-10")
YEAR: Final = ("2025-11", "2026-10")
BANK: Final = 4
TARGET: Final = 2.0


@dataclass(frozen=True, slots=True)
class _Sizes:
    hotlines: tuple[int, ...]
    samples: int
    #: Samples of the mixed year's corridor matrix (seconds per answer: fewer), and in-process profile runs.
    mixed_samples: int
    profile_runs: int


_FULL: Final = _Sizes(hotlines=(50, 200), samples=30, mixed_samples=10, profile_runs=5)
_QUICK: Final = _Sizes(hotlines=(3, 8), samples=4, mixed_samples=2, profile_runs=1)


# ---------------------------------------------------------------------------------------------- the database


@dataclass(frozen=True, slots=True)
class _Layout:
    """Who released what: per month, each reporting hotline's taxonomy (and the bank the releases came from)."""

    hotlines: tuple[tuple[str, str], ...]  # (id, country)
    #: month (``YYYY-MM``) -> hotline -> taxonomy id
    months: Mapping[str, Mapping[str, str]]
    #: taxonomy id -> (mechanism, table -> scale)
    scales: Mapping[str, tuple[str, Mapping[str, str]]]


def _on_v1(i: int, month: int) -> bool:
    """10 % of the hotlines, two per country (``COUNTRIES[i % 10]``), still on v1 in the transition year."""
    return month < TRANSITION_MONTHS and i % 10 == (i // 10) % 10


def _layout(hotlines: int, banks: Mapping[str, list[NodeRelease]]) -> _Layout:
    v1, v2 = sorted(banks)
    enrolled = tuple((f"hl-{i:03d}", COUNTRIES[i % len(COUNTRIES)]) for i in range(hotlines))
    months: dict[str, dict[str, str]] = {}
    for m in range(MONTHS):
        period = month_text(FIRST_MONTH + m, start_year=START_YEAR)
        months[period] = {
            hotline_id: v1 if _on_v1(i, m) else v2
            for i, (hotline_id, _) in enumerate(enrolled)
            if (i * 37 + m * 11) % 50 != 0  # about 2 % of hotline-months never reported
        }
    scales = {
        taxonomy_id: (bank[0].privacy.mechanism, {noise.table: noise.scale for noise in bank[0].privacy.tables})
        for taxonomy_id, bank in banks.items()
    }
    return _Layout(enrolled, months, scales)


def _build(
    workdir: Path, layout: _Layout, banks: Mapping[str, list[NodeRelease]], taxonomies: Sequence[Taxonomy]
) -> tuple[BenchHub, dict[str, int]]:
    from hub.db import make_engine

    hub = new_hub(workdir / f"hub-{len(layout.hotlines)}", layout.hotlines)
    order = sorted(banks)
    offset = {taxonomy_id: BANK * order.index(taxonomy_id) for taxonomy_id in order}
    releases = []
    for i, (hotline_id, country) in enumerate(layout.hotlines):
        key_id = hub.keys[hotline_id].verify_key.key_id
        for m, (period, reporting) in enumerate(sorted(layout.months.items())):
            if hotline_id not in reporting:
                continue
            taxonomy_id = reporting[hotline_id]
            mechanism, scales = layout.scales[taxonomy_id]
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
                    taxonomy_id=taxonomy_id,
                    mechanism=mechanism,
                    scales=scales,
                    bank=offset[taxonomy_id] + (i + m) % BANK,
                    privacy_unit=banks[taxonomy_id][0].privacy.unit,
                )
            )
    bank = [dict(release.tables) for taxonomy_id in order for release in banks[taxonomy_id]]
    engine = make_engine(hub.settings.resolved_database_url)
    try:
        written = load_releases(engine, taxonomies, releases, bank)
    finally:
        engine.dispose()
    return hub, written


# ---------------------------------------------------------------------------------------------- the baselines

Statements = list[tuple[str, tuple[Any, ...]]]


def _months_between(first: str, last: str) -> list[str]:
    return [period for period in sorted(_ALL_MONTHS) if first <= period <= last]


_ALL_MONTHS: Final = tuple(month_text(FIRST_MONTH + m, start_year=START_YEAR) for m in range(MONTHS))


def _releases(layout: _Layout, periods: Sequence[str]) -> dict[str, MonthRelease]:
    """Each month as the plans see it (observations per table and taxonomy, classes), from what was loaded."""
    found = {}
    for period in periods:
        followed = layout.months[period]
        counts: dict[str, int] = {}
        for taxonomy_id in followed.values():
            counts[taxonomy_id] = counts.get(taxonomy_id, 0) + 1
        terms: dict[str, list[tuple[str, str, int]]] = {}
        classes = []
        for taxonomy_id, count in sorted(counts.items()):
            mechanism, scales = layout.scales[taxonomy_id]
            names = {observation(table, taxonomy_id): [(mechanism, scale, count)] for table, scale in scales.items()}
            terms.update(names)
            classes.append(frozenset(names))
        found[period] = MonthRelease.of(terms, classes)
    return found


@dataclass(frozen=True, slots=True)
class _Plan:
    """What an estimates answer reads: the observations of its plans with their dimensions, and its blocks."""

    marginals: Mapping[str, tuple[str, ...]]
    blocks: int


def _plan(
    question: Question, tables: Mapping[str, Table], layout: _Layout, periods: Sequence[str], by_period: bool
) -> _Plan:
    resolved = resolve(question, tables)
    planned = plan_blocks(resolved, tables, _releases(layout, periods), by_period=by_period)
    marginals: dict[str, tuple[str, ...]] = {}
    for _, plan in planned:
        marginals.update(plan.marginals)
    return _Plan(marginals, len(planned))


def _estimates_sql(
    question: Question,
    tables: Mapping[str, Table],
    layout: _Layout,
    first: str,
    last: str,
    *,
    by_period: bool,
    index_keys: bool = False,
) -> tuple[Statements, _Plan]:
    """The hand-written SQL of the sums an estimates answer reads (see the module's docstring), one statement per
    observation: grouped by the codes of the question's dimensions the table carries (``index_keys``: by the same
    grouping computed from the cell index, as the hub does), filtered ones as conditional sums."""
    periods = _months_between(first, last)
    plan = _plan(question, tables, layout, periods, by_period)
    per_period = by_period or plan.blocks > 1
    statements: Statements = []
    for name, dimensions in sorted(plan.marginals.items()):
        table = tables[observed_table(name)]
        taxonomy_id = name.partition("@")[2]
        releasers: dict[str, set[str]] = {}
        for period in periods:
            for hotline_id, followed in layout.months[period].items():
                if table.name in layout.scales[followed][1]:
                    releasers.setdefault(followed, set()).add(hotline_id)
        scopes = ["region"]
        if len(releasers) > 1 and taxonomy_id != max(releasers, key=lambda t: (len(releasers[t]), t)):
            scopes = [f"hotline:{hotline_id}" for hotline_id in sorted(releasers[taxonomy_id])]
        columns = [f"d{table.dimension_names.index(d) + 1}" for d in dimensions]
        grouped = [c for c, d in zip(columns, dimensions, strict=True) if d in question.group_by]
        filtered = [(c, question.filters[d]) for c, d in zip(columns, dimensions, strict=True) if d in question.filters]
        if index_keys and grouped:
            keys = [_index_key(table, [d for d in dimensions if d in question.group_by])]
        else:
            keys = grouped
        sums: list[str] = []
        bound: list[str] = []  # the filters' codes, bound in the order of the select list
        for size in range(len(filtered) + 1):
            for subset in itertools.combinations(filtered, size):
                if not subset:
                    sums.append("SUM(value)")
                    continue
                condition = " AND ".join(f"{c} IN ({', '.join('?' for _ in codes)})" for c, codes in subset)
                sums.append(f"SUM(CASE WHEN {condition} THEN value ELSE 0 END)")
                bound += [code for _, codes in subset for code in codes]
        group = (["period"] if per_period else []) + keys
        where = f"table_name = ? AND scope IN ({', '.join('?' for _ in scopes)}) AND period BETWEEN ? AND ?"
        # Column names and integer expressions from the taxonomy; every value is bound.
        sql = f"SELECT {', '.join([*group, *sums])} FROM rollup_cells WHERE {where}"  # noqa: S608
        if group:
            sql += f" GROUP BY {', '.join(group)}"
        statements.append((sql, (*bound, table.name, *scopes, first, last)))
    return statements, plan


def _index_key(table: Table, dimensions: Sequence[str]) -> str:
    """The grouping of ``dimensions`` computed from the cell index (row-major dense order)."""
    sizes = [len(d) for d in table.dimensions]
    key = ""
    for name in dimensions:
        position = table.dimension_names.index(name)
        stride = 1
        for size in sizes[position + 1 :]:
            stride *= size
        part = f"((cell / {stride}) % {sizes[position]})"
        key = part if not key else f"({key} * {sizes[position]} + {part})"
    return key


# ---------------------------------------------------------------------------------------------- the queries


@dataclass(frozen=True, slots=True)
class _Query:
    name: str
    path: str
    params: dict[str, str]
    #: The baseline's statements for a database (they name the database's v1 hotlines), grouped by code columns
    #: or (``True``) by cell index.
    sql: Callable[[_Layout, bool], Statements] = field(compare=False)
    service: Callable[[Any], bytes] = field(compare=False)
    #: For estimates: the question, its range and grouping (for the plan check and the profile).
    question: Question | None = None
    span: tuple[str, str] | None = None
    by_period: bool = False
    #: Seconds per answer: sampled ``mixed_samples`` times, not ``samples``.
    slow: bool = False


def _queries(taxonomies: Sequence[Taxonomy]) -> list[_Query]:
    from hub.schemas_stats import CompletenessPublic, stats_answer
    from hub.services.completeness import CompletenessService
    from hub.services.estimates import EstimatesQuery, EstimatesService
    from hub.services.scope import Scope
    from hub.services.stats import StatsQuery, StatsService
    from hub.services.taxonomies import union_tables

    tables = union_tables(taxonomies)
    v2 = max(taxonomies, key=lambda t: t.version)

    def estimates(question: Question, span: tuple[str, str], by_period: bool) -> Callable[[Any], bytes]:
        group_by = ("period", *question.group_by) if by_period else question.group_by
        query = EstimatesQuery(
            question.unit, group_by=group_by, filters=question.filters, period_from=span[0], period_to=span[1]
        )

        def answer(context: Any) -> bytes:
            from hub.db import read_session

            with read_session(context.sessions) as session:
                found = EstimatesService(session, context.taxonomies.values()).answer(query, now=NOW)
            return found.model_dump_json().encode()

        return answer

    def stats(query: StatsQuery) -> Callable[[Any], bytes]:
        def answer(context: Any) -> bytes:
            from hub.db import read_session

            with read_session(context.sessions) as session:
                result = StatsService(session, v2).query(query, now=NOW)
            return stats_answer(result).model_dump_json().encode()

        return answer

    def completeness(context: Any) -> bytes:
        from hub.db import read_session

        with read_session(context.sessions) as session:
            result = CompletenessService(session, context.settings).grid(
                YEAR[0], YEAR[1], now=NOW, allowed_countries=None, scope=Scope.region()
            )
        return CompletenessPublic.from_result(result).model_dump_json().encode()

    def estimates_sql(
        question: Question, span: tuple[str, str], by_period: bool
    ) -> Callable[[_Layout, bool], Statements]:
        def statements(layout: _Layout, index_keys: bool) -> Statements:
            return _estimates_sql(question, tables, layout, *span, by_period=by_period, index_keys=index_keys)[0]

        return statements

    corridor = Question("person", group_by=("citizenship", "country_of_exploitation"))
    trend = Question("person", filters={"citizenship": ("UA",), "exploitation_group": ("labour",)})
    found = []
    for name, question, span, by_period in (
        ("estimates: corridor matrix, a year", corridor, YEAR, False),
        ("estimates: 36-month trend, filtered", trend, RANGE, True),
        ("estimates: corridor matrix, mixed year", corridor, TRANSITION, False),
    ):
        params = {"group_by": ",".join((["period"] if by_period else []) + list(question.group_by))}
        params |= {d: ",".join(codes) for d, codes in question.filters.items()}
        params |= {"period_from": span[0], "period_to": span[1]}
        found.append(
            _Query(
                name,
                "/v1/estimates/person",
                params,
                estimates_sql(question, span, by_period),
                estimates(question, span, by_period),
                question,
                span,
                by_period,
                slow=span == TRANSITION,
            )
        )
    matrix = StatsQuery(
        "persons_corridor", group_by=("citizenship", "country_of_exploitation"), period_from=YEAR[0], period_to=YEAR[1]
    )
    stats_trend = StatsQuery(
        "persons_corridor",
        group_by=("period",),
        filters={"citizenship": ("UA",), "exploitation_group": ("labour",)},
        period_from=RANGE[0],
        period_to=RANGE[1],
    )
    found += [
        _Query(
            "stats: corridor matrix, a year",
            "/v1/stats/persons_corridor",
            {"group_by": "citizenship,country_of_exploitation", "period_from": YEAR[0], "period_to": YEAR[1]},
            lambda _layout, _index: [
                (
                    "SELECT d1, d2, SUM(value), COUNT(*) FROM rollup_cells WHERE table_name = ? AND scope = 'region' "
                    "AND period BETWEEN ? AND ? GROUP BY d1, d2",
                    ("persons_corridor", *YEAR),
                )
            ],
            stats(matrix),
        ),
        _Query(
            "stats: 36-month trend, filtered",
            "/v1/stats/persons_corridor",
            {
                "group_by": "period",
                "citizenship": "UA",
                "exploitation_group": "labour",
                "period_from": RANGE[0],
                "period_to": RANGE[1],
            },
            lambda _layout, _index: [
                (
                    "SELECT period, SUM(value), COUNT(*) FROM rollup_cells WHERE table_name = ? AND scope = 'region' "
                    "AND period BETWEEN ? AND ? AND d1 = ? AND d3 = ? GROUP BY period",
                    ("persons_corridor", *RANGE, "UA", "labour"),
                )
            ],
            stats(stats_trend),
        ),
        _Query(
            "completeness grid, a year",
            "/v1/completeness",
            {"period_from": YEAR[0], "period_to": YEAR[1]},
            lambda _layout, _index: [
                (
                    "SELECT h.id, h.country, s.period, MIN(s.received_at), MAX(s.received_at), MAX(s.revision), "
                    "COUNT(s.id) FROM hotlines h LEFT JOIN submissions s ON s.hotline_id = h.id "
                    "AND s.period BETWEEN ? AND ? GROUP BY h.id, s.period",
                    YEAR,
                )
            ],
            completeness,
        ),
    ]
    return found


# ---------------------------------------------------------------------------------------------- measuring


@dataclass(slots=True)
class _Target:
    """One database under test: its hub, a client of its server, a raw read-only connection, an in-process hub."""

    hotlines: int
    http: httpx.Client
    raw: sqlite3.Connection
    context: Any
    statements: dict[str, Statements]
    timings: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)


def _run_sql(raw: sqlite3.Connection, statements: Statements) -> int:
    rows = 0
    for sql, params in statements:
        rows += len(raw.execute(sql, params).fetchall())
    return rows


def _sample(target: _Target, query: _Query, *, service: bool) -> None:
    timings = target.timings.setdefault(query.name, {"api": [], "sql": [], "service": []})
    started = time.perf_counter()
    response = target.http.get(query.path, params=query.params)
    response.raise_for_status()
    timings["api"].append(time.perf_counter() - started)
    started = time.perf_counter()
    rows = _run_sql(target.raw, target.statements[query.name])
    timings["sql"].append(time.perf_counter() - started)
    if service:
        started = time.perf_counter()
        query.service(target.context)
        timings["service"].append(time.perf_counter() - started)
    target.sizes[query.name] = {
        "api_bytes": len(response.content),
        "sql_rows": rows,
        "sql_statements": len(target.statements[query.name]),
    }


def _measure(
    ctx: RunContext, hubs: Mapping[int, tuple[BenchHub, _Layout]], queries: Sequence[_Query], sizes: _Sizes
) -> tuple[dict[int, Any], dict[int, Any]]:
    """Serve every database at once and alternate between them, query by query, so that they share conditions.
    Returns the latencies and, per database, the profile of the estimates service."""
    from hub.context import HubContext

    targets: list[_Target] = []
    profiles: dict[int, Any] = {}
    baselines: dict[int, Any] = {}
    with contextlib.ExitStack() as stack:
        for hotlines, (hub, layout) in hubs.items():
            server = stack.enter_context(served(HUB_APP, hub.settings.data_dir, database_url=None, workers=1))
            headers = {"Authorization": f"Bearer {hub.tokens['coordinator']}"}
            http = stack.enter_context(httpx.Client(base_url=server.url, headers=headers, timeout=300))
            raw = sqlite3.connect(f"file:{hub.settings.data_dir / 'hub.sqlite'}?mode=ro", uri=True)
            stack.callback(raw.close)
            context = HubContext.open(hub.settings, clock=lambda: NOW)
            stack.callback(context.engine.dispose)
            statements, choices = _baselines(raw, layout, queries)
            targets.append(_Target(hotlines, http, raw, context, statements))
            baselines[hotlines] = choices
        for target in targets:  # warm-up, and the answers' blocks against the baseline's
            for query in queries:
                for _ in range(2):
                    _sample(target, query, service=True)
            target.timings.clear()
            _check_blocks(target, queries, hubs[target.hotlines][1])
        for sample in range(sizes.samples):
            for query in queries:
                if query.slow and sample >= sizes.mixed_samples:
                    continue
                for target in targets if sample % 2 == 0 else reversed(targets):
                    _sample(target, query, service=sample % 2 == 0)
        ctx.log(
            f"{sizes.samples} samples of {len(queries)} queries ({sizes.mixed_samples} of the mixed year's) x "
            f"{len(targets)} databases; profiles of the estimates service in process"
        )
        for target in targets:
            profiles[target.hotlines] = {
                query.name: _profile(
                    target, query, runs=max(1, sizes.profile_runs // 2 if query.slow else sizes.profile_runs)
                )
                for query in queries
                if query.question
            }
    latencies = {
        target.hotlines: {
            query.name: {
                **target.sizes[query.name],
                **{f"{k}_p50_ms": percentile(v, 50) * 1000 for k, v in target.timings[query.name].items()},
                **{f"{k}_p99_ms": percentile(v, 99) * 1000 for k, v in target.timings[query.name].items()},
                "runs_ms": {k: [round(x * 1000, 1) for x in v] for k, v in target.timings[query.name].items()},
                "baseline_grouping": baselines[target.hotlines].get(query.name),
            }
            for query in queries
        }
        for target in targets
    }
    return latencies, profiles


def _baselines(
    raw: sqlite3.Connection, layout: _Layout, queries: Sequence[_Query]
) -> tuple[dict[str, Statements], dict[str, Any]]:
    """Each query's baseline statements: for the estimates, the faster way of writing the same SQL (grouped by
    code columns, or by the cell index as the hub groups), decided by 3 alternating runs of each."""
    chosen: dict[str, Statements] = {}
    choices: dict[str, Any] = {}
    for query in queries:
        if query.question is None:
            chosen[query.name] = query.sql(layout, False)
            continue
        ways = {"code columns": query.sql(layout, False), "cell index": query.sql(layout, True)}
        timings: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(3):
            for way, statements in ways.items():
                started = time.perf_counter()
                _run_sql(raw, statements)
                timings[way].append(time.perf_counter() - started)
        faster = min(ways, key=lambda way: median(timings[way]))
        chosen[query.name] = ways[faster]
        choices[query.name] = {"chosen": faster} | {f"{way}_ms": median(t) * 1000 for way, t in timings.items()}
    return chosen, choices


def _check_blocks(target: _Target, queries: Sequence[_Query], layout: _Layout) -> None:
    """The hub's answer combines as many blocks, and the same observations, as the baseline reads."""
    from hub.services.taxonomies import union_tables

    tables = union_tables(target.context.taxonomies.values())
    for query in queries:
        if query.question is None or query.span is None:
            continue
        response = target.http.get(query.path, params=query.params)
        response.raise_for_status()
        answer = response.json()
        _, plan = _estimates_sql(query.question, tables, layout, *query.span, by_period=query.by_period)
        terms = {
            observation(term["table"], term["taxonomy"]) for block in answer["combination"] for term in block["terms"]
        }
        if len(answer["combination"]) != plan.blocks or terms - set(plan.marginals):
            raise RuntimeError(
                f"{query.name}: the hub combines {len(answer['combination'])} blocks of {sorted(terms)}, the baseline "
                f"reads {plan.blocks} blocks of {sorted(plan.marginals)}"
            )


# ---------------------------------------------------------------------------------------------- the profile

_PROFILE_CATEGORIES: Final = (
    "months and releases",
    "plans",
    "sums",
    "rows: estimates",
    "rows: intervals and p-values",
    "rows: the rest",
    "answer: the rest",
    "JSON",
    "garbage collection",
)


@contextlib.contextmanager
def _attributed(attribution: Attribution) -> Iterator[None]:
    """Wrap the estimates service's steps where it looks them up; restore them afterwards.

    ``months and releases``: :class:`~hub.services.observations.MonthReader` (its SQL included); ``plans``:
    :func:`protocol.estimation.plan_blocks`; ``sums``: :class:`~hub.services.observations.ObservedSums` (its
    SQL included); ``rows``: :func:`protocol.estimation.build_rows`, split into the least-squares estimates
    (:meth:`protocol.combination.Plan.estimates`), the intervals and each row's p-value (:mod:`protocol.bounds`)
    and the rest (rows as pydantic models, Holm, ranks); ``answer: the rest``: the service's own code between
    those (scope, checkpoint, hotlines expected, the answer's model); ``JSON``: ``model_dump_json``."""
    import hub.services.estimates
    import hub.services.observations
    import protocol.api
    import protocol.bounds
    import protocol.combination

    def tail_bound(function: Callable[..., Any]) -> Callable[..., Any]:
        def prepared(noise: Any) -> Any:
            return attribution.wrap(function(noise), "rows: intervals and p-values")

        return prepared

    targets: list[tuple[Any, str, str]] = [
        (hub.services.observations.MonthReader, "read", "months and releases"),
        (hub.services.observations.MonthData, "release", "months and releases"),
        (hub.services.estimates, "plan_blocks", "plans"),
        (hub.services.observations.ObservedSums, "block", "sums"),
        (hub.services.estimates, "build_rows", "rows: the rest"),
        (protocol.combination.Plan, "estimates", "rows: estimates"),
        (protocol.bounds.LinearNoise, "interval", "rows: intervals and p-values"),
        (hub.services.estimates.EstimatesService, "answer", "answer: the rest"),
        (protocol.api.EstimatesAnswer, "model_dump_json", "JSON"),
    ]
    saved: list[tuple[Any, str, Any]] = []
    try:
        for owner, name, category in targets:
            original = owner.__dict__.get(name)  # None: inherited (pydantic's model_dump_json)
            saved.append((owner, name, original))
            setattr(owner, name, attribution.wrap(original or getattr(owner, name), category))
        original = protocol.bounds.LinearNoise.__dict__["tail_bound"]  # each row's p-value: the bound it returns
        saved.append((protocol.bounds.LinearNoise, "tail_bound", original))
        protocol.bounds.LinearNoise.tail_bound = tail_bound(original)  # type: ignore[method-assign]
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _profile(target: _Target, query: _Query, *, runs: int) -> dict[str, Any]:
    """Where the estimates service's time goes, in process: exclusive time per step (:func:`_attributed`; the
    garbage collector's passes apart, through ``gc.callbacks``), and the SQL the service issued, captured and
    replayed on the raw connection with every row fetched."""
    from sqlalchemy import event

    attribution = Attribution(_PROFILE_CATEGORIES)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    def collecting(phase: str, _info: Any) -> None:
        if phase == "start":
            attribution.enter("garbage collection")
        else:
            attribution.leave()

    splits: list[dict[str, float]] = []
    totals: list[float] = []
    replays: list[float] = []
    for _ in range(runs):
        captured.clear()
        event.listen(target.context.engine, "before_cursor_execute", capture)
        gc.callbacks.append(collecting)
        try:
            with _attributed(attribution):
                attribution.reset()
                started = time.perf_counter()
                query.service(target.context)
                totals.append(time.perf_counter() - started)
                splits.append(dict(attribution.seconds))
        finally:
            gc.callbacks.remove(collecting)
            event.remove(target.context.engine, "before_cursor_execute", capture)
        selects = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
        started = time.perf_counter()
        for statement, parameters in selects:
            target.raw.execute(statement, parameters).fetchall()
        replays.append(time.perf_counter() - started)
    return {
        "total_ms": median(totals) * 1000,
        "sql_replayed_ms": median(replays) * 1000,
        "sql_statements": len(selects),
        "steps_ms": {c: median([s[c] for s in splits]) * 1000 for c in attribution.seconds},
    }


# ---------------------------------------------------------------------------------------------- the run


def run(ctx: RunContext) -> BenchResult:
    from protocol.taxonomy import builtin_taxonomy

    result = BenchResult(name=NAME, title=TITLE)
    sizes = _QUICK if ctx.quick else _FULL
    taxonomies = [builtin_taxonomy(1), builtin_taxonomy(2)]
    ctx.log(f"a bank of {BANK} real node releases per taxonomy")
    banks = {
        taxonomy.id: [node_release(taxonomy, ctx.workdir, seed=seed) for seed in range(1, BANK + 1)]
        for taxonomy in taxonomies
    }
    differences = check_against_ingest(ctx.workdir / "check", taxonomies, [r for bank in banks.values() for r in bank])
    if differences:
        raise RuntimeError(f"the bulk loader does not write what ingest writes: {differences[:5]}")
    details: dict[str, Any] = {
        "loader_check": "identical to ingest (4 hotlines, 3 countries, 2 months mixing v1 and v2, 2 corrections): "
        "rollups of every scope, submissions, noise rows"
    }
    queries = _queries(taxonomies)
    hubs: dict[int, tuple[BenchHub, _Layout]] = {}
    for hotlines in sizes.hotlines:
        layout = _layout(hotlines, banks)
        ctx.log(f"bulk-loading {hotlines} hotlines x {MONTHS} months, every scope")
        started = time.perf_counter()
        hub, written = _build(ctx.workdir, layout, banks, taxonomies)
        hubs[hotlines] = (hub, layout)
        details[f"build_{hotlines}"] = {
            "rows": written,
            "seconds": round(time.perf_counter() - started, 1),
            "database_gb": round((hub.settings.data_dir / "hub.sqlite").stat().st_size / 1e9, 2),
            "hotlines_on_v1_in_transition": sum(1 for i in range(hotlines) if _on_v1(i, 0)),
        }
        ctx.log(f"  {written['rollup_cells']:,} cells in {details[f'build_{hotlines}']['seconds']} s")
    measured, profiles = _measure(ctx, hubs, queries, sizes)
    details["latency"] = measured
    details["estimates_profile"] = profiles
    result.details = details
    small, large = sizes.hotlines
    for hotlines in (large, small):
        for query in queries:
            found = measured[hotlines][query.name]
            judged = query.name.startswith("estimates") or hotlines == large
            profile = profiles[hotlines].get(query.name)
            where = ""
            if profile:
                steps = profile["steps_ms"]
                where = (
                    f"; in process {profile['total_ms']:.0f} ms: its SQL {profile['sql_replayed_ms']:.0f} ms "
                    f"({profile['sql_statements']} statements), "
                    + ", ".join(f"{k} {v:.0f}" for k, v in steps.items() if v >= 0.5)
                )
            result.add(
                Metric(
                    f"{hotlines} hotlines: {query.name} p50",
                    found["api_p50_ms"],
                    "ms",
                    baseline=found["sql_p50_ms"],
                    baseline_name="raw SQL",
                    ratio=found["api_p50_ms"] / found["sql_p50_ms"],
                    target=f"<= {TARGET:g}x" if judged else None,
                    met=found["api_p50_ms"] <= TARGET * found["sql_p50_ms"] if judged else None,
                    runs=tuple(found["runs_ms"]["api"]),
                    note=(
                        f"p99 {found['api_p99_ms']:.1f} ms (SQL {found['sql_p99_ms']:.1f} ms, "
                        f"{found['sql_statements']} statements, {found['sql_rows']:,} rows); service in process "
                        f"{found['service_p50_ms']:.1f} ms; {found['api_bytes']:,} bytes of JSON{where}"
                    ),
                )
            )
    for query in queries:
        big, little = measured[large][query.name]["api_p50_ms"], measured[small][query.name]["api_p50_ms"]
        # The grid has a row per hotline; the mixed year reads the v1 hotlines' own rollups (4x as many).
        growing = query.name.startswith("completeness") or query.slow
        result.add(
            Metric(
                f"{query.name}: {large} vs {small} hotlines",
                big,
                "ms",
                baseline=little,
                baseline_name=f"{small} hotlines",
                ratio=big / little,
                target=None if growing or ctx.quick else "~1x",
                met=None if growing or ctx.quick else big / little <= 1.25,
                note=(
                    "the answer has a row per hotline"
                    if query.name.startswith("completeness")
                    else "reads the v1 hotlines' own rollups: 4x the hotlines"
                    if query.slow
                    else "same answer size"
                ),
            )
        )
    built = details[f"build_{large}"]
    result.notes.append(
        f"SQLite, 1 uvicorn worker, {sizes.samples} samples per query; {large} hotlines x {MONTHS} months "
        f"({TRANSITION[0]}..{TRANSITION[1]} mixing v1 and v2, then v2), rollups of every scope: "
        f"{built['rows']['rollup_cells']:,} cells, {built['database_gb']} GB, loaded in {built['seconds']} s; "
        "each estimates baseline is the faster of its SQL grouped by code columns or by cell index"
    )
    return result
