# SPDX-License-Identifier: Apache-2.0
"""The privacy-budget ledger: every release the node has made and what each one spent, kept across restarts.

:meth:`Ledger.record` is the only way a release comes into being. In one database transaction it

1. returns the stored release unchanged if the period already has one (so ``prepare`` never draws noise twice);
2. otherwise checks the per-period and per-year caps, exactly (:func:`node.budget.check_caps`);
3. calls ``build(revision)``, which draws the noise, and stores the noisy payload with its spend.

If anything fails, nothing is stored and nothing is spent; the noise drawn by a failed ``build`` was never shown
to anyone.

A release is stored ``prepared``; :meth:`Ledger.approve` marks it ``approved`` (only approved releases are queued
for the hub), and the outbox moves it on (``queued``, ``delivered`` or ``failed``). :meth:`Ledger.discard` deletes a
release that was never queued and gives its spend back: nothing of it left the machine, so nothing of the budget was
used up. The discard is recorded (``discards``: period, revision, spend, payload hash, when), the payload is not
kept. A correction of a revision that was never queued replaces it the same way, under the same revision number,
so that it spends only once. A release that reached the outbox may have reached the hub and is never discarded.

Two processes preparing at once are serialised by SQLite's write lock: the second sees the first's
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
from node.errors import INTERNAL_ERROR_HINT, ConfigError, NoSuchRelease, ReleaseError, ReleaseSent
from node.i18n import N_, Text
from node.store import transaction
from protocol.crypto import payload_hash
from protocol.messages import MAX_REVISION, SubmissionPayload, format_timestamp

__all__ = ["RELEASE_STATUSES", "UNSENT", "DiscardRecord", "Ledger", "SpendRecord", "StoredRelease"]

RELEASE_STATUSES: Final = ("prepared", "approved", "queued", "delivered", "failed", "superseded")
#: Statuses of a release that never reached the outbox (so never the hub): it may be discarded or replaced.
UNSENT: Final = ("prepared", "approved")
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


@dataclass(frozen=True, slots=True)
class DiscardRecord:
    """A release discarded before it was ever queued, and the spend given back."""

    period: str
    revision: int
    measure: str
    amount: Decimal
    payload_hash: str
    status: str
    created_at: str
    discarded_at: str
    #: ``discard`` (``tipshare-node discard``) or ``correction`` (replaced by a correction of the same revision).
    reason: str


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

    @property
    def connection(self) -> sqlite3.Connection:
        """The node database (other records of the same month read it, e.g. :class:`node.rounds.RoundStore`)."""
        return self._db

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

    def discards(self, *, period: str | None = None) -> list[DiscardRecord]:
        """Every discarded release (optionally of one period), in the order they were discarded."""
        query = (
            "SELECT period, revision, measure, amount, payload_hash, status, created_at, discarded_at, reason "
            "FROM discards"
        )
        rows = (
            self._db.execute(query + " WHERE period = ? ORDER BY id", (period,))
            if period
            else self._db.execute(query + " ORDER BY id")
        )
        return [
            DiscardRecord(str(p), int(r), str(m), Decimal(str(a)), str(h), str(s), str(c), str(d), str(why))
            for p, r, m, a, h, s, c, d, why in rows
        ]

    def standing(self, budget: BudgetConfig, period: str) -> Standing:
        """What ``period`` and its year have spent, against ``budget``'s caps (exact sums)."""
        year_spends = self.spends(year=period[:4])
        other = {s.measure for s in year_spends} - {budget.measure}
        if other:
            raise ConfigError(
                Text(
                    N_(
                        "the ledger holds %(other)s spends for %(year)s, but the budget is now configured for "
                        "%(measure)s (%(mechanism)s); the two cannot be added up"
                    ),
                    other=", ".join(sorted(other)),
                    year=period[:4],
                    measure=budget.measure,
                    mechanism=budget.mechanism,
                ),
                hint=Text(N_("Keep the mechanism the year started with in config.toml until the year is over.")),
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
        called). With ``correction`` the period must have a release. If its latest revision was never queued
        (prepared or approved), the correction replaces it: it is discarded (its spend given back) and the new
        release takes its revision number. Otherwise the new one gets the next revision. Raises
        :class:`~node.errors.BudgetExceeded` (nothing drawn, nothing stored, nothing discarded) if the caps do
        not allow ``spend``.
        """
        with transaction(self._db):
            latest = self.latest(period)
            if latest is not None and not correction:
                return latest, False
            if latest is None and correction:
                raise NoSuchRelease(Text(N_("there is no release of %(period)s to correct"), period=period))
            if latest is not None and latest.status in UNSENT:
                self._discard(latest, now=now, reason="correction")
                revision = latest.revision
            else:
                revision = 1 if latest is None else latest.revision + 1
            if revision > MAX_REVISION:
                raise ReleaseError(
                    Text(
                        N_("%(period)s already has %(count)s revisions, the most the protocol allows"),
                        period=period,
                        count=MAX_REVISION,
                    )
                )
            check_caps(self.standing(budget, period), Fraction(spend))
            payload = build(revision)
            if (payload.period, payload.revision) != (period, revision) or Decimal(payload.privacy.spent) != spend:
                raise ReleaseError(
                    Text(
                        N_(
                            "internal error: the release built for %(period)s revision %(revision)s "
                            "does not match the plan"
                        ),
                        period=period,
                        revision=revision,
                    ),
                    hint=Text(INTERNAL_ERROR_HINT),
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

    def approve(self, period: str) -> tuple[StoredRelease, bool]:
        """Mark the latest revision of ``period`` for sending; return it and whether it was approved just now.

        Only a ``prepared`` release is approved; one already approved is returned as it is. Raises
        :class:`~node.errors.NoSuchRelease` if nothing was prepared, and :class:`~node.errors.ReleaseError` if the
        latest revision is already in the outbox or at the hub.
        """
        with transaction(self._db):
            latest = self.latest(period)
            if latest is None:
                raise NoSuchRelease(Text(N_("nothing was prepared for %(period)s"), period=period))
            if latest.status == "approved":
                return latest, False
            if latest.status != "prepared":
                raise ReleaseError(
                    Text(
                        N_(
                            "%(period)s revision %(revision)s is %(status)s: it was approved and handed to the "
                            "outbox already"
                        ),
                        period=period,
                        revision=latest.revision,
                        status=latest.status,
                    ),
                    hint=Text(
                        N_("`tipshare-node status` shows where it is; `tipshare-node sync` delivers what is queued.")
                    ),
                )
            self._db.execute(
                "UPDATE releases SET status = 'approved' WHERE period = ? AND revision = ?", (period, latest.revision)
            )
        approved = self.get(period, latest.revision)
        if approved is None:  # pragma: no cover - updated above
            raise RuntimeError("release vanished")
        return approved, True

    def discard(self, period: str, *, now: datetime) -> DiscardRecord:
        """Delete the latest revision of ``period`` if it was never queued, giving its spend back (recorded)."""
        with transaction(self._db):
            latest = self.latest(period)
            if latest is None:
                raise NoSuchRelease(
                    Text(N_("nothing was prepared for %(period)s"), period=period),
                    hint=Text(N_("`tipshare-node status` lists releases.")),
                )
            if latest.status not in UNSENT:
                raise ReleaseSent(
                    Text(
                        N_(
                            "%(period)s revision %(revision)s cannot be discarded: it is %(status)s, so it was handed "
                            "to the outbox and may have reached the hub"
                        ),
                        period=period,
                        revision=latest.revision,
                        status=latest.status,
                    )
                )
            record = self._discard(latest, now=now, reason="discard")
        return record

    def _discard(self, release: StoredRelease, *, now: datetime, reason: str) -> DiscardRecord:
        """Within a transaction: move an unsent release and its spend to ``discards``."""
        row = self._db.execute(
            "SELECT measure, amount FROM spends WHERE period = ? AND revision = ?", (release.period, release.revision)
        ).fetchone()
        if row is None:  # pragma: no cover - every release is stored with its spend
            raise ReleaseError(
                Text(
                    N_("internal error: %(period)s revision %(revision)s has no recorded spend"),
                    period=release.period,
                    revision=release.revision,
                ),
                hint=Text(INTERNAL_ERROR_HINT),
            )
        stamp = format_timestamp(now)
        record = DiscardRecord(
            period=release.period,
            revision=release.revision,
            measure=str(row[0]),
            amount=Decimal(str(row[1])),
            payload_hash=release.payload_hash,
            status=release.status,
            created_at=release.created_at,
            discarded_at=stamp,
            reason=reason,
        )
        self._db.execute(
            "INSERT INTO discards (period, revision, measure, amount, payload_hash, status, created_at, discarded_at,"
            " reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.period,
                record.revision,
                record.measure,
                str(row[1]),
                record.payload_hash,
                record.status,
                record.created_at,
                record.discarded_at,
                record.reason,
            ),
        )
        key = (release.period, release.revision)
        self._db.execute("DELETE FROM spends WHERE period = ? AND revision = ?", key)
        self._db.execute("DELETE FROM releases WHERE period = ? AND revision = ?", key)
        return record
