# SPDX-License-Identifier: Apache-2.0
"""Database engines and sessions: SQLite by default, PostgreSQL when the URL says so.

Writers are serialized, because the transparency log must have exactly one writer at a time:

* **SQLite**: WAL journal, ``synchronous=FULL`` (an acknowledged submission survives power loss), foreign keys
  on, a busy timeout; a session opened with :func:`write_session` starts with ``BEGIN IMMEDIATE``, so two
  writers (threads or worker processes) queue instead of failing on a stale snapshot.
* **PostgreSQL**: :func:`lock_writer` takes a transaction-scoped advisory lock, so several hub workers append to
  the log one at a time.

Readers never block writers (WAL; MVCC).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "WRITER_LOCK_ID",
    "begin_write",
    "is_sqlite",
    "lock_writer",
    "make_engine",
    "make_sessionmaker",
    "read_session",
    "write_session",
]

#: Advisory lock key of the single log writer (PostgreSQL).
WRITER_LOCK_ID: Final = 0x7469707368617265  # "tipshare"
_WRITE_OPTION: Final = "tipshare_write"


def is_sqlite(engine_or_connection: Engine | Connection) -> bool:
    return engine_or_connection.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with tipshare's connection settings for the URL's backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that BEGIN is ours to issue (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def begin_write(session: Session) -> None:
    """Make ``session``'s transaction a writer's: call before anything else runs in it.

    On PostgreSQL the writer runs at READ COMMITTED whatever the server's default: each statement after the advisory
    lock must see what the previous writer committed (under REPEATABLE READ the snapshot would predate the lock).
    """
    options: dict[str, object] = {_WRITE_OPTION: True}
    if not is_sqlite(session.get_bind()):
        options["isolation_level"] = "READ COMMITTED"
    session.connection(execution_options=options)
    lock_writer(session)


def lock_writer(session: Session) -> None:
    """Serialize writers: on PostgreSQL an advisory lock held until the transaction ends (SQLite: BEGIN IMMEDIATE)."""
    connection = session.connection()
    if not is_sqlite(connection):
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK_ID})


@contextmanager
def write_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One writer transaction: commit on success, roll back on any error."""
    with factory() as session:
        begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One read transaction (a consistent snapshot on both backends)."""
    with factory() as session:
        connection = session.connection()
        if not is_sqlite(connection):
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield session
        finally:
            session.rollback()
