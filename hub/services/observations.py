# SPDX-License-Identifier: Apache-2.0
"""What the months in range released, observed per table and taxonomy, and the sums a plan needs of each.

>>> months = MonthReader(session, scope).read(candidates, first, last)           # doctest: +SKIP
>>> releases = {month: found.release() for month, found in months.items()}        # doctest: +SKIP
>>> sums = ObservedSums(connection, tables, scope, months).block(plan, block_months, by_period=False)  # doctest: +SKIP

The least-squares plans (:mod:`protocol.combination`) see a month as *observations*: a table's cells summed over
the hotlines in scope that released it **under one taxonomy** (``persons_corridor@tipshare-taxonomy/1``). During a
transition the hotlines still on version 1 are then known from their own tables and those on version 2 from
theirs, each with its own variance (:class:`~protocol.combination.MonthRelease`). The auditor observes the same.

Reading a month (:class:`MonthReader`)
--------------------------------------
* ``rollup_noise`` gives each table's pooled noise terms and how many hotlines released it, per rollup scope;
* the current submissions give the hotlines in scope that released one of the tables, and the taxonomy each one
  followed (one index probe per submission);
* in the usual month, every hotline followed one taxonomy and released every table (every table's count equals
  the number of hotlines): one class, the pooled terms are the observations' terms. Only other months (a hotline
  that released fewer tables, or hotlines of several taxonomies) read their hotlines' ``release_noise`` rows, all
  such months in one query, to know each hotline's tables, mechanism and scale.

Summing an observation (:class:`ObservedSums`)
----------------------------------------------
The rollups sum every hotline whatever its taxonomy. In a month where one taxonomy's hotlines alone released a
table, its observation is the scope's sum (:func:`hub.services.marginals.marginal_sums`). Where hotlines of several
taxonomies released it, the observation of each taxonomy but the most-followed one is the sum of its hotlines'
own rollups (``hotline:<id>`` scope), and the most-followed one's is the scope's sum minus those: exact integers,
read from the fewest rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exists, select
from sqlalchemy.orm import Session

from hub.errors import HubError
from hub.models import ReleaseNoise, RollupNoise, RoundReleaseNoise, Submission
from hub.services.marginals import Marginal, marginal_sums
from hub.services.rollups import hotline_scope, round_scope
from hub.services.scope import ResolvedScope, period_text
from protocol.combination import MonthRelease, Plan, observation, observed_table
from protocol.period import month_number
from protocol.taxonomy import Table

__all__ = ["MonthData", "MonthReader", "ObservedSums", "inconsistent"]


@dataclass(slots=True)
class MonthData:
    """What one month in range and scope released of the tables read."""

    #: table -> pooled noise terms ``(mechanism, scale) -> hotlines``
    noise: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    #: table -> hotlines that released it (summed over the rollup scopes, which hold disjoint hotlines)
    released_by: dict[str, int] = field(default_factory=dict)
    #: table -> rollup scopes holding it (for the consistency check of the sums)
    scopes: dict[str, int] = field(default_factory=dict)
    #: hotline -> the taxonomy its current submission follows
    hotlines: dict[str, str] = field(default_factory=dict)
    #: hotline -> table -> (mechanism, scale), read only for months that are not uniform (:meth:`uniform`); None
    #: for a survivor of a scaled round other than its first (its share is in the round's one term)
    by_hotline: dict[str, dict[str, tuple[str, str] | None]] | None = None
    #: survivor of a round whose sum is in scope -> that round's rollup scope (it has no rollups of its own)
    rounds: dict[str, str] = field(default_factory=dict)

    @property
    def uniform(self) -> bool:
        """Every hotline followed one taxonomy and released every table."""
        return len(set(self.hotlines.values())) == 1 and set(self.released_by.values()) == {len(self.hotlines)}

    def release(self) -> MonthRelease:
        """The month as the plans see it: observations per table and taxonomy, and the classes of hotlines."""
        if self.by_hotline is None:
            (taxonomy,) = set(self.hotlines.values())
            terms = {
                observation(table, taxonomy): [(m, s, n) for (m, s), n in sorted(pooled.items())]
                for table, pooled in self.noise.items()
            }
            return MonthRelease.of(terms, [set(terms)])
        observed: dict[str, Counter[tuple[str, str]]] = {}
        classes: set[frozenset[str]] = set()
        for hotline_id, tables in self.by_hotline.items():
            taxonomy = self.hotlines[hotline_id]
            names = {observation(table, taxonomy) for table in tables}
            classes.add(frozenset(names))
            for table, noise in tables.items():
                pooled = observed.setdefault(observation(table, taxonomy), Counter())
                if noise is not None:
                    pooled[noise] += 1
        return MonthRelease.of(
            {name: [(m, s, n) for (m, s), n in sorted(pooled.items())] for name, pooled in observed.items()}, classes
        )

    def releasers(self, table: str) -> dict[str, list[str]]:
        """taxonomy -> the rollup scopes whose sum is what the hotlines that released ``table`` under it released:
        each one's own (``hotline:<id>``), or for the survivors of a round, the round's (once). One taxonomy for a
        uniform month."""
        if self.by_hotline is None:
            (taxonomy,) = set(self.hotlines.values())
            return {taxonomy: self._scopes(self.hotlines)}
        found: dict[str, list[str]] = {}
        for hotline_id, tables in sorted(self.by_hotline.items()):
            if table in tables:
                found.setdefault(self.hotlines[hotline_id], []).append(hotline_id)
        return {taxonomy: self._scopes(hotlines) for taxonomy, hotlines in found.items()}

    def _scopes(self, hotlines: Iterable[str]) -> list[str]:
        scopes = (self.rounds.get(hotline_id) or hotline_scope(hotline_id) for hotline_id in hotlines)
        return list(dict.fromkeys(scopes))


class MonthReader:
    """Reads :class:`MonthData` for the months in range, in the caller's read snapshot."""

    def __init__(self, session: Session, scope: ResolvedScope) -> None:
        self._session = session
        self._scope = scope

    def read(self, tables: Sequence[str], first: int, last: int) -> dict[int, MonthData]:
        """Per month with data (a release of one of ``tables``): what was released, by whom, under which taxonomy."""
        months: dict[int, MonthData] = {}
        between = (period_text(first), period_text(last))
        noise = self._session.execute(
            select(RollupNoise.period, RollupNoise.table_name, RollupNoise.hotlines, RollupNoise.terms).where(
                RollupNoise.table_name.in_(tables),
                RollupNoise.scope.in_(self._scope.rollup_scopes),
                RollupNoise.period.between(*between),
            )
        ).all()
        for period, table, hotlines, terms in noise:
            data = months.setdefault(month_number(period), MonthData())
            pooled = data.noise.setdefault(table, Counter())
            for mechanism, scale, count in _decode_terms(table, terms):
                pooled[(mechanism, scale)] += count
            data.released_by[table] = data.released_by.get(table, 0) + hotlines
            data.scopes[table] = data.scopes.get(table, 0) + 1
        released = exists(
            select(ReleaseNoise.submission_id).where(
                ReleaseNoise.submission_id == Submission.id,
                ReleaseNoise.table_name.in_(tables),
                self._scope.release_filter(),
            )
        )
        reporting = self._session.execute(
            select(Submission.period, Submission.hotline_id, Submission.taxonomy_id).where(
                Submission.is_current.is_(True), Submission.period.between(*between), released
            )
        ).all()
        for period, hotline_id, taxonomy_id in reporting:
            found = months.get(month_number(period))
            if found is None:
                raise inconsistent(f"hotline {hotline_id} released {period}, for which there is no rollup noise")
            found.hotlines[hotline_id] = taxonomy_id
        rounds = self._scope.round_filter()
        if rounds is not None:  # survivors of a round whose sum is in scope: released through it
            survivors = self._session.execute(
                select(
                    RoundReleaseNoise.period,
                    RoundReleaseNoise.hotline_id,
                    RoundReleaseNoise.taxonomy_id,
                    RoundReleaseNoise.group_id,
                )
                .where(RoundReleaseNoise.table_name.in_(tables), RoundReleaseNoise.period.between(*between), rounds)
                .distinct()
            ).all()
            for period, hotline_id, taxonomy_id, group_id in survivors:
                found = months.get(month_number(period))
                if found is None:
                    raise inconsistent(f"round {group_id} holds {period}, for which there is no rollup noise")
                found.hotlines[hotline_id] = taxonomy_id
                found.rounds[hotline_id] = round_scope(group_id)
        for month, found in months.items():
            if not found.hotlines:
                raise inconsistent(f"{period_text(month)} has rollup noise but no current release")
        self._read_hotlines({m: found for m, found in months.items() if not found.uniform}, tables)
        return months

    def _read_hotlines(self, months: Mapping[int, MonthData], tables: Sequence[str]) -> None:
        """Each hotline's tables, mechanism and scale, for the months that are not uniform (one query)."""
        if not months:
            return
        rows: list[Any] = [
            *self._session.execute(
                select(
                    ReleaseNoise.period,
                    ReleaseNoise.hotline_id,
                    ReleaseNoise.table_name,
                    ReleaseNoise.mechanism,
                    ReleaseNoise.scale,
                ).where(
                    ReleaseNoise.period.in_([period_text(month) for month in months]),
                    ReleaseNoise.is_current.is_(True),
                    ReleaseNoise.table_name.in_(tables),
                    self._scope.release_filter(),
                )
            ).all()
        ]
        rounds = self._scope.round_filter()
        if rounds is not None:
            rows += self._session.execute(
                select(
                    RoundReleaseNoise.period,
                    RoundReleaseNoise.hotline_id,
                    RoundReleaseNoise.table_name,
                    RoundReleaseNoise.mechanism,
                    RoundReleaseNoise.scale,
                ).where(
                    RoundReleaseNoise.period.in_([period_text(month) for month in months]),
                    RoundReleaseNoise.table_name.in_(tables),
                    rounds,
                )
            ).all()
        for found in months.values():
            found.by_hotline = {}
        for period, hotline_id, table, mechanism, scale in rows:
            found = months[month_number(period)]
            if hotline_id not in found.hotlines:
                raise inconsistent(f"hotline {hotline_id} has noise rows for {period} but no current release")
            assert found.by_hotline is not None
            term = None if mechanism is None else (str(mechanism), str(scale))
            found.by_hotline.setdefault(hotline_id, {})[table] = term


