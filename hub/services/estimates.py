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
2. **Each month's releases** in range and scope become a :class:`~protocol.combination.MonthRelease`: every table
   that can take part in the answer (:func:`~protocol.combination.candidate_tables`: the unit's tables without a
   multi-valued dimension, or for a question over one, the tables carrying it) with its pooled per-cell noise
   terms (``rollup_noise``; with several rollup scopes, a country-limited token's region, their terms are pooled
   by mechanism and scale, as one scope holding all those hotlines would hold them), and the *classes*, the
   distinct sets of those tables one hotline released. A month where none was released has no data. Classes are
   cheap in the usual case: when every table was released by as many hotlines as released any of them, there is
   one class; only other months read their hotlines' table sets.
3. **Months with equal releases share one plan**: the months are grouped into blocks exactly as the auditor
   groups them (:func:`protocol.estimation.plan_blocks`, one plan per distinct release), so that the same sums give
   the same floats. A month whose releases cannot answer the question (e.g. version 1 releases for a question only
   version 2 tables carry) refuses the whole question (400 naming the dimensions, the months, the tables released
   and the taxonomies their hotlines followed): an answer is never a silently partial sum.
4. **Sums**: for each block of months sharing a plan and each table the plan needs, one ``SUM(value) ... GROUP BY``
   over ``rollup_cells``, over the block's months (grouped by period, per month too): by every code of the
   question's grouped dimensions the table carries (an integer computed from the cell's index, which groups faster
   than the ``d1..d3`` code columns and gives the same sums), and for a dimension that is only filtered, the sums
   inside and outside the filter (the plan needs both, the parts of a total): :mod:`hub.services.marginals`.
5. **Rows** (:func:`~protocol.estimation.build_rows`): grouped by period, one group of rows per month in range (a
   month nobody in scope reported gets gap rows, ``estimate: null``); otherwise one group for the whole range (none
   if nobody reported). ``hotlines_reporting`` counts the distinct hotlines in scope with a current release of a
   table that takes part, in the months a row covers; ``hotlines_expected`` those expected then
   (:mod:`hub.services.scope`).

The weights used (``combination``), the taxonomies of the releases combined, and the months with data are published
with the answer, so that anyone can recompute it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hub.errors import HubError, InvalidQuery, NotFound, QuestionNotAnswerable
from hub.models import ReleaseNoise, RollupNoise, Submission
from hub.services.estimates_text import answer_notes, describe_months, describe_question
from hub.services.marginals import marginal_sums
from hub.services.scope import (
    ResolvedScope,
    Scope,
    expected_hotlines,
    hotlines_in_scope,
    period_range,
    period_text,
    resolve_scope,
)
from hub.services.stats import latest_checkpoint
from hub.services.taxonomies import union_tables
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


