# SPDX-License-Identifier: Apache-2.0
"""Storage faults on SQLite: a full disk and a read-only database give clear errors, never a half-written hub.

* **Disk full** is real SQLITE_FULL: ``PRAGMA max_page_count`` caps every connection of the hub's engine a few
  pages above the file's size, so an ingest runs out of space half-way through its transaction (after the log
  entry and the submission row are written, while the rollups are). The client gets a 507 problem detail
  that names no path, the server log says which file system to free, the database is exactly as it was, reads go
  on, and once there is room the very same envelope is accepted.
* **Read-only** is the file opened with a ``mode=ro`` URL, and a file without write permission (only where the
  test's user obeys permissions: root writes through them, so as root that case runs in a child process without
  CAP_DAC_OVERRIDE, or is skipped). Writes get a 503 problem detail, reads go on, nothing changes.
* **The command line**: ``serve`` refuses a read-only database before uvicorn starts, and ``db upgrade`` reports a
  full disk or a read-only database as one paragraph naming the file, not a traceback.

With ``--backend postgresql`` the SQLite cases are skipped and a read-only PostgreSQL database
(``default_transaction_read_only``) is checked instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from hub.app import create_app
from hub.cli import common as cli_common
from hub.cli import main
from hub.cli import server as cli_serve
from hub.context import HubContext
from hub.db import database_busy, make_engine, read_session
from hub.services.logcheck import check_log
from hub.services.rebuild import check_rollups
from hub.settings import Settings
from protocol.crypto import SigningKey
from protocol.messages import Receipt, SubmissionPayload
from protocol.receipt import verify_receipt
from tests.support.hubkit import assert_problem, dump_database
from tests.support.hubs import EnrolledHotline, HubUnderTest
from tools.served_hub import free_port

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = "la-strada-md"
#: Pages a capped database may still grow by: room for the log entry and the submission row of a release of every
#: table but the corridor matrix (~10 kB each), not for the rollups of its ~2 300 cells (~200 pages).
SPARE_PAGES = 40


@pytest.fixture
def sqlite_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--backend") != "sqlite":
        pytest.skip("SQLite storage faults (the PostgreSQL pass checks a read-only PostgreSQL database)")


@pytest.fixture
def postgresql_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--backend") != "postgresql":
        pytest.skip("PostgreSQL only (the SQLite pass checks read-only SQLite files)")


@pytest.fixture
def hotline(sqlite_only: None, hub: HubUnderTest) -> EnrolledHotline:
    enrolled = hub.enroll(HOTLINE, "MD")
    hub.submit(_release(hub, "2026-08", tables=("contacts",)))  # the hub already holds a submission
    return enrolled


def _release(hub: HubUnderTest, period: str, tables: tuple[str, ...] | None = None) -> SubmissionPayload:
    """A release of ``tables`` (default: every table of at most 1 000 cells, i.e. all but the corridor matrix)."""
    taxonomy = hub.context.taxonomy
    names = tables or tuple(name for name in taxonomy.tables if taxonomy.table(name).cell_count <= 1000)
    cells = {name: [(i * 7) % 23 - 5 for i in range(taxonomy.table(name).cell_count)] for name in names}
    return hub.release(HOTLINE, period, cells=cells, tables=names)


def _database_file(hub: HubUnderTest) -> Path:
    return hub.context.settings.data_dir / "hub.sqlite"


@contextmanager
def _disk_full(engine: Engine, spare_pages: int) -> Iterator[None]:
    """Every connection of ``engine`` may grow the file by ``spare_pages`` pages at most (then SQLITE_FULL)."""

    def cap(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + spare_pages}")

    engine.dispose()  # pooled connections were opened without the cap
    event.listen(engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()


@contextmanager
def _statements(engine: Engine) -> Iterator[tuple[list[str], list[tuple[str, BaseException]]]]:
    """The statements ``engine`` ran, and those that failed with their driver error."""
    done: list[str] = []
    failed: list[tuple[str, BaseException]] = []

    def ran(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        done.append(statement)

    def error(context: Any) -> None:
        failed.append((context.statement or "", context.original_exception))

    event.listen(engine, "after_cursor_execute", ran)
    event.listen(engine, "handle_error", error)
    try:
        yield done, failed
    finally:
        event.remove(engine, "after_cursor_execute", ran)
        event.remove(engine, "handle_error", error)


def _inserted_tables(statements: list[str]) -> set[str]:
    return {s.split()[2] for s in statements if s.upper().startswith("INSERT INTO")}


def _assert_private(response: Any, data_dir: Path) -> None:
    """A problem detail that says what happened and nothing about where or how the hub keeps its data."""
    assert str(data_dir) not in response.text, response.text
    for internal in ("traceback", "sqlite", "driver", "mode=ro"):
        assert internal not in response.text.lower(), response.text


def _assert_reads_work(hub: HubUnderTest, client: TestClient, checkpoint: str) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/hub").status_code == 200
    latest = client.get("/v1/log/checkpoint", headers=hub.auth("auditor"))
    assert (latest.status_code, latest.text) == (200, checkpoint)
    entries = client.get("/v1/log/entries", headers=hub.auth("auditor"))
    assert entries.status_code == 200, entries.text
    assert len(entries.json()["entries"]) == entries.json()["tree_size"] == 2
    stored = client.get("/v1/submissions/1", headers=hub.auth("auditor"))
    assert stored.status_code == 200, stored.text


def _public_key() -> str:
    return SigningKey.generate().verify_key.to_text()


def _checkpoint(hub: HubUnderTest) -> str:
    return hub.client.get("/v1/log/checkpoint", headers=hub.auth("auditor")).text


def _assert_consistent(hub: HubUnderTest) -> None:
    with read_session(hub.context.sessions) as session:
        assert check_log(session, signer=hub.context.log_signer).ok
        assert check_rollups(session, hub.context.taxonomies) == []


# ----------------------------------------------------------------------------------------------- disk full


def test_a_full_disk_during_ingest_is_a_507_and_stores_nothing_until_there_is_room(
    hotline: EnrolledHotline, hub: HubUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    body = hub.envelope_bytes(_release(hub, "2026-09"))
    checkpoint = _checkpoint(hub)
    before = dump_database(hub.context.engine)

    with (
        _disk_full(hub.context.engine, SPARE_PAGES),
        _statements(hub.context.engine) as (done, failed),
        caplog.at_level(logging.ERROR, logger="tipshare.hub"),
    ):
        response = hub.post_envelope(body)
        _assert_reads_work(hub, hub.client, checkpoint)
        assert dump_database(hub.context.engine) == before  # nothing half-written

    assert_problem(response, 507, "storage_full", "disk is full", "nothing was stored")
    _assert_private(response, hub.context.settings.data_dir)
    # SQLite really ran out of pages, and it did so in the middle of the ingest's transaction: after it had
    # inserted rows into several tables (the log entry, the submission), which were all rolled back.
    assert [type(e).__name__ for _, e in failed] == ["OperationalError"], failed
    statement, error = failed[0]
    assert isinstance(error, sqlite3.OperationalError)
    assert error.sqlite_errorname == "SQLITE_FULL"
    assert statement.upper().startswith("INSERT"), statement
    assert len(_inserted_tables(done)) >= 2, done
    # The operator reads which file system to free, in the server log only.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    where = f"the file system that holds {_database_file(hub)}"
    assert f"StorageFull: the database disk is full: free space on {where}" in logged, logged
    assert "Traceback" not in caplog.text

    # Room again: the very same envelope is accepted, and the hub is whole.
    again = hub.post_envelope(body)
    assert again.status_code == 201, again.text
    receipt = Receipt.from_canonical(again.content)
    assert receipt.leaf_index == 2
    verify_receipt(receipt, log_key=hub.log_key)
    _assert_consistent(hub)


# ----------------------------------------------------------------------------------------------- read-only


def _writes_through_permissions(directory: Path) -> bool:
    """Whether this process can write a file it may not write (root, or CAP_DAC_OVERRIDE)."""
    probe = directory / "permission-probe"
    probe.write_bytes(b"")
    probe.chmod(stat.S_IRUSR)
    try:
        with probe.open("ab"):
            return True
    except PermissionError:
        return False
    finally:
        probe.chmod(stat.S_IRUSR | stat.S_IWUSR)
        probe.unlink()


@contextmanager
def _read_only_hub(hub: HubUnderTest, how: str) -> Iterator[TestClient]:
    """A second app on the same database, opened read-only the way ``how`` says."""
    database = _database_file(hub)
    if how == "mode=ro":
        url = f"sqlite:///file:{database}?mode=ro&uri=true"
    else:
        if _writes_through_permissions(database.parent):
            pytest.skip("this user writes through file permissions (root): see the serve test for that case")
        database.chmod(stat.S_IRUSR | stat.S_IRGRP)
        url = f"sqlite:///{database}"
    context = HubContext.open(Settings(data_dir=hub.context.settings.data_dir, database_url=url), clock=hub.clock)
    try:
        with TestClient(create_app(context=context)) as client:
            yield client
    finally:
        context.engine.dispose()
        database.chmod(stat.S_IRUSR | stat.S_IWUSR)


@pytest.mark.parametrize("how", ["mode=ro", "permissions"])
def test_a_read_only_database_refuses_writes_clearly_and_keeps_serving_reads(
    hotline: EnrolledHotline, hub: HubUnderTest, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = hub.envelope_bytes(_release(hub, "2026-09", tables=("contacts",)))
    checkpoint = _checkpoint(hub)
    before = dump_database(hub.context.engine)

    with _read_only_hub(hub, how) as client, caplog.at_level(logging.ERROR, logger="tipshare.hub"):
        submitted = client.post("/v1/submissions", content=body, headers={"Content-Type": "application/json"})
        enrolled = client.post(
            "/v1/admin/hotlines",
            json={"id": "new-hotline", "display_name": "New", "country": "UA", "public_key": _public_key()},
            headers=hub.auth("admin"),
        )
        _assert_reads_work(hub, client, checkpoint)

    for response in (submitted, enrolled):
        assert_problem(response, 503, "database_read_only", "read-only", "nothing was stored")
        _assert_private(response, hub.context.settings.data_dir)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    database = _database_file(hub)
    expected = {
        "mode=ro": f"the database is read-only: the database URL opens {database} with mode=ro",
        "permissions": f"the database is read-only: check permissions of {database} and of its directory",
    }[how]
    assert expected in logged, logged
    assert "Traceback" not in caplog.text
    assert dump_database(hub.context.engine) == before
    assert hub.post_envelope(body).status_code == 201  # read-write again: accepted


# ----------------------------------------------------------------------------------------------- the CLI


def _no_server(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("uvicorn must not start")


def _empty_database(path: Path) -> None:
    """A SQLite file in WAL mode with no schema (one page), as `tipshare-hub db upgrade` may meet it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def test_serve_refuses_a_read_only_database_before_uvicorn_starts(
    hotline: EnrolledHotline, hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_serve, "run", _no_server)
    database = _database_file(hub)
    url = f"sqlite:///file:{database}?mode=ro&uri=true"

    code = main(["serve", "--data-dir", str(database.parent), "--database-url", url])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith(
        f"DatabaseReadOnly: the database is read-only: the database URL opens {database} with mode=ro"
    )
    assert "Traceback" not in err


