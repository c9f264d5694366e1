# SPDX-License-Identifier: Apache-2.0
"""Rollups: the running sums that statistics are read from, maintained in the same transaction as each ingest.

For every (table, period) the hub keeps, at three scopes — ``region``, ``country:<CC>``, ``hotline:<id>`` —
the sum of the **current** revision of every hotline's noisy cells (``rollup_cells``, one row per cell, with the
cell's codes so SQL can group and filter), and the public noise terms of one cell (``rollup_noise``). A newer
revision replaces the older one: the hotline's rows are rewritten and the difference is added to its country's
and the region's rows, so ingest costs O(cells) whatever the number of submissions. A withdrawal
(:mod:`hub.services.withdrawals`) is the same move backwards: the withdrawn release's rows go, and the highest
revision left (if any) comes back.

:mod:`hub.services.rebuild` recomputes everything from the log's signed payloads, to check these tables.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from hub.models import ReleaseNoise, RollupCell, RollupNoise, RoundReleaseNoise, Submission
from protocol.messages import SubmissionPayload
from protocol.secagg.release import RoundRelease
from protocol.taxonomy import Taxonomy

__all__ = ["REGION", "Rollups", "cell_codes", "country_scope", "encode_terms", "hotline_scope", "round_scope"]

REGION = "region"
_INSERT = (
    "INSERT INTO rollup_cells (table_name, scope, period, cell, d1, d2, d3, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADD_ON_CONFLICT = (
    " ON CONFLICT (table_name, scope, period, cell) DO UPDATE SET value = rollup_cells.value + excluded.value"
)
_BATCH = 5000


def country_scope(country: str) -> str:
    return f"country:{country}"


def hotline_scope(hotline_id: str) -> str:
    return f"hotline:{hotline_id}"


def round_scope(group_id: str) -> str:
    """The rollup scope of a secure group's round sums (one successful round per group and period)."""
    return f"secure:{group_id}"


CellCodes = tuple[str | None, str | None, str | None]
_CODES: dict[tuple[str, str], tuple[CellCodes, ...]] = {}


def cell_codes(taxonomy: Taxonomy, table: str) -> tuple[CellCodes, ...]:
    """The (d1, d2, d3) codes of every cell of ``table``, in dense order (cached per taxonomy hash)."""
    key = (taxonomy.content_hash, table)
    if key not in _CODES:
        padded = [(*cell, None, None, None) for cell in taxonomy.table(table).iter_cells()]
        _CODES[key] = tuple((p[0], p[1], p[2]) for p in padded)
    return _CODES[key]


