# SPDX-License-Identifier: Apache-2.0
"""Rate limits every worker shares: the buckets live in the hub's database, so N workers allow the rate once.

Each bucket is one row of ``rate_limit_buckets`` (:class:`~hub.models.RateBucket`), keyed by class and key, that
holds one number: when the bucket is full again (``full_at``, the generic cell rate algorithm's "theoretical
arrival time"). A request at ``now`` with a rate of ``per_minute`` (one request every ``T = 60 / per_minute`` s,
bursts of up to ``per_minute``) is allowed when ``max(full_at, now) + T - now <= 60`` s, and then moves ``full_at``
to ``max(full_at, now) + T``; it is the token bucket of :class:`hub.ratelimit.RateLimiter`, stored as a time.

One statement decides and records each request, atomically on both backends: an upsert (``INSERT ... ON CONFLICT
DO UPDATE ... RETURNING``), which PostgreSQL runs under the row's lock and SQLite under its single writer lock
(``BEGIN IMMEDIATE``). The buckets are no record of anything, so their writes are not made durable: SQLite
commits them with ``synchronous=NORMAL`` (on its own connections), PostgreSQL with ``synchronous_commit=off``. A
crash may forget the last moments of counting, never the log. Rows whose ``full_at`` has passed mean the same as
no row and are deleted now and then. If the database cannot be reached the request is allowed (the limits protect
the hub's capacity; they are not a security boundary) and the server log says so.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Final, cast

from sqlalchemy import Engine, Table, TextClause, delete, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from hub.db import immediate_write, is_sqlite, make_engine
from hub.models import RateBucket
from hub.ratelimit import Rate

__all__ = ["DatabaseRateLimiter", "bucket_key"]

_log = logging.getLogger("tipshare.hub.ratelimit")
#: A bucket allows a minute's requests in a burst: max(full_at, now) + T - now may reach 60 s (plus rounding).
_WINDOW: Final = 60.0 + 1e-6
#: Expired rows are deleted once every so many requests a worker limits.
PRUNE_EVERY: Final = 4096
_TABLE: Final = cast(Table, RateBucket.__table__)


def bucket_key(key: Hashable) -> str:
    """The row key of a limiter key: its parts joined by ``|`` (a digest when that is over 200 characters)."""
    parts = key if isinstance(key, tuple) else (key,)
    joined = "|".join(str(part) for part in parts)
    return joined if len(joined) <= 200 else "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()


class DatabaseRateLimiter:
    """Token buckets in the database, shared by every worker of the hub (and every hub on the same database)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        # Commits that do not wait for the disk (the log's keep waiting). SQLite: connections of our own, WAL with
        # synchronous=NORMAL, closed when the limiter goes (with its app) or at exit. PostgreSQL: the hub's pool in
        # autocommit, each upsert its own transaction that turns synchronous_commit off for itself.
        if is_sqlite(engine):
            self._engine = _unsynced_sqlite(engine)
            self._upsert = _UPSERT
            self._finalizer: Callable[[], object] = weakref.finalize(self, self._engine.dispose)
        else:
            self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._upsert = _UPSERT_NO_WAIT
            self._finalizer = lambda: None
        self._clock = clock
        self._taken = 0
        self._lock = threading.Lock()

    def dispose(self) -> None:
        self._finalizer()

    def take(self, key: Hashable, rate: Rate) -> int | None:
        """Spend one request from ``key``'s bucket: ``None`` if allowed, else whole seconds to wait."""
        return self.take_many([(key, rate)])

    def take_many(self, buckets: Sequence[tuple[Hashable, Rate]]) -> int | None:
        """Spend one request from each bucket in turn, in one transaction, stopping at the first that is empty."""
        if not buckets:
            return None
        now = self._clock()
        try:
            with self._engine.connect() as connection:
                connection = connection.execution_options(**immediate_write())
                with connection.begin():
                    for key, rate in buckets:
                        wait = _take(connection, self._upsert, bucket_key(key), rate, now)
                        if wait is not None:
                            return wait
                    if self._due_for_pruning():
                        connection.execute(delete(_TABLE).where(_TABLE.c.full_at < now))
        except SQLAlchemyError as e:
            _log.warning("rate limits not applied to this request: the database did not answer (%s)", e)
        return None

    def _due_for_pruning(self) -> bool:
        with self._lock:
            self._taken += 1
            return self._taken % PRUNE_EVERY == 0


#: One request's decision and its record; ``start`` (the CASE) is the bucket's ``full_at`` if still ahead, else
#: now. Written out: building it per request with SQLAlchemy's constructs cost ten times the statement itself.
_DECIDE: Final = """
    ON CONFLICT (key) DO UPDATE SET
      full_at = CASE
        WHEN (CASE WHEN rate_limit_buckets.full_at > :now THEN rate_limit_buckets.full_at ELSE :now END)
             + :step - :now <= :window
        THEN (CASE WHEN rate_limit_buckets.full_at > :now THEN rate_limit_buckets.full_at ELSE :now END) + :step
        ELSE rate_limit_buckets.full_at END,
      last_allowed = (CASE WHEN rate_limit_buckets.full_at > :now THEN rate_limit_buckets.full_at ELSE :now END)
             + :step - :now <= :window
    RETURNING full_at, last_allowed
"""
#: SQLite (in a ``BEGIN IMMEDIATE`` transaction on connections at synchronous=NORMAL).
_UPSERT: Final = text(
    "INSERT INTO rate_limit_buckets (key, full_at, last_allowed) VALUES (:key, :now + :step, TRUE)"  # noqa: S608
    + _DECIDE  # constant text; every value is a bound parameter
)
#: PostgreSQL (autocommit): the statement's own transaction commits without waiting for the WAL flush.
_UPSERT_NO_WAIT: Final = text(
    "INSERT INTO rate_limit_buckets (key, full_at, last_allowed) "  # noqa: S608 - constant text, bound values
    "SELECT :key, :now + :step, TRUE FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_wait" + _DECIDE
)


def _take(connection: Connection, upsert: TextClause, key: str, rate: Rate, now: float) -> int | None:
    interval = 60.0 / rate.per_minute
    parameters = {"key": key, "now": now, "step": interval, "window": _WINDOW}
    full_at, allowed = connection.execute(upsert, parameters).one()
    if allowed:
        return None
    wait: int = math.ceil(max(float(full_at), now) + interval - now - 60.0 - 1e-6)
    return max(1, wait)


def _unsynced_sqlite(engine: Engine) -> Engine:
    limiter_engine = make_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(limiter_engine, "connect")
    def _no_fsync(dbapi_connection: object, _record: object) -> None:  # after make_engine's own pragmas
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return limiter_engine
