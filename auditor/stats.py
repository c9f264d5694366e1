# SPDX-License-Identifier: Apache-2.0
"""Regional statistics recomputed from the signed payloads in the log, with the hub's published semantics.

For one tree size, from the accepted submissions (:mod:`auditor.entries`) and the key history before it:

``current``
    per (hotline, period), the accepted submission with the highest revision;
``estimate``
    the sum, over every hotline in scope whose current submission releases the table, of its noisy cells in the
    row's cells and months (exact integers, never clipped);
``ci95_low``, ``ci95_high``
    ``estimate ∓ h``, with ``h`` from :func:`protocol.accuracy.sum_interval` of the row's noise terms: for each
    month with data and each reporting hotline, ``(mechanism, scale, k)`` where ``k`` is the number of cells the
    row sums in one month (the product of the sizes of the dimensions not grouped by);
``hotlines_reporting``
    hotlines in scope whose current submission releases the table for a month of the row;
``hotlines_expected``
    hotlines in scope expected to report a month of the row: from the ``reporting_from`` their latest logged
    policy declares on, else holding a valid key at some instant of it (from the key history); plus those that
    reported it anyway;
``obs_status`` / ``wide_interval``
    ``O`` for a month nobody in scope reported (estimate and interval null), else ``U`` when the half-width
    exceeds ``|estimate|`` or the estimate is negative, else ``A``.

Grouped by ``period`` there is a row for every month of the range and every combination of the other keys;
not grouped by period, one row per combination over the whole range, and no row at all when no month has data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from itertools import product

from auditor.entries import AcceptedSubmission
from auditor.releases import Releases, group_cells
from protocol.accuracy import Interval, NoiseGroup, interval_bounds, is_wide, sum_interval
from protocol.api import CONFIDENCE, PERIOD, StatsRow, observation_status
from protocol.period import months_between
from protocol.taxonomy import Table, Taxonomy

__all__ = ["CONFIDENCE", "PERIOD", "Recomputation", "expected_row", "month_chunks", "month_range"]


def expected_row(
    keys: Mapping[str, str], estimate: int | None, interval: Interval | None, reporting: int, expected: int
) -> StatsRow:
    """One row as the log implies it, in the shape the hub publishes (:class:`protocol.api.StatsRow`): ``estimate``
    and its ``interval`` (both None for a month nobody reported), the hotlines reporting and expected."""
    if estimate is None or interval is None:
        return StatsRow.model_construct(
            keys=dict(keys),
            estimate=None,
            ci95_low=None,
            ci95_high=None,
            display_estimate=None,
            std=None,
            interval_method=None,
            coverage=None,
            hotlines_reporting=reporting,
            hotlines_expected=expected,
            obs_status=observation_status(None, False),
            conf_status="F",
            wide_interval=False,
        )
    low, high = interval_bounds(estimate, interval)
    wide = is_wide(estimate, interval)
    return StatsRow.model_construct(
        keys=dict(keys),
        estimate=estimate,
        ci95_low=low,
        ci95_high=high,
        display_estimate=None,
        std=interval.std,
        interval_method=interval.method,
        coverage=interval.coverage,
        hotlines_reporting=reporting,
        hotlines_expected=expected,
        obs_status=observation_status(estimate, wide),
        conf_status="F",
        wide_interval=wide,
    )


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included.

    >>> month_range("2025-11", "2026-02")
    ['2025-11', '2025-12', '2026-01', '2026-02']
    """
    return months_between(first, last)


def month_chunks(months: Sequence[str], step: int, *, with_data: Collection[str] | None = None) -> list[list[str]]:
    """``months`` (consecutive, in order) in runs of at most ``step`` months, for questions the hub answers in one go.

    With ``with_data`` (the months some release reports), only the months with data, in runs of consecutive ones:
    what a question grouped by a dimension needs, so that a stretch of months nobody released (between a month
    backfilled years back and the others, say) costs nothing. Those months stay covered by the questions grouped by
    period alone, asked over all of ``months``, whose answers must say that none of them has data.

    >>> months = ["2019-03", "2019-04", "2019-05", "2019-06", "2019-07"]
    >>> month_chunks(months, 2)
    [['2019-03', '2019-04'], ['2019-05', '2019-06'], ['2019-07']]
    >>> month_chunks(months, 2, with_data={"2019-03", "2019-06", "2019-07"})
    [['2019-03'], ['2019-06', '2019-07']]
    """
    runs: list[list[str]] = [[]]
    for month in months:
        if with_data is None or month in with_data:
            runs[-1].append(month)
        elif runs[-1]:
            runs.append([])
    return [run[start : start + step] for run in runs for start in range(0, len(run), step)]


