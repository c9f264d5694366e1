# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub version``, ``init`` and ``identity``: what the hub is, and creating it."""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated

import typer

from hub.cli import views
from hub.cli.common import (
    AlreadyInitialised,
    DatabaseURLOption,
    DataDirOption,
    JsonOption,
    database,
    emit,
    open_hub,
    settings_for,
    shown_url,
    sqlite_path,
    state_of,
)
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE
from hub.settings import Settings
from hub.setup import existing_origin, initialise_hub

__all__ = ["identity", "init"]

_log = logging.getLogger("hub")


def init(
    ctx: typer.Context,
    origin: Annotated[
        str,
        typer.Option(
            "--origin",
            help="The log's name, stable for the hub's lifetime, e.g. hub.example.org/tipshare. Hotlines and "
            "auditors pin it.",
            show_default=False,
        ),
    ],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the hub: its keys (X25519 envelopes, Ed25519 log), its database, and its identity."""
    settings = settings_for(data_dir, database_url)
    _refuse_if_initialised(settings)
    with database(settings, must_exist=False, probe=False) as engine:  # the data directory may not exist yet
        context = initialise_hub(settings, origin=origin, clock=state_of(ctx).clock, engine=engine)
        document = views.identity_document(context)
    _log.info("hub %s initialised in %s", origin, settings.data_dir)
    emit(document, as_json, partial(views.show_identity, created=True))


def _refuse_if_initialised(settings: Settings) -> None:
    """Refuse before anything is written if keys or an identity are already there."""
    existing = [settings.keys_dir / name for name in (ENVELOPE_KEY_FILE, LOG_KEY_FILE)]
    if any(path.exists() for path in existing):
        raise AlreadyInitialised(
            f"{settings.data_dir} already holds a hub's keys ({settings.keys_dir}); nothing was changed. "
            "`tipshare-hub init` never replaces keys: a new log key would orphan every receipt the hub has issued. "
            "`tipshare-hub identity` shows this hub's identity."
        )
    file = sqlite_path(settings)
    if file is not None and not file.exists():
        return
    with database(settings, must_exist=False) as engine:
        origin = existing_origin(engine)
    if origin is not None:
        raise AlreadyInitialised(
            f"the database at {shown_url(settings)} already belongs to hub {origin}, but its keys are not in "
            f"{settings.keys_dir}: restore them from your backup (or point --data-dir at them); nothing was changed"
        )


def identity(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the hub's identity and key fingerprints (to read to a hotline over the phone)."""
    with open_hub(state_of(ctx), data_dir, database_url) as context:
        document = views.identity_document(context)
    emit(document, as_json, partial(views.show_identity, created=False))