class Rollups:
    """``taxonomy`` is the new release's; ``replaced`` the taxonomy of the release it replaces, when that differs
    (a correction made after the hotline adopted a newer taxonomy). A table both release has the same cells in both
    (registration guarantees it), so its codes come from either; a table only the old release held is removed with
    the old taxonomy's codes."""

    def __init__(self, session: Session, taxonomy: Taxonomy, *, replaced: Taxonomy | None = None) -> None:
        self._session = session
        self._taxonomy = taxonomy
        self._replaced = replaced or taxonomy

    def replace(
        self,
        *,
        hotline_id: str,
        country: str,
        new: Submission | None,
        new_payload: SubmissionPayload | None,
        old: Submission | None,
        old_payload: SubmissionPayload | None,
    ) -> None:
        """Make ``new`` the current revision of its (hotline, period), in place of ``old`` if any.

        A withdrawal passes the withdrawn current revision as ``old`` and, as ``new``, the highest revision left
        (which counted before and keeps its ``release_noise`` rows), or ``None``: then nothing replaces it."""
        anchor = new if new is not None else old
        if anchor is None:
            raise ValueError("a rollup change needs a new or an old release")
        period = anchor.period
        new_tables = {t.name: t.cells for t in new_payload.tables} if new_payload else {}
        old_tables = {t.name: t.cells for t in old_payload.tables} if old_payload else {}
        scopes = (REGION, country_scope(country))
        own = hotline_scope(hotline_id)
        for table in sorted(set(new_tables) | set(old_tables)):
            codes = cell_codes(self._taxonomy if table in new_tables else self._replaced, table)
            new_cells = new_tables.get(table)
            old_cells = old_tables.get(table)
            if old_cells is not None:
                self._session.execute(
                    delete(RollupCell).where(
                        RollupCell.table_name == table, RollupCell.scope == own, RollupCell.period == period
                    )
                )
            if new_cells is not None:
                self._insert(table, own, period, codes, new_cells)
            delta = _difference(new_cells, old_cells, len(codes))
            for scope in scopes:
                self._add(table, scope, period, codes, delta)
        if old is not None:
            self._session.execute(
                update(ReleaseNoise).where(ReleaseNoise.submission_id == old.id).values(is_current=False)
            )
            old.is_current = False
        if new is not None and new_payload is not None:
            self._make_current(new, new_payload, hotline_id=hotline_id, country=country)
        self._session.flush()
        for table in sorted(set(new_tables) | set(old_tables)):
            for scope, condition, rounds in (
                (REGION, None, None),
                (country_scope(country), ReleaseNoise.country == country, RoundReleaseNoise.scope_country == country),
                (own, ReleaseNoise.hotline_id == hotline_id, False),
            ):
                self._refresh_noise(table, scope, period, condition, rounds)

    def add_round(self, release: RoundRelease, *, round_id: int, countries: dict[str, str]) -> str | None:
        """Count a successful round's sum as its survivors' release: each survivor's noise share per table, and the
        sum's cells at the region, at the country every survivor is of (if one), and at the round's own scope.
        ``countries`` maps each survivor to its country; returns the round's country (None: several)."""
        country = release.country(countries)
        for table in release.tables:
            for member, term in release.member_terms(table).items():
                mechanism, scale = term or (None, None)
                self._session.add(
                    RoundReleaseNoise(
                        round_id=round_id,
                        hotline_id=member,
                        table_name=table,
                        country=countries[member],
                        scope_country=country,
                        group_id=release.group,
                        period=release.period,
                        taxonomy_id=release.taxonomy.id,
                        mechanism=mechanism,
                        scale=scale,
                    )
                )
        self._session.flush()
        own = round_scope(release.group)
        shared = [REGION] if country is None else [REGION, country_scope(country)]
        for table, cells in release.cells.items():
            codes = cell_codes(self._taxonomy, table)
            self._insert(table, own, release.period, codes, cells)
            for scope in shared:
                self._add(table, scope, release.period, codes, cells)
            self._refresh_noise(table, REGION, release.period, None, None)
            if country is not None:
                self._refresh_noise(
                    table,
                    country_scope(country),
                    release.period,
                    ReleaseNoise.country == country,
                    RoundReleaseNoise.scope_country == country,
                )
            self._refresh_noise(table, own, release.period, False, RoundReleaseNoise.group_id == release.group)
        return country

    def _make_current(self, new: Submission, payload: SubmissionPayload, *, hotline_id: str, country: str) -> None:
        new.is_current = True
        held = self._session.scalar(select(func.count()).where(ReleaseNoise.submission_id == new.id))
        if held:  # a revision that counted before (a withdrawal brings it back): its rows count again
            self._session.execute(
                update(ReleaseNoise).where(ReleaseNoise.submission_id == new.id).values(is_current=True)
            )
            return
        for noise in payload.privacy.tables:
            self._session.add(
                ReleaseNoise(
                    submission_id=new.id,
                    table_name=noise.table,
                    hotline_id=hotline_id,
                    country=country,
                    period=new.period,
                    mechanism=payload.privacy.mechanism,
                    scale=noise.scale,
                    is_current=True,
                )
            )

    # ------------------------------------------------------------------------------------------- writing

    def _insert(self, table: str, scope: str, period: str, codes: Sequence[CellCodes], cells: Sequence[int]) -> None:
        self._executemany(_INSERT, _rows(table, scope, period, codes, cells))

    def _add(self, table: str, scope: str, period: str, codes: Sequence[CellCodes], delta: Sequence[int]) -> None:
        self._executemany(_INSERT + _ADD_ON_CONFLICT, _rows(table, scope, period, codes, delta))

    def _executemany(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        # Tens of thousands of rows per submission: the driver's executemany with plain tuples is about twice as
        # fast as SQLAlchemy's per-row parameter processing (measured), and the SQL is the same on both backends.
        connection = self._session.connection()
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = statement.replace("?", marker)
        for start in range(0, len(rows), _BATCH):
            connection.exec_driver_sql(sql, rows[start : start + _BATCH])

    def _refresh_noise(self, table: str, scope: str, period: str, condition: Any, rounds: Any) -> None:
        """The scope's noise terms again, from the current local releases matching ``condition`` (None: all; False:
        none) and the round survivors' shares matching ``rounds`` (likewise)."""
        rows: list[Any] = []
        if condition is not False:
            query = select(ReleaseNoise.mechanism, ReleaseNoise.scale, ReleaseNoise.hotline_id).where(
                ReleaseNoise.table_name == table, ReleaseNoise.period == period, ReleaseNoise.is_current.is_(True)
            )
            if condition is not None:
                query = query.where(condition)
            rows += self._session.execute(query).all()
        if rounds is not False:
            shares = select(RoundReleaseNoise.mechanism, RoundReleaseNoise.scale, RoundReleaseNoise.hotline_id).where(
                RoundReleaseNoise.table_name == table, RoundReleaseNoise.period == period
            )
            if rounds is not None:
                shares = shares.where(rounds)
            rows += self._session.execute(shares).all()
        self._session.execute(
            delete(RollupNoise).where(
                RollupNoise.table_name == table, RollupNoise.scope == scope, RollupNoise.period == period
            )
        )
        if not rows:
            # Nobody in this scope reports the table for this period any more: its cells say nothing.
            self._session.execute(
                delete(RollupCell).where(
                    RollupCell.table_name == table, RollupCell.scope == scope, RollupCell.period == period
                )
            )
            return
        self._session.add(
            RollupNoise(
                table_name=table,
                scope=scope,
                period=period,
                hotlines=len({row.hotline_id for row in rows}),
                # a scaled round's survivors other than its first add no term of their own (their share is in it)
                terms=encode_terms((row.mechanism, row.scale) for row in rows if row.mechanism is not None),
            )
        )


def encode_terms(terms: Iterable[tuple[str, str]]) -> str:
    """Canonical JSON ``[[mechanism, scale, count], ...]`` of one cell's noise terms."""
    counted = Counter(terms)
    return json.dumps([[m, s, n] for (m, s), n in sorted(counted.items())], separators=(",", ":"))


def _rows(
    table: str, scope: str, period: str, codes: Sequence[CellCodes], values: Sequence[int]
) -> list[tuple[Any, ...]]:
    return [(table, scope, period, i, *c, v) for i, (c, v) in enumerate(zip(codes, values, strict=True))]


def _difference(new: Sequence[int] | None, old: Sequence[int] | None, size: int) -> list[int]:
    if new is None:
        return [-v for v in old] if old is not None else [0] * size
    if old is None:
        return list(new)
    return [a - b for a, b in zip(new, old, strict=True)]