class ObservedSums:
    """The sums of a plan's observations over some months (per month when grouped by period)."""

    def __init__(
        self, connection: Connection, tables: Mapping[str, Table], scope: ResolvedScope, months: Mapping[int, MonthData]
    ) -> None:
        self._connection = connection
        self._tables = tables
        self._scope = scope
        self._months = months

    def block(self, plan: Plan, block: Sequence[int], *, by_period: bool) -> dict[int | None, dict[str, Marginal]]:
        """``{month (None: the block's months together): {observation: sums}}`` for every observation the plan
        needs, each table's cells checked to be all there."""
        by_table: dict[str, list[str]] = {}
        for name in sorted(plan.marginals):
            by_table.setdefault(observed_table(name), []).append(name)
        found: dict[int | None, dict[str, Marginal]] = {}
        for table_name, names in by_table.items():
            table = self._tables[table_name]
            dimensions = plan.marginals[names[0]]  # the question's dimensions the table carries, for each taxonomy
            releasers = [self._months[month].releasers(table_name) for month in block]
            if all(len(taxonomies) == 1 for taxonomies in releasers):  # the usual case: one query, no split
                sums = self._scope_sums(table, dimensions, plan, block, by_period=by_period)
                for month, marginal in sums.items():
                    for name in names:
                        found.setdefault(month, {})[name] = marginal
                continue
            for month, observed in self._apart(table, dimensions, plan, block).items():
                key = month if by_period else None
                for name in names:
                    into = found.setdefault(key, {}).setdefault(name, {})
                    for codes, value in observed.get(name.partition("@")[2], {}).items():
                        into[codes] = into.get(codes, 0) + value
        return found

    def _scope_sums(
        self, table: Table, dimensions: tuple[str, ...], plan: Plan, block: Sequence[int], *, by_period: bool
    ) -> dict[int | None, Marginal]:
        sums, cells = marginal_sums(
            self._connection,
            table,
            dimensions,
            plan.question,
            scopes=self._scope.rollup_scopes,
            periods=[period_text(month) for month in block],
            by_period=by_period,
        )
        expected = table.cell_count * sum(self._months[month].scopes.get(table.name, 0) for month in block)
        if cells != expected:
            raise inconsistent(f"table {table.name!r} has {cells} cells where {expected} belong")
        return {None if period is None else month_number(period): marginal for period, marginal in sums.items()}

    def _apart(
        self, table: Table, dimensions: tuple[str, ...], plan: Plan, block: Sequence[int]
    ) -> dict[int, dict[str, Marginal]]:
        """``{month: {taxonomy: sums}}`` of a table that hotlines of several taxonomies released: each taxonomy
        but the most-followed one from its hotlines' own rollups, the most-followed one as the rest."""
        totals = self._scope_sums(table, dimensions, plan, block, by_period=True)
        result: dict[int, dict[str, Marginal]] = {}
        apart: dict[tuple[tuple[str, tuple[str, ...]], ...], list[int]] = {}  # hotlines to read -> months
        rest: dict[int, str] = {}
        for month in block:
            releasers = self._months[month].releasers(table.name)
            biggest = max(releasers, key=lambda taxonomy: (len(releasers[taxonomy]), taxonomy))
            rest[month] = biggest
            result[month] = {biggest: dict(totals.get(month, {}))}
            others = tuple((t, tuple(hotlines)) for t, hotlines in sorted(releasers.items()) if t != biggest)
            if others:
                apart.setdefault(others, []).append(month)
        for others, months in apart.items():
            for taxonomy, scopes in others:
                own, cells = marginal_sums(
                    self._connection,
                    table,
                    dimensions,
                    plan.question,
                    scopes=list(scopes),
                    periods=[period_text(month) for month in months],
                    by_period=True,
                )
                if cells != table.cell_count * len(scopes) * len(months):
                    raise inconsistent(
                        f"the hotline and round rollups of table {table.name!r} hold {cells} cells where "
                        f"{table.cell_count * len(scopes) * len(months)} belong"
                    )
                for month in months:
                    sums = own.get(period_text(month), {})
                    result[month][taxonomy] = sums
                    remaining = result[month][rest[month]]
                    for codes, value in sums.items():
                        remaining[codes] = remaining.get(codes, 0) - value
        return result


def inconsistent(detail: str) -> HubError:
    return HubError(
        f"the rollups are inconsistent ({detail}); nothing is answered rather than a wrong estimate: rebuild the "
        "rollups from the log"
    )


def _decode_terms(table: str, text: str) -> list[tuple[str, str, int]]:
    try:
        return [(str(m), str(s), int(n)) for m, s, n in json.loads(text)]
    except (ValueError, TypeError) as e:
        raise inconsistent(f"unreadable noise terms of table {table!r}: {text[:80]!r}") from e