@dataclass(slots=True)
class _Month:
    """What one month in range and scope released for the unit."""

    #: table -> pooled noise terms ``(mechanism, scale) -> hotlines``
    noise: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    #: table -> hotlines that released it (summed over the rollup scopes, which hold disjoint hotlines)
    released_by: dict[str, int] = field(default_factory=dict)
    #: table -> rollup scopes holding it (for the consistency check of the sums)
    scopes: dict[str, int] = field(default_factory=dict)
    #: hotline -> the taxonomy its current submission follows (hotlines with a release of the unit's tables)
    hotlines: dict[str, str] = field(default_factory=dict)


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
        if rows_at_most > self._max_rows:
            raise InvalidQuery(
                f"group_by {','.join(q.group_by)} over {len(periods)} months gives up to {rows_at_most} rows; an "
                f"answer has at most {self._max_rows}: group by fewer dimensions, filter codes, or shorten "
                "period_from..period_to"
            )
        scope = resolve_scope(self._session, q.scope, allowed_countries=q.allowed_countries)
        checkpoint = latest_checkpoint(self._session)
        # Only the tables that can take part in the answer count: their releases make a month one with data, and
        # their releasers the hotlines reporting (a question over control_flag is answered from persons_control).
        candidates = [table.name for table in candidate_tables(question, self._tables.values())]
        months = self._months(candidates, scope, first, last)
        blocks = self._blocks(question, self._releases(months, scope), months, by_period=by_period)
        groups = self._groups(scope, periods, months, blocks, by_period=by_period)
        rows, ranking = build_rows(question, question.row_keys(self._tables), groups, by_period=by_period)
        followed = sorted({taxonomy for month in months.values() for taxonomy in month.hotlines.values()})
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
            notes=answer_notes(
                question,
                self._tables,
                [block.plan for block in blocks],
                followed,
                region_of=sorted(q.allowed_countries) if q.scope.level == "region" and q.allowed_countries else None,
            ),
            combination=combination_blocks(groups),
            ranking=ranking,
            rows=rows,
        )

    # ------------------------------------------------------------------------------------------- question

    def _resolve(self, q: EstimatesQuery) -> ResolvedQuestion:
        if q.unit not in api.UNIT_LABELS:
            raise NotFound(f"there is no unit {q.unit!r}; the units are: {', '.join(api.UNIT_LABELS)}")
        if q.group_by.count(api.PERIOD) > 1:
            raise InvalidQuery(f"group_by names a key twice: {','.join(q.group_by)}")
        for name, codes in q.filters.items():
            if name == api.PERIOD:
                raise InvalidQuery("period is not a filter: give period_from and period_to")
            if not codes:
                raise InvalidQuery(f"filter {name} needs a list of one or more codes")
        dimensions = tuple(name for name in q.group_by if name != api.PERIOD)
        try:
            return resolve(Question(unit=q.unit, group_by=dimensions, filters=dict(q.filters)), self._tables)
        except NotAnswerable as e:
            raise QuestionNotAnswerable(str(e)) from e

    def _codes(self, dimension: str) -> tuple[str, ...]:
        return next(d.code_names for t in self._tables.values() for d in t.dimensions if d.name == dimension)

    def _taxonomy(self, taxonomy_id: str) -> Taxonomy:
        taxonomy = self._taxonomies.get(taxonomy_id)
        if taxonomy is None:
            raise _inconsistent(f"a current submission follows taxonomy {taxonomy_id}, which this hub does not know")
        return taxonomy

    # ------------------------------------------------------------------------------------------- releases

    def _months(self, tables: Sequence[str], scope: ResolvedScope, first: int, last: int) -> dict[int, _Month]:
        """Per month with data: the pooled noise, who released what, and which taxonomy each hotline followed."""
        months: dict[int, _Month] = {}
        between = (period_text(first), period_text(last))
        noise = self._session.execute(
            select(RollupNoise.period, RollupNoise.table_name, RollupNoise.hotlines, RollupNoise.terms).where(
                RollupNoise.table_name.in_(tables),
                RollupNoise.scope.in_(scope.rollup_scopes),
                RollupNoise.period.between(*between),
            )
        ).all()
        for period, table, hotlines, terms in noise:
            month = months.setdefault(_month(period), _Month())
            pooled = month.noise.setdefault(table, Counter())
            for mechanism, scale, count in _decode_terms(table, terms):
                pooled[(mechanism, scale)] += count
            month.released_by[table] = month.released_by.get(table, 0) + hotlines
            month.scopes[table] = month.scopes.get(table, 0) + 1
        # Hotlines in scope whose current submission released a table of the unit (an index probe per submission).
        released = exists(
            select(ReleaseNoise.submission_id).where(
                ReleaseNoise.submission_id == Submission.id, ReleaseNoise.table_name.in_(tables), scope.release_filter()
            )
        )
        reporting = self._session.execute(
            select(Submission.period, Submission.hotline_id, Submission.taxonomy_id).where(
                Submission.is_current.is_(True), Submission.period.between(*between), released
            )
        ).all()
        for period, hotline_id, taxonomy_id in reporting:
            found = months.get(_month(period))
            if found is None:
                raise _inconsistent(f"hotline {hotline_id} released {period}, for which there is no rollup noise")
            found.hotlines[hotline_id] = taxonomy_id
        return months

    def _releases(self, months: Mapping[int, _Month], scope: ResolvedScope) -> dict[int, MonthRelease]:
        """Each month's :class:`MonthRelease`. One class when every table was released by as many hotlines as
        released any table (so by all of them); the other months' hotlines' table sets are read in one query."""
        irregular = sorted(m for m, found in months.items() if set(found.released_by.values()) != {len(found.hotlines)})
        table_sets: dict[int, dict[str, set[str]]] = {month: {} for month in irregular}
        if irregular:
            found_sets = self._session.execute(
                select(ReleaseNoise.period, ReleaseNoise.hotline_id, ReleaseNoise.table_name).where(
                    ReleaseNoise.period.in_([period_text(month) for month in irregular]),
                    ReleaseNoise.is_current.is_(True),
                    ReleaseNoise.table_name.in_(sorted({t for month in irregular for t in months[month].noise})),
                    scope.release_filter(),
                )
            ).all()
            for period, hotline_id, table in found_sets:
                table_sets[_month(period)].setdefault(hotline_id, set()).add(table)
        releases: dict[int, MonthRelease] = {}
        for month, found in months.items():
            classes = table_sets[month].values() if month in table_sets else [set(found.noise)]
            terms = {
                table: [(mechanism, scale, n) for (mechanism, scale), n in sorted(pooled.items())]
                for table, pooled in found.noise.items()
            }
            releases[month] = MonthRelease.of(terms, classes)
        return releases

    def _blocks(
        self,
        question: ResolvedQuestion,
        releases: Mapping[int, MonthRelease],
        months: Mapping[int, _Month],
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
        return [_Shared(tuple(_month(period) for period in periods), plan) for periods, plan in planned]

    def _refusal(
        self,
        question: ResolvedQuestion,
        releases: Mapping[int, MonthRelease],
        months: Mapping[int, _Month],
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
                followed = ", ".join(sorted(set(months[month].hotlines.values()))) or "no known taxonomy"
                refused.setdefault(followed, []).append(month)
        held = "; ".join(f"in {describe_months(members)} under {followed}" for followed, members in refused.items())
        hint = (
            f" It can be answered for {describe_months(answerable)}: narrow period_from..period_to to those months."
            if answerable
            else ""
        )
        return (
            f"{describe_question(question)}: {error}. Hotlines in scope released {held}.{hint} An answer never "
            "leaves months out silently."
        )

    # ------------------------------------------------------------------------------------------- sums and rows

    def _groups(
        self,
        scope: ResolvedScope,
        periods: range,
        months: Mapping[int, _Month],
        blocks: Sequence[_Shared],
        *,
        by_period: bool,
    ) -> list[RowGroup]:
        reported = {month: frozenset(found.hotlines) for month, found in months.items()}
        expected = expected_hotlines(hotlines_in_scope(self._session, scope), reported, periods)
        if by_period:
            # Every month is its own block; months sharing a plan are summed in one query per table.
            shared: dict[int, list[int]] = {}
            plans: dict[int, Plan] = {}
            for block in blocks:
                shared.setdefault(id(block.plan), []).extend(block.months)
                plans[id(block.plan)] = block.plan
            per_month: dict[int, Block] = {}
            for key, members in shared.items():
                sums = self._sums(_Shared(tuple(members), plans[key]), scope, months, by_period=True)
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
                self._sums(block, scope, months, by_period=False).get(None, {}),
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

    def _sums(
        self, block: _Shared, scope: ResolvedScope, months: Mapping[int, _Month], *, by_period: bool
    ) -> dict[int | None, Sums]:
        """The sums the block's plan needs, per table, over the block's months (key ``None``) or per month
        (:func:`hub.services.marginals.marginal_sums`), each table checked to have summed every cell it holds."""
        found: dict[int | None, Sums] = {}
        periods = [period_text(month) for month in block.months]
        for table_name, dimensions in sorted(block.plan.marginals.items()):
            table = self._tables[table_name]
            sums, cells = marginal_sums(
                self._session.connection(),
                table,
                dimensions,
                block.plan.question,
                scopes=scope.rollup_scopes,
                periods=periods,
                by_period=by_period,
            )
            expected = table.cell_count * sum(months[month].scopes.get(table_name, 0) for month in block.months)
            if cells != expected:
                raise _inconsistent(f"table {table_name!r} has {cells} cells where {expected} belong")
            for period, marginal in sums.items():
                found.setdefault(None if period is None else _month(period), {})[table_name] = marginal
        return found


def _month(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def _decode_terms(table: str, text: str) -> list[tuple[str, str, int]]:
    try:
        return [(str(m), str(s), int(n)) for m, s, n in json.loads(text)]
    except (ValueError, TypeError) as e:
        raise _inconsistent(f"unreadable noise terms of table {table!r}: {text[:80]!r}") from e


def _inconsistent(detail: str) -> HubError:
    return HubError(
        f"the rollups are inconsistent ({detail}); nothing is answered rather than a wrong estimate: rebuild the "
        "rollups from the log"
    )
