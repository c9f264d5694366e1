# SPDX-License-Identifier: Apache-2.0
"""What a running hub holds: settings, database, keys, identity, taxonomies and a clock.

Built once by :func:`hub.app.create_app` (or by the CLI) and passed around explicitly; there are no globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, false, select, update
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from hub.db import begin_write, make_engine, make_sessionmaker, read_session, storage_fault
from hub.errors import DatabaseUnavailable, NotFound, NotInitialised
from hub.keys import HubKeys, load_keys
from hub.metrics import Metrics
from hub.models import HubMeta, TaxonomyDocument
from hub.settings import Settings
from protocol.note import NoteSigner
from protocol.taxonomy import Taxonomy, parse_taxonomy

__all__ = ["META_LOG_ORIGIN", "META_TAXONOMY", "HubContext", "utc_now"]

META_LOG_ORIGIN = "log_origin"
META_TAXONOMY = "current_taxonomy"


def utc_now() -> datetime:
    """Now, in whole seconds: the log records whole seconds, so every decision uses the time it records."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(slots=True)
class HubContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: HubKeys
    origin: str
    taxonomies: dict[str, Taxonomy]
    current_taxonomy_id: str
    clock: Callable[[], datetime] = utc_now
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    def open(
        cls, settings: Settings, *, clock: Callable[[], datetime] = utc_now, engine: Engine | None = None
    ) -> HubContext:
        """Open an initialised hub: its database (migrated) and key files."""
        engine = engine or make_engine(settings.resolved_database_url)
        sessions = make_sessionmaker(engine)
        keys = load_keys(settings.keys_dir)
        try:
            with engine.connect():
                pass
        except OperationalError as e:
            if (fault := storage_fault(e, engine.url)) is not None:
                raise fault from e
            raise DatabaseUnavailable(
                f"cannot reach the hub database at {engine.url.render_as_string()}: {e.orig}"
            ) from None
        try:
            with read_session(sessions) as session:
                meta = {row.key: row.value for row in session.scalars(select(HubMeta))}
                taxonomies = {doc.id: parse_taxonomy(doc.document) for doc in session.scalars(select(TaxonomyDocument))}
        except (OperationalError, ProgrammingError) as e:  # no schema: a database never initialised or migrated
            if (fault := storage_fault(e, engine.url)) is not None:
                raise fault from e
            raise NotInitialised(
                f"the database at {engine.url.render_as_string()} is not a tipshare hub database; "
                "run `tipshare-hub init` (new hub) or `tipshare-hub db upgrade` (existing hub)"
            ) from e
        if META_LOG_ORIGIN not in meta or META_TAXONOMY not in meta:
            raise NotInitialised("the hub database has no identity yet: run `tipshare-hub init`")
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            keys=keys,
            origin=meta[META_LOG_ORIGIN],
            taxonomies=taxonomies,
            current_taxonomy_id=meta[META_TAXONOMY],
            clock=clock,
        )

    def check_writable(self) -> None:
        """Raise :class:`~hub.errors.StorageFault` if the database refuses writes; changes nothing.

        A write statement that matches no row still needs write access (SQLite: a writable file and directory;
        PostgreSQL: a primary, read-write session), so a read-only database is found before anyone submits.
        """
        with self.sessions() as session:
            try:
                begin_write(session)
                session.execute(update(HubMeta).where(false()).values(value=HubMeta.value))
            except DBAPIError as e:
                if (fault := storage_fault(e, self.engine.url)) is not None:
                    raise fault from e
                raise
            finally:
                session.rollback()

    @property
    def log_signer(self) -> NoteSigner:
        return self.keys.log_signer(self.origin)

    @property
    def taxonomy(self) -> Taxonomy:
        return self.taxonomies[self.current_taxonomy_id]

    def taxonomy_by_id(self, taxonomy_id: str) -> Taxonomy:
        try:
            return self.taxonomies[taxonomy_id]
        except KeyError:
            raise NotFound(f"this hub has no taxonomy {taxonomy_id!r}") from None
