# SPDX-License-Identifier: Apache-2.0
"""Creating a hub: keys, schema, identity. What ``tipshare-hub init`` does (and what tests call)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, make_url, select

from hub.context import META_LOG_ORIGIN, HubContext, utc_now
from hub.dashboard.secret import load_or_create_session_secret
from hub.db import make_engine, make_sessionmaker, read_session, sqlite_file, write_session
from hub.errors import BadRequest
from hub.keys import create_keys
from hub.migrate import current_revision, upgrade
from hub.models import HubMeta
from hub.services.taxonomies import TaxonomyRegistry
from hub.settings import Settings
from protocol.taxonomy import Taxonomy, builtin_taxonomies, latest_taxonomy

__all__ = ["existing_origin", "initialise_hub", "register_taxonomy"]

_ORIGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/_:]{0,199}$")


def register_taxonomy(engine: Engine, taxonomy: Taxonomy, *, now: datetime, make_current: bool) -> None:
    """Register ``taxonomy`` (idempotent; refuses one that reuses a registered table or dimension name for other
    cells: :class:`~hub.errors.TaxonomyConflict`) and, with ``make_current``, publish it."""
    with write_session(make_sessionmaker(engine)) as session:
        registry = TaxonomyRegistry(session)
        registry.register(taxonomy, now=now)
        if make_current:
            registry.make_current(taxonomy.id)


def existing_origin(engine: Engine) -> str | None:
    """The log origin of the hub the database at ``engine`` belongs to; ``None`` for a database with no schema yet
    or no identity (what ``init`` checks before it writes anything)."""
    if current_revision(engine) is None:
        return None
    with read_session(make_sessionmaker(engine)) as session:
        return session.scalar(select(HubMeta.value).where(HubMeta.key == META_LOG_ORIGIN))


def initialise_hub(
    settings: Settings,
    *,
    origin: str,
    clock: Callable[[], datetime] = utc_now,
    engine: Engine | None = None,
) -> HubContext:
    """Create the hub's keys and database and record its identity. Refuses to run twice.

    Every taxonomy this build ships is registered (the hub accepts them all) and the newest is made current.

    The keys are made in a staging directory and moved into place only after the identity is committed, so a
    failure half-way leaves nothing that blocks a second attempt.
    """
    if not _ORIGIN.match(origin) or " " in origin or "+" in origin:
        raise BadRequest(
            f"log origin {origin!r} is not a valid log name: use a stable name such as hub.example.org/tipshare"
        )
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database_file = sqlite_file(make_url(settings.resolved_database_url))
    if database_file is not None:  # the default file or one named by --database-url sqlite:///...
        _create_private_file(database_file)
    engine = engine or make_engine(settings.resolved_database_url)
    upgrade(engine)
    with write_session(make_sessionmaker(engine)) as session:
        if session.scalars(select(HubMeta).where(HubMeta.key == META_LOG_ORIGIN)).first() is not None:
            raise BadRequest("this database already belongs to an initialised hub")
    staging = settings.data_dir / "keys.staging"
    shutil.rmtree(staging, ignore_errors=True)
    create_keys(staging)
    load_or_create_session_secret(staging)  # with the keys, so that replicas given the keys share it
    if settings.keys_dir.exists() and any(settings.keys_dir.iterdir()):
        shutil.rmtree(staging, ignore_errors=True)
        raise BadRequest(f"{settings.keys_dir} already holds keys; the hub is already initialised")
    now = clock()
    try:
        with write_session(make_sessionmaker(engine)) as session:
            session.add(HubMeta(key=META_LOG_ORIGIN, value=origin))
        for taxonomy in builtin_taxonomies():  # every version this build ships; nodes set up now follow the newest
            register_taxonomy(engine, taxonomy, now=now, make_current=taxonomy.id == latest_taxonomy().id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if settings.keys_dir.exists():
        settings.keys_dir.rmdir()
    staging.rename(settings.keys_dir)
    return HubContext.open(settings, clock=clock, engine=engine)


def _create_private_file(path: Path) -> None:
    """Create ``path`` readable only by its owner (a SQLite database holds the hub's whole state).

    SQLite creates the database's ``-wal`` and ``-shm`` files with the database file's own mode, so they are
    private too. A missing directory is created private (0700).
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
