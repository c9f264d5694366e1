# SPDX-License-Identifier: Apache-2.0
"""The auditor's memory of one hub: the pinned log key, every checkpoint seen, and every log entry.

One SQLite file, ``<state DIR>/audit-state.sqlite3`` (directory 0700)::

    meta          format, the pinned log vkey and origin, how and when they were pinned, the last hub URL
    checkpoints   size → root hash, signed note, first seen at      (every checkpoint that verified)
    entries       index → leaf hash, leaf data                      (the whole log, entries are public)
    taxonomies    content hash → id, canonical document              (so a run needs no re-download)

Entries are the public, signed, noisy payloads the log commits to; keeping them lets a later run rebuild the
full tree and recompute every statistic after downloading only what is new.

A run holds one write transaction from start to finish (``BEGIN IMMEDIATE``): a second run on the same DIR
is refused while it lasts, and nothing is written unless the run commits (:meth:`StateStore.commit`), which the
verifier does only once the log itself (signature, consistency, root) has verified. A crash or a failed log
check leaves the state exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

from auditor.errors import StateError
from protocol.messages import format_timestamp

__all__ = ["FORMAT", "STATE_FILE", "PinnedLog", "SeenCheckpoint", "StateStore"]

STATE_FILE: Final = "audit-state.sqlite3"
#: Version of the state file layout.
FORMAT: Final = 1
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL, seen_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS taxonomies (hash TEXT PRIMARY KEY, id TEXT NOT NULL, document BLOB NOT NULL)",
)


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

    @classmethod
    def open(cls, directory: Path, *, busy_timeout: float = 0.5) -> StateStore:
        """Open (creating if needed) the state in ``directory`` and take its write lock."""
        if directory.exists() and not directory.is_dir():
            raise StateError(f"the state DIR {directory} is not a directory")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / STATE_FILE
        try:
            connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise StateError(f"cannot open the state file {path}: {e}") from e
        store = cls(path, connection)
        try:
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            connection.close()
            if "locked" in str(e) or "busy" in str(e):
                raise StateError(
                    f"the state DIR {directory} is in use by another tipshare-audit run",
                    hint="Wait for the other run to finish; runs on one state DIR cannot overlap.",
                ) from e
            raise StateError(f"the state file {path} cannot be used: {e}") from e
        except sqlite3.DatabaseError as e:
            connection.close()
            raise StateError(f"{path} is not a tipshare-audit state file: {e}") from e
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
            elif found != str(FORMAT):
                raise StateError(
                    f"{self._path} has state format {found}; this tipshare-audit reads format {FORMAT}",
                    hint="Use the tipshare-audit version that wrote it, or start a new state DIR.",
                )
        except sqlite3.DatabaseError as e:
            raise StateError(f"{self._path} is not a tipshare-audit state file: {e}") from e

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
            raise StateError(f"{self._path} already pins a log key; it is never replaced")
        pinned = PinnedLog(vkey=vkey, origin=origin, how=how, pinned_at=format_timestamp(now))
        for key, value in (
            ("log_vkey", vkey),
            ("log_origin", origin),
            ("pinned_how", how),
            ("pinned_at", pinned.pinned_at),
        ):
            self._set_meta(key, value)
        return pinned

    def remember_hub_url(self, url: str) -> None:
        self._set_meta("hub_url", url)

    # ------------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[SeenCheckpoint]:
        """Every checkpoint seen, by size."""
        rows = self._db.execute("SELECT size, root, note FROM checkpoints ORDER BY size").fetchall()
        return [SeenCheckpoint(size=int(size), root_hash=bytes(root), note=str(note)) for size, root, note in rows]

    def add_checkpoint(self, checkpoint: SeenCheckpoint, *, now: datetime) -> None:
        """Record a verified checkpoint (a second, equal sighting changes nothing)."""
        found = self._db.execute("SELECT root FROM checkpoints WHERE size = ?", (checkpoint.size,)).fetchone()
        if found is not None:
            if bytes(found[0]) != checkpoint.root_hash:
                raise StateError(f"refusing to record a second root hash for tree size {checkpoint.size}")
            return
        self._db.execute(
            "INSERT INTO checkpoints (size, root, note, seen_at) VALUES (?, ?, ?, ?)",
            (checkpoint.size, checkpoint.root_hash, checkpoint.note, format_timestamp(now)),
        )

    # ------------------------------------------------------------------ entries

    def entry_count(self) -> int:
        """How many entries the state holds: always the indices ``0 .. count - 1``."""
        count, last = self._db.execute("SELECT COUNT(*), MAX(idx) FROM entries").fetchone()
        if count and last != count - 1:
            raise StateError(f"{self._path} is corrupt: it holds {count} log entries, the last with index {last}")
        return int(count)

    def add_entries(self, entries: Iterable[tuple[int, bytes, bytes]]) -> None:
        """Add ``(index, leaf_hash, data)`` entries (within the run's transaction)."""
        try:
            self._db.executemany("INSERT INTO entries (idx, leaf_hash, data) VALUES (?, ?, ?)", entries)
        except sqlite3.IntegrityError as e:
            raise StateError(f"refusing to overwrite a log entry already in {self._path}: {e}") from e

    def leaf_hashes(self) -> list[bytes]:
        return [bytes(h) for (h,) in self._db.execute("SELECT leaf_hash FROM entries ORDER BY idx")]

    def iter_entries(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(index, data)`` of the entries ``start <= index < stop``, in order."""
        query = "SELECT idx, data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
        upper = stop if stop is not None else 2**63 - 1
        for index, data in self._db.execute(query, (start, upper)):
            yield int(index), bytes(data)

    def entry(self, index: int) -> bytes | None:
        found = self._db.execute("SELECT data FROM entries WHERE idx = ?", (index,)).fetchone()
        return None if found is None else bytes(found[0])

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
