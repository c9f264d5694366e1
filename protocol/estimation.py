# SPDX-License-Identifier: Apache-2.0
"""Rows of an estimates answer: estimates, intervals, flags, p-values and honest rankings, the same for everyone.

The hub (from its rollups) and the auditor (from the signed submissions) hand this module the same integer sums;
it returns the same rows, bit for bit. Months whose releases look alike share one least-squares plan
(:mod:`protocol.combination`): a *block*. A group of rows (one month, when grouped by period; else the whole
range) is computed from the blocks it covers.

Publishing rules
----------------
* ``estimate`` is the least-squares value rounded to two decimals; ``halfwidth`` is the interval's half-width
  plus that rounding, rounded *up* to two decimals, so the published interval always contains the exact one.
  Plain sums (a table answering alone) are whole numbers with integer half-widths.
* ``wide_interval``: ``halfwidth > |estimate|``; ``obs_status``: ``U`` when wide or negative, ``O`` for a month
  no hotline in scope reported (estimate null), else ``A``; ``conf_status``: always ``F``.
* ``p_zero``: an upper bound on ``P(noise ≥ estimate)``, the one-sided p-value of "the true count is zero"
  (exact for plain sums; 1 for estimates ≤ 0).
* ``distinguishable``: "the true count is zero" rejected by Holm's step-down procedure at
  :data:`~protocol.api.FAMILY_WISE_ERROR_RATE` over every row with an estimate, so the chance that *any* row
  called distinguishable is a true zero is at most 5 %; ``rank``: 1, 2, … by estimate among the distinguishable
  rows (within each month when grouped by period; ties by row order). A row that is not distinguishable is never
  ranked: a "largest corridors" list holds only ranked rows.

  Why Holm and not Benjamini–Hochberg: a ranking is read as a list of claims ("these corridors exist"), so one
  false entry is one too many. Benjamini–Hochberg at 5 % bounds the expected *share* of false entries; over the
  3,844 corridors of a region a list of ten then holds a true zero about a third of the time (measured on
  simulated answers), where Holm's holds one at most one time in twenty, at the price of a slightly shorter list.

>>> holm([0.001, 0.2, 0.01, 0.04], 0.05)
([True, False, True, False], 0.01)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from protocol.api import (
    CONFIDENCE,
    FAMILY_WISE_ERROR_RATE,
    PERIOD,
    CombinationBlock,
    CombinationTerm,
    EstimateRow,
    RankingSummary,
    observation_status,
)
from protocol.bounds import CombinedInterval, LinearNoise
from protocol.combination import (
    MonthRelease,
    NotAnswerable,
    Plan,
    ResolvedQuestion,
    candidate_tables,
    observed_table,
    plan_month,
)
from protocol.errors import N_
from protocol.taxonomy import Table

__all__ = [
    "Block",
    "RowGroup",
    "build_rows",
    "combination_blocks",
    "holm",
    "plan_blocks",
    "publish_interval",
]

Sums = Mapping[str, Mapping[tuple[str, ...], int]]


@dataclass(frozen=True, slots=True)
class Block:
    """Months that share one plan, and the sums of the tables the plan needs over those months. The plan describes
    one month's noise; the block's is that of each of its months, independent: ``len(periods)`` times the terms."""

    periods: tuple[str, ...]
    plan: Plan
    sums: Sums = field(hash=False)


@dataclass(frozen=True, slots=True)
class RowGroup:
    """One month's rows (``period`` set) or the whole range's (``period`` None): the blocks behind them and the
    hotline counts the caller knows. No blocks: a month nobody in scope reported."""

    period: str | None
    blocks: tuple[Block, ...]
    hotlines_reporting: int
    hotlines_expected: int


def build_rows(
    question: ResolvedQuestion,
    keys: Sequence[tuple[str, ...]],
    groups: Sequence[RowGroup],
    *,
    by_period: bool,
) -> tuple[list[EstimateRow], RankingSummary]:
    """Every row of an answer, in group order then key order, with ranks and the ranking summary."""
    names = (PERIOD, *question.group_by) if by_period else question.group_by
    raw: list[tuple[dict[str, str], float | None, LinearNoise | None, RowGroup, bool]] = []
    for group in groups:
        if not group.blocks:
            if group.period is not None:
                for key in keys:
                    raw.append((_keys(names, group.period, key), None, None, group, False))
            continue
        noise = LinearNoise(
            (coefficient, (mechanism, scale, count * len(block.periods)))
            for block in group.blocks
            for coefficient, (mechanism, scale, count) in block.plan.noise_parts
        )
        columns = [column for block in group.blocks for column in block.plan.columns(block.sums, keys)]
        # math.fsum is exactly rounded, so a row's estimate does not depend on the order of its products.
        sums = [math.fsum(products) for products in zip(*columns, strict=True)] if columns else [0.0] * len(keys)
        lattice = noise.lattice
        for key, value in zip(keys, sums, strict=True):
            raw.append((_keys(names, group.period, key), value, noise, group, lattice))
    p_values: list[float] = []
    published: list[tuple[float, float, CombinedInterval] | None] = []
    intervals: dict[int, CombinedInterval] = {}  # rows of a group share one noise: one interval per noise
    for _, estimate, row_noise, _, lattice in raw:
        if estimate is None or row_noise is None:
            published.append(None)
            continue
        interval = intervals.get(id(row_noise))
        if interval is None:
            interval = intervals[id(row_noise)] = row_noise.interval(CONFIDENCE)
        value, halfwidth = publish_interval(estimate, interval.halfwidth, integral=lattice)
        published.append((value, halfwidth, interval))
        p_values.append(row_noise.tail_bound()(estimate))
    rejected, threshold = holm(p_values, FAMILY_WISE_ERROR_RATE)
    rows: list[EstimateRow] = []
    tested = iter(zip(p_values, rejected, strict=True))
    for (keys_, estimate, _, group, _), shown in zip(raw, published, strict=True):
        if shown is None or estimate is None:
            rows.append(_gap(keys_, group))
            continue
        value, halfwidth, row_interval = shown
        p, significant = next(tested)
        wide = halfwidth > abs(value)
        rows.append(
            EstimateRow(
                keys=keys_,
                estimate=value,
                ci95_low=round(value - halfwidth, 2),
                ci95_high=round(value + halfwidth, 2),
                halfwidth=halfwidth,
                std=row_interval.std,
                interval_method=row_interval.method,
                coverage=row_interval.coverage,
                hotlines_reporting=group.hotlines_reporting,
                hotlines_expected=group.hotlines_expected,
                obs_status=observation_status(value, wide),
                conf_status="F",
                wide_interval=wide,
                p_zero=p,
                distinguishable=significant and estimate > 0,
                rank=None,
            )
        )
    ranked = _ranks(rows, by_period=by_period)
    summary = RankingSummary(
        method="holm",
        level=FAMILY_WISE_ERROR_RATE,
        compared=len(p_values),
        distinguishable=sum(1 for row in ranked if row.distinguishable),
        threshold=threshold,
    )
    return ranked, summary


def plan_blocks(
    question: ResolvedQuestion,
    tables: Mapping[str, Table],
    releases: Mapping[str, MonthRelease],
    *,
    by_period: bool,
) -> list[tuple[tuple[str, ...], Plan]]:
    """The canonical blocks of an answer: months (``YYYY-MM``, in order) whose releases, restricted to the tables
    that can take part in the question, are equal share one plan; grouped by period, every month is its own block
    (plans are still computed once per distinct release). Hub and auditor both block months this way, so that the
    same sums give the same floating-point estimates.

    Raises :class:`NotAnswerable` naming the months a question cannot be answered for.
    """
    names = [t.name for t in candidate_tables(question, tables.values())]
    by_release: dict[MonthRelease, list[str]] = {}
    for period in sorted(releases):
        by_release.setdefault(releases[period].restricted(names), []).append(period)
    plans: dict[MonthRelease, Plan] = {}
    failures: list[tuple[str, NotAnswerable]] = []
    for release, periods in by_release.items():
        try:
            plans[release] = plan_month(question, tables, release)
        except NotAnswerable as e:
            failures.append((_months(periods), e))
    if failures:
        detail = "; ".join(f"{months}: {error}" for months, error in failures)
        raise NotAnswerable(N_("the question cannot be answered for %(detail)s"), causes=failures, detail=detail)
    if by_period:
        return [((period,), plans[releases[period].restricted(names)]) for period in sorted(releases)]
    return sorted(((tuple(periods), plans[release]) for release, periods in by_release.items()), key=lambda b: b[0])


def _months(periods: Sequence[str]) -> str:
    return ", ".join(periods) if len(periods) <= 3 else f"{periods[0]}..{periods[-1]} ({len(periods)} months)"


def combination_blocks(groups: Sequence[RowGroup]) -> list[CombinationBlock]:
    """The published weights: one entry per distinct block, in month order."""
    seen: dict[tuple[str, ...], Block] = {}
    for group in groups:
        for block in group.blocks:
            seen.setdefault(block.periods, block)
    return [
        CombinationBlock(
            periods=list(periods),
            terms=[
                CombinationTerm(
                    table=observed_table(t.table),
                    taxonomy=t.table.partition("@")[2] or None,
                    dimensions=list(t.dimensions),
                    coefficient=float(t.coefficient),
                )
                for t in block.plan.terms
            ],
        )
        for periods, block in sorted(seen.items())
    ]


def publish_interval(estimate: float, halfwidth: float, *, integral: bool) -> tuple[float, float]:
    """``(estimate, halfwidth)`` as published: two decimals, the half-width widened by the rounding and rounded up.

    >>> publish_interval(12.3456, 4.001, integral=False)
    (12.35, 4.01)
    >>> publish_interval(12.0, 7.0, integral=True)
    (12.0, 7.0)
    """
    if integral:
        return float(round(estimate)), float(math.ceil(halfwidth - 1e-9))
    value = round(estimate, 2)
    # Float arithmetic, deterministic everywhere (IEEE 754); the 1e-7 keeps its rounding on the wide side.
    widened = halfwidth + abs(estimate - value)
    return value, math.ceil(widened * 100 + 1e-7) / 100


def holm(p_values: Sequence[float], level: float) -> tuple[list[bool], float]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise error rate ``level``, and the largest
    p-value rejected (0.0 when none is): in increasing order, reject ``p_(k)`` while ``p_(k) ≤ level / (m − k + 1)``.
    Valid under any dependence between the tests."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    rejected = [False] * m
    threshold = 0.0
    for k, index in enumerate(order):
        if p_values[index] > level / (m - k):
            break
        rejected[index] = True
        threshold = p_values[index]
    return rejected, threshold


# ----------------------------------------------------------------------------------------------- helpers


def _keys(names: Sequence[str], period: str | None, key: tuple[str, ...]) -> dict[str, str]:
    codes = iter(key)
    return {name: period if name == PERIOD and period is not None else next(codes) for name in names}


def _gap(keys: dict[str, str], group: RowGroup) -> EstimateRow:
    return EstimateRow(
        keys=keys,
        estimate=None,
        ci95_low=None,
        ci95_high=None,
        halfwidth=None,
        std=None,
        interval_method=None,
        coverage=None,
        hotlines_reporting=0,
        hotlines_expected=group.hotlines_expected,
        obs_status=observation_status(None, False),
        conf_status="F",
        wide_interval=False,
        p_zero=None,
        distinguishable=False,
        rank=None,
    )


def _ranks(rows: list[EstimateRow], *, by_period: bool) -> list[EstimateRow]:
    families: dict[str | None, list[int]] = {}
    for index, row in enumerate(rows):
        if row.distinguishable:
            families.setdefault(row.keys.get(PERIOD) if by_period else None, []).append(index)
    ranks: dict[int, int] = {}
    for members in families.values():
        ordered = sorted(members, key=lambda i: (-(rows[i].estimate or 0.0), i))
        ranks.update({index: rank for rank, index in enumerate(ordered, 1)})
    return [row.model_copy(update={"rank": ranks[i]}) if i in ranks else row for i, row in enumerate(rows)]
