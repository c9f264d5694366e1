# SPDX-License-Identifier: Apache-2.0
"""Least-squares answers from the rollups (:mod:`hub.services.estimates`), on a hub with real ingested releases of
both taxonomies (:mod:`tests.unit.hub.estimates_data`): every answer equals the brute-force recomputation from the
payloads, bit for bit; mixed ranges combine both taxonomies; what cannot be answered is refused, naming why."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from hub.db import read_session, write_session
from hub.errors import Forbidden, HubError, InvalidQuery, NotFound, QuestionNotAnswerable
from hub.models import RollupCell
from hub.services.estimates import EstimatesQuery, EstimatesService
from hub.services.scope import Scope
from protocol.api import EstimatesAnswer
from protocol.combination import Question
from protocol.taxonomy import TAXONOMY_V1_ID, TAXONOMY_V2_ID
from tests.unit.hub.estimates_data import HOTLINES, PERIODS, V1, V2, Released, brute_force, release_everything

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EVERYONE = set(HOTLINES)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    yield from release_everything(Path(tmp_path_factory.mktemp("estimates")) / "hub")


def _answer(
    released: Released,
    unit: str = "person",
    group_by: tuple[str, ...] = (),
    filters: Mapping[str, tuple[str, ...]] | None = None,
    *,
    period_from: str = PERIODS[0],
    period_to: str = PERIODS[-1],
    scope: Scope | None = None,
    allowed: frozenset[str] | None = None,
    max_rows: int | None = None,
) -> EstimatesAnswer:
    context = released.hub.context
    query = EstimatesQuery(
        unit,
        group_by=group_by,
        filters=filters or {},
        period_from=period_from,
        period_to=period_to,
        scope=scope or Scope.region(),
        allowed_countries=allowed,
    )
    with read_session(context.sessions) as session:
        service = EstimatesService(session, context.taxonomies.values(), **({"max_rows": max_rows} if max_rows else {}))
        return service.answer(query, now=NOW)


def _assert_brute_force(
    answer: EstimatesAnswer,
    released: Released,
    question: Question,
    *,
    hotlines: set[str] = EVERYONE,
    periods: tuple[str, ...] = PERIODS,
) -> None:
    expected = brute_force(
        released, question, periods=periods, hotlines=hotlines, by_period="period" in answer.question.group_by
    )
    assert answer.combination == expected.combination
    assert answer.periods_with_data == expected.periods_with_data
    assert answer.rows == expected.rows  # bit for bit: the same floats, flags, p-values and ranks
    assert answer.ranking == expected.ranking


# ----------------------------------------------------------------------------------------------- equal to brute force


@pytest.mark.parametrize(
    ("group_by", "filters", "periods"),
    [
        pytest.param(("citizenship",), {}, ("2026-09",), id="one month, version 2 only, by citizenship"),
        pytest.param(
            ("citizenship", "country_of_exploitation"),
            {"citizenship": ("UA", "MD", "RO")},
            ("2026-07", "2026-08", "2026-09"),
            id="corridor of three citizenships over a version 2 range",
        ),
        pytest.param(("period",), {"exploitation_group": ("labour",)}, PERIODS, id="monthly labour, mixed range"),
        pytest.param(
            ("period", "gender", "age_band"), {}, ("2026-06", "2026-07"), id="monthly demography, mixed month"
        ),
        pytest.param((), {}, PERIODS, id="the total over a mixed range"),
        pytest.param(
            ("period",),
            {"citizenship": ("UA", "MD", "RO", "PL", "DE"), "exploitation_group": ("labour", "other")},
            ("2026-07", "2026-08", "2026-09"),
            id="a first-dimension filter in more runs than are read as ranges",
        ),
        pytest.param(
            ("citizenship", "exploitation_group"),
            {"country_of_exploitation": ("PL", "RU", "DE")},
            ("2026-07", "2026-08", "2026-09"),
            id="dimensions apart in the three-way table, filtered on the one between",
        ),
        pytest.param(
            ("period", "exploitation_group", "country_of_exploitation"),
            {"citizenship": ("UA", "MD")},
            ("2026-07", "2026-08", "2026-09"),
            id="monthly, the two last dimensions of the three-way table, filtered on the first",
        ),
    ],
)
def test_answers_equal_the_brute_force_recomputation_from_the_payloads(
    released: Released, group_by: tuple[str, ...], filters: dict[str, tuple[str, ...]], periods: tuple[str, ...]
) -> None:
    answer = _answer(released, group_by=group_by, filters=filters, period_from=periods[0], period_to=periods[-1])

    dimensions = tuple(name for name in group_by if name != "period")
    _assert_brute_force(answer, released, Question("person", dimensions, filters), periods=periods)
    assert answer.rows, "an answer with data has rows"


def test_a_multi_valued_question_is_answered_by_its_table_alone(released: Released) -> None:
    answer = _answer(released, group_by=("control_flag",), period_from="2026-06", period_to="2026-09")

    _assert_brute_force(
        answer, released, Question("person", ("control_flag",)), periods=("2026-06", "2026-07", "2026-08", "2026-09")
    )
    assert {term.table for block in answer.combination for term in block.terms} == {"persons_control"}
    assert {row.interval_method for row in answer.rows} == {"exact"}  # a plain sum
    assert any("control_flag is multi-valued" in note for note in answer.notes)
    # Only the releases that take part count: ro-v1 released person tables but not persons_control, so 2026-05
    # has no data for this question (a gap, not a refusal) and 2026-06 has three hotlines reporting, not four.
    monthly = _answer(released, group_by=("period", "control_flag"))
    _assert_brute_force(monthly, released, Question("person", ("control_flag",)))
    assert monthly.periods_with_data == ["2026-06", "2026-07", "2026-09"]
    first = {row.keys["period"]: row for row in monthly.rows if row.keys["control_flag"] == "meansThreats"}
    assert (first["2026-05"].estimate, first["2026-05"].hotlines_reporting) == (None, 0)
    assert first["2026-06"].hotlines_reporting == 3
    assert [t.id for t in monthly.taxonomies] == [TAXONOMY_V2_ID]


def test_cases_and_contacts_are_units_too(released: Released) -> None:
    cases = _answer(released, "case", group_by=("cross_border",))
    _assert_brute_force(cases, released, Question("case", ("cross_border",)))

    contacts = _answer(released, "contact", group_by=("channel",))
    assert contacts.rows == []  # no release holds the contact table: no data, no rows (not zeros)
    assert contacts.periods_with_data == []


# ----------------------------------------------------------------------------------------------- mixing taxonomies


def test_a_range_mixing_versions_is_answered_with_each_release_contributing(released: Released) -> None:
    answer = _answer(released, group_by=("citizenship",), period_from="2026-05", period_to="2026-07")

    _assert_brute_force(
        answer, released, Question("person", ("citizenship",)), periods=("2026-05", "2026-06", "2026-07")
    )
    assert [(t.id, t.hash) for t in answer.taxonomies] == [
        (TAXONOMY_V1_ID, V1.content_hash),
        (TAXONOMY_V2_ID, V2.content_hash),
    ]
    weights = {tuple(block.periods): {term.table for term in block.terms} for block in answer.combination}
    assert weights[("2026-05",)] == {
        "persons_demography",
        "persons_destination_demo",
        "persons_origin_demo",
        "persons_recruitment",
    }
    mixed = weights[("2026-06",)]
    assert {"persons_origin_demo", "persons_citizenship", "persons_corridor_2way", "persons_total"} <= mixed
    assert weights[("2026-07",)].isdisjoint(V1.tables.keys() - V2.tables.keys())
    # A table both versions hold is observed per taxonomy: ro-v1's persons_recruitment apart from the others'.
    shared = [term for term in answer.combination[1].terms if term.table == "persons_recruitment"]
    assert answer.combination[1].periods == ["2026-06"]
    assert {term.taxonomy for term in shared} == {TAXONOMY_V1_ID, TAXONOMY_V2_ID}
    [row_ua] = [row for row in answer.rows if row.keys == {"citizenship": "UA"}]
    assert row_ua.hotlines_reporting == 4
    assert any("several taxonomies" in note for note in answer.notes)


def test_a_question_only_version_2_tables_answer_names_the_months_and_taxonomies_it_cannot_include(
    released: Released,
) -> None:
    with pytest.raises(QuestionNotAnswerable) as refused:
        _answer(released, group_by=("gender", "age_group", "exploitation_group"))

    detail = str(refused.value)
    for mention in ("age_group", "exploitation_group", "gender", "2026-05", "2026-06", TAXONOMY_V1_ID):
        assert mention in detail, (mention, detail)
    assert "It can be answered for 2026-07, 2026-09" in detail
    assert "persons_origin_demo" in detail  # the tables those months released
    # Over the months that hold only version 2 releases, the same question is answered.
    answered = _answer(
        released, group_by=("gender", "age_group", "exploitation_group"), period_from="2026-07", period_to="2026-09"
    )
    assert answered.rows


@pytest.mark.parametrize(
    ("unit", "group_by", "filters", "mentions"),
    [
        ("person", ("channel",), {}, ("channel", "persons_citizenship", "persons_total")),
        ("person", ("nonsense",), {}, ("nonsense",)),
        ("person", ("citizenship",), {"citizenship": ("UK",)}, ("'UK'", "citizenship")),
        ("person", ("recruiter_relation", "citizenship"), {}, ("recruiter_relation", "citizenship", "together")),
        ("contact", ("citizenship",), {}, ("citizenship", "contacts")),
    ],
)
def test_questions_no_table_can_answer_are_refused_naming_the_dimension_and_tables(
    released: Released, unit: str, group_by: tuple[str, ...], filters: dict[str, tuple[str, ...]], mentions: tuple[str]
) -> None:
    with pytest.raises(QuestionNotAnswerable) as refused:
        _answer(released, unit, group_by=group_by, filters=filters)
    for mention in mentions:
        assert mention in str(refused.value)


def test_bad_units_periods_and_sizes_are_refused(released: Released) -> None:
    with pytest.raises(NotFound, match="no unit 'victim'"):
        _answer(released, "victim")
    with pytest.raises(InvalidQuery, match="twice"):
        _answer(released, group_by=("period", "period"))
    with pytest.raises(InvalidQuery, match="period is not a filter"):
        _answer(released, filters={"period": ("2026-06",)})
    with pytest.raises(InvalidQuery, match="covers 121 months"):
        _answer(released, period_from="2016-09", period_to="2026-09")
    with pytest.raises(InvalidQuery, match="gives up to 310 rows; an answer has at most 300"):
        _answer(released, group_by=("period", "citizenship"), max_rows=300)


# ----------------------------------------------------------------------------------------------- consistency, gaps


def test_the_total_equals_the_sum_of_the_citizenship_rows(released: Released) -> None:
    for first, last in (("2026-06", "2026-06"), ("2026-06", "2026-09"), ("2026-05", "2026-09")):
        [total] = _answer(released, period_from=first, period_to=last).rows
        parts = _answer(released, group_by=("citizenship",), period_from=first, period_to=last).rows
        assert total.estimate is not None
        assert math.isclose(total.estimate, sum(row.estimate or 0.0 for row in parts), abs_tol=0.005 * len(parts))
        assert 0 < (total.halfwidth or 0) < min(row.halfwidth or 0 for row in parts) * len(parts)


def test_months_nobody_reported_are_gaps_not_zeros(released: Released) -> None:
    answer = _answer(released, group_by=("period",), filters={"citizenship": ("UA",)})

    assert [row.keys["period"] for row in answer.rows] == list(PERIODS)
    gap = answer.rows[PERIODS.index("2026-08")]
    assert (gap.estimate, gap.ci95_low, gap.halfwidth, gap.obs_status) == (None, None, None, "O")
    assert (gap.hotlines_reporting, gap.hotlines_expected, gap.rank) == (0, 4, None)
    assert answer.periods_with_data == ["2026-05", "2026-06", "2026-07", "2026-09"]
    assert [row.hotlines_reporting for row in answer.rows] == [1, 4, 2, 0, 3]
    nothing = _answer(released, period_from="2026-08", period_to="2026-08")
    assert (nothing.rows, nothing.combination, nothing.taxonomies) == ([], [], [])


# ----------------------------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("scope", "hotlines"),
    [
        (Scope.country("UA"), {"ua-a", "ua-b"}),
        (Scope.country("RO"), {"ro-v1"}),
        (Scope.hotline("md-a"), {"md-a"}),
    ],
)
def test_scopes_answer_from_their_hotlines_only(released: Released, scope: Scope, hotlines: set[str]) -> None:
    answer = _answer(released, group_by=("citizenship",), scope=scope)

    _assert_brute_force(answer, released, Question("person", ("citizenship",)), hotlines=hotlines)
    assert (answer.question.scope.level, answer.question.scope.code) == (scope.level, scope.code)


def test_a_country_limited_token_sees_the_region_as_its_countries(released: Released) -> None:
    allowed = frozenset({"UA", "MD"})
    answer = _answer(released, group_by=("period", "country_of_exploitation"), allowed=allowed)

    _assert_brute_force(
        answer, released, Question("person", ("country_of_exploitation",)), hotlines={"ua-a", "ua-b", "md-a"}
    )
    assert answer.question.scope.countries == ["MD", "UA"]
    assert any("region is the sum of this token's countries: MD, UA" in note for note in answer.notes)
    assert [t.id for t in answer.taxonomies] == [TAXONOMY_V2_ID]  # ro-v1 is outside the token's countries
    mixed = _answer(released, group_by=("citizenship",), allowed=frozenset({"UA", "RO"}))  # v1 and v2 apart
    _assert_brute_force(mixed, released, Question("person", ("citizenship",)), hotlines={"ua-a", "ua-b", "ro-v1"})
    with pytest.raises(Forbidden, match="MD, UA only"):
        _answer(released, scope=Scope.country("RO"), allowed=allowed)
    with pytest.raises(NotFound, match="no hotline 'ro-v1' is enrolled in countries MD, UA"):  # as if absent
        _answer(released, scope=Scope.hotline("ro-v1"), allowed=allowed)


# ----------------------------------------------------------------------------------------------- what is published


def test_the_answer_names_its_question_checkpoint_and_notes(released: Released) -> None:
    answer = _answer(
        released,
        group_by=("citizenship", "period"),
        filters={"exploitation_group": ("labour", "sexual")},
        period_from="2026-07",
    )

    question = answer.question
    assert (question.unit, question.group_by) == ("person", ["period", "citizenship"])
    assert question.filters == {"exploitation_group": ["sexual", "labour"]}  # code-list order
    assert (question.period_from, question.period_to) == ("2026-07", "2026-09")
    assert answer.unit_label == "potential victims reported to hotlines"
    assert answer.confidence == 0.95
    assert answer.generated_at == NOW
    assert answer.checkpoint.size == 2 * len(HOTLINES) + len(released.payloads)  # enrolment, policy, releases
    assert answer.checkpoint.note is not None
    assert answer.checkpoint.note.startswith(answer.checkpoint.origin or "?")
    assert any("never clipped" in note for note in answer.notes)
    assert any("least squares" in note for note in answer.notes)


def test_inconsistent_rollups_answer_nothing(tmp_path: Path) -> None:
    for released in release_everything(tmp_path / "hub"):
        context = released.hub.context
        with write_session(context.sessions) as session:
            session.execute(
                update(RollupCell)
                .where(RollupCell.table_name == "persons_citizenship", RollupCell.period == "2026-09")
                .values(period="2026-10")
            )
            # The hotline-scope rollups that keep a version 1 hotline's shared tables apart from the others'.
            session.execute(
                delete(RollupCell).where(
                    RollupCell.scope == "hotline:ro-v1",
                    RollupCell.table_name == "persons_recruitment",
                    RollupCell.period == "2026-06",
                )
            )
        with pytest.raises(HubError, match="rollups are inconsistent"):
            _answer(released, period_from="2026-09", period_to="2026-09")
        with pytest.raises(HubError, match="hotline and round rollups of table 'persons_recruitment'"):
            _answer(released, period_from="2026-06", period_to="2026-06")
        # The months that are whole still answer.
        assert _answer(released, period_from="2026-07", period_to="2026-07").rows
