# SPDX-License-Identifier: Apache-2.0
"""Statistics over the rollups: every number is checked against a computation from the hotlines' own vectors."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import delete

from hub.db import read_session, write_session
from hub.errors import Forbidden, HubError, InvalidQuery, NotFound
from hub.models import RollupCell
from hub.services.csv_files import csv_cell
from hub.services.scope import Scope
from hub.services.stats import (
    MAX_ROWS,
    StatsQuery,
    StatsResult,
    StatsService,
    stats_question,
    stats_to_csv,
)
from protocol.accuracy import Interval, is_wide, sum_interval
from protocol.merkle import EMPTY_ROOT
from protocol.messages import b64encode
from protocol.questions import parse_question_text
from tests.unit.hub.stats_data import (
    CHECKPOINT_NOTE,
    CHECKPOINT_ROOT,
    TAXONOMY,
    Dataset,
    build,
    independent,
    utc,
)

NOW = utc(2026, 5, 1, 12)
ALL = frozenset({"ua-one", "ua-two", "md-one", "ua-gone"})
UA = frozenset({"ua-one", "ua-two", "ua-gone"})
RECRUITMENT = "persons_recruitment"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return build(tmp_path_factory.mktemp("stats"))


def run(data: Dataset, query: StatsQuery, *, now: object = NOW, max_rows: int = MAX_ROWS) -> StatsResult:
    with read_session(data.sessions) as session:
        return StatsService(session, TAXONOMY, max_rows=max_rows).query(query, now=now)  # type: ignore[arg-type]


def reporters(data: Dataset, table: str, hotlines: Iterable[str], periods: Iterable[str]) -> int:
    chosen, months = set(hotlines), set(periods)
    return len({r.hotline for r in data.current() if r.hotline in chosen and r.period in months and table in r.cells})


def assert_row_matches(row: object, estimate: int, interval: Interval) -> None:
    assert row.estimate == estimate  # type: ignore[attr-defined]
    assert (row.ci95_low, row.ci95_high) == (estimate - interval.halfwidth, estimate + interval.halfwidth)  # type: ignore[attr-defined]
    assert row.std == pytest.approx(interval.std, rel=1e-12)  # type: ignore[attr-defined]
    assert row.interval_method == interval.method  # type: ignore[attr-defined]
    wide = is_wide(estimate, interval)
    assert row.wide_interval is wide  # type: ignore[attr-defined]
    assert row.obs_status == ("U" if wide or estimate < 0 else "A")  # type: ignore[attr-defined]
    assert row.conf_status == "F"  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ sums


def test_region_total_equals_the_sum_of_every_current_vector(data: Dataset) -> None:
    result = run(data, StatsQuery(RECRUITMENT, period_from="2026-01", period_to="2026-03"))
    [row] = result.rows
    estimate, interval = independent(
        data, RECRUITMENT, hotlines=ALL, periods=["2026-01", "2026-02", "2026-03"], cells={}
    )
    assert_row_matches(row, estimate, interval)
    assert dict(row.keys) == {}
    assert interval.terms == 8 * 75  # 8 current releases of 75 cells, each cell one noise term
    # ua-gone's only key was revoked on 2025-12-05: not expected in 2026.
    assert (row.hotlines_reporting, row.hotlines_expected) == (3, 3)
    assert result.periods_with_data == ("2026-01", "2026-02", "2026-03")
    assert result.unit == "person"
    assert result.unit_label == "potential victims reported to hotlines"
    assert result.clip_negative is False


def test_a_single_cell_in_one_month_gets_the_exact_interval(data: Dataset) -> None:
    cell = {"exploitation_group": ("sexual",), "recruiter_relation": ("Friend",), "recruitment_channel": ("online",)}
    result = run(
        data,
        StatsQuery(
            RECRUITMENT, filters=cell, period_from="2026-03", period_to="2026-03", scope=Scope.hotline("ua-one")
        ),
    )
    [row] = result.rows
    estimate, interval = independent(data, RECRUITMENT, hotlines=["ua-one"], periods=["2026-03"], cells=cell)
    assert interval.method == "exact"
    assert interval.terms == 1
    assert_row_matches(row, estimate, interval)


def test_the_current_revision_and_its_noise_scale_are_used(data: Dataset) -> None:
    result = run(
        data, StatsQuery("contacts", period_from="2026-02", period_to="2026-02", scope=Scope.hotline("ua-one"))
    )
    [row] = result.rows
    revision_2 = next(r for r in data.releases if r.hotline == "ua-one" and r.period == "2026-02" and r.revision == 2)
    assert row.estimate == sum(revision_2.cells["contacts"])
    assert row.std == pytest.approx(sum_interval([("discrete_gaussian", "4", 72)]).std)


def test_group_by_dimensions_with_filters(data: Dataset) -> None:
    channels = ("online", "offline")
    query = StatsQuery(
        RECRUITMENT,
        group_by=("exploitation_group",),
        filters={"recruitment_channel": ("offline", "online", "online")},
        period_from="2026-01",
        period_to="2026-03",
    )
    result = run(data, query)
    groups = TAXONOMY.table(RECRUITMENT).dimensions[0].code_names
    assert [row.keys["exploitation_group"] for row in result.rows] == list(groups)  # code-list order
    assert result.filters == {"recruitment_channel": ("online", "offline")}  # deduplicated, code-list order
    for row in result.rows:
        cells = {"exploitation_group": [row.keys["exploitation_group"]], "recruitment_channel": channels}
        estimate, interval = independent(
            data, RECRUITMENT, hotlines=ALL, periods=["2026-01", "2026-02", "2026-03"], cells=cells
        )
        assert interval.terms == 8 * 10  # 8 current releases x (5 recruiter relations x 2 channels)
        assert_row_matches(row, estimate, interval)


def test_group_by_every_dimension_and_period_returns_single_cells(data: Dataset) -> None:
    table = TAXONOMY.table(RECRUITMENT)
    query = StatsQuery(
        RECRUITMENT, group_by=("period", *table.dimension_names), period_from="2026-01", period_to="2026-03"
    )
    result = run(data, query)
    assert len(result.rows) == 3 * 75
    expected_keys = [
        {"period": p, **dict(zip(table.dimension_names, cell, strict=True))}
        for p, cell in itertools.product(["2026-01", "2026-02", "2026-03"], table.iter_cells())
    ]
    assert [dict(row.keys) for row in result.rows] == expected_keys
    for row in result.rows[::17]:
        cells = {name: [row.keys[name]] for name in table.dimension_names}
        estimate, interval = independent(data, RECRUITMENT, hotlines=ALL, periods=[row.keys["period"]], cells=cells)
        assert_row_matches(row, estimate, interval)


def test_time_series_shows_months_nobody_reported_as_gaps(data: Dataset) -> None:
    result = run(data, StatsQuery(RECRUITMENT, group_by=("period",), period_from="2025-12", period_to="2026-04"))
    assert [row.keys["period"] for row in result.rows] == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    gap_december, *reported, gap_april = result.rows
    for gap in (gap_december, gap_april):
        assert gap.estimate is None
        assert gap.ci95_low is None
        assert gap.ci95_high is None
        assert gap.std is None
        assert (gap.obs_status, gap.wide_interval, gap.hotlines_reporting) == ("O", False, 0)
    # December: ua-one, ua-two, and ua-gone (its key was valid until the 5th). April: ua-one, ua-two, md-one.
    assert (gap_december.hotlines_expected, gap_april.hotlines_expected) == (3, 3)
    for row in reported:
        month = row.keys["period"]
        estimate, interval = independent(data, RECRUITMENT, hotlines=ALL, periods=[month], cells={})
        assert_row_matches(row, estimate, interval)
        assert row.hotlines_reporting == reporters(data, RECRUITMENT, ALL, [month])
    # md-one enrolled on 2026-02-15 but reported January anyway: expected, as it reported.
    assert [(r.hotlines_reporting, r.hotlines_expected) for r in reported] == [(3, 3), (3, 3), (2, 3)]
    assert result.periods_with_data == ("2026-01", "2026-02", "2026-03")


def test_time_series_with_another_key_fills_gaps_for_every_code(data: Dataset) -> None:
    query = StatsQuery(
        "contacts",
        group_by=("channel", "period"),
        filters={"channel": ("phone", "chat")},
        period_from="2026-02",
        period_to="2026-04",
        scope=Scope.hotline("md-one"),
    )
    result = run(data, query)
    assert [(r.keys["channel"], r.keys["period"], r.obs_status == "O") for r in result.rows] == [
        ("phone", "2026-02", False),
        ("phone", "2026-03", True),  # md-one left contacts out of its March release
        ("phone", "2026-04", True),
        ("chat", "2026-02", False),
        ("chat", "2026-03", True),
        ("chat", "2026-04", True),
    ]
    phone_feb = result.rows[0]
    estimate, interval = independent(
        data, "contacts", hotlines=["md-one"], periods=["2026-02"], cells={"channel": ["phone"]}
    )
    assert_row_matches(phone_feb, estimate, interval)
    assert [(r.hotlines_reporting, r.hotlines_expected) for r in result.rows[:3]] == [(1, 1), (0, 1), (0, 1)]


def test_without_period_grouping_no_data_means_no_rows(data: Dataset) -> None:
    result = run(
        data, StatsQuery(RECRUITMENT, group_by=("exploitation_group",), period_from="2025-01", period_to="2025-06")
    )
    assert result.rows == ()
    assert result.periods_with_data == ()


def test_a_table_reported_by_fewer_hotlines_counts_only_them(data: Dataset) -> None:
    result = run(data, StatsQuery("contacts", period_from="2026-03", period_to="2026-03"))
    [row] = result.rows
    estimate, interval = independent(data, "contacts", hotlines=ALL, periods=["2026-03"], cells={})
    assert_row_matches(row, estimate, interval)
    assert (row.hotlines_reporting, row.hotlines_expected) == (1, 3)
    assert result.unit_label == "contacts received by hotlines"


# ------------------------------------------------------------------------------------------------ scopes


def test_country_scope(data: Dataset) -> None:
    result = run(data, StatsQuery(RECRUITMENT, period_from="2026-01", period_to="2026-03", scope=Scope.country("UA")))
    [row] = result.rows
    estimate, interval = independent(
        data, RECRUITMENT, hotlines=UA, periods=["2026-01", "2026-02", "2026-03"], cells={}
    )
    assert_row_matches(row, estimate, interval)
    assert (row.hotlines_reporting, row.hotlines_expected) == (2, 2)
    assert result.countries is None  # no token limit applied


def test_hotline_scope(data: Dataset) -> None:
    query = StatsQuery(
        RECRUITMENT, group_by=("period",), period_from="2026-01", period_to="2026-03", scope=Scope.hotline("ua-two")
    )
    result = run(data, query)
    march = result.rows[2]
    assert (march.estimate, march.obs_status, march.hotlines_reporting, march.hotlines_expected) == (None, "O", 0, 1)
    for row in result.rows[:2]:
        estimate, interval = independent(data, RECRUITMENT, hotlines=["ua-two"], periods=[row.keys["period"]], cells={})
        assert_row_matches(row, estimate, interval)
        assert interval.method == "exact"  # 75 discrete Laplace terms of scale 2: small enough to be exact


def test_a_token_limited_to_some_countries_sees_the_region_as_their_sum(data: Dataset) -> None:
    months = ["2026-01", "2026-02", "2026-03"]
    moldova = run(
        data, StatsQuery(RECRUITMENT, period_from="2026-01", period_to="2026-03", allowed_countries=frozenset({"MD"}))
    )
    [row] = moldova.rows
    estimate, interval = independent(data, RECRUITMENT, hotlines=["md-one"], periods=months, cells={})
    assert_row_matches(row, estimate, interval)
    assert (row.hotlines_reporting, row.hotlines_expected) == (1, 1)
    assert moldova.countries == ("MD",)
    assert any("MD" in note for note in moldova.notes)

    both = run(
        data,
        StatsQuery(RECRUITMENT, period_from="2026-01", period_to="2026-03", allowed_countries=frozenset({"UA", "MD"})),
    )
    region = run(data, StatsQuery(RECRUITMENT, period_from="2026-01", period_to="2026-03"))
    assert both.rows[0] == region.rows[0]  # every hotline is in UA or MD: country rollups sum to the region
    assert both.countries == ("MD", "UA")

    country = run(
        data,
        StatsQuery(
            RECRUITMENT,
            scope=Scope.country("MD"),
            period_from="2026-01",
            period_to="2026-03",
            allowed_countries=frozenset({"MD"}),
        ),
    )
    assert country.rows == moldova.rows


def test_a_token_limited_to_some_countries_cannot_leave_them(data: Dataset) -> None:
    md_only = frozenset({"MD"})
    with pytest.raises(Forbidden, match="country UA"):
        run(data, StatsQuery(RECRUITMENT, scope=Scope.country("UA"), allowed_countries=md_only))
    with pytest.raises(NotFound, match=r"no hotline 'ua-one' is enrolled in countries MD$"):
        run(data, StatsQuery(RECRUITMENT, scope=Scope.hotline("ua-one"), allowed_countries=md_only))
    with pytest.raises(NotFound, match="no-such-hotline"):
        run(data, StatsQuery(RECRUITMENT, scope=Scope.hotline("no-such-hotline")))


# ------------------------------------------------------------------------------------------------ answer


def test_the_answer_names_the_checkpoint_read_with_it(data: Dataset) -> None:
    result = run(data, StatsQuery(RECRUITMENT))
    assert (result.checkpoint.size, result.checkpoint.root_hash) == (23, CHECKPOINT_ROOT)
    assert result.checkpoint.note == CHECKPOINT_NOTE
    assert result.checkpoint.origin == "hub.test.tipshare/log"
    assert result.checkpoint.root_hash_b64 == b64encode(CHECKPOINT_ROOT)


def test_an_empty_log_is_named_as_the_empty_tree(tmp_path: Path) -> None:
    empty = build(tmp_path, checkpoint=False)
    result = run(empty, StatsQuery(RECRUITMENT))
    assert (result.checkpoint.size, result.checkpoint.root_hash, result.checkpoint.note) == (0, EMPTY_ROOT, None)


def test_clip_adds_a_display_estimate_and_changes_nothing_else(data: Dataset) -> None:
    cells = TAXONOMY.table(RECRUITMENT).dimension_names
    plain = run(data, StatsQuery(RECRUITMENT, group_by=cells, period_from="2026-03", period_to="2026-03"))
    clipped = run(data, StatsQuery(RECRUITMENT, group_by=cells, period_from="2026-03", period_to="2026-03", clip=True))
    assert any(row.estimate is not None and row.estimate < 0 for row in plain.rows)
    for before, after in zip(plain.rows, clipped.rows, strict=True):
        assert before.estimate is not None
        assert before.display_estimate is None
        assert (after.estimate, after.ci95_low, after.ci95_high) == (before.estimate, before.ci95_low, before.ci95_high)
        assert after.display_estimate == max(0, before.estimate)
    assert clipped.clip
    assert not plain.clip
    assert clipped.clip_negative is False


def test_negative_and_small_estimates_are_flagged_low_reliability(data: Dataset) -> None:
    table = TAXONOMY.table(RECRUITMENT)
    query = StatsQuery(
        RECRUITMENT,
        group_by=table.dimension_names,
        period_from="2026-03",
        period_to="2026-03",
        scope=Scope.hotline("ua-one"),
    )
    result = run(data, query)
    statuses = {row.obs_status for row in result.rows}
    assert statuses == {"A", "U"}
    first = result.rows[0]  # cell 0 carries +400: far outside its interval
    assert (first.obs_status, first.wide_interval) == ("A", False)
    for row in result.rows:
        assert row.estimate is not None
        assert row.ci95_low is not None
        if row.estimate < 0:
            assert row.obs_status == "U"
            assert row.ci95_low < row.estimate  # never clipped


def test_multi_valued_dimensions_are_noted_when_summed(data: Dataset) -> None:
    summed = run(data, StatsQuery("persons_control", group_by=("exploitation_group",)))
    assert any("control_flag is multi-valued" in note for note in summed.notes)
    split = run(data, StatsQuery("persons_control", group_by=("control_flag",)))
    assert not any("multi-valued" in note for note in split.notes)
    one_code = run(data, StatsQuery("persons_control", filters={"control_flag": ("_any_info",)}))
    assert not any("multi-valued" in note for note in one_code.notes)


def test_default_period_range_is_the_twelve_months_before_now(data: Dataset) -> None:
    result = run(data, StatsQuery(RECRUITMENT, group_by=("period",)))
    assert (result.period_from, result.period_to) == ("2025-05", "2026-04")
    assert len(result.rows) == 12


def test_inconsistent_rollups_fail_loudly_rather_than_answer_a_wrong_interval(tmp_path: Path) -> None:
    broken = build(tmp_path)
    with write_session(broken.sessions) as session:
        session.execute(delete(RollupCell).where(RollupCell.scope == "region", RollupCell.cell == 7))
    with pytest.raises(HubError, match="inconsistent") as caught:
        run(broken, StatsQuery(RECRUITMENT, period_from="2026-01", period_to="2026-03"))
    assert not isinstance(caught.value, InvalidQuery)


# ------------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("query", "error", "match"),
    [
        (StatsQuery("persons_nowhere"), NotFound, "no table 'persons_nowhere'"),
        (StatsQuery(RECRUITMENT, group_by=("citizenship",)), InvalidQuery, "group_by names 'citizenship'"),
        (StatsQuery(RECRUITMENT, group_by=("period", "period")), InvalidQuery, "group_by names a key twice"),
        (StatsQuery(RECRUITMENT, filters={"citizenship": ("UA",)}), InvalidQuery, "filter 'citizenship'"),
        (
            StatsQuery(RECRUITMENT, filters={"recruitment_channel": ("radio",)}),
            InvalidQuery,
            "filter recruitment_channel: 'radio'",
        ),
        (
            StatsQuery(RECRUITMENT, filters={"recruitment_channel": ()}),
            InvalidQuery,
            "filter recruitment_channel needs",
        ),
        (StatsQuery(RECRUITMENT, period_from="2026-13"), InvalidQuery, "period_from must be"),
        (StatsQuery(RECRUITMENT, period_to="2026-1"), InvalidQuery, "period_to must be"),
        (
            StatsQuery(RECRUITMENT, period_from="2026-03", period_to="2026-01"),
            InvalidQuery,
            "period_from .* is after period_to",
        ),
        (
            StatsQuery(RECRUITMENT, period_from="2000-01", period_to="2026-01"),
            InvalidQuery,
            "period_from..period_to covers 313",
        ),
    ],
)
def test_invalid_parameters_are_named(data: Dataset, query: StatsQuery, error: type[HubError], match: str) -> None:
    with pytest.raises(error, match=match):
        run(data, query)


@pytest.mark.parametrize(
    ("country", "hotline", "match"),
    [
        ("ua", None, "country must be"),
        ("UKR", None, "country must be"),
        (None, "X!", "hotline must be"),
        ("UA", "ua-one", "country or hotline, not both"),
    ],
)
def test_invalid_scope_parameters_are_named(country: str | None, hotline: str | None, match: str) -> None:
    with pytest.raises(InvalidQuery, match=match):
        Scope.from_params(country=country, hotline=hotline)


def test_too_many_rows_is_refused_before_querying(data: Dataset) -> None:
    query = StatsQuery(
        RECRUITMENT, group_by=("period", "recruiter_relation"), period_from="2026-01", period_to="2026-12"
    )
    with pytest.raises(InvalidQuery, match="group_by period,recruiter_relation over 12 months gives up to 60 rows"):
        run(data, query, max_rows=59)
    assert len(run(data, query, max_rows=60).rows) == 60


# ------------------------------------------------------------------------------------------------ CSV


def test_csv_has_one_header_and_the_checkpoint_on_every_line(data: Dataset) -> None:
    query = StatsQuery(
        RECRUITMENT, group_by=("period", "recruitment_channel"), period_from="2026-03", period_to="2026-04", clip=True
    )
    result = run(data, query)
    text = stats_to_csv(result)
    assert text.endswith("\r\n")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == [
        "table",
        "period",
        "recruitment_channel",
        "estimate",
        "ci95_low",
        "ci95_high",
        "display_estimate",
        "std",
        "hotlines_reporting",
        "hotlines_expected",
        "obs_status",
        "conf_status",
        "wide_interval",
        "interval_method",
        "unit",
        "group_by",
        "filters",
        "period_from",
        "period_to",
        "scope",
        "checkpoint_size",
        "checkpoint_root",
        "question",
    ]
    assert len(lines) == 1 + len(result.rows) == 1 + 6
    for line, row in zip(lines[1:], result.rows, strict=True):
        record = dict(zip(lines[0], line, strict=True))
        assert record["period"] == row.keys["period"]
        assert record["estimate"] == ("" if row.estimate is None else str(row.estimate))
        assert record["ci95_low"] == ("" if row.ci95_low is None else str(row.ci95_low))  # negative: still a number
        assert record["wide_interval"] == ("true" if row.wide_interval else "false")
        assert record["unit"] == "potential victims reported to hotlines"
        assert (record["group_by"], record["filters"]) == ("period,recruitment_channel", "")
        assert (record["period_from"], record["period_to"]) == ("2026-03", "2026-04")
        assert record["interval_method"] == (row.interval_method or "")
        assert (record["checkpoint_size"], record["checkpoint_root"]) == ("23", csv_cell(b64encode(CHECKPOINT_ROOT)))
        assert record["question"] == (  # what tipshare-audit check FILE recomputes
            f"/v1/stats/{result.table}?group_by=period,recruitment_channel&period_from=2026-03&period_to=2026-04"
        )
        assert parse_question_text(record["question"]) == stats_question(result)
    april = [dict(zip(lines[0], line, strict=True)) for line in lines[1:] if line[1] == "2026-04"]
    assert {(r["estimate"], r["obs_status"], r["std"]) for r in april} == {("", "O", "")}


def test_csv_neutralises_formulas_in_text_only() -> None:
    assert csv_cell("=1+2") == "'=1+2"
    assert csv_cell("+44") == "'+44"
    assert csv_cell("-cmd") == "'-cmd"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("\tx") == "'\tx"
    assert csv_cell("\rx") == "'\rx"
    assert csv_cell("UA") == "UA"
    assert csv_cell(-12) == "-12"
    assert csv_cell(-0.5) == "-0.5"
    assert csv_cell(False) == "false"
    assert csv_cell(None) == ""
