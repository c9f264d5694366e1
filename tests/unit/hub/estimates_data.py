# SPDX-License-Identifier: Apache-2.0
"""A hub with real ingested releases of both taxonomies, and the brute-force answer the estimates must equal.

Four hotlines, all enrolled in January 2026, reporting five months through the hub's real ingest (sealed, signed
envelopes over HTTP):

=========  =======  ========================================================================================
month      who      what
=========  =======  ========================================================================================
2026-05    ro-v1    version 1: the demography tables and recruitment, no corridor (``V1_TABLES``)
2026-06    ua-a, ua-b, md-a (version 2, complete), ro-v1 (version 1): two classes of release in one month
2026-07    ua-a (σ = 10), md-a (σ = 6): version 2
2026-08    nobody
2026-09    ua-a, md-a, ua-b (version 2); ua-b corrects its release (revision 2 replaces revision 1)
=========  =======  ========================================================================================

:func:`brute_force` answers a question from the *payloads* the test sent — dense vectors summed in Python, noise
terms and classes read from the privacy blocks — through :mod:`protocol.combination` and
:mod:`protocol.estimation`, with no hub code: what the service reads from its rollups must give the same rows.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from protocol.api import CombinationBlock, EstimateRow, RankingSummary
from protocol.combination import MonthRelease, Question, candidate_tables, observation, observed_table, resolve
from protocol.estimation import Block, RowGroup, build_rows, combination_blocks, plan_blocks
from protocol.messages import SubmissionPayload
from protocol.taxonomy import Table, builtin_taxonomy
from tests.support.hubs import Clock, HubUnderTest, start_hub
from tests.support.releases import make_release

V1 = builtin_taxonomy(1)
V2 = builtin_taxonomy(2)
#: Every table of both taxonomies by name (one name, the same cells: the hub checks it).
TABLES: dict[str, Table] = {**V1.tables, **V2.tables}
HOTLINES = {"ua-a": "UA", "ua-b": "UA", "md-a": "MD", "ro-v1": "RO"}
PERIODS = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09")
V1_TABLES = (
    "cases_opened",
    "persons_demography",
    "persons_destination_demo",
    "persons_origin_demo",
    "persons_recruitment",
)
V2_TABLES = tuple(sorted(name for name, table in V2.tables.items() if table.unit != "contact"))


@dataclass
class Released:
    """The hub and every payload it accepted, in order."""

    hub: HubUnderTest
    payloads: list[SubmissionPayload] = field(default_factory=list)

    def current(self) -> list[SubmissionPayload]:
        latest: dict[tuple[str, str], SubmissionPayload] = {}
        for payload in self.payloads:
            key = (payload.hotline_id, payload.period)
            if key not in latest or latest[key].revision < payload.revision:
                latest[key] = payload
        return list(latest.values())


#: Persons every hotline "registered" each month (count, codes): added to the matching cell of every table, as a
#: node's truth is, so that the tables agree and some answers are clearly distinguishable from zero.
TRUTH: tuple[tuple[int, dict[str, str]], ...] = (
    (
        120,
        {
            "citizenship": "UA",
            "country_of_exploitation": "PL",
            "exploitation_group": "labour",
            "exploitation_type": "ForcedLabour",
            "gender": "M",
            "age_band": "30-38",
            "age_group": "adult",
            "recruiter_relation": "Friend",
            "recruitment_channel": "offline",
            "control_flag": "meansWithholdDocs",
            "cross_border": "international",
        },
    ),
    (
        60,
        {
            "citizenship": "MD",
            "country_of_exploitation": "RU",
            "exploitation_group": "sexual",
            "exploitation_type": "SexualExploitation",
            "gender": "F",
            "age_band": "21-23",
            "age_group": "adult",
            "recruiter_relation": "IntimatePartner",
            "recruitment_channel": "online",
            "control_flag": "meansThreats",
            "cross_border": "international",
        },
    ),
)


def _cells(rng: random.Random, tables: Sequence[str], taxonomy_version: int) -> dict[str, list[int]]:
    """Small noise in every cell, plus the persons of :data:`TRUTH`."""
    taxonomy = V1 if taxonomy_version == 1 else V2
    cells: dict[str, list[int]] = {}
    for name in tables:
        table = taxonomy.table(name)
        vector = [rng.randint(-4, 4) for _ in range(table.cell_count)]
        for count, codes in TRUTH:
            vector[table.cell_index([codes[d] for d in table.dimension_names])] += count
        cells[name] = vector
    return cells


def _send(
    released: Released,
    rng: random.Random,
    hotline_id: str,
    period: str,
    version: int,
    *,
    scale: str = "10",
    revision: int = 1,
) -> None:
    """One release of the hotline, through the hub's real ingest."""
    taxonomy, tables = (V1, V1_TABLES) if version == 1 else (V2, V2_TABLES)
    payload = make_release(
        taxonomy,
        released.hub.hotlines[hotline_id].key,
        hotline_id=hotline_id,
        period=period,
        revision=revision,
        cells=_cells(rng, tables, version),
        tables=tables,
        scale=scale,
    )
    released.hub.submit(payload)
    released.payloads.append(payload)