class Recomputation:
    """The statistics of the hub's taxonomy implied by the releases of one tree size (:class:`Releases`: the
    current submissions, read once) and the hotlines' key windows."""

    def __init__(self, *, taxonomy: Taxonomy, releases: Releases) -> None:
        self._taxonomy = taxonomy
        self._releases = releases
        self._totals: dict[tuple[str, tuple[str, ...], frozenset[str] | None], list[int]] = {}

    @property
    def current(self) -> tuple[AcceptedSubmission, ...]:
        """Per (hotline, period), the accepted submission with the highest revision, in log order."""
        return self._releases.current

    @property
    def periods(self) -> list[str]:
        """Every period some current submission reports, in order."""
        return self._releases.periods

    @property
    def countries(self) -> list[str]:
        """Every country a hotline was enrolled in."""
        return self._releases.countries

    def rows(
        self,
        table_name: str,
        group_by: Sequence[str],
        *,
        period_from: str,
        period_to: str,
        countries: frozenset[str] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[tuple[str, ...], StatsRow]:
        """The rows of one answer, keyed by their codes in ``group_by`` order (``countries``: ``None`` = all;
        ``filters``: dimension -> the codes kept, as the hub's filters: rows only for those codes, sums only over
        them)."""
        table = self._taxonomy.table(table_name)
        kept = {name: tuple(codes) for name, codes in (filters or {}).items()}
        dims = [name for name in group_by if name != PERIOD]
        months = month_range(period_from, period_to)
        groups = [[month] for month in months] if PERIOD in group_by else [months]
        releases = self._releases
        in_scope = releases.hotlines_in(countries)
        k = math.prod(len(kept.get(d.name, d.code_names)) for d in table.dimensions if d.name not in group_by)
        codes_of = {d.name: d.code_names for d in table.dimensions}
        combos = list(product(*(kept.get(d, codes_of[d]) for d in dims)))
        order = _key_order(group_by)
        rows: dict[tuple[str, ...], StatsRow] = {}
        for covered in groups:
            reporters = {m: releases.in_scope(table.name, m, countries) for m in covered}
            reported = {m: {r.hotline_id for r in reporters[m]} for m in covered}
            expected = set().union(*(releases.enrolled_during(m, in_scope) | reported[m] for m in covered))
            with_data = [m for m in covered if reporters[m]]
            if not with_data:
                if PERIOD in group_by:
                    for combo in combos:
                        key = order(covered[0], combo)
                        rows[key] = expected_row(dict(zip(group_by, key, strict=True)), None, None, 0, len(expected))
                continue
            terms: list[NoiseGroup] = [(*r.term, k) for m in with_data for r in reporters[m] if r.term is not None]
            interval = sum_interval(terms, CONFIDENCE)
            totals = self._grouped(table, dims, with_data, countries, kept)
            reporting = len(set().union(*reported.values()))
            hotlines_expected = len(expected)
            for combo in combos:
                key = order(covered[0], combo)
                keys = dict(zip(group_by, key, strict=True))
                rows[key] = expected_row(keys, totals[combo], interval, reporting, hotlines_expected)
        return rows

    def periods_with_data(self, table: str, months: Iterable[str], countries: frozenset[str] | None) -> list[str]:
        return [m for m in months if self._releases.in_scope(table, m, countries)]

    def _grouped(
        self,
        table: Table,
        dims: Sequence[str],
        months: Sequence[str],
        countries: frozenset[str] | None,
        kept: Mapping[str, Sequence[str]],
    ) -> dict[tuple[str, ...], int]:
        """Sum over ``months`` and the countries in scope, grouped by the codes of ``dims`` (cells outside the
        ``kept`` codes left out)."""
        slot = (table.name, tuple(months), countries)
        if slot not in self._totals:
            self._totals[slot] = self._releases.summed(table.name, months, countries) or [0] * table.cell_count
        cells = self._totals[slot]
        if kept:
            positions = [(table.dimension_names.index(name), frozenset(codes)) for name, codes in kept.items()]
            cells = [
                value if all(codes[p] in allowed for p, allowed in positions) else 0
                for value, codes in zip(cells, table.iter_cells(), strict=True)
            ]
        return group_cells(table, dims, cells)


def _key_order(group_by: Sequence[str]) -> Callable[[str, tuple[str, ...]], tuple[str, ...]]:
    """A row's key (its codes in ``group_by`` order) from its month and its codes of the other keys, in one tuple."""
    if PERIOD not in group_by:
        return lambda _month, combo: combo
    at = list(group_by).index(PERIOD)
    return lambda month, combo: (*combo[:at], month, *combo[at:])
