# SPDX-License-Identifier: Apache-2.0
"""Least-squares estimates (``GET /v1/estimates/{unit}``) recomputed from the signed payloads in the log.

>>> recomputed = EstimatesRecomputation(releases)                                               # doctest: +SKIP
>>> expected = recomputed.answer(Asked("person", ("citizenship",), by_period=True,               # doctest: +SKIP
...     period_from="2026-01", period_to="2026-06"), countries=None)
>>> expected.rows[0].keys, expected.rows[0].estimate                                            # doctest: +SKIP
({'period': '2026-01', 'citizenship': '004'}, 0.0)

The arithmetic is the protocol's (:mod:`protocol.combination`, :mod:`protocol.estimation`); what the auditor
supplies is the input, taken from the current submissions (:class:`~auditor.releases.Releases`) and nothing the
hub says, with the hub's published semantics:

1. **The question** is resolved against every table of the log's taxonomies and the hub's current one, by name,
   except the tables two taxonomies define differently (:class:`~auditor.releases.TableRegistry`: a failure the
   run reports; the hub never registers such a pair).
2. **Each month** in range: every *candidate* table of the question (:func:`protocol.combination.candidate_tables`)
   released by a hotline in scope, observed per taxonomy (``table@taxonomy``: :func:`protocol.combination.observation`)
   with its pooled noise (one ``(mechanism, scale, hotlines)`` term per distinct mechanism and scale), and the
   *classes*, the distinct sets of observations one hotline's release falls in
   (:class:`~protocol.combination.MonthRelease`). Months without any are without data.
3. **Blocks**: :func:`protocol.estimation.plan_blocks`, the canonical grouping the hub uses too, so that the same
   integer sums give bit-identical floats. A month no plan answers makes the whole question unanswerable
   (:class:`~protocol.combination.NotAnswerable`): the hub must refuse it too.
4. **Sums** per block and observation the plan needs: the table's noisy cells summed over the block's months and
   the hotlines in scope that follow the observation's taxonomy, grouped by ``plan.marginals[observation]`` (codes
   in the table's dimension order).
5. **Row groups**: grouped by period, one per month in range (no blocks: a gap); otherwise one for the whole
   range, or none when no month has data. ``hotlines_reporting``: distinct hotlines in scope releasing a candidate
   table in the months covered; ``hotlines_expected``: those expected in one of those months
   (:meth:`~auditor.releases.Releases.enrolled_during`: from their logged ``reporting_from`` on, else holding a
   valid key), plus those that reported anyway.
6. **Rows, ranking, weights**: :func:`protocol.estimation.build_rows` and
   :func:`~protocol.estimation.combination_blocks`. ``periods_with_data``: the months with data; ``taxonomies``:
   those the current submissions with data follow, by id.

Scopes are the region (``countries=None``) or a set of countries (a country, or the countries a country-limited
token covers); hotline scopes are not recomputed.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Final

from auditor.releases import Releases, group_cells
from auditor.stats import month_chunks, month_range
from protocol.api import MAX_MONTHS, MAX_ROWS, PERIOD, CombinationBlock, EstimateRow, RankingSummary
from protocol.combination import (
    MonthRelease,
    Plan,
    Question,
    ResolvedQuestion,
    candidate_tables,
    observation,
    observed_table,
    resolve,
)
from protocol.estimation import Block, RowGroup, build_rows, combination_blocks, plan_blocks
from protocol.taxonomy import Table

__all__ = ["CORRIDOR", "MONTHLY_CODES", "Asked", "EstimatesRecomputation", "ExpectedEstimates", "audit_questions"]

#: A dimension with at most this many codes is compared month by month; a larger one over the whole range.
MONTHLY_CODES: Final = 20
#: The two-way corridor, compared month by month and over the whole range for a unit whose tables carry both.
CORRIDOR: Final = ("citizenship", "country_of_exploitation")

#: Sums of one block: table -> codes of its marginal (table's dimension order) -> summed noisy cells.
Sums = dict[str, dict[tuple[str, ...], int]]


@dataclass(frozen=True, slots=True)
class Asked:
    """One question as the auditor asks it: ``group_by`` without ``period`` (``by_period`` says whether the rows
    are per month, ``period`` then being the first key), ``filters`` dimension -> codes kept."""

    unit: str
    group_by: tuple[str, ...]
    by_period: bool
    period_from: str
    period_to: str
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    @property
    def keys(self) -> tuple[str, ...]:
        """The names of a row's keys, in the order the hub echoes ``group_by``."""
        return (PERIOD, *self.group_by) if self.by_period else self.group_by

    def params(self) -> dict[str, str]:
        """Query parameters of ``GET /v1/estimates/{unit}`` (the scope is added by the caller)."""
        params = {"period_from": self.period_from, "period_to": self.period_to, "format": "json"}
        if self.keys:
            params["group_by"] = ",".join(self.keys)
        params.update({name: ",".join(codes) for name, codes in self.filters.items()})
        return params

    def describe(self) -> str:
        """``person group_by=period,citizenship 2026-01..2026-06`` (filters appended)."""
        text = f"{self.unit} group_by={','.join(self.keys) or '(none)'} {self.period_from}..{self.period_to}"
        return text + "".join(f" {name}={','.join(codes)}" for name, codes in self.filters.items())


