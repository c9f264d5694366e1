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
    hotlines in scope holding a valid key at some instant of a month of the row (from the key history), plus
    those that reported it anyway;
``obs_status`` / ``wide_interval``
    ``O`` for a month nobody in scope reported (estimate and interval null), else ``U`` when the half-width
    exceeds ``|estimate|`` or the estimate is negative, else ``A``.

Grouped by ``period`` there is a row for every month of the range and every combination of the other keys;
not grouped by period, one row per combination over the whole range, and no row at all when no month has data.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from types import MappingProxyType
from typing import Final

from auditor.entries import AcceptedSubmission
from auditor.keys import HotlineWindows
from protocol.accuracy import NoiseGroup, interval_bounds, is_wide, sum_interval
from protocol.taxonomy import Table, Taxonomy

__all__ = ["CONFIDENCE", "PERIOD", "CellsLoader", "ExpectedRow", "Recomputation", "month_range"]

#: Confidence of every published interval.
CONFIDENCE: Final = 0.95
#: The group key for months.
PERIOD: Final = "period"

#: Entry index -> that submission's released tables (name -> dense cells).
CellsLoader = Callable[[int], Mapping[str, Sequence[int]]]


@dataclass(frozen=True, slots=True)
class ExpectedRow:
    """One row as the log implies it."""

    keys: Mapping[str, str] = field(hash=False)
    estimate: int | None
    ci95_low: int | None
    ci95_high: int | None
    std: float | None
    interval_method: str | None
    hotlines_reporting: int
    hotlines_expected: int
    obs_status: str
    wide_interval: bool


