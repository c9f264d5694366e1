# SPDX-License-Identifier: Apache-2.0
"""Estimates recomputed from accepted submissions, against answers built directly with :mod:`protocol`.

Four hotlines; ``ua-a`` follows taxonomy version 1 (a partial release: four tables), the others version 2
(complete releases); ``md-a`` adds discrete Laplace noise in March, every other release discrete Gaussian noise:

=====  =======  =========================  =========================================================================
id     country  keys                       current releases (entry index)
=====  =======  =========================  =========================================================================
ua-a   UA       2026-01-01 →               01 v1 (10); 03 v1 r2 (15, σ=12: a correction replacing entry 13)
ua-b   UA       2026-01-01 →               01 v2 (11)
md-a   MD       2026-01-01 →               01 v2 (12); 03 v2 Laplace (14)
pl-a   PL       2026-03-01 →               nothing
=====  =======  =========================  =========================================================================

Nobody reported 2026-02 (a gap). Questions with many rows stay in months of Gaussian noise: the p-value bound of a
combination involving Laplace noise (:meth:`protocol.bounds.LinearNoise.upper_tail`) takes tens of milliseconds
per row. The reference answers below take the same definitions as the hub's
(``GET /v1/estimates``) straight to :func:`~protocol.estimation.plan_blocks` and
:func:`~protocol.estimation.build_rows`, with sums computed cell by cell from the crafted releases.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from auditor.compare_estimates import compare_estimates, question_differences
from auditor.entries import AcceptedSubmission
from auditor.estimates import Asked, EstimatesRecomputation, ExpectedEstimates, audit_questions
from auditor.findings import Check
from auditor.keys import HotlineWindows
from auditor.releases import LoadedRelease, Releases, TableRegistry, group_cells
from auditor.stats import month_range
from protocol.api import (
    CONFIDENCE,
    PERIOD,
    UNIT_LABELS,
    CheckpointRef,
    EstimatesAnswer,
    QuestionEcho,
    ScopeEcho,
    TaxonomyEcho,
)
from protocol.combination import (
    MonthRelease,
    NotAnswerable,
    Question,
    candidate_tables,
    observation,
    observed_table,
    resolve,
)
from protocol.estimation import Block, RowGroup, build_rows, combination_blocks, plan_blocks
from protocol.taxonomy import Table, Taxonomy, builtin_taxonomy, load_taxonomy

V1, V2 = builtin_taxonomy(1), builtin_taxonomy(2)
TABLES: dict[str, Table] = {**V1.tables, **V2.tables}
V1_TABLES = ("contacts", "persons_corridor", "persons_demography", "persons_recruitment")
GAUSS, LAPLACE = "discrete_gaussian", "discrete_laplace"
COUNTRY = {"ua-a": "UA", "ua-b": "UA", "md-a": "MD", "pl-a": "PL"}
ENROLLED = {"ua-a": (2026, 1), "ua-b": (2026, 1), "md-a": (2026, 1), "pl-a": (2026, 3)}
MONTHS = ["2026-01", "2026-02", "2026-03"]


def _vector(table: str, seed: int) -> list[int]:
    """Deterministic noisy-looking cells (negative values included)."""
    return [((i * 7 + seed * 13) % 23) - 5 for i in range(TABLES[table].cell_count)]


@dataclass(frozen=True)
class _Release:
    index: int
    hotline: str
    period: str
    revision: int
    taxonomy: Taxonomy
    mechanism: str
    scales: Mapping[str, str]
    cells: Mapping[str, list[int]]


def _release(
    index: int, hotline: str, period: str, taxonomy: Taxonomy, mechanism: str, scale: str, *, revision: int = 1
) -> _Release:
    names = V1_TABLES if taxonomy is V1 else tuple(sorted(V2.tables))
    scales = {name: ("3" if name == "persons_total" else scale) for name in names}  # a table of its own budget
    cells = {name: _vector(name, index * 31 + i) for i, name in enumerate(names)}
    return _Release(index, hotline, period, revision, taxonomy, mechanism, scales, cells)


RELEASES = [
    _release(10, "ua-a", "2026-01", V1, GAUSS, "10"),
    _release(11, "ua-b", "2026-01", V2, GAUSS, "6"),
    _release(12, "md-a", "2026-01", V2, GAUSS, "8"),
    _release(13, "ua-a", "2026-03", V1, GAUSS, "10"),
    _release(14, "md-a", "2026-03", V2, LAPLACE, "4"),
    _release(15, "ua-a", "2026-03", V1, GAUSS, "12", revision=2),
]
CURRENT = [r for r in RELEASES if r.index != 13]
BY_INDEX = {r.index: r for r in RELEASES}


def _accepted(release: _Release) -> AcceptedSubmission:
    return AcceptedSubmission(
        index=release.index,
        hotline_id=release.hotline,
        key_id="0" * 32,
        period=release.period,
        revision=release.revision,
        received_at=datetime(2026, 4, 2, tzinfo=UTC),
        mechanism=release.mechanism,
        payload_hash=f"sha256:{release.index:064x}",
        scales=MappingProxyType(dict(release.scales)),
    )


def _hotlines() -> list[HotlineWindows]:
    return [
        HotlineWindows(hotline, COUNTRY[hotline], ((datetime(*ENROLLED[hotline], 1, tzinfo=UTC), None),))
        for hotline in sorted(COUNTRY)
    ]


def _releases(releases: Sequence[_Release] = RELEASES, *, registry: TableRegistry | None = None) -> Releases:
    by_index = {r.index: r for r in releases}
    return Releases(
        submissions=[_accepted(r) for r in releases],
        hotlines=_hotlines(),
        registry=registry or TableRegistry([V2]),
        load=lambda index: LoadedRelease(by_index[index].taxonomy, by_index[index].cells),
    )


@pytest.fixture(scope="module")
def recomputed() -> EstimatesRecomputation:
    return EstimatesRecomputation(_releases())


# ----------------------------------------------------------------------------------------------- the reference


def _reference(asked: Asked, countries: Iterable[str] | None = None) -> ExpectedEstimates:
    """The answer, from the definitions alone: per month the releases in scope, pooled by hand."""
    scope = set(COUNTRY.values()) if countries is None else set(countries)
    question = resolve(Question(asked.unit, asked.group_by, dict(asked.filters)), TABLES)
    names = {t.name for t in candidate_tables(question, TABLES.values())}
    months = month_range(asked.period_from, asked.period_to)
    in_scope = {m: [r for r in CURRENT if r.period == m and COUNTRY[r.hotline] in scope] for m in months}
    releases: dict[str, MonthRelease] = {}
    reporting: dict[str, set[str]] = {m: set() for m in months}
    for month, found in in_scope.items():
        pooled: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        classes = []
        for release in found:
            released = names & set(release.cells)
            for name in released:  # every table observed per taxonomy
                pooled[observation(name, release.taxonomy.id)][(release.mechanism, release.scales[name])] += 1
            if released:
                classes.append({observation(name, release.taxonomy.id) for name in released})
                reporting[month].add(release.hotline)
        if classes:
            terms = {name: [(m, s, n) for (m, s), n in counts.items()] for name, counts in pooled.items()}
            releases[month] = MonthRelease.of(terms, classes)
    plans = plan_blocks(question, TABLES, releases, by_period=asked.by_period)

    def sums(
        plan_marginals: Mapping[str, tuple[str, ...]], periods: Sequence[str]
    ) -> dict[str, dict[tuple[str, ...], int]]:
        out: dict[str, dict[tuple[str, ...], int]] = {}
        for name, dims in plan_marginals.items():
            table = TABLES[observed_table(name)]
            positions = [table.dimension_names.index(d) for d in dims]
            total: dict[tuple[str, ...], int] = defaultdict(int)
            for month in periods:
                for release in in_scope[month]:
                    if release.taxonomy.id != name.partition("@")[2]:
                        continue
                    for i, value in enumerate(release.cells.get(table.name, ())):
                        codes = table.cell_codes(i)
                        total[tuple(codes[p] for p in positions)] += value
            out[name] = dict(total)
        return out

    def expected(covered: Sequence[str]) -> int:
        enrolled = {
            h for h in COUNTRY if COUNTRY[h] in scope for m in covered if ENROLLED[h] <= (int(m[:4]), int(m[5:]))
        }
        return len(enrolled.union(*(reporting[m] for m in covered)))

    if asked.by_period:
        blocks = {periods[0]: Block(periods, plan, sums(plan.marginals, periods)) for periods, plan in plans}
        groups = [RowGroup(m, (blocks[m],) if m in blocks else (), len(reporting[m]), expected([m])) for m in months]
    else:
        combined = tuple(Block(periods, plan, sums(plan.marginals, periods)) for periods, plan in plans)
        groups = [RowGroup(None, combined, len(set().union(*reporting.values())), expected(months))] if plans else []
    rows, ranking = build_rows(question, question.row_keys(TABLES), groups, by_period=asked.by_period)
    followed = {
        (r.taxonomy.id, r.taxonomy.content_hash) for m in months for r in in_scope[m] if r.hotline in reporting[m]
    }
    return ExpectedEstimates(
        question=question,
        rows=tuple(rows),
        ranking=ranking,
        combination=tuple(combination_blocks(groups)),
        periods_with_data=tuple(sorted(releases)),
        taxonomies=tuple(sorted(followed)),
    )


def _asked(unit: str, *group_by: str, by_period: bool = True, first: str = "2026-01", last: str = "2026-03") -> Asked:
    return Asked(unit, tuple(group_by), by_period=by_period, period_from=first, period_to=last)


# ----------------------------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    "asked",
    [
        _asked("person"),
        _asked("person", "exploitation_group"),
        _asked("person", "gender"),
        _asked("person", "exploitation_group", by_period=False),
        _asked("person", "citizenship", "country_of_exploitation", by_period=False, last="2026-02"),
        _asked("person", "control_flag"),
        _asked("contact", "channel"),
        _asked("case", "cross_border", by_period=False),
    ],
    ids=lambda a: a.describe(),
)
def test_the_region_s_answer_is_the_protocol_s(recomputed: EstimatesRecomputation, asked: Asked) -> None:
    assert recomputed.answer(asked, countries=None) == _reference(asked)


@pytest.mark.parametrize("country", ["UA", "MD", "PL"])
def test_a_country_s_answer_counts_its_hotlines_only(recomputed: EstimatesRecomputation, country: str) -> None:
    corridor = _asked("person", "citizenship", "country_of_exploitation", by_period=False, last="2026-02")
    for asked in (_asked("person"), corridor):
        assert recomputed.answer(asked, countries=frozenset({country})) == _reference(asked, [country])


def test_a_month_mixing_versions_combines_both_classes(recomputed: EstimatesRecomputation) -> None:
    answer = recomputed.answer(_asked("person"), countries=None)

    january = answer.combination[0]
    assert january.periods == ["2026-01"]
    used = {term.table for term in january.terms}
    assert {"persons_total", "persons_corridor", "persons_demography"} <= used  # v2's total, tables both released
    assert any(term.coefficient not in (0.0, 1.0) for term in january.terms)
    assert answer.taxonomies == ((V1.id, V1.content_hash), (V2.id, V2.content_hash))
    assert answer.periods_with_data == ("2026-01", "2026-03")
    totals = {row.keys[PERIOD]: row for row in answer.rows}
    assert (totals["2026-01"].hotlines_reporting, totals["2026-01"].hotlines_expected) == (3, 3)
    assert totals["2026-01"].interval_method == "conservative"  # a real combination, not a plain sum

    moldova = recomputed.answer(_asked("person"), countries=frozenset({"MD"}))
    assert moldova.taxonomies == ((V2.id, V2.content_hash),)


def test_a_gap_month_has_rows_without_estimates(recomputed: EstimatesRecomputation) -> None:
    answer = recomputed.answer(_asked("person", "exploitation_group"), countries=None)

    february = [row for row in answer.rows if row.keys[PERIOD] == "2026-02"]
    assert len(february) == 5
    assert {(r.estimate, r.halfwidth, r.obs_status, r.rank, r.hotlines_reporting) for r in february} == {
        (None, None, "O", None, 0)
    }
    assert {r.hotlines_expected for r in february} == {3}  # pl-a's key is valid from March
    assert [block.periods for block in answer.combination] == [["2026-01"], ["2026-03"]]
    assert answer.ranking.compared == 10

    nobody = recomputed.answer(
        _asked("person", "gender", by_period=False, first="2026-02", last="2026-02"), countries=None
    )
    assert (nobody.rows, nobody.combination, nobody.periods_with_data) == ((), (), ())


def test_a_correction_replaces_the_revision_before_it(recomputed: EstimatesRecomputation) -> None:
    answer = recomputed.answer(
        _asked("contact", by_period=True, first="2026-03", last="2026-03"), countries=frozenset({"UA"})
    )

    (row,) = answer.rows
    corrected, replaced = BY_INDEX[15].cells["contacts"], BY_INDEX[13].cells["contacts"]
    assert sum(corrected) != sum(replaced)
    assert row.estimate == float(sum(corrected))  # one table answering alone: the plain sum, exactly
    assert (row.interval_method, row.hotlines_reporting) == ("exact", 1)
    (block,) = answer.combination
    assert [(t.table, t.dimensions, t.coefficient) for t in block.terms] == [("contacts", [], 1.0)]


def test_a_question_some_month_cannot_answer_is_not_answerable(recomputed: EstimatesRecomputation) -> None:
    # ua-a's version 1 release carries no age group (only the destination and origin tables it left out do).
    with pytest.raises(NotAnswerable, match="age_group"):
        recomputed.answer(_asked("person", "age_group"), countries=None)
    assert recomputed.answer(_asked("person", "age_group"), countries=frozenset({"MD"})).periods_with_data == (
        "2026-01",
        "2026-03",
    )
    with pytest.raises(NotAnswerable, match="no table counts unit"):
        recomputed.answer(_asked("visitor"), countries=None)


# ----------------------------------------------------------------------------------------------- taxonomies


def _custom_contacts() -> Taxonomy:
    """A taxonomy that reuses the name ``contacts`` for other cells (a hub never registers it beside v1/v2)."""
    document = V2.document
    document["id"] = "custom/2"
    document["tables"]["contacts"]["contribution"] = {"l1": 2, "per_cell": 2}
    return load_taxonomy(document)


def test_a_table_two_taxonomies_define_differently_is_named_and_left_out() -> None:
    custom = _custom_contacts()
    odd = _Release(16, "pl-a", "2026-03", 1, custom, GAUSS, {"contacts": "5"}, {"contacts": _vector("contacts", 99)})
    registry = TableRegistry([V2])
    releases = _releases([*RELEASES, odd], registry=registry)

    assert len(registry.conflicts) == 1
    assert (
        "taxonomies tipshare-taxonomy/2 and custom/2 define table 'contacts' with other cells" in registry.conflicts[0]
    )
    assert "contacts" not in registry.consistent
    assert [r.hotline_id for r in releases.in_scope("contacts", "2026-03", None)] == ["md-a", "ua-a"]
    with pytest.raises(NotAnswerable, match="no table counts unit 'contact'"):
        EstimatesRecomputation(releases).answer(_asked("contact"), countries=None)


def test_tables_of_one_name_across_versions_are_one_table() -> None:
    registry = TableRegistry([V1, V2])
    assert registry.conflicts == ()
    assert set(registry.consistent) == set(V1.tables) | set(V2.tables)


# ----------------------------------------------------------------------------------------------- questions


def test_verify_asks_totals_each_dimension_and_the_corridor_within_the_hub_s_limits() -> None:
    months = month_range("2016-01", "2026-03")  # 123 months: two answers per question by period
    questions = audit_questions(TABLES, ["case", "person"], months)

    shapes = {(q.unit, q.keys) for q in questions}
    assert ("person", ("period",)) in shapes
    assert ("person", ("period", "exploitation_group")) in shapes
    assert ("person", ("citizenship",)) in shapes  # 62 codes: over the whole range
    assert ("person", ("citizenship", "country_of_exploitation")) in shapes
    assert ("case", ("period", "cross_border")) in shapes
    assert not any(q.unit == "contact" for q in questions)
    totals = [q for q in questions if (q.unit, q.keys) == ("case", ("period",))]
    assert [(q.period_from, q.period_to) for q in totals] == [("2016-01", "2025-12"), ("2026-01", "2026-03")]
    assert all(len(month_range(q.period_from, q.period_to)) <= 120 for q in questions)
    assert _asked("person", "gender").params() == {
        "period_from": "2026-01",
        "period_to": "2026-03",
        "format": "json",
        "group_by": "period,gender",
    }


@pytest.mark.parametrize(
    ("table", "dims"),
    [
        ("persons_corridor", ()),
        ("persons_corridor", ("citizenship",)),
        ("persons_corridor", ("country_of_exploitation",)),
        ("persons_corridor", ("exploitation_group",)),
        ("persons_corridor", ("citizenship", "country_of_exploitation")),
        ("persons_corridor", ("citizenship", "exploitation_group")),
        ("persons_corridor", ("exploitation_group", "citizenship")),
        ("persons_demography", ("gender", "age_band", "exploitation_type")),
    ],
)
def test_cells_are_grouped_by_any_dimensions(table: str, dims: tuple[str, ...]) -> None:
    cells = _vector(table, 5)
    positions = [TABLES[table].dimension_names.index(d) for d in dims]
    expected: dict[tuple[str, ...], int] = defaultdict(int)
    for i, value in enumerate(cells):
        codes = TABLES[table].cell_codes(i)
        expected[tuple(codes[p] for p in positions)] += value
    assert group_cells(TABLES[table], dims, cells) == expected


# ----------------------------------------------------------------------------------------------- comparison


QUESTION = _asked("person", "exploitation_group")
LABEL = "person group_by=period,exploitation_group 2026-01..2026-03 (region)"


def _answer(expected: ExpectedEstimates, asked: Asked = QUESTION) -> EstimatesAnswer:
    """What an honest hub publishes for ``asked`` (the region), at checkpoint size 16."""
    return EstimatesAnswer(
        question=QuestionEcho(
            unit=asked.unit,  # type: ignore[arg-type]
            group_by=list(asked.keys),
            filters={},
            period_from=asked.period_from,
            period_to=asked.period_to,
            scope=ScopeEcho(level="region", code=None, countries=None),
        ),
        unit_label=UNIT_LABELS[asked.unit],
        taxonomies=[TaxonomyEcho(id=i, hash=h) for i, h in expected.taxonomies],
        confidence=CONFIDENCE,
        periods_with_data=list(expected.periods_with_data),
        checkpoint=CheckpointRef(origin="hub.example.org/log", size=16, root_hash="AA==", note="a note"),
        generated_at=datetime(2026, 4, 3, tzinfo=UTC),
        notes=["how it was answered"],
        combination=list(expected.combination),
        ranking=expected.ranking,
        rows=list(expected.rows),
    )


@pytest.fixture(scope="module")
def expected(recomputed: EstimatesRecomputation) -> ExpectedEstimates:
    return recomputed.answer(QUESTION, countries=None)


def _messages(published: EstimatesAnswer, expected: ExpectedEstimates) -> list[tuple[dict[str, str] | None, str]]:
    result = compare_estimates(published, expected, asked=QUESTION, label=LABEL)
    assert all(f.check is Check.ESTIMATES and f.message.startswith(f"{LABEL}: ") for f in result.failures)
    return [(dict(f.keys) if f.keys else None, f.message.removeprefix(f"{LABEL}: ")) for f in result.failures]


def _with_row(published: EstimatesAnswer, index: int, **changes: object) -> EstimatesAnswer:
    rows = list(published.rows)
    rows[index] = rows[index].model_copy(update=changes)
    return published.model_copy(update={"rows": rows})


def test_an_honest_answer_compares_clean(expected: ExpectedEstimates) -> None:
    result = compare_estimates(_answer(expected), expected, asked=QUESTION, label=LABEL)
    assert (result.rows, result.failures) == (15, ())
    assert question_differences(_answer(expected), QUESTION, scope=("region", None), filters={}) == []


def test_a_changed_estimate_is_named_with_its_row(expected: ExpectedEstimates) -> None:
    row = expected.rows[0]
    assert row.estimate is not None

    messages = _messages(_with_row(_answer(expected), 0, estimate=row.estimate + 0.01), expected)

    assert messages == [(row.keys, f"estimate published {row.estimate + 0.01}, recomputed {row.estimate}")]


def test_a_changed_rank_and_distinguishable_flag_are_named(expected: ExpectedEstimates) -> None:
    ranked, flipped = [i for i, row in enumerate(expected.rows) if row.rank is not None][:2]
    published = _with_row(_answer(expected), ranked, rank=expected.rows[ranked].rank + 1)  # type: ignore[operator]
    published = _with_row(published, flipped, distinguishable=False)

    messages = _messages(published, expected)

    assert [keys for keys, _ in messages] == [expected.rows[ranked].keys, expected.rows[flipped].keys]
    rank = expected.rows[ranked].rank
    assert messages[0][1] == f"rank published {rank + 1}, recomputed {rank}"  # type: ignore[operator]
    assert messages[1][1] == "distinguishable published False, recomputed True"


def test_a_changed_coefficient_is_named_with_its_block_and_table(expected: ExpectedEstimates) -> None:
    blocks = list(_answer(expected).combination)
    terms = list(blocks[0].terms)
    term = terms[1]
    terms[1] = term.model_copy(update={"coefficient": term.coefficient * (1 + 1e-12)})
    blocks[0] = blocks[0].model_copy(update={"terms": terms})

    messages = _messages(_answer(expected).model_copy(update={"combination": blocks}), expected)

    dims = ",".join(term.dimensions) or "total"
    assert messages == [
        (
            None,
            f"combination 2026-01: coefficient of {term.table} ({dims}) published "
            f"{term.coefficient * (1 + 1e-12)!r}, recomputed {term.coefficient!r}",
        )
    ]


def test_floats_from_tail_bounds_may_differ_by_1e_9(expected: ExpectedEstimates) -> None:
    row = expected.rows[0]
    assert row.std is not None
    assert row.p_zero is not None
    close = _with_row(_answer(expected), 0, std=row.std * (1 + 1e-12), p_zero=row.p_zero * (1 - 1e-12))
    assert _messages(close, expected) == []
    far = _with_row(_answer(expected), 0, std=row.std * (1 + 1e-6))
    assert _messages(far, expected) == [(row.keys, f"std published {row.std * (1 + 1e-6)}, recomputed {row.std}")]


def test_rows_taxonomies_months_and_ranking_are_all_checked(expected: ExpectedEstimates) -> None:
    published = _answer(expected)
    rows = list(published.rows)
    moved = rows[-1].model_copy(update={"keys": {"period": "2026-04", "exploitation_group": "labour"}})
    published = published.model_copy(
        update={
            "rows": [*rows[:-1], moved, rows[0]],
            "taxonomies": published.taxonomies[1:],
            "periods_with_data": ["2026-01"],
            "ranking": published.ranking.model_copy(update={"distinguishable": published.ranking.distinguishable + 1}),
        }
    )

    messages = _messages(published, expected)

    assert [m for _, m in messages[:3]] == [
        f"taxonomies published [{V2.id} ({V2.content_hash})], recomputed [{V1.id} ({V1.content_hash}), {V2.id} "
        f"({V2.content_hash})]",
        "periods_with_data published ['2026-01'], recomputed ['2026-01', '2026-03']",
        f"ranking distinguishable published {expected.ranking.distinguishable + 1}, recomputed "
        f"{expected.ranking.distinguishable}",
    ]
    assert messages[3:] == [
        ({"period": "2026-04", "exploitation_group": "labour"}, "published, but the log implies no such row"),
        (expected.rows[0].keys, "the row appears twice"),
        (expected.rows[-1].keys, f"missing: the log implies estimate {expected.rows[-1].estimate}"),
    ]


def test_an_answer_to_another_question_is_named(expected: ExpectedEstimates) -> None:
    echo = _answer(expected).question.model_copy(update={"period_to": "2026-04", "group_by": ["exploitation_group"]})
    published = _answer(expected).model_copy(update={"question": echo})

    assert question_differences(published, QUESTION, scope=("country", "UA"), filters={}) == [
        "group_by ['exploitation_group'], not ['period', 'exploitation_group']",
        "period_to '2026-04', not '2026-03'",
        "scope ('region', None), not ('country', 'UA')",
    ]
