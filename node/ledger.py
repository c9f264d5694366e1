# SPDX-License-Identifier: Apache-2.0
"""The privacy-budget ledger: every release the node has made and what each one spent, kept across restarts.

:meth:`Ledger.record` is the only way a release comes into being. In one database transaction it

1. returns the stored release unchanged if the period already has one (so ``prepare`` never draws noise twice);
2. otherwise checks the per-period and per-year caps, exactly (:func:`node.budget.check_caps`);
3. calls ``build(revision)``, which draws the noise, and stores the noisy payload with its spend.

If anything fails, nothing is stored and nothing is spent; the noise drawn by a failed ``build`` was never shown
to anyone. Two processes preparing at once are serialised by SQLite's write lock: the second sees the first's
release. The spends are recorded here, outside OpenDP, whose own filters forget everything once exhausted.

>>> import tempfile
>>> from pathlib import Path
>>> from node.store import open_database
>>> tmp = tempfile.TemporaryDirectory()
>>> ledger = Ledger(open_database(Path(tmp.name) / "node.sqlite3", create=True))
>>> ledger.latest("2025-03") is None
True
>>> tmp.cleanup()
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from node.budget import BudgetConfig, Standing, check_caps, decimal_text
from node.errors import ConfigError, NoSuchRelease, ReleaseError
from node.store import transaction
from protocol.crypto import payload_hash
from protocol.messages import MAX_REVISION, SubmissionPayload, format_timestamp

__all__ = ["RELEASE_STATUSES", "Ledger", "SpendRecord", "StoredRelease"]

RELEASE_STATUSES: Final = ("prepared", "queued", "delivered", "failed", "superseded")
# S608 is silenced where this constant is spliced into SQL: it is a fixed column list, values are always bound.
_RELEASE_COLUMNS: Final = "period, revision, created_at, mechanism, measure, spent, payload, payload_hash, status"


@dataclass(frozen=True, slots=True)
class StoredRelease:
    """A noisy release as the ledger holds it."""

    period: str
    revision: int
    created_at: str
    mechanism: str
    measure: str
    spent: Decimal
    #: The canonical bytes of the unsigned payload: exactly what is signed and sent.
    payload_bytes: bytes
    payload_hash: str
    status: str

    def payload(self) -> SubmissionPayload:
        return SubmissionPayload.from_canonical(self.payload_bytes)


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """One recorded spend: the privacy loss of one release."""

    period: str
    revision: int
    measure: str
    amount: Decimal
    recorded_at: str


def _release(row: tuple[object, ...]) -> StoredRelease:
    period, revision, created_at, mechanism, measure, spent, payload, hashed, status = row
    return StoredRelease(
        period=str(period),
        revision=int(str(revision)),
        created_at=str(created_at),
        mechanism=str(mechanism),
        measure=str(measure),
        spent=Decimal(str(spent)),
        payload_bytes=bytes(payload) if isinstance(payload, bytes | bytearray | memoryview) else b"",
        payload_hash=str(hashed),
        status=str(status),
    )


class Ledger:
    """Releases and spends in the node database (see :mod:`node.store`)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    # ------------------------------------------------------------------ reading

    def latest(self, period: str) -> StoredRelease | None:
        """The highest revision of ``period``, or ``None`` if nothing was prepared for it."""
        row = self._db.execute(
            f"SELECT {_RELEASE_COLUMNS} FROM releases WHERE period = ? ORDER BY revision DESC LIMIT 1",  # noqa: S608
            (period,),
        ).fetchone()
        return _release(row) if row else None

    def get(self, period: str, revision: int) -> StoredRelease | None:
        row = self._db.execute(
            f"SELECT {_RELEASE_COLUMNS} FROM releases WHERE period = ? AND revision = ?",  # noqa: S608
            (period, revision),
        ).fetchone()
        return _release(row) if row else None

    def releases(self, *, status: str | None = None) -> list[StoredRelease]:
        """Every release (optionally only those with ``status``), by period and revision."""
        query = f"SELECT {_RELEASE_COLUMNS} FROM releases"  # noqa: S608
        rows = (
            self._db.execute(query + " WHERE status = ? ORDER BY period, revision", (status,))
            if status
            else self._db.execute(query + " ORDER BY period, revision")
        )
        return [_release(row) for row in rows]

    def spends(self, *, year: str | None = None) -> list[SpendRecord]:
        """Every recorded spend (optionally of the periods of one calendar ``year``), by period and revision."""
        query = "SELECT period, revision, measure, amount, recorded_at FROM spends"
        rows = (
            self._db.execute(query + " WHERE substr(period, 1, 4) = ? ORDER BY period, revision", (year,))
            if year
            else self._db.execute(query + " ORDER BY period, revision")
        )
        return [SpendRecord(p, int(r), m, Decimal(a), t) for p, r, m, a, t in rows]

    def standing(self, budget: BudgetConfig, period: str) -> Standing:
        """What ``period`` and its year have spent, against ``budget``'s caps (exact sums)."""
        year_spends = self.spends(year=period[:4])
        other = {s.measure for s in year_spends} - {budget.measure}
        if other:
            raise ConfigError(
                f"the ledger holds {', '.join(sorted(other))} spends for {period[:4]}, but the budget is now "
                f"configured for {budget.measure} ({budget.mechanism}); the two cannot be added up",
                hint="Keep the mechanism the year started with in config.toml until the year is over.",
            )
        return Standing(
            measure=budget.measure,
            period=period,
            period_spent=sum((Fraction(s.amount) for s in year_spends if s.period == period), Fraction(0)),
            period_cap=budget.period_cap,
            year_spent=sum((Fraction(s.amount) for s in year_spends), Fraction(0)),
            year_cap=budget.year_cap,
        )

    # ------------------------------------------------------------------ writing

    def record(
        self,
        *,
        period: str,
        budget: BudgetConfig,
        spend: Decimal,
        build: Callable[[int], SubmissionPayload],
        correction: bool,
        now: datetime,
    ) -> tuple[StoredRelease, bool]:
        """Store a new release of ``period`` built by ``build(revision)``; return it and whether it is new.

        Without ``correction`` an existing release of the period is returned unchanged (``build`` is not
        called). With ``correction`` the period must have a release, and the new one gets the next revision;
        earlier revisions that were never queued become ``superseded``. Raises
        :class:`~node.errors.BudgetExceeded` (nothing drawn, nothing stored) if the caps do not allow ``spend``.
        """
        with transaction(self._db):
            latest = self.latest(period)
            if latest is not None and not correction:
                return latest, False
            if latest is None and correction:
                raise NoSuchRelease(f"there is no release of {period} to correct")
            revision = 1 if latest is None else latest.revision + 1
            if revision > MAX_REVISION:
                raise ReleaseError(f"{period} already has {MAX_REVISION} revisions, the most the protocol allows")
            check_caps(self.standing(budget, period), Fraction(spend))
            payload = build(revision)
            if (payload.period, payload.revision) != (period, revision) or Decimal(payload.privacy.spent) != spend:
                raise ReleaseError(
                    f"internal error: the release built for {period} revision {revision} does not match the plan"
                )
            payload_bytes = payload.canonical_bytes()
            stamp = format_timestamp(now)
            spent = decimal_text(spend)
            release = StoredRelease(
                period=period,
                revision=revision,
                created_at=payload.created_at,
                mechanism=payload.privacy.mechanism,
                measure=payload.privacy.measure,
                spent=Decimal(spent),
                payload_bytes=payload_bytes,
                payload_hash=payload_hash(payload_bytes),
                status="prepared",
            )
            self._db.execute(
                f"INSERT INTO releases ({_RELEASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    release.period,
                    release.revision,
                    release.created_at,
                    release.mechanism,
                    release.measure,
                    spent,
                    release.payload_bytes,
                    release.payload_hash,
                    release.status,
                ),
            )
            self._db.execute(
                "INSERT INTO spends (period, revision, measure, amount, recorded_at) VALUES (?, ?, ?, ?, ?)",
                (period, revision, release.measure, spent, stamp),
            )
            if correction:
                self._db.execute(
                    "UPDATE releases SET status = 'superseded' "
                    "WHERE period = ? AND revision < ? AND status = 'prepared'",
                    (period, revision),
                )
        return release, True