@dataclass(frozen=True, slots=True)
class _Reporter:
    hotline_id: str
    country: str
    mechanism: str
    scale: str


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included.

    >>> month_range("2025-11", "2026-02")
    ['2025-11', '2025-12', '2026-01', '2026-02']
    """
    start = int(first[:4]) * 12 + int(first[5:7]) - 1
    end = int(last[:4]) * 12 + int(last[5:7]) - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, end + 1)]


class Recomputation:
    """The statistics implied by ``submissions`` (accepted, below one tree size) and the hotlines' key windows."""

    def __init__(
        self,
        *,
        taxonomy: Taxonomy,
        submissions: Iterable[AcceptedSubmission],
        hotlines: Sequence[HotlineWindows],
        load_cells: CellsLoader,
    ) -> None:
        self._taxonomy = taxonomy
        self._hotlines = list(hotlines)
        country = {h.id: h.country for h in self._hotlines}
        current: dict[tuple[str, str], AcceptedSubmission] = {}
        for submission in submissions:
            slot = (submission.hotline_id, submission.period)
            if slot not in current or current[slot].revision < submission.revision:
                current[slot] = submission
        self.current: tuple[AcceptedSubmission, ...] = tuple(sorted(current.values(), key=lambda s: s.index))
        self._reporters: dict[tuple[str, str], list[_Reporter]] = {}
        self._sums: dict[tuple[str, str, str], list[int]] = {}
        self._totals: dict[tuple[str, tuple[str, ...], frozenset[str] | None], list[int]] = {}
        self._enrolled: dict[str, frozenset[str]] = {}
        for submission in self.current:
            cells = load_cells(submission.index)
            for name, values in cells.items():
                table = taxonomy.tables.get(name)
                if table is None or len(values) != table.cell_count or name not in submission.scales:
                    continue  # not a table of the hub's taxonomy: the hub cannot publish it either
                where = country[submission.hotline_id]
                self._reporters.setdefault((name, submission.period), []).append(
                    _Reporter(submission.hotline_id, where, submission.mechanism, submission.scales[name])
                )
                cell_sums = (name, submission.period, where)
                found = self._sums.get(cell_sums)
                self._sums[cell_sums] = list(values) if found is None else list(map(operator.add, found, values))

    @property
    def periods(self) -> list[str]:
        """Every period some current submission reports, in order."""
        return sorted({s.period for s in self.current})

    @property
    def countries(self) -> list[str]:
        """Every country a hotline was enrolled in."""
        return sorted({h.country for h in self._hotlines})

    def rows(
        self,
        table_name: str,
        group_by: Sequence[str],
        *,
        period_from: str,
        period_to: str,
        countries: frozenset[str] | None = None,
    ) -> dict[tuple[str, ...], ExpectedRow]:
        """The rows of one answer, keyed by their codes in ``group_by`` order (``countries``: ``None`` = all)."""
        table = self._taxonomy.table(table_name)
        dims = [name for name in group_by if name != PERIOD]
        months = month_range(period_from, period_to)
        groups = [[month] for month in months] if PERIOD in group_by else [months]
        in_scope = None if countries is None else frozenset(h.id for h in self._hotlines if h.country in countries)
        k = math.prod(len(d) for d in table.dimensions if d.name not in group_by)
        combos = list(product(*(table.dimensions[table.dimension_names.index(d)].code_names for d in dims)))
        rows: dict[tuple[str, ...], ExpectedRow] = {}
        for covered in groups:
            reporters = {m: self._in_scope(table.name, m, countries) for m in covered}
            reported = {m: {r.hotline_id for r in reporters[m]} for m in covered}
            expected = set().union(*(self._enrolled_during(m, in_scope) | reported[m] for m in covered))
            with_data = [m for m in covered if reporters[m]]
            if not with_data:
                if PERIOD in group_by:
                    for combo in combos:
                        keys = _keys(group_by, covered[0], combo)
                        rows[_key(group_by, keys)] = ExpectedRow(
                            keys, None, None, None, None, None, 0, len(expected), "O", False
                        )
                continue
            terms: list[NoiseGroup] = [(r.mechanism, r.scale, k) for m in with_data for r in reporters[m]]
            interval = sum_interval(terms, CONFIDENCE)
            totals = self._grouped(table, dims, with_data, countries)
            reporting = len(set().union(*reported.values()))
            for combo in combos:
                estimate = totals[combo]
                low, high = interval_bounds(estimate, interval)
                wide = is_wide(estimate, interval)
                keys = _keys(group_by, covered[0], combo)
                rows[_key(group_by, keys)] = ExpectedRow(
                    keys=keys,
                    estimate=estimate,
                    ci95_low=low,
                    ci95_high=high,
                    std=interval.std,
                    interval_method=interval.method,
                    hotlines_reporting=reporting,
                    hotlines_expected=len(expected),
                    obs_status="U" if wide or estimate < 0 else "A",
                    wide_interval=wide,
                )
        return rows

    def _enrolled_during(self, month: str, in_scope: frozenset[str] | None) -> frozenset[str]:
        """Ids of the hotlines (among ``in_scope``, ``None``: all) holding a valid key during ``month``; the
        windows of every hotline are looked at once per month, however many answers ask."""
        enrolled = self._enrolled.get(month)
        if enrolled is None:
            enrolled = self._enrolled[month] = frozenset(h.id for h in self._hotlines if h.enrolled_during(month))
        return enrolled if in_scope is None else enrolled & in_scope

    def periods_with_data(self, table: str, months: Iterable[str], countries: frozenset[str] | None) -> list[str]:
        return [m for m in months if self._in_scope(table, m, countries)]

    def _in_scope(self, table: str, month: str, countries: frozenset[str] | None) -> list[_Reporter]:
        found = self._reporters.get((table, month), [])
        return [r for r in found if countries is None or r.country in countries]

    def _grouped(
        self, table: Table, dims: Sequence[str], months: Sequence[str], countries: frozenset[str] | None
    ) -> dict[tuple[str, ...], int]:
        """Sum over ``months`` and the countries in scope, grouped by the codes of ``dims``."""
        slot = (table.name, tuple(months), countries)
        if slot not in self._totals:
            total = [0] * table.cell_count
            for (name, month, country), values in self._sums.items():
                if name == table.name and month in months and (countries is None or country in countries):
                    total = list(map(operator.add, total, values))
            self._totals[slot] = total
        return _group(table, dims, self._totals[slot])


def _group(table: Table, dims: Sequence[str], cells: Sequence[int]) -> dict[tuple[str, ...], int]:
    """Sums of ``cells`` (one table's dense vector) per combination of the codes of ``dims``."""
    if not dims:
        return {(): sum(cells)}
    positions = [table.dimension_names.index(d) for d in dims]
    shape = table.shape
    if len(positions) == 1:
        (d,) = positions
        stride, size = math.prod(shape[d + 1 :]), shape[d]
        outer, block = math.prod(shape[:d]), size * stride
        codes = table.dimensions[d].code_names
        return {
            (codes[j],): sum(sum(cells[b * block + j * stride : b * block + (j + 1) * stride]) for b in range(outer))
            for j in range(size)
        }
    totals: dict[tuple[str, ...], int] = {}
    for index, value in enumerate(cells):
        codes = table.cell_codes(index)
        combo = tuple(codes[p] for p in positions)
        totals[combo] = totals.get(combo, 0) + value
    return totals


def _keys(group_by: Sequence[str], month: str, combo: tuple[str, ...]) -> Mapping[str, str]:
    codes = iter(combo)
    return MappingProxyType({name: month if name == PERIOD else next(codes) for name in group_by})


def _key(group_by: Sequence[str], keys: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(keys[name] for name in group_by)