def release_everything(data_dir: Path) -> Iterator[Released]:
    """The hub of the module docstring (yielded while it runs)."""
    clock = Clock(datetime(2026, 1, 10, 9, 0, tzinfo=UTC))
    rng = random.Random(20261206)
    for hub in start_hub(data_dir, clock=clock, current_taxonomy=None):
        for hotline_id, country in HOTLINES.items():
            hub.enroll(hotline_id, country)
            hub.log_loose_policy(hotline_id)  # md-a releases 2026-07 at σ = 6: ρ = 0.29 over the default cap
        clock.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        released = Released(hub)
        _send(released, rng, "ro-v1", "2026-05", 1)
        for hotline_id in ("ua-a", "ua-b", "md-a"):
            _send(released, rng, hotline_id, "2026-06", 2)
        _send(released, rng, "ro-v1", "2026-06", 1, scale="7")
        _send(released, rng, "ua-a", "2026-07", 2)
        _send(released, rng, "md-a", "2026-07", 2, scale="6")
        for hotline_id in ("ua-a", "md-a", "ua-b"):
            _send(released, rng, hotline_id, "2026-09", 2)
        _send(released, rng, "ua-b", "2026-09", 2, revision=2, scale="12")
        yield released


@dataclass(frozen=True)
class Expected:
    rows: list[EstimateRow]
    ranking: RankingSummary
    combination: list[CombinationBlock]
    periods_with_data: list[str]


def brute_force(
    released: Released,
    question: Question,
    *,
    periods: Sequence[str],
    hotlines: set[str],
    by_period: bool,
) -> Expected:
    """The answer computed from the payloads alone (every hotline in ``hotlines`` is expected every month): months,
    noise, classes and hotlines reporting from the tables that can take part in the answer, each table observed
    per taxonomy (its cells summed over the hotlines that released it under one taxonomy)."""
    resolved = resolve(question, TABLES)
    unit = {table.name for table in candidate_tables(resolved, TABLES.values())}  # the tables that take part
    summed: dict[str, dict[str, list[int]]] = {}  # period -> observation -> cells
    terms: dict[str, dict[str, Counter[tuple[str, str]]]] = {}
    classes: dict[str, set[frozenset[str]]] = {}
    reporting: dict[str, set[str]] = {}
    for payload in released.current():
        if payload.hotline_id not in hotlines or payload.period not in periods:
            continue
        names = {t.name for t in payload.tables} & unit
        if not names:
            continue
        reporting.setdefault(payload.period, set()).add(payload.hotline_id)
        classes.setdefault(payload.period, set()).add(
            frozenset(observation(name, payload.taxonomy.id) for name in names)
        )
        scales = {noise.table: noise.scale for noise in payload.privacy.tables}
        for release in payload.tables:
            if release.name not in names:
                continue
            observed = observation(release.name, payload.taxonomy.id)
            vector = summed.setdefault(payload.period, {}).setdefault(observed, [0] * len(release.cells))
            for i, value in enumerate(release.cells):
                vector[i] += value
            pooled = terms.setdefault(payload.period, {}).setdefault(observed, Counter())
            pooled[(payload.privacy.mechanism, scales[release.name])] += 1
    releases = {
        period: MonthRelease.of(
            {name: [(m, s, n) for (m, s), n in sorted(found.items())] for name, found in terms[period].items()},
            classes[period],
        )
        for period in terms
    }
    planned = plan_blocks(resolved, TABLES, releases, by_period=by_period)
    blocks = {
        periods_: Block(periods_, plan, _marginal_sums(plan.marginals, [summed[p] for p in periods_]))
        for periods_, plan in planned
    }
    if by_period:
        groups = [
            RowGroup(
                period,
                (blocks[(period,)],) if (period,) in blocks else (),
                len(reporting.get(period, ())),
                len(hotlines),
            )
            for period in periods
        ]
    else:
        groups = [
            RowGroup(
                None,
                tuple(blocks[key] for key in sorted(blocks)),
                len(set().union(*reporting.values())),
                len(hotlines),
            )
        ]
    rows, ranking = build_rows(resolved, resolved.row_keys(TABLES), groups, by_period=by_period)
    return Expected(rows, ranking, combination_blocks(groups), sorted(releases))


def _marginal_sums(
    marginals: Mapping[str, tuple[str, ...]], months: Sequence[Mapping[str, list[int]]]
) -> dict[str, dict[tuple[str, ...], int]]:
    sums: dict[str, dict[tuple[str, ...], int]] = {}
    for name, dimensions in marginals.items():
        table = TABLES[observed_table(name)]
        positions = [table.dimension_names.index(d) for d in dimensions]
        folded: dict[tuple[str, ...], int] = {}
        for month in months:
            for codes, value in zip(table.iter_cells(), month[name], strict=True):
                key = tuple(codes[i] for i in positions)
                folded[key] = folded.get(key, 0) + value
        sums[name] = folded
    return sums
