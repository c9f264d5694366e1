# SPDX-License-Identifier: Apache-2.0
"""Which database the hub tests run on: SQLite (default) or PostgreSQL (``pytest --backend postgresql``).

``make test`` runs the whole suite on SQLite, then every database-backed test again on PostgreSQL, on a throwaway
cluster that the session starts itself (:mod:`tests.support.postgres`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.postgres import PostgresCluster

__all__ = ["BACKEND", "Backend", "fresh_database_url"]


@dataclass
class Backend:
    name: str = "sqlite"
    cluster: PostgresCluster | None = None
    databases: list[str] = field(default_factory=list)


#: Set once per session by ``tests/conftest.py``.
BACKEND = Backend()


@contextmanager
def fresh_database_url() -> Iterator[str | None]:
    """A URL of an empty database for one hub (None: the hub's default SQLite file in its data dir)."""
    if BACKEND.cluster is None:
        yield None
        return
    name = BACKEND.cluster.create_database()
    try:
        yield BACKEND.cluster.url(name)
    finally:
        BACKEND.cluster.drop_database(name)
