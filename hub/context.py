# SPDX-License-Identifier: Apache-2.0
"""What a running hub holds: settings, database, keys, identity, taxonomies and a clock.

Built once by :func:`hub.app.create_app` (or by the CLI) and passed around explicitly; there are no globals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, false, select, update
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from hub.db import begin_write, make_engine, make_sessionmaker, read_session, storage_fault, write_session
from hub.errors import DatabaseUnavailable, NotFound, NotInitialised
from hub.keys import HubKeys, load_keys
from hub.metrics import Metrics
from hub.models import HubMeta
from hub.services.handover import META_ENCRYPTION_KEY, META_LOG_VKEY, retired_envelope_windows
from hub.services.taxonomies import META_TAXONOMY, TaxonomyRegistry, union_tables
from hub.settings import Settings
from protocol.crypto import EncryptionKey, SealingKey
from protocol.note import NoteSigner, NoteVerifier
from protocol.taxonomy import Table, Taxonomy, builtin_taxonomies

__all__ = ["META_LOG_ORIGIN", "META_TAXONOMY", "HubContext", "utc_now"]

META_LOG_ORIGIN = "log_origin"
_log = logging.getLogger("hub")


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
    #: Envelope keys handed over from, with the end of their grace period (:mod:`hub.services.handover`).
    retired_envelopes: tuple[tuple[EncryptionKey, datetime], ...] = ()

    @classmethod
    def open(
        cls, settings: Settings, *, clock: Callable[[], datetime] = utc_now, engine: Engine | None = None
    ) -> HubContext:
        """Open an initialised hub: its database (migrated) and key files.

        Built-in taxonomies the database lacks (a hub created by an older build) are registered here, without
        changing the current taxonomy (:mod:`hub.services.taxonomies` explains why here).
        """
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
                taxonomies = {taxonomy.id: taxonomy for taxonomy in TaxonomyRegistry(session).registered()}
        except (OperationalError, ProgrammingError) as e:  # no schema: a database never initialised or migrated
            if (fault := storage_fault(e, engine.url)) is not None:
                raise fault from e
            raise NotInitialised(
                f"the database at {engine.url.render_as_string()} is not a tipshare hub database; "
                "run `tipshare-hub init` (new hub) or `tipshare-hub db upgrade` (existing hub)"
            ) from e
        if META_LOG_ORIGIN not in meta or META_TAXONOMY not in meta:
            raise NotInitialised("the hub database has no identity yet: run `tipshare-hub init`")
        keys, retired = _handed_over_keys(settings, keys, meta)
        if any(builtin.id not in taxonomies for builtin in builtin_taxonomies()):
            taxonomies = _register_builtins(engine, sessions, clock(), taxonomies)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            keys=keys,
            origin=meta[META_LOG_ORIGIN],
            taxonomies=taxonomies,
            current_taxonomy_id=meta[META_TAXONOMY],
            clock=clock,
            retired_envelopes=retired,
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

    def envelope_keys(self, now: datetime) -> list[EncryptionKey]:
        """The keys that open an envelope received at ``now``: the current one, then retired ones in grace."""
        return [self.keys.envelope, *(key for key, until in self.retired_envelopes if now < until)]

    @property
    def log_signer(self) -> NoteSigner:
        return self.keys.log_signer(self.origin)

    @property
    def taxonomy(self) -> Taxonomy:
        """The current taxonomy: the one ``GET /v1/hub`` names and newly set-up nodes follow."""
        return self.taxonomies[self.current_taxonomy_id]

    @property
    def tables(self) -> Mapping[str, Table]:
        """Every table of every registered taxonomy, by name (a name means the same cells in all of them)."""
        return union_tables(self.taxonomies.values())

    def taxonomy_for_table(self, name: str) -> Taxonomy:
        """The taxonomy that describes table ``name``: the current one if it has the table, else the newest
        registered one that has it (a name means the same cells in every taxonomy)."""
        if name in self.taxonomy.tables:
            return self.taxonomy
        for taxonomy in reversed(list(self.taxonomies.values())):
            if name in taxonomy.tables:
                return taxonomy
        raise NotFound(
            f"no taxonomy of this hub ({', '.join(self.taxonomies)}) has a table {name!r}; the tables are: "
            + ", ".join(sorted(self.tables))
        )

    def taxonomy_by_id(self, taxonomy_id: str) -> Taxonomy:
        try:
            return self.taxonomies[taxonomy_id]
        except KeyError:
            raise NotFound(f"this hub has no taxonomy {taxonomy_id!r}") from None


def _handed_over_keys(
    settings: Settings, keys: HubKeys, meta: dict[str, str]
) -> tuple[HubKeys, tuple[tuple[EncryptionKey, datetime], ...]]:
    """After a key handover: the keys the log names as current (finishing an interrupted rotation), and the
    retired envelope keys with the end of their grace period."""
    if META_LOG_VKEY not in meta:
        return keys, ()
    keys = load_keys(
        settings.keys_dir,
        log_public=NoteVerifier.from_vkey(meta[META_LOG_VKEY]).key,
        envelope_public=SealingKey.from_text(meta[META_ENCRYPTION_KEY]),
    )
    windows = retired_envelope_windows(meta)
    retired = tuple(
        (key, windows[text]) for key in keys.retired_envelopes if (text := key.public_key.to_text()) in windows
    )
    return keys, retired


def _register_builtins(
    engine: Engine, sessions: sessionmaker[Session], now: datetime, taxonomies: dict[str, Taxonomy]
) -> dict[str, Taxonomy]:
    """Register the built-in taxonomies a database lacks. A database that refuses the write (read-only, full)
    keeps what it has: such a hub accepts no submission anyway, and reading it must still work."""
    try:
        with write_session(sessions) as session:
            registry = TaxonomyRegistry(session)
            added = registry.register_builtins(now=now)
            registered = {t.id: t for t in registry.registered()}
    except DBAPIError as e:
        if (fault := storage_fault(e, engine.url)) is None:
            raise
        _log.warning("built-in taxonomies not registered (%s); the hub accepts only %s", fault, ", ".join(taxonomies))
        return taxonomies
    if added:
        _log.info("registered built-in taxonomies %s (the current taxonomy is unchanged)", ", ".join(added))
    return registered
