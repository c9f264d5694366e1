# SPDX-License-Identifier: Apache-2.0
"""Statistics recomputed from accepted submissions, checked against a small example computed by hand.

Table ``contacts`` (channel: 8 codes × contact_type: 9 codes, 72 cells). Two hotlines:

=====  =======  ===============================================  ==============================================
id     country  keys                                             releases (current revision in bold)
=====  =======  ===============================================  ==============================================
ua-a   UA       2026-01-10 →                                     09: (c0,t0)=5, (c1,t0)=3, Gaussian σ=10;
                                                                 10: r1 (c0,t0)=7, **r2** (c0,t0)=4
md-a   MD       2026-02-01 → revoked 2026-10-15                  09: (c0,t1)=-2, Laplace scale 2
=====  =======  ===============================================  ==============================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from auditor.compare import MAX_FAILURES_PER_ANSWER, compare_answer
from auditor.entries import AcceptedSubmission
from auditor.findings import Check
from auditor.keys import HotlineWindows
from auditor.published import PublishedCheckpoint, PublishedStats
from auditor.releases import LoadedRelease, Releases, TableRegistry
from auditor.stats import Recomputation
from protocol.accuracy import is_wide, sum_interval
from protocol.api import StatsRow
from protocol.taxonomy import builtin_taxonomy

TAXONOMY = builtin_taxonomy()
CONTACTS = TAXONOMY.table("contacts")
C0, C1 = CONTACTS.dimensions[0].code_names[:2]
T0, T1 = CONTACTS.dimensions[1].code_names[:2]
GAUSS, LAPLACE = ("discrete_gaussian", "10"), ("discrete_laplace", "2")


def _vector(values: Mapping[tuple[str, str], int]) -> list[int]:
    cells = [0] * CONTACTS.cell_count
    for codes, value in values.items():
        cells[CONTACTS.cell_index(codes)] = value
    return cells


RELEASES: dict[int, tuple[str, str, int, tuple[str, str], list[int]]] = {
    3: ("ua-a", "2026-09", 1, GAUSS, _vector({(C0, T0): 5, (C1, T0): 3})),
    4: ("md-a", "2026-09", 1, LAPLACE, _vector({(C0, T1): -2})),
    6: ("ua-a", "2026-10", 1, GAUSS, _vector({(C0, T0): 7})),
    8: ("ua-a", "2026-10", 2, GAUSS, _vector({(C0, T0): 4})),
}


def _submission(index: int) -> AcceptedSubmission:
    hotline, period, revision, (mechanism, scale), _ = RELEASES[index]
    return AcceptedSubmission(
        index=index,
        hotline_id=hotline,
        key_id="0" * 32,
        period=period,
        revision=revision,
        received_at=datetime(2026, 11, 1, tzinfo=UTC),
        mechanism=mechanism,
        payload_hash=f"sha256:{index:064x}",
        scales=MappingProxyType({"contacts": scale}),
    )


def _release(index: int) -> LoadedRelease:
    return LoadedRelease(TAXONOMY, {"contacts": RELEASES[index][4]})


@pytest.fixture
def recomputed() -> Recomputation:
    hotlines = [
        HotlineWindows("md-a", "MD", ((datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 10, 15, tzinfo=UTC)),)),
        HotlineWindows("ua-a", "UA", ((datetime(2026, 1, 10, tzinfo=UTC), None),)),
    ]
    releases = Releases(
        submissions=[_submission(i) for i in RELEASES],
        hotlines=hotlines,
        registry=TableRegistry([TAXONOMY]),
        load=_release,
    )
    return Recomputation(taxonomy=TAXONOMY, releases=releases)


def _expected(
    keys: dict[str, str], estimate: int, terms: list[tuple[str, str, int]], reporting: int, expected: int
) -> StatsRow:
    interval = sum_interval(terms)
    wide = is_wide(estimate, interval)
    return StatsRow(
        keys=keys,
        estimate=estimate,
        ci95_low=estimate - interval.halfwidth,
        ci95_high=estimate + interval.halfwidth,
        display_estimate=None,
        std=interval.std,
        interval_method=interval.method,
        coverage=interval.coverage,
        hotlines_reporting=reporting,
        hotlines_expected=expected,
        obs_status="U" if wide or estimate < 0 else "A",
        conf_status="F",
        wide_interval=wide,
    )


def test_the_current_revision_of_each_hotline_and_period_counts(recomputed: Recomputation) -> None:
    assert [s.index for s in recomputed.current] == [3, 4, 8]
    assert recomputed.periods == ["2026-09", "2026-10"]
    assert recomputed.countries == ["MD", "UA"]


def test_grouped_by_period_and_channel_every_row_is_as_computed_by_hand(recomputed: Recomputation) -> None:
    rows = recomputed.rows("contacts", ("period", "channel"), period_from="2026-09", period_to="2026-11")

    assert len(rows) == 3 * 8
    september = [(*GAUSS, 9), (*LAPLACE, 9)]  # one month, two hotlines, 9 contact types summed per row
    assert rows[("2026-09", C0)] == _expected({"period": "2026-09", "channel": C0}, 5 - 2, september, 2, 2)
    assert rows[("2026-09", C1)] == _expected({"period": "2026-09", "channel": C1}, 3, september, 2, 2)
    assert rows[("2026-09", CONTACTS.dimensions[0].code_names[7])].estimate == 0
    assert rows[("2026-10", C0)] == _expected({"period": "2026-10", "channel": C0}, 4, [(*GAUSS, 9)], 1, 2)
    gap = rows[("2026-11", C0)]  # nobody reported November; md-a's key was revoked in October
    assert (gap.estimate, gap.ci95_low, gap.std, gap.obs_status, gap.hotlines_reporting, gap.hotlines_expected) == (
        None,
        None,
        None,
        "O",
        0,
        1,
    )


def test_totals_countries_and_whole_range_rows(recomputed: Recomputation) -> None:
    totals = recomputed.rows("contacts", ("period",), period_from="2026-09", period_to="2026-10")
    assert totals[("2026-09",)] == _expected({"period": "2026-09"}, 6, [(*GAUSS, 72), (*LAPLACE, 72)], 2, 2)

    moldova = recomputed.rows(
        "contacts", ("period",), period_from="2026-09", period_to="2026-10", countries=frozenset({"MD"})
    )
    assert moldova[("2026-09",)] == _expected({"period": "2026-09"}, -2, [(*LAPLACE, 72)], 1, 1)
    assert moldova[("2026-10",)].obs_status == "O"
    assert moldova[("2026-10",)].hotlines_expected == 1  # enrolled until 2026-10-15

    whole = recomputed.rows("contacts", ("channel",), period_from="2026-09", period_to="2026-11")
    assert whole[(C0,)] == _expected({"channel": C0}, 3 + 4, [(*GAUSS, 9), (*LAPLACE, 9), (*GAUSS, 9)], 2, 2)

    cells = recomputed.rows("contacts", ("contact_type", "channel"), period_from="2026-09", period_to="2026-10")
    assert len(cells) == 72
    assert cells[(T0, C0)].estimate == 5 + 4
    assert cells[(T1, C0)].estimate == -2

    assert recomputed.rows("contacts", ("channel",), period_from="2026-11", period_to="2026-12") == {}
    assert recomputed.periods_with_data("contacts", ["2026-09", "2026-10", "2026-11"], frozenset({"MD"})) == ["2026-09"]


def _published(rows: list[StatsRow], *, periods: tuple[str, ...] = ("2026-09",)) -> PublishedStats:
    return PublishedStats(
        table="contacts",
        taxonomy_id=TAXONOMY.id,
        taxonomy_hash=TAXONOMY.content_hash,
        group_by=("period", "channel"),
        scope_level="region",
        scope_code=None,
        scope_countries=None,
        period_from="2026-09",
        period_to="2026-09",
        periods_with_data=periods,
        checkpoint=PublishedCheckpoint(size=9, root_hash=bytes(32), note=None),
        rows=tuple(rows),
    )


def _as_published(row: StatsRow, **changes: object) -> StatsRow:
    return row.model_copy(update=changes)


def test_an_exact_answer_compares_clean_and_each_difference_is_named(recomputed: Recomputation) -> None:
    expected = recomputed.rows("contacts", ("period", "channel"), period_from="2026-09", period_to="2026-09")
    honest = [_as_published(row) for row in expected.values()]
    clean = compare_answer(_published(honest), expected, expected_periods_with_data=["2026-09"], scope="region")
    assert (clean.rows, clean.failures) == (8, ())

    lying = [_as_published(expected[("2026-09", C0)], estimate=8, ci95_low=1, hotlines_reporting=3), *honest[1:-1]]
    lying.append(_as_published(expected[("2026-09", C1)], keys={"period": "2026-08", "channel": C1}))
    result = compare_answer(
        _published(lying, periods=()), expected, expected_periods_with_data=["2026-09"], scope="region"
    )
    assert all(f.check is Check.STATISTICS and f.table == "contacts" for f in result.failures)
    messages = [(dict(f.keys) if f.keys else None, f.message) for f in result.failures]
    low = expected[("2026-09", C0)].ci95_low
    assert messages == [
        (None, "group_by=period,channel (region): periods_with_data published [], recomputed ['2026-09']"),
        (
            {"period": "2026-09", "channel": C0},
            f"group_by=period,channel (region): estimate published 8, recomputed 3; ci95_low published 1, recomputed "
            f"{low}; hotlines_reporting published 3, recomputed 2",
        ),
        (
            {"period": "2026-08", "channel": C1},
            "group_by=period,channel (region): published, but the log implies no such row",
        ),
        (
            {"period": "2026-09", "channel": CONTACTS.dimensions[0].code_names[7]},
            "group_by=period,channel (region): missing: the log implies estimate 0",
        ),
    ]


def test_a_systematically_wrong_answer_is_summarised(recomputed: Recomputation) -> None:
    expected = recomputed.rows("contacts", ("contact_type", "channel"), period_from="2026-09", period_to="2026-09")
    published = _published([_as_published(row, estimate=(row.estimate or 0) + 1) for row in expected.values()])
    published = dataclasses.replace(published, group_by=("contact_type", "channel"))
    result = compare_answer(published, expected, expected_periods_with_data=["2026-09"], scope="region")
    assert len(result.failures) == MAX_FAILURES_PER_ANSWER + 1
    assert result.failures[-1].message.endswith(
        f"... and {72 - MAX_FAILURES_PER_ANSWER} more differences in this answer"
    )
