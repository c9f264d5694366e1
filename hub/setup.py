# SPDX-License-Identifier: Apache-2.0
"""Creating a hub: keys, schema, identity. What ``tipshare-hub init`` does (and what tests call)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, select

from hub.context import META_LOG_ORIGIN, META_TAXONOMY, HubContext, utc_now
from hub.db import make_engine, make_sessionmaker, write_session
from hub.errors import BadRequest
from hub.keys import create_keys
from hub.migrate import upgrade
from hub.models import HubMeta, TaxonomyDocument
from hub.settings import Settings
from protocol.taxonomy import Taxonomy, builtin_taxonomy

__all__ = ["initialise_hub", "register_taxonomy"]

_ORIGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/_:]{0,199}$")


def register_taxonomy(engine: Engine, taxonomy: Taxonomy, *, now: datetime, make_current: bool) -> None:
    with write_session(make_sessionmaker(engine)) as session:
        if session.get(TaxonomyDocument, taxonomy.id) is None:
            session.add(
                TaxonomyDocument(
                    id=taxonomy.id,
                    content_hash=taxonomy.content_hash,
                    document=taxonomy.canonical_bytes(),
                    added_at=now,
                )
            )
        if make_current:
            session.merge(HubMeta(key=META_TAXONOMY, value=taxonomy.id))


def initialise_hub(
    settings: Settings,
    *,
    origin: str,
    clock: Callable[[], datetime] = utc_now,
    engine: Engine | None = None,
) -> HubContext:
    """Create the hub's keys and database and record its identity. Refuses to run twice."""
    if not _ORIGIN.match(origin) or " " in origin or "+" in origin:
        raise BadRequest(
            f"log origin {origin!r} is not a valid log name: use a stable name such as hub.example.org/tipshare"
        )
    engine = engine or make_engine(settings.resolved_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(engine)
    with write_session(make_sessionmaker(engine)) as session:
        if session.scalars(select(HubMeta).where(HubMeta.key == META_LOG_ORIGIN)).first() is not None:
            raise BadRequest("this database already belongs to an initialised hub")
    create_keys(settings.keys_dir)
    now = clock()
    with write_session(make_sessionmaker(engine)) as session:
        session.add(HubMeta(key=META_LOG_ORIGIN, value=origin))
    register_taxonomy(engine, builtin_taxonomy(), now=now, make_current=True)
    return HubContext.open(settings, clock=clock, engine=engine)
