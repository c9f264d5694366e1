# SPDX-License-Identifier: Apache-2.0
"""Rows of an estimates answer: publishing rules, gaps, p-values, Holm's procedure and ranks."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.api import EstimatesAnswer
from protocol.combination import MonthRelease, NotAnswerable, Question, plan_month, resolve
from protocol.estimation import (
    Block,
    RowGroup,
    build_rows,
    combination_blocks,
    holm,
    plan_blocks,
    publish_interval,
)
from protocol.taxonomy import builtin_taxonomy

TAXONOMY = builtin_taxonomy(2)
TABLES = TAXONOMY.tables


def release(hotlines: int = 5, scale: str = "4.0") -> MonthRelease:
    terms = dict.fromkeys(TABLES, (("discrete_gaussian", scale, hotlines),))
    return MonthRelease.of(terms, [frozenset(TABLES)])


def test_holm_known_answer() -> None:
    # m = 6, level 0.05: thresholds 0.05/6, 0.05/5, 0.05/4, ... in increasing order of p.
    # 0.001 ≤ 0.0083, 0.008 ≤ 0.01 and 0.012 ≤ 0.0125 are rejected; 0.03 > 0.0167 stops the procedure.
    p = [0.04, 0.001, 0.03, 0.2, 0.008, 0.012]
    rejected, threshold = holm(p, 0.05)
    assert rejected == [False, True, False, False, True, True]
    assert threshold == 0.012
    assert holm([], 0.05) == ([], 0.0)
    assert holm([0.5, 0.9], 0.05) == ([False, False], 0.0)
    assert holm([0.01, 0.02], 0.05) == ([True, True], 0.02)


@given(st.lists(st.floats(0, 1), max_size=40))
def test_holm_rejects_a_prefix_of_the_sorted_p_values_each_below_bonferroni_of_the_rest(p: list[float]) -> None:
    rejected, threshold = holm(p, 0.05)
    assert all(value <= threshold for value, r in zip(p, rejected, strict=True) if r)
    assert all(value >= threshold for value, r in zip(p, rejected, strict=True) if not r) or not any(rejected)
    if any(rejected):
        assert min(p) <= 0.05 / len(p)


def test_published_intervals_contain_the_exact_ones() -> None:
    for estimate, halfwidth in [(12.3456, 4.001), (-0.004, 0.2), (7.125, 3.0), (1e-9, 1e-9)]:
        value, published = publish_interval(estimate, halfwidth, integral=False)
        assert value - published <= estimate - halfwidth + 1e-12
        assert value + published >= estimate + halfwidth - 1e-12
        assert published * 100 == pytest.approx(round(published * 100))
    assert publish_interval(-3.0, 5.0, integral=True) == (-3.0, 5.0)


def corridor_rows(values: dict[tuple[str, str], int], *, by_period: bool = False):
    """Rows of a one-month corridor answer whose corridor tables hold ``values`` (every other cell zero)."""
    q = resolve(Question("person", ("citizenship", "country_of_exploitation")), TABLES)
    plan = plan_month(q, TABLES, release())
    sums = {}
    for table, dims in plan.marginals.items():
        if dims == ("citizenship", "country_of_exploitation"):
            sums[table] = dict(values)
        elif dims == ("citizenship",):
            sums[table] = {}
            for (c, _), v in values.items():
                sums[table][(c,)] = sums[table].get((c,), 0) + v
        elif dims == ("country_of_exploitation",):
            sums[table] = {}
            for (_, e), v in values.items():
                sums[table][(e,)] = sums[table].get((e,), 0) + v
        else:
            sums[table] = {(): sum(values.values())} if not dims else {}
    keys = q.row_keys(TABLES)
    group = RowGroup("2026-01" if by_period else None, (Block(("2026-01",), plan, sums),), 5, 6)
    return q, keys, build_rows(q, keys, [group], by_period=by_period), group


def test_only_corridors_distinguishable_from_zero_are_ranked() -> None:
    values = {("UA", "PL"): 120, ("MD", "RU"): 60, ("RO", "IT"): 35, ("UA", "DE"): 2}
    _, keys, (rows, ranking), _ = corridor_rows(values)
    assert len(rows) == len(keys) == 62 * 62
    ranked = sorted((r for r in rows if r.rank is not None), key=lambda r: r.rank or 0)
    assert [(r.keys["citizenship"], r.keys["country_of_exploitation"]) for r in ranked] == [
        ("UA", "PL"),
        ("MD", "RU"),
        ("RO", "IT"),
    ]
    assert ranking.compared == 3844
    assert ranking.distinguishable == 3
    assert all(r.distinguishable == (r.rank is not None) for r in rows)
    by_key = {(r.keys["citizenship"], r.keys["country_of_exploitation"]): r for r in rows}
    small = by_key[("UA", "DE")]
    assert not small.distinguishable
    assert small.p_zero is not None
    assert small.p_zero > 0.01
    assert all(r.interval_method == "conservative" and r.coverage is not None and r.coverage >= 0.95 for r in rows)


def test_wide_negative_and_gap_rows_carry_their_flags() -> None:
    q = resolve(Question("person", ("exploitation_group",)), TABLES)
    plan = plan_month(q, TABLES, release())
    keys = q.row_keys(TABLES)
    by_group = {("sexual",): 400, ("labour",): -30}
    sums = {table: dict(by_group) if dims else {(): 370} for table, dims in plan.marginals.items()}
    groups = [RowGroup("2026-01", (Block(("2026-01",), plan, sums),), 5, 5), RowGroup("2026-02", (), 0, 5)]
    rows, ranking = build_rows(q, keys, groups, by_period=True)
    assert [r.keys["period"] for r in rows] == ["2026-01"] * 5 + ["2026-02"] * 5
    first = {r.keys["exploitation_group"]: r for r in rows[:5]}
    assert first["sexual"].obs_status == "A"
    assert first["sexual"].rank == 1
    assert first["labour"].obs_status == "U"
    assert first["labour"].estimate is not None
    assert first["labour"].estimate < 0
    assert first["other"].wide_interval
    assert first["other"].obs_status == "U"
    assert all(r.obs_status == "O" and r.estimate is None and r.hotlines_expected == 5 for r in rows[5:])
    assert ranking.compared == 5
    blocks = combination_blocks(groups)
    assert [b.periods for b in blocks] == [["2026-01"]]
    assert math.isclose(
        sum(
            t.coefficient
            for t in blocks[0].terms
            if t.table == "persons_exploitation_group" and t.dimensions == ["exploitation_group"]
        ),
        float(
            Fraction(
                next(
                    t.coefficient
                    for t in plan.terms
                    if t.table == "persons_exploitation_group" and t.dimensions == ("exploitation_group",)
                )
            )
        ),
    )


def test_an_answer_serialises_to_the_shared_contract() -> None:
    q, _keys, (rows, ranking), group = corridor_rows({("UA", "PL"): 50})
    answer = EstimatesAnswer.model_validate(
        {
            "question": {
                "unit": "person",
                "group_by": list(q.group_by),
                "filters": {},
                "period_from": "2026-01",
                "period_to": "2026-01",
                "scope": {"level": "region", "code": None, "countries": None},
            },
            "unit_label": "potential victims reported to hotlines",
            "taxonomies": [{"id": TAXONOMY.id, "hash": TAXONOMY.content_hash}],
            "confidence": 0.95,
            "periods_with_data": ["2026-01"],
            "checkpoint": {"origin": None, "size": 0, "root_hash": "", "note": None},
            "generated_at": "2026-02-20T00:00:00Z",
            "notes": [],
            "combination": [b.model_dump() for b in combination_blocks([group])],
            "ranking": ranking.model_dump(),
            "rows": [r.model_dump() for r in rows[:3]],
        }
    )
    assert EstimatesAnswer.model_validate_json(answer.model_dump_json()) == answer


def test_months_alike_share_one_plan_and_unanswerable_months_are_named() -> None:
    v1 = builtin_taxonomy(1)
    tables = {**v1.tables, **TABLES}
    v2_month = release()
    contacts_missing = MonthRelease.of(
        {n: (("discrete_gaussian", "4.0", 5),) for n in TABLES if n != "contacts"},
        [frozenset(n for n in TABLES if n != "contacts")],
    )
    v1_month = MonthRelease.of(dict.fromkeys(v1.tables, (("discrete_gaussian", "4.0", 2),)), [frozenset(v1.tables)])
    releases = {"2026-01": v2_month, "2026-02": contacts_missing, "2026-03": v2_month, "2026-04": v1_month}
    corridor = resolve(Question("person", ("citizenship", "country_of_exploitation")), tables)
    blocks = plan_blocks(corridor, tables, releases, by_period=False)
    # Contacts do not take part in a person question, so January to March are one block.
    assert [periods for periods, _ in blocks] == [("2026-01", "2026-02", "2026-03"), ("2026-04",)]
    monthly = plan_blocks(corridor, tables, releases, by_period=True)
    assert [periods for periods, _ in monthly] == [("2026-01",), ("2026-02",), ("2026-03",), ("2026-04",)]
    assert monthly[0][1] is monthly[2][1]
    eurostat = resolve(Question("person", ("gender", "age_group", "exploitation_group")), tables)
    with pytest.raises(NotAnswerable, match=r"cannot be answered for 2026-04: .*age_group, exploitation_group"):
        plan_blocks(eurostat, tables, releases, by_period=False)


def test_a_block_of_several_months_carries_the_noise_of_each_month() -> None:
    """Regression: a block covering six alike months once counted one month's noise (intervals √6 too narrow)."""
    q = resolve(Question("person", ("citizenship",)), TABLES)
    plan = plan_month(q, TABLES, release())
    sums = {table: {} for table in plan.marginals}
    keys = q.row_keys(TABLES)
    one, _ = build_rows(q, keys, [RowGroup(None, (Block(("2026-01",), plan, sums),), 5, 5)], by_period=False)
    months = tuple(f"2026-{m:02d}" for m in range(1, 7))
    six, _ = build_rows(q, keys, [RowGroup(None, (Block(months, plan, sums),), 5, 5)], by_period=False)
    assert six[0].std == pytest.approx(math.sqrt(6) * (one[0].std or 0.0), rel=1e-12)
    assert six[0].std == pytest.approx(math.sqrt(6 * plan.noise().variance), rel=1e-12)


def test_a_whole_range_nobody_reported_in_has_no_rows() -> None:
    """Month by month, a month nobody reported gets its rows marked missing; over the whole range, no rows at all."""
    q = resolve(Question("person", ("exploitation_group",)), TABLES)
    keys = q.row_keys(TABLES)
    rows, ranking = build_rows(q, keys, [RowGroup(None, (), 0, 5)], by_period=False)
    assert rows == []
    assert ranking.compared == 0
    monthly, _ = build_rows(q, keys, [RowGroup("2026-02", (), 0, 5)], by_period=True)
    assert [r.obs_status for r in monthly] == ["O"] * len(keys)