@dataclass(frozen=True, slots=True)
class ExpectedEstimates:
    """An estimates answer as the log implies it."""

    question: ResolvedQuestion
    rows: tuple[EstimateRow, ...]
    ranking: RankingSummary
    combination: tuple[CombinationBlock, ...]
    periods_with_data: tuple[str, ...]
    #: ``(id, content hash)`` of the taxonomies the releases with data follow, by id.
    taxonomies: tuple[tuple[str, str], ...]


@dataclass
class _Month:
    """What the hotlines in scope released for a question in one month."""

    terms: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    #: hotline -> the candidate tables it released
    classes: dict[str, set[str]] = field(default_factory=dict)

    @cached_property
    def release(self) -> MonthRelease:
        return MonthRelease.of(
            {name: [(m, s, n) for (m, s), n in pooled.items()] for name, pooled in self.terms.items()},
            self.classes.values(),
        )


class EstimatesRecomputation:
    """Estimates answers implied by the releases of one tree size (:class:`Releases`, read once).

    ``tables`` are the tables a question is resolved against (default: the registry's consistent ones).
    Raises :class:`~protocol.combination.NotAnswerable` for a question no combination of releases answers.
    """

    def __init__(self, releases: Releases, *, tables: Mapping[str, Table] | None = None) -> None:
        self._releases = releases
        self.tables: Mapping[str, Table] = dict(releases.registry.consistent if tables is None else tables)
        #: (table, taxonomy, month, countries) -> cells summed over the countries in scope (the region's, cached: shared
        #: by every question that needs the table in that month).
        self._scoped: dict[tuple[str, str, str, frozenset[str] | None], list[int] | None] = {}
        self._months: dict[tuple[tuple[str, ...], str, frozenset[str] | None], _Month] = {}

    def resolve(self, asked: Asked) -> ResolvedQuestion:
        """The question checked against the tables (:class:`~protocol.combination.NotAnswerable` if it cannot be)."""
        return resolve(Question(unit=asked.unit, group_by=asked.group_by, filters=dict(asked.filters)), self.tables)

    def answer(self, asked: Asked, *, countries: frozenset[str] | None) -> ExpectedEstimates:
        """The answer for the hotlines of ``countries`` (``None``: the region)."""
        question = self.resolve(asked)
        candidates = [t.name for t in candidate_tables(question, self.tables.values())]
        months = month_range(asked.period_from, asked.period_to)
        found = {m: self._month(tuple(candidates), m, countries) for m in months}
        with_data = {m: month for m, month in found.items() if month.classes}
        plans = plan_blocks(
            question, self.tables, {m: month.release for m, month in with_data.items()}, by_period=asked.by_period
        )
        in_scope = self._releases.hotlines_in(countries)
        reported = {m: frozenset(month.classes) for m, month in found.items()}

        def expected(covered: Sequence[str]) -> int:
            return len(frozenset().union(*(self._releases.enrolled_during(m, in_scope) | reported[m] for m in covered)))

        groups: list[RowGroup] = []
        if asked.by_period:
            blocks = {periods[0]: Block(periods, plan, self._sums(plan, periods, countries)) for periods, plan in plans}
            groups = [
                RowGroup(
                    period=m,
                    blocks=(blocks[m],) if m in blocks else (),
                    hotlines_reporting=len(reported[m]),
                    hotlines_expected=expected([m]),
                )
                for m in months
            ]
        elif plans:
            groups = [
                RowGroup(
                    period=None,
                    blocks=tuple(Block(periods, plan, self._sums(plan, periods, countries)) for periods, plan in plans),
                    hotlines_reporting=len(frozenset().union(*reported.values())),
                    hotlines_expected=expected(months),
                )
            ]
        rows, ranking = build_rows(question, question.row_keys(self.tables), groups, by_period=asked.by_period)
        taxonomies = {self._releases.taxonomy_of[(h, m)] for m, month in with_data.items() for h in month.classes}
        return ExpectedEstimates(
            question=question,
            rows=tuple(rows),
            ranking=ranking,
            combination=tuple(combination_blocks(groups)),
            periods_with_data=tuple(sorted(with_data)),
            taxonomies=tuple(sorted(taxonomies)),
        )

    def _month(self, candidates: tuple[str, ...], month: str, countries: frozenset[str] | None) -> _Month:
        """What the hotlines in scope released of ``candidates`` in ``month`` (shared by the questions of a unit,
        which mostly have the same candidate tables)."""
        slot = (candidates, month, countries)
        found = self._months.get(slot)
        if found is None:
            found = self._months[slot] = _Month()
            for name in candidates:
                for reporter in self._releases.in_scope(name, month, countries):
                    seen = observation(name, reporter.taxonomy)  # each table observed per taxonomy
                    terms = found.terms.setdefault(seen, Counter())
                    if reporter.term is not None:  # None: counted in its round's one term
                        terms[reporter.term] += 1
                    found.classes.setdefault(reporter.hotline_id, set()).add(seen)
        return found

    def _sums(self, plan: Plan, periods: Sequence[str], countries: frozenset[str] | None) -> Sums:
        """Per table the plan needs: its cells over ``periods`` and the scope, grouped by the plan's marginal."""
        sums: Sums = {}
        for name, dims in sorted(plan.marginals.items()):
            table, taxonomy = observed_table(name), name.partition("@")[2]
            total: Sequence[int] | None = None
            for month in periods:
                cells = self._month_cells(table, taxonomy, month, countries)
                if cells is not None:
                    total = cells if total is None else list(map(operator.add, total, cells))
            if total is not None:
                sums[name] = group_cells(self.tables[table], dims, total)
        return sums

    def _month_cells(
        self, table: str, taxonomy: str, month: str, countries: frozenset[str] | None
    ) -> Sequence[int] | None:
        """The cells ``taxonomy``'s hotlines in scope released of ``table`` in ``month`` (never changed in place)."""
        if countries is not None and len(countries) == 1:
            (country,) = countries
            return self._releases.observed.get((table, taxonomy, month, country))  # kept already
        slot = (table, taxonomy, month, countries)
        if slot not in self._scoped:
            self._scoped[slot] = self._releases.observed_sum(table, taxonomy, (month,), countries)
        return self._scoped[slot]