@pytest.mark.slow
def test_serve_refuses_a_database_file_it_may_not_write(hotline: EnrolledHotline, hub: HubUnderTest) -> None:
    """The real command in a child process that obeys file permissions (as root: without CAP_DAC_OVERRIDE)."""
    database = _database_file(hub)
    prefix: list[str] = []
    if _writes_through_permissions(database.parent):
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, and no setpriv to drop CAP_DAC_OVERRIDE for the child")
        dropped = "-dac_override,-dac_read_search,-fowner"
        prefix = [setpriv, "--bounding-set", dropped, "--inh-caps", dropped]
    hub.context.engine.dispose()
    database.chmod(stat.S_IRUSR | stat.S_IRGRP)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TIPSHARE_HUB_")}
    command = [*prefix, sys.executable, "-m", "hub.cli", "serve", "--data-dir", str(database.parent)]
    command += ["--port", str(free_port())]
    try:
        result = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        database.chmod(stat.S_IRUSR | stat.S_IWUSR)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Serving hub" not in result.stdout
    assert result.stderr.startswith(
        f"DatabaseReadOnly: the database is read-only: check permissions of {database} and of its directory"
    ), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
def test_db_upgrade_reports_a_storage_fault_in_one_paragraph(
    sqlite_only: None, tmp_path: Path, fault: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "hub" / "hub.sqlite"
    _empty_database(database)
    url = f"sqlite:///{database}"
    if fault == "read-only":
        url = f"sqlite:///file:{database}?mode=ro&uri=true"
    else:

        def capped(*args: Any, **kwargs: Any) -> Engine:
            engine = make_engine(*args, **kwargs)
            event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA max_page_count = 1"))
            return engine

        monkeypatch.setattr(cli_common, "make_engine", capped)

    code = main(["db", "upgrade", "--data-dir", str(database.parent), "--database-url", url])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    expected = {
        "disk full": f"StorageFull: the database disk is full: free space on the file system that holds {database}",
        "read-only": f"DatabaseReadOnly: the database is read-only: the database URL opens {database} with mode=ro",
    }[fault]
    assert err.startswith(expected), err
    assert "Traceback" not in err
    with sqlite3.connect(database) as connection:  # the failed migration left no table behind
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []


# ----------------------------------------------------------------------------------------------- PostgreSQL


def test_a_read_only_postgresql_database_refuses_writes_clearly(
    postgresql_only: None, hub: HubUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    hub.enroll(HOTLINE, "MD")
    hub.submit(_release(hub, "2026-08", tables=("contacts",)))
    checkpoint = _checkpoint(hub)
    engine = hub.context.engine
    name = engine.url.database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    engine.dispose()
    before = dump_database(engine)
    try:
        with caplog.at_level(logging.ERROR, logger="tipshare.hub"):
            response = hub.post_envelope(hub.envelope_bytes(_release(hub, "2026-09", tables=("contacts",))))
            _assert_reads_work(hub, hub.client, checkpoint)
        assert dump_database(engine) == before
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SET default_transaction_read_only = off"))
            connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off'))
        engine.dispose()
    assert_problem(response, 503, "database_read_only", "read-only", "nothing was stored")
    assert "postgresql" not in response.text
    assert "refuses writes (a standby, or default_transaction_read_only is on)" in caplog.text


def _real_lock_error(tmp_path: Path) -> OperationalError:
    """The error SQLite really raises when another connection holds the write lock past the busy timeout."""
    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0)
    try:
        waiter.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        return OperationalError("BEGIN IMMEDIATE", {}, e)
    finally:
        waiter.close()
        holder.close()
    raise AssertionError("the second writer got the lock")


def test_a_database_locked_past_the_busy_timeout_is_a_503_with_retry_after(hub: HubUnderTest, tmp_path: Path) -> None:
    error = _real_lock_error(tmp_path)
    busy = database_busy(error)
    assert busy is not None
    assert database_busy(OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: t"))) is None
    app = hub.client.app

    @app.get("/test-only/locked")  # type: ignore[attr-defined,untyped-decorator]
    def locked() -> None:
        raise error

    response = TestClient(app).get("/test-only/locked")
    assert_problem(response, 503, "database_busy", "busy", "Try again")
    assert response.headers["Retry-After"] == "5"
    assert "locked" not in response.text  # the driver's words stay in the server
