# SPDX-License-Identifier: Apache-2.0
"""Which database the hub tests run on: SQLite (default) or PostgreSQL (``pytest --backend postgresql``).

``make test`` runs the whole suite on SQLite, then every database test (marker ``db``, set by ``tests/conftest.py``
on each test that reaches :func:`fresh_database_url` or :func:`fresh_hub_database`) again on PostgreSQL, on a
throwaway cluster that the session starts itself (:mod:`tools.postgres_cluster`).

Migrate once, then copy: a hub's database is a copy of one database migrated per session (a template database on
PostgreSQL, a file copy on SQLite), so each hub skips the migrations. Only the empty schema is shared; the hub's
``init`` still runs (it finds the schema at head) and makes its own keys, identity and taxonomy registrations.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.postgres_cluster import PostgresCluster

__all__ = ["BACKEND", "Backend", "fresh_database_url", "fresh_hub_database"]

#: The file a hub keeps its SQLite database in, inside its data directory (``hub.settings``'s default URL).
SQLITE_FILE = "hub.sqlite"


@dataclass
class Backend:
    name: str = "sqlite"
    cluster: PostgresCluster | None = None
    #: The session's migrated template: a database name (PostgreSQL) or a file (SQLite); made on first use.
    template: str | None = None
    scratch: Path | None = None

    def reset(self) -> None:
        """Forget the session's cluster and template (the end of a session)."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        self.name, self.cluster, self.template, self.scratch = "sqlite", None, None, None


#: Set once per session by ``tests/conftest.py``.
BACKEND = Backend()


@contextmanager
def fresh_database_url() -> Iterator[str | None]:
    """A URL of an empty database for one hub (None: the hub's default SQLite file in its data dir).

    Empty means no schema at all: for tests of the migrations. A hub about to be initialised takes
    :func:`fresh_hub_database`, which is faster.
    """
    if BACKEND.cluster is None:
        yield None
        return
    name = BACKEND.cluster.create_database()
    try:
        yield BACKEND.cluster.url(name)
    finally:
        BACKEND.cluster.drop_database(name)


@contextmanager
def fresh_hub_database(data_dir: Path) -> Iterator[str | None]:
    """A database for a hub to be initialised in ``data_dir``, already migrated to the newest schema (and nothing
    else); yields its URL, or None for the hub's default SQLite file, which is then already in ``data_dir``."""
    if BACKEND.cluster is None:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = data_dir / SQLITE_FILE
        if not target.exists():  # a hub already there refuses a second init, as it would have without the copy
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # what init creates
            with os.fdopen(descriptor, "wb") as out, open(_sqlite_template(), "rb") as template:
                shutil.copyfileobj(template, out)
        yield None
        return
    name = BACKEND.cluster.create_database(template=_postgres_template(BACKEND.cluster))
    try:
        yield BACKEND.cluster.url(name)
    finally:
        BACKEND.cluster.drop_database(name)


def _sqlite_template() -> Path:
    if BACKEND.template is None:
        from hub.db import make_engine
        from hub.migrate import upgrade

        scratch = Path(tempfile.mkdtemp(prefix="tipshare-template-"))
        path = scratch / SQLITE_FILE
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # the last connection folds the WAL back into the file
        BACKEND.scratch, BACKEND.template = scratch, str(path)
    return Path(BACKEND.template)


def _postgres_template(cluster: PostgresCluster) -> str:
    if BACKEND.template is None:
        from hub.db import make_engine
        from hub.migrate import upgrade

        name = cluster.create_database()
        engine = make_engine(cluster.url(name))
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the template to have no connections
        BACKEND.template = name
    return BACKEND.template