def audit_questions(
    tables: Mapping[str, Table],
    units: Iterable[str],
    months: Sequence[str],
    *,
    with_data: Collection[str] | None = None,
) -> list[Asked]:
    """The questions ``tipshare-audit verify`` asks of every scope: for each of ``units`` (with data), its total by
    period, each dimension by period (over the whole range when it has more than :data:`MONTHLY_CODES` codes), and
    the corridor by period (as the dashboard shows it: a cell moved in one month and back in the next leaves the
    range unchanged) and over the whole range; each over ``months`` (in order), in as few answers as the hub's limits on
    months and rows allow. With ``with_data`` (the months some release reports), the questions grouped by a dimension
    skip the stretches of months without data (:func:`~auditor.stats.month_chunks`); the totals by period cover
    every month."""
    questions: list[Asked] = []
    for unit in sorted(set(units)):
        unit_tables = [table for table in tables.values() if table.unit == unit]
        if not unit_tables:
            continue
        sizes = {d.name: len(d) for table in unit_tables for d in table.dimensions}
        shapes: list[tuple[tuple[str, ...], bool]] = [((), True)]
        shapes += [((name,), size <= MONTHLY_CODES) for name, size in sorted(sizes.items())]
        if any(set(CORRIDOR) <= set(table.dimension_names) for table in unit_tables):
            shapes += [(CORRIDOR, True), (CORRIDOR, False)]  # month by month (as the dashboard shows it), and over
        for group_by, by_period in shapes:
            rows = math.prod(sizes[name] for name in group_by)
            step = max(1, min(MAX_MONTHS, MAX_ROWS // rows)) if by_period else MAX_MONTHS
            for chunk in month_chunks(months, step, with_data=with_data if group_by else None):
                questions.append(Asked(unit, group_by, by_period=by_period, period_from=chunk[0], period_to=chunk[-1]))
    return questions
