# SPDX-License-Identifier: Apache-2.0
"""Database engines and sessions: SQLite by default, PostgreSQL when the URL says so.

Writers are serialized, because the transparency log must have exactly one writer at a time:

* **SQLite**: WAL journal, ``synchronous=FULL`` (an acknowledged submission survives power loss), foreign keys
  on, a busy timeout; a session opened with :func:`write_session` starts with ``BEGIN IMMEDIATE``, so two
  writers (threads or worker processes) queue instead of failing on a stale snapshot.
* **PostgreSQL**: :func:`lock_writer` takes a transaction-scoped advisory lock, so several hub workers append to
  the log one at a time.

Readers never block writers (WAL; MVCC).

When the storage refuses a write (the disk is full, the database is read-only, an I/O error), the driver's error
is not the operator's language: :func:`storage_fault` turns it into a :class:`~hub.errors.StorageFault` that says
what to check and where, for the web layer and the command line to report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import DatabaseBusy, DatabaseReadOnly, StorageFault, StorageFull

__all__ = [
    "WRITER_LOCK_ID",
    "begin_write",
    "immediate_write",
    "is_sqlite",
    "lock_writer",
    "make_engine",
    "make_sessionmaker",
    "read_session",
    "sqlite_file",
    "storage_fault",
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


def immediate_write() -> dict[str, object]:
    """Execution options that begin a Core connection's transaction as a writer's (SQLite: ``BEGIN IMMEDIATE``),
    without the log writer's lock (for small writes that must not queue behind an append, like rate limits)."""
    return {_WRITE_OPTION: True}


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


# ------------------------------------------------------------------------------------------- storage faults

_Fault = Literal["full", "read_only", "io"]
#: SQLite primary result codes (https://sqlite.org/rescode.html; extended codes keep them in the low byte). A file
#: SQLite cannot open at all (SQLITE_CANTOPEN) is a database that cannot be reached, not a storage fault.
_SQLITE_FAULTS: Final[dict[int, _Fault]] = {13: "full", 8: "read_only", 10: "io"}
#: PostgreSQL SQLSTATEs (Appendix A): disk_full, read_only_sql_transaction, io_error.
_POSTGRESQL_FAULTS: Final[dict[str, _Fault]] = {"53100": "full", "25006": "read_only", "58030": "io"}
_PUBLIC: Final[dict[_Fault, str]] = {
    "full": "the hub's database disk is full: nothing was stored. Try again later.",
    "read_only": "the hub's database is read-only: nothing was stored. Try again later.",
    "io": "the hub's database storage failed: nothing was stored. Try again later.",
}


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, URI filenames (``sqlite:///file:/srv/hub.sqlite?mode=ro&uri=true``) included.

    ``None`` for other backends and in-memory databases.
    """
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = url.database
    if url.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:")
        database = database.removeprefix("//") if database.startswith("///") else database
    return Path(database)


def storage_fault(error: DBAPIError, url: URL) -> StorageFault | None:
    """The operator's error for a driver error that means the storage refused (``None`` for any other error).

    The message is fit for remote clients; ``server_detail`` names the database's location and what to check.
    """
    fault = _fault(error.orig)
    if fault is None:
        return None
    driver = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    path = sqlite_file(url)
    detail = _sqlite_detail(fault, path, read_only_url=url.query.get("mode") == "ro") if path else None
    if detail is None:
        detail = _server_detail(fault, url.render_as_string(hide_password=True))
    detail = f"{detail} (the driver said: {driver})"
    cls = {"full": StorageFull, "read_only": DatabaseReadOnly}.get(fault, StorageFault)
    return cls(_PUBLIC[fault], server_detail=detail)


#: SQLite SQLITE_BUSY and SQLITE_LOCKED; PostgreSQL serialization_failure, deadlock_detected, lock_not_available.
_SQLITE_BUSY: Final = frozenset({5, 6})
_POSTGRESQL_BUSY: Final = frozenset({"40001", "40P01", "55P03"})


def database_busy(error: DBAPIError) -> DatabaseBusy | None:
    """A :class:`DatabaseBusy` for a driver error that means "locked, try again" (``None`` for any other error)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    state = getattr(error.orig, "sqlstate", None)
    if (isinstance(code, int) and code & 0xFF in _SQLITE_BUSY) or state in _POSTGRESQL_BUSY:
        return DatabaseBusy("the hub's database is busy: nothing was stored. Try again shortly.", retry_after=5)
    return None


def _fault(orig: BaseException | None) -> _Fault | None:
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_FAULTS.get(code & 0xFF)
    state = getattr(orig, "sqlstate", None)
    return _POSTGRESQL_FAULTS.get(state) if isinstance(state, str) else None


def _sqlite_detail(fault: _Fault, path: Path, *, read_only_url: bool) -> str:
    if fault == "full":
        return (
            f"the database disk is full: free space on the file system that holds {path} (SQLite also needs room "
            f"there for {path.name}-wal); nothing was stored"
        )
    if fault == "read_only":
        if read_only_url:
            return f"the database is read-only: the database URL opens {path} with mode=ro; drop it to accept writes"
        return (
            f"the database is read-only: check permissions of {path} and of its directory {path.parent} (the hub's "
            f"user must be able to write both: SQLite creates {path.name}-wal and {path.name}-shm there), and that "
            "the file system is mounted read-write"
        )
    return f"the database storage failed with an I/O error on {path}: check the disk and the file system holding it"


def _server_detail(fault: _Fault, shown_url: str) -> str:
    if fault == "full":
        return f"the database disk is full: the server at {shown_url} has no space left; free space on its volume"
    if fault == "read_only":
        return (
            f"the database is read-only: the server at {shown_url} refuses writes (a standby, or "
            "default_transaction_read_only is on); point TIPSHARE_HUB_DATABASE_URL at the primary"
        )
    return f"the database storage failed: the server at {shown_url} reported an I/O error; check its disk"
