# SPDX-License-Identifier: Apache-2.0
"""The auditor's memory of one hub: the pinned log key, every checkpoint seen, every log entry, and what the
entry checks concluded about them.

One SQLite file, ``<state DIR>/audit-state.sqlite3`` (directory 0700)::

    meta          format, the pinned log vkey and origin, how and when they were pinned, the last hub URL,
                  and how far the entry checks got (``checked_*``: next index, totals, latest entry time)
    checkpoints   size → root hash, signed note, first seen at      (every checkpoint that verified)
    entries       index → leaf hash, leaf data                      (the whole log, entries are public)
    taxonomies    content hash → id, canonical document              (so a run needs no re-download)
    key_events    index                                              (entries the checks applied as key events,
                                                                      hotline policies or backfill approvals)
    accepted      index → hotline, key, period, revision, received at, mechanism, payload hash, scales, spent
                                                                     (submissions that passed every check)
    failures      index, check, message, hotline, table             (what the checks found wrong, in order)
    withdrawals   index → submission index                          (valid withdrawals: what stopped counting)

Entries are the public, signed, noisy payloads the log commits to; keeping them lets a later run rebuild the
full tree and recompute every statistic after downloading only what is new. Keeping what the entry checks
concluded (:class:`auditor.entries.Conclusions`) lets it check only the new entries, too.

**Formats.** Format 2 added ``key_events``, ``accepted`` and ``failures`` and the ``checked_*`` keys; the
``withdrawals`` table came later, within format 2 (it is created when missing: a log checked before it existed held
no withdrawals, since no hub wrote them). Format 3 added the declared spend of each accepted submission
(``accepted.spent``, for the budget caps). A format 1 or 2 file is upgraded in place when it is opened
(:attr:`StateStore.upgraded_from` says so); as it holds no (complete) conclusions, the next ``verify`` checks every
entry again, once, and saves them.

A run holds one write transaction from start to finish (``BEGIN IMMEDIATE``): a second run on the same DIR
is refused while it lasts, and nothing is written unless the run commits (:meth:`StateStore.commit`), which the
verifier does only once the log itself (signature, consistency, root) has verified. A crash or a failed log
check leaves the state exactly as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Final, Literal, Self

from auditor.entries import AcceptedSubmission, Conclusions
from auditor.errors import StateError
from auditor.findings import Check, Failure
from auditor.i18n import N_, T_
from auditor.times import LatestTime
from protocol.errors import ProtocolError
from protocol.messages import format_timestamp, parse_timestamp

__all__ = ["FORMAT", "STATE_FILE", "PinnedLog", "SeenCheckpoint", "StateStore"]

STATE_FILE: Final = "audit-state.sqlite3"
#: Version of the state file layout.
FORMAT: Final = 3
#: Older formats this version upgrades in place.
_UPGRADES_FROM: Final = frozenset({"1", "2"})
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL, seen_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS taxonomies (hash TEXT PRIMARY KEY, id TEXT NOT NULL, document BLOB NOT NULL)",
    # Format 2: what the entry checks concluded.
    "CREATE TABLE IF NOT EXISTS key_events (idx INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS accepted ("
    " idx INTEGER PRIMARY KEY, hotline_id TEXT NOT NULL, key_id TEXT NOT NULL, period TEXT NOT NULL,"
    " revision INTEGER NOT NULL, received_at INTEGER NOT NULL, mechanism TEXT NOT NULL,"
    " payload_hash TEXT NOT NULL, scales TEXT NOT NULL, spent TEXT NOT NULL DEFAULT '0')",
    "CREATE TABLE IF NOT EXISTS failures ("
    " seq INTEGER PRIMARY KEY, idx INTEGER NOT NULL, check_name TEXT NOT NULL, message TEXT NOT NULL,"
    " hotline_id TEXT, table_name TEXT)",
    "CREATE TABLE IF NOT EXISTS withdrawals (idx INTEGER PRIMARY KEY, submission_idx INTEGER NOT NULL)",
)
#: The meta keys of the entry checks' progress, in :class:`Conclusions` order.
_PROGRESS: Final = ("checked_next_index", "checked_entries", "checked_key_events", "checked_submissions")
#: The meta key of the latest entry time checked (``<index> <timestamp>``; absent before entry times were checked).
_LATEST_TIME: Final = "checked_latest_time"


@dataclass(frozen=True, slots=True)
class PinnedLog:
    """The log key this state trusts: its C2SP vkey, the origin it names, and how it came to be trusted."""

    vkey: str
    origin: str
    #: ``explicit`` (given with ``--log-key``) or ``first-use`` (taken from the hub on the first run).
    how: Literal["explicit", "first-use"]
    pinned_at: str


@dataclass(frozen=True, slots=True)
class SeenCheckpoint:
    size: int
    root_hash: bytes
    note: str


class StateStore:
    """An open state DIR, inside one write transaction. Use as a context manager (rolls back unless committed)."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self._path = path
        self._db = connection
        #: The format the file had when it was opened, if it was upgraded to :data:`FORMAT` (else ``None``).
        self.upgraded_from: int | None = None

    @classmethod
    def open(cls, directory: Path, *, busy_timeout: float = 0.5) -> StateStore:
        """Open (creating if needed) the state in ``directory`` and take its write lock."""
        if directory.exists() and not directory.is_dir():
            raise StateError(T_("the state DIR {directory} is not a directory", directory=directory))
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / STATE_FILE
        try:
            connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise StateError(T_("cannot open the state file {path}: {error}", path=path, error=e)) from e
        store = cls(path, connection)
        try:
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            connection.close()
            if "locked" in str(e) or "busy" in str(e):
                raise StateError(
                    T_("the state DIR {directory} is in use by another tipshare-audit run", directory=directory),
                    hint=N_("Wait for the other run to finish; runs on one state DIR cannot overlap."),
                ) from e
            raise StateError(T_("the state file {path} cannot be used: {error}", path=path, error=e)) from e
        except sqlite3.DatabaseError as e:
            connection.close()
            raise StateError(T_("{path} is not a tipshare-audit state file: {error}", path=path, error=e)) from e
        try:
            store._initialise()
        except BaseException:
            store.close()
            raise
        os.chmod(path, 0o600)
        return store

    def _initialise(self) -> None:
        try:
            for statement in _SCHEMA:
                self._db.execute(statement)
            found = self._meta("format")
            if found is None:
                self._set_meta("format", str(FORMAT))
            elif found in _UPGRADES_FROM:
                if found == "2":  # format 3 adds the declared spend of each accepted submission
                    self._db.execute("ALTER TABLE accepted ADD COLUMN spent TEXT NOT NULL DEFAULT '0'")
                self._set_meta("format", str(FORMAT))  # the new tables exist now; kept if the run commits
                self.upgraded_from = int(found)
            elif found != str(FORMAT):
                raise StateError(
                    T_(
                        "{path} has state format {found}; this tipshare-audit reads format {ours}",
                        path=self._path,
                        found=found,
                        ours=FORMAT,
                    ),
                    hint=N_("Use the tipshare-audit version that wrote it, or start a new state DIR."),
                )
        except sqlite3.DatabaseError as e:
            raise StateError(T_("{path} is not a tipshare-audit state file: {error}", path=self._path, error=e)) from e

    # ------------------------------------------------------------------ transaction

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def commit(self) -> None:
        """Make everything written so far durable, and keep the lock for the rest of the run."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        """Roll back whatever was not committed, and release the lock."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()

    # ------------------------------------------------------------------ the pinned key

    def pinned(self) -> PinnedLog | None:
        vkey, origin, how, at = (self._meta(k) for k in ("log_vkey", "log_origin", "pinned_how", "pinned_at"))
        if vkey is None or origin is None or at is None or how not in ("explicit", "first-use"):
            return None
        return PinnedLog(vkey=vkey, origin=origin, how="explicit" if how == "explicit" else "first-use", pinned_at=at)

    def pin(self, *, vkey: str, origin: str, how: Literal["explicit", "first-use"], now: datetime) -> PinnedLog:
        if self.pinned() is not None:
            raise StateError(T_("{path} already pins a log key; it is never replaced", path=self._path))
        pinned = PinnedLog(vkey=vkey, origin=origin, how=how, pinned_at=format_timestamp(now))
        for key, value in (
            ("log_vkey", vkey),
            ("log_origin", origin),
            ("pinned_how", how),
            ("pinned_at", pinned.pinned_at),
        ):
            self._set_meta(key, value)
        return pinned

    def repin(self, *, vkey: str, now: datetime, handovers: list[int]) -> None:
        """Trust ``vkey`` from now on, after following the logged handovers at ``handovers`` from the pinned key.

        The keys pinned before are kept, in order, in the ``log_key_history`` (JSON) with when and how each was
        left, so a later ``--log-key`` naming an earlier key of the same chain is still recognised.
        """
        pinned = self.pinned()
        if pinned is None:
            raise StateError(T_("{path} pins no log key to follow a handover from", path=self._path))
        history = self.key_history()
        history.append({"vkey": pinned.vkey, "until": format_timestamp(now), "handovers": handovers})
        self._set_meta("log_key_history", json.dumps(history))
        self._set_meta("log_vkey", vkey)

    def key_history(self) -> list[dict[str, object]]:
        """The log keys pinned before the current one (oldest first), each with the handovers that left it."""
        return list(json.loads(self._meta("log_key_history") or "[]"))

    def remember_hub_url(self, url: str) -> None:
        self._set_meta("hub_url", url)

    # ------------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[SeenCheckpoint]:
        """Every checkpoint seen, by size."""
        rows = self._db.execute("SELECT size, root, note FROM checkpoints ORDER BY size").fetchall()
        return [SeenCheckpoint(size=int(size), root_hash=bytes(root), note=str(note)) for size, root, note in rows]

    def add_checkpoint(self, checkpoint: SeenCheckpoint, *, now: datetime) -> None:
        """Record a verified checkpoint (a second, equal sighting changes only when the largest was last seen)."""
        largest = self._db.execute("SELECT MAX(size) FROM checkpoints").fetchone()[0]
        if largest is None or checkpoint.size >= int(largest):
            self._set_meta("latest_confirmed", json.dumps([checkpoint.size, format_timestamp(now)]))
        found = self._db.execute("SELECT root FROM checkpoints WHERE size = ?", (checkpoint.size,)).fetchone()
        if found is not None:
            if bytes(found[0]) != checkpoint.root_hash:
                raise StateError(T_("refusing to record a second root hash for tree size {size}", size=checkpoint.size))
            return
        self._db.execute(
            "INSERT INTO checkpoints (size, root, note, seen_at) VALUES (?, ?, ?, ?)",
            (checkpoint.size, checkpoint.root_hash, checkpoint.note, format_timestamp(now)),
        )

    def latest_seen(self) -> tuple[SeenCheckpoint, datetime] | None:
        """The largest checkpoint seen and when a run last saw it as the hub's latest (auditor's clock), or ``None``."""
        row = self._db.execute(
            "SELECT size, root, note, seen_at FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        size, root, note, seen_at = row
        when = parse_timestamp(str(seen_at))
        confirmed = self._meta("latest_confirmed")
        if confirmed is not None:
            confirmed_size, confirmed_at = json.loads(confirmed)
            if int(confirmed_size) == int(size):
                when = max(when, parse_timestamp(str(confirmed_at)))
        return SeenCheckpoint(int(size), bytes(root), str(note)), when

    def witness_policy(self) -> tuple[list[str], int] | None:
        """The witness vkeys and quorum this state requires (``verify --witness``), or ``None``."""
        vkeys, quorum = self._meta("witness_vkeys"), self._meta("witness_quorum")
        if vkeys is None or quorum is None:
            return None
        return json.loads(vkeys), int(quorum)

    def set_witness_policy(self, vkeys: list[str], quorum: int) -> None:
        self._set_meta("witness_vkeys", json.dumps(vkeys))
        self._set_meta("witness_quorum", str(quorum))

    # ------------------------------------------------------------------ entries

    def entry_count(self) -> int:
        """How many entries the state holds: always the indices ``0 .. count - 1``."""
        count, last = self._db.execute("SELECT COUNT(*), MAX(idx) FROM entries").fetchone()
        if count and last != count - 1:
            raise StateError(
                T_(
                    "{path} is corrupt: it holds {count} log entries, the last with index {last}",
                    path=self._path,
                    count=count,
                    last=last,
                )
            )
        return int(count)

    def add_entries(self, entries: Iterable[tuple[int, bytes, bytes]]) -> None:
        """Add ``(index, leaf_hash, data)`` entries (within the run's transaction)."""
        try:
            self._db.executemany("INSERT INTO entries (idx, leaf_hash, data) VALUES (?, ?, ?)", entries)
        except sqlite3.IntegrityError as e:
            raise StateError(
                T_("refusing to overwrite a log entry already in {path}: {error}", path=self._path, error=e)
            ) from e

    def leaf_hashes(self) -> list[bytes]:
        return [bytes(h) for (h,) in self._db.execute("SELECT leaf_hash FROM entries ORDER BY idx")]

    def iter_entries(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(index, data)`` of the entries ``start <= index < stop``, in order."""
        query = "SELECT idx, data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
        upper = stop if stop is not None else 2**63 - 1
        for index, data in self._db.execute(query, (start, upper)):
            yield int(index), bytes(data)

    def iter_entries_containing(self, mark: bytes, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(index, data)`` of the entries below ``stop`` whose data holds the bytes ``mark``, in order (filtered
        inside SQLite, so a scan of a large log hands Python only the entries it asks for)."""
        query = "SELECT idx, data FROM entries WHERE idx < ? AND instr(data, ?) > 0 ORDER BY idx"
        upper = stop if stop is not None else 2**63 - 1
        for index, data in self._db.execute(query, (upper, mark)):
            yield int(index), bytes(data)

    def entry(self, index: int) -> bytes | None:
        found = self._db.execute("SELECT data FROM entries WHERE idx = ?", (index,)).fetchone()
        return None if found is None else bytes(found[0])

    # ------------------------------------------------------------------ what the entry checks concluded

    def conclusions(self) -> Conclusions | None:
        """Everything the entry checks concluded (from entry 0), or ``None`` if nothing was saved yet."""
        progress = [self._meta(key) for key in _PROGRESS]
        if progress[0] is None:
            return None
        try:
            next_index, checked, key_events, submissions = (int(value or "") for value in progress)
            events = tuple(int(i) for (i,) in self._db.execute("SELECT idx FROM key_events ORDER BY idx"))
            accepted = tuple(self._accepted())
            failures = tuple(self._failures())
            withdrawals = tuple(
                (int(i), int(s))
                for i, s in self._db.execute("SELECT idx, submission_idx FROM withdrawals ORDER BY idx")
            )
            latest = self._meta(_LATEST_TIME)
            latest_time = None if latest is None else LatestTime.from_text(latest)
        except (ValueError, TypeError, KeyError, ProtocolError) as e:
            raise StateError(
                T_("{path} is corrupt: the saved entry checks cannot be read ({error})", path=self._path, error=e)
            ) from e
        held = self.entry_count()
        named = (*events, *(s.index for s in accepted), *(i for i, _ in withdrawals))
        if next_index > held or any(i >= next_index for i in named):
            raise StateError(
                T_(
                    "{path} is corrupt: its saved entry checks reach entry {next_index}, but it holds {held}",
                    path=self._path,
                    next_index=next_index,
                    held=held,
                ),
                hint=N_("Run verify with --recheck to check every entry again."),
            )
        return Conclusions(
            0, next_index, checked, key_events, submissions, events, accepted, failures, withdrawals, latest_time
        )

    def save_conclusions(self, conclusions: Conclusions) -> None:
        """Add what the entry checks concluded from ``conclusions.start`` on; from 0, replace everything saved."""
        if conclusions.start == 0:
            for table in ("key_events", "accepted", "failures", "withdrawals"):
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._db.execute("DELETE FROM meta WHERE key = ?", (_LATEST_TIME,))
        elif conclusions.start != int(self._meta(_PROGRESS[0]) or "0"):
            raise StateError(T_("saved entry checks would leave a gap before entry {start}", start=conclusions.start))
        self._db.executemany("INSERT INTO key_events (idx) VALUES (?)", ((i,) for i in conclusions.key_event_indices))
        self._db.executemany(
            "INSERT INTO accepted (idx, hotline_id, key_id, period, revision, received_at, mechanism, payload_hash,"
            " scales, spent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    s.index,
                    s.hotline_id,
                    s.key_id,
                    s.period,
                    s.revision,
                    int(s.received_at.timestamp()),
                    s.mechanism,
                    s.payload_hash,
                    json.dumps(dict(s.scales), sort_keys=True),
                    s.spent,
                )
                for s in conclusions.accepted
            ),
        )
        self._db.executemany(
            "INSERT INTO failures (idx, check_name, message, hotline_id, table_name) VALUES (?, ?, ?, ?, ?)",
            ((f.index, str(f.check), f.message, f.hotline_id, f.table) for f in conclusions.failures),
        )
        self._db.executemany("INSERT INTO withdrawals (idx, submission_idx) VALUES (?, ?)", conclusions.withdrawals)
        totals = (conclusions.next_index, conclusions.checked, conclusions.key_events, conclusions.submissions)
        for key, value in zip(_PROGRESS, totals, strict=True):
            self._set_meta(key, str(value))
        if conclusions.latest_time is not None:
            self._set_meta(_LATEST_TIME, conclusions.latest_time.text())

    def _accepted(self) -> Iterator[AcceptedSubmission]:
        scales: dict[str, MappingProxyType[str, str]] = {}  # most submissions share a handful of noise scales
        query = (
            "SELECT idx, hotline_id, key_id, period, revision, received_at, mechanism, payload_hash, scales, spent "
            "FROM accepted ORDER BY idx"
        )
        for row in self._db.execute(query):
            index, hotline_id, key_id, period, revision, received_at, mechanism, payload_hash, text, spent = row
            if text not in scales:
                scales[text] = MappingProxyType(dict(json.loads(text)))
            yield AcceptedSubmission(
                index=int(index),
                hotline_id=str(hotline_id),
                key_id=str(key_id),
                period=str(period),
                revision=int(revision),
                received_at=datetime.fromtimestamp(int(received_at), UTC),
                mechanism=str(mechanism),
                payload_hash=str(payload_hash),
                scales=scales[text],
                spent=str(spent),
            )

    def _failures(self) -> Iterator[Failure]:
        query = "SELECT idx, check_name, message, hotline_id, table_name FROM failures ORDER BY seq"
        for index, check, message, hotline_id, table in self._db.execute(query):
            yield Failure(Check(check), str(message), index=int(index), hotline_id=hotline_id, table=table)

    # ------------------------------------------------------------------ taxonomies

    def taxonomy_document(self, content_hash: str) -> bytes | None:
        found = self._db.execute("SELECT document FROM taxonomies WHERE hash = ?", (content_hash,)).fetchone()
        return None if found is None else bytes(found[0])

    def add_taxonomy(self, *, taxonomy_id: str, content_hash: str, document: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO taxonomies (hash, id, document) VALUES (?, ?, ?)",
            (content_hash, taxonomy_id, document),
        )

    # ------------------------------------------------------------------ helpers

    def _meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
