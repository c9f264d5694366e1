# SPDX-License-Identifier: Apache-2.0
"""Best-estimate answers: a coordinator's question answered from every released table that can answer it.

>>> answer = EstimatesService(session, context.taxonomies.values()).answer(                    # doctest: +SKIP
...     EstimatesQuery("person", group_by=("citizenship",), period_from="2026-01", period_to="2026-06"), now=now)
>>> row = answer.rows[0]                                                                        # doctest: +SKIP
>>> row.keys, row.estimate, (row.ci95_low, row.ci95_high), row.interval_method                # doctest: +SKIP
({'citizenship': 'UA'}, 412.37, (371.12, 453.62), 'conservative')

A question names a unit, the dimensions to group by (and/or ``period``), filters, a period range and a scope
(:class:`EstimatesQuery`); the answer is a :class:`protocol.api.EstimatesAnswer`. The arithmetic is the protocol's
(:mod:`protocol.combination`, :mod:`protocol.estimation`), so the auditor, handed the same integer sums from the
signed submissions, computes the same numbers bit for bit. This module only reads what that arithmetic needs
from the rollups (:mod:`hub.services.rollups`), in the caller's read snapshot, with the latest signed checkpoint:

1. **The question** is resolved against the tables of every taxonomy the hub accepts, by name (registration
   guarantees a name means the same cells in every taxonomy: :mod:`hub.services.taxonomies`). A dimension no
   table of the unit carries, a code a dimension lacks, or dimensions no table carries together are refused (400,
   naming the dimension and the tables that exist).
2. **Each month's releases** in range and scope become a :class:`~protocol.combination.MonthRelease`
   (:mod:`hub.services.observations`): every table that can take part in the answer
   (:func:`~protocol.combination.candidate_tables`: the unit's tables without a multi-valued dimension, or for a
   question over one, the tables carrying it), *observed per taxonomy* (its cells summed over the hotlines that
   released it under one taxonomy), with its pooled per-cell noise terms, and the *classes*, the distinct sets of
   observations one hotline's release falls in. A month where none was released has no data. The usual month (one
   taxonomy, every table from every hotline) is read from ``rollup_noise`` alone; other months also read their
   hotlines' ``release_noise`` rows.
3. **Months with equal releases share one plan**: the months are grouped into blocks exactly as the auditor
   groups them (:func:`protocol.estimation.plan_blocks`, one plan per distinct release), so that the same sums give
   the same floats. A month whose releases cannot answer the question (e.g. version 1 releases for a question only
   version 2 tables carry) refuses the whole question (400 naming the dimensions, the months, the tables released
   and the taxonomies their hotlines followed): an answer is never a silently partial sum.
4. **Sums**: for each block of months sharing a plan and each observation the plan needs, ``SUM(value) ...
   GROUP BY`` over ``rollup_cells`` by the question's dimensions the table carries (:mod:`hub.services.marginals`),
   over the block's months (grouped by period, per month too); where hotlines of several taxonomies released a
   table, each taxonomy's observation is read apart (:class:`~hub.services.observations.ObservedSums`).
5. **Rows** (:func:`~protocol.estimation.build_rows`): grouped by period, one group of rows per month in range (a
   month nobody in scope reported gets gap rows, ``estimate: null``); otherwise one group for the whole range (none
   if nobody reported). ``hotlines_reporting`` counts the distinct hotlines in scope with a current release of a
   table that takes part, in the months a row covers; ``hotlines_expected`` those expected then
   (:mod:`hub.services.scope`).

The weights used (``combination``), the taxonomies of the releases combined, and the months with data are published
with the answer, so that anyone can recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.orm import Session

from hub.errors import InvalidQuery, NotFound, QuestionNotAnswerable
from hub.i18n import gettext as _
from hub.services.estimates_text import answer_notes, describe_months, describe_question, refusal_text
from hub.services.observations import MonthData, MonthReader, ObservedSums, inconsistent
from hub.services.scope import (
    ResolvedScope,
    Scope,
    expected_hotlines,
    hotlines_in_scope,
    period_range,
    period_text,
    resolve_scope,
)
from hub.services.stats import check_row_limit, latest_checkpoint
from hub.services.taxonomies import union_tables
from hub.services.units import unit_notes
from protocol import api
from protocol.combination import (
    MonthRelease,
    NotAnswerable,
    Plan,
    Question,
    ResolvedQuestion,
    candidate_tables,
    plan_month,
    resolve,
)
from protocol.estimation import Block, RowGroup, build_rows, combination_blocks, plan_blocks
from protocol.period import month_number
from protocol.taxonomy import Taxonomy

__all__ = ["EstimatesQuery", "EstimatesService"]

Sums = dict[str, dict[tuple[str, ...], int]]


@dataclass(frozen=True, slots=True)
class EstimatesQuery:
    """One question; :meth:`EstimatesService.answer` validates every field.

    ``group_by`` holds dimension names and/or ``"period"``; ``filters`` maps dimension names to the codes to keep;
    periods are ``YYYY-MM`` (default: the 12 months before ``now``); ``allowed_countries`` is the caller's token
    scope (``None``: the whole region).
    """

    unit: str
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    period_from: str | None = None
    period_to: str | None = None
    scope: Scope = field(default_factory=Scope.region)
    allowed_countries: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class _Shared:
    """Months whose releases are equal, and the plan they share."""

    months: tuple[int, ...]
    plan: Plan


class EstimatesService:
    """Least-squares answers over the rollups, bound to a read session (one snapshot) and the hub's taxonomies."""

    def __init__(self, session: Session, taxonomies: Iterable[Taxonomy], *, max_rows: int = api.MAX_ROWS) -> None:
        self._session = session
        self._taxonomies = {taxonomy.id: taxonomy for taxonomy in taxonomies}
        self._tables = union_tables(self._taxonomies.values())
        self._max_rows = max_rows

    def answer(self, q: EstimatesQuery, *, now: datetime) -> api.EstimatesAnswer:
        question = self._resolve(q)
        by_period = api.PERIOD in q.group_by
        first, last = period_range(q.period_from, q.period_to, now=now, max_periods=api.MAX_MONTHS)
        periods = range(first, last + 1)
        rows_at_most = math.prod(len(question.filters.get(name) or self._codes(name)) for name in question.group_by)
        rows_at_most *= len(periods) if by_period else 1
        check_row_limit(q.group_by, len(periods), rows_at_most, self._max_rows)
        scope = resolve_scope(self._session, q.scope, allowed_countries=q.allowed_countries)
        checkpoint = latest_checkpoint(self._session)
        # Only the tables that can take part in the answer count: their releases make a month one with data, and
        # their releasers the hotlines reporting (a question over control_flag is answered from persons_control).
        candidates = [table.name for table in candidate_tables(question, self._tables.values())]
        months = MonthReader(self._session, scope).read(candidates, first, last)
        releases = {month: found.release() for month, found in months.items()}
        blocks = self._blocks(question, releases, months, by_period=by_period)
        groups = self._groups(scope, periods, months, blocks, by_period=by_period)
        rows, ranking = build_rows(question, question.row_keys(self._tables), groups, by_period=by_period)
        followed = sorted({taxonomy for month in months.values() for taxonomy in month.hotlines.values()})
        region_of = sorted(q.allowed_countries) if q.scope.level == "region" and q.allowed_countries else None
        return api.EstimatesAnswer(
            question=api.QuestionEcho(
                unit=q.unit,  # type: ignore[arg-type]  # one of UNIT_LABELS: _resolve checked it
                group_by=[api.PERIOD, *question.group_by] if by_period else list(question.group_by),
                filters={name: list(codes) for name, codes in question.filters.items()},
                period_from=period_text(first),
                period_to=period_text(last),
                scope=api.ScopeEcho(
                    level=q.scope.level,
                    code=q.scope.code,
                    countries=sorted(scope.countries) if q.allowed_countries is not None and scope.countries else None,
                ),
            ),
            unit_label=api.UNIT_LABELS[q.unit],
            taxonomies=[api.TaxonomyEcho(id=t, hash=self._taxonomy(t).content_hash) for t in followed],
            confidence=api.CONFIDENCE,
            periods_with_data=[period_text(month) for month in sorted(months)],
            checkpoint=api.CheckpointRef(
                origin=checkpoint.origin, size=checkpoint.size, root_hash=checkpoint.root_hash_b64, note=checkpoint.note
            ),
            generated_at=now,
            notes=[
                *answer_notes(
                    question,
                    self._tables,
                    [block.plan for block in blocks],
                    followed,
                    region_of=region_of,
                ),
                *unit_notes(self._session, scope, first, last),
            ],
            combination=combination_blocks(groups),
            ranking=ranking,
            rows=rows,
        )

    # ------------------------------------------------------------------------------------------- question

    def _resolve(self, q: EstimatesQuery) -> ResolvedQuestion:
        if q.unit not in api.UNIT_LABELS:
            raise NotFound(
                _("there is no unit %(unit)r; the units are: %(units)s")
                % {"unit": q.unit, "units": ", ".join(api.UNIT_LABELS)}
            )
        if q.group_by.count(api.PERIOD) > 1:
            raise InvalidQuery(_("group_by names a key twice: %(group_by)s") % {"group_by": ",".join(q.group_by)})
        for name, codes in q.filters.items():
            if name == api.PERIOD:
                raise InvalidQuery(_("period is not a filter: give period_from and period_to"))
            if not codes:
                raise InvalidQuery(_("filter %(name)s needs a list of one or more codes") % {"name": name})
        dimensions = tuple(name for name in q.group_by if name != api.PERIOD)
        try:
            return resolve(Question(unit=q.unit, group_by=dimensions, filters=dict(q.filters)), self._tables)
        except NotAnswerable as e:
            raise QuestionNotAnswerable(refusal_text(e)) from e

    def _codes(self, dimension: str) -> tuple[str, ...]:
        return next(d.code_names for t in self._tables.values() for d in t.dimensions if d.name == dimension)

    def _taxonomy(self, taxonomy_id: str) -> Taxonomy:
        taxonomy = self._taxonomies.get(taxonomy_id)
        if taxonomy is None:
            raise inconsistent(f"a current submission follows taxonomy {taxonomy_id}, which this hub does not know")
        return taxonomy

    # ------------------------------------------------------------------------------------------- releases

    def _blocks(
        self,
        question: ResolvedQuestion,
        releases: Mapping[int, MonthRelease],
        months: Mapping[int, MonthData],
        *,
        by_period: bool,
    ) -> list[_Shared]:
        """The canonical blocks (:func:`protocol.estimation.plan_blocks`, as the auditor forms them), with plans
        computed once per distinct release. Refuses the question, naming the months it cannot be answered for, the
        taxonomies their hotlines followed and the months it can be answered for."""
        by_text = {period_text(month): release for month, release in releases.items()}
        try:
            planned = plan_blocks(question, self._tables, by_text, by_period=by_period)
        except NotAnswerable as e:
            raise QuestionNotAnswerable(self._refusal(question, releases, months, e)) from e
        return [_Shared(tuple(month_number(period) for period in periods), plan) for periods, plan in planned]

    def _refusal(
        self,
        question: ResolvedQuestion,
        releases: Mapping[int, MonthRelease],
        months: Mapping[int, MonthData],
        error: NotAnswerable,
    ) -> str:
        answerable: list[int] = []
        refused: dict[str, list[int]] = {}
        tried: dict[MonthRelease, bool] = {}
        for month, release in sorted(releases.items()):
            if release not in tried:
                try:
                    plan_month(question, self._tables, release)
                    tried[release] = True
                except NotAnswerable:
                    tried[release] = False
            if tried[release]:
                answerable.append(month)
            else:
                followed = ", ".join(sorted(set(months[month].hotlines.values()))) or _("no known taxonomy")
                refused.setdefault(followed, []).append(month)
        held = "; ".join(
            _("in %(months)s under %(taxonomies)s") % {"months": describe_months(members), "taxonomies": followed}
            for followed, members in refused.items()
        )
        hint = (
            " "
            + _("It can be answered for %(months)s: narrow period_from..period_to to those months.")
            % {"months": describe_months(answerable)}
            if answerable
            else ""
        )
        return _(
            "%(question)s: %(refusal)s. Hotlines in scope released %(releases)s.%(hint)s An answer never leaves "
            "months out silently."
        ) % {"question": describe_question(question), "refusal": refusal_text(error), "releases": held, "hint": hint}

    # ------------------------------------------------------------------------------------------- sums and rows

    def _groups(
        self,
        scope: ResolvedScope,
        periods: range,
        months: Mapping[int, MonthData],
        blocks: Sequence[_Shared],
        *,
        by_period: bool,
    ) -> list[RowGroup]:
        reported = {month: frozenset(found.hotlines) for month, found in months.items()}
        expected = expected_hotlines(hotlines_in_scope(self._session, scope), reported, periods)
        observed = ObservedSums(self._session.connection(), self._tables, scope, months)
        if by_period:
            # Every month is its own block; months sharing a plan are summed in one query per table.
            shared: dict[int, list[int]] = {}
            plans: dict[int, Plan] = {}
            for block in blocks:
                shared.setdefault(id(block.plan), []).extend(block.months)
                plans[id(block.plan)] = block.plan
            per_month: dict[int, Block] = {}
            for key, members in shared.items():
                sums = observed.block(plans[key], members, by_period=True)
                for month in members:
                    per_month[month] = Block((period_text(month),), plans[key], sums.get(month, {}))
            return [
                RowGroup(
                    period=period_text(month),
                    blocks=(per_month[month],) if month in per_month else (),
                    hotlines_reporting=len(reported.get(month, ())),
                    hotlines_expected=len(expected.over((month,))),
                )
                for month in periods
            ]
        combined = tuple(
            Block(
                tuple(period_text(month) for month in block.months),
                block.plan,
                observed.block(block.plan, block.months, by_period=False).get(None, {}),
            )
            for block in blocks
        )
        return [
            RowGroup(
                period=None,
                blocks=combined,
                hotlines_reporting=len(frozenset().union(*reported.values())),
                hotlines_expected=len(expected.over(periods)),
            )
        ]
