# SPDX-License-Identifier: Apache-2.0
"""What every command of ``tipshare-hub`` shares: the state ``main`` hands them, the options every command takes,
the errors of the command line, and the way to the hub the options point at (:func:`open_hub`).

A command parses its options, opens the hub and a transaction (:func:`hub_session`), calls one service, and
prints (:func:`emit`, with :mod:`hub.cli.views`)::

    @token_app.command("list")
    def token_list(ctx: typer.Context, data_dir: DataDirOption = None, database_url: DatabaseURLOption = None,
                   as_json: JsonOption = False):
        with hub_session(ctx, data_dir, database_url) as (context, session):
            document = [views.token_document(record, context.clock()) for record in TokenService(session).list()]
        emit(document, as_json, views.show_tokens)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session

from appkit.commands import CommandState
from appkit.commands import state_of as command_state
from hub.cli import views
from hub.context import HubContext, utc_now
from hub.db import make_engine, read_session, sqlite_file, storage_fault, write_session
from hub.errors import BadRequest, Conflict, DatabaseUnavailable, HubError, NotInitialised
from hub.settings import Settings

__all__ = [
    "AlreadyInitialised",
    "DataDirOption",
    "DatabaseURLOption",
    "InvalidSettings",
    "JsonOption",
    "SchemaOutOfDate",
    "State",
    "YesOption",
    "database",
    "emit",
    "hub_session",
    "open_hub",
    "settings_for",
    "shown_url",
    "sqlite_path",
    "state_of",
    "validated",
]

_Model = TypeVar("_Model", bound=BaseModel)
_Document = TypeVar("_Document")


class AlreadyInitialised(Conflict):
    """``init`` found keys or an identity already there: it never replaces them."""

    code = "already_initialised"
    title = "Hub already initialised"


class SchemaOutOfDate(HubError):
    """The database schema is not the revision this build expects."""

    code = "schema_out_of_date"
    title = "Database schema out of date"


class InvalidSettings(HubError):
    """A ``TIPSHARE_HUB_*`` variable or option has a value the hub cannot use."""

    code = "invalid_settings"
    title = "Invalid settings"


@dataclass
class State(CommandState):
    """What ``main`` hands every command: the clock (the hub's own) and the root options."""

    clock: Callable[[], datetime] = utc_now


def state_of(ctx: typer.Context) -> State:
    return command_state(ctx, State)


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The hub's data directory: keys/ and the SQLite file (default: TIPSHARE_HUB_DATA_DIR or the per-user "
        "data directory).",
        file_okay=False,
        show_default=False,
    ),
]
DatabaseURLOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://hub@db/tipshare (default: TIPSHARE_HUB_DATABASE_URL or "
        "hub.sqlite in the data directory).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of text and tables.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")]


def settings_for(data_dir: Path | None, database_url: str | None, **more: object) -> Settings:
    """Settings from the environment, with the options the operator typed on top."""
    given: dict[str, Any] = {"data_dir": data_dir, "database_url": database_url, **more}
    try:
        return Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as e:
        wrong = "; ".join(
            f"TIPSHARE_HUB_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in e.errors()
        )
        raise InvalidSettings(f"the hub settings cannot be used ({wrong})") from e


def _url(settings: Settings) -> URL:
    try:
        return make_url(settings.resolved_database_url)
    except ArgumentError as e:
        raise InvalidSettings(f"the database URL is not a URL SQLAlchemy understands: {e}") from e


def shown_url(settings: Settings) -> str:
    return _url(settings).render_as_string(hide_password=True)


def sqlite_path(settings: Settings) -> Path | None:
    """The file of a SQLite database URL (``None`` for other backends and in-memory databases)."""
    return sqlite_file(_url(settings))


@contextmanager
def database(settings: Settings, *, must_exist: bool, probe: bool = True) -> Iterator[Engine]:
    """An engine for the hub's database, with unusable databases reported as :class:`DatabaseUnavailable`.

    With ``must_exist``, a SQLite file that is not there is refused rather than created empty (a mistyped
    ``--data-dir`` should not leave a stray database behind). With ``probe``, the database is reached before
    anything else happens, so an unreachable server is reported as such and not as a hub that is missing. A full
    disk or a read-only database, whenever the command meets it, is reported as a
    :class:`~hub.errors.StorageFault` that says where and what to check.
    """
    shown = shown_url(settings)
    file = sqlite_path(settings)
    if must_exist and file is not None and not file.exists():
        raise NotInitialised(
            f"there is no hub database at {file}: `tipshare-hub init --origin <name>` creates a hub, or "
            "point --data-dir (TIPSHARE_HUB_DATA_DIR) or --database-url at an existing one"
        )
    try:
        engine = make_engine(settings.resolved_database_url)
    except ArgumentError as e:
        raise InvalidSettings(f"the database URL {shown} cannot be used: {e}") from e
    try:
        if probe:
            with engine.connect():
                pass
        yield engine
    except DBAPIError as e:
        if (fault := storage_fault(e, engine.url)) is not None:
            raise fault from e
        if not isinstance(e, OperationalError):
            raise
        raise DatabaseUnavailable(f"the database at {shown} cannot be used: {e.orig}") from e
    finally:
        engine.dispose()


@contextmanager
def open_hub(state: State, data_dir: Path | None, database_url: str | None) -> Iterator[HubContext]:
    """The initialised hub the options (or the environment) point at."""
    settings = settings_for(data_dir, database_url)
    with database(settings, must_exist=True) as engine:
        yield HubContext.open(settings, clock=state.clock, engine=engine)


@contextmanager
def hub_session(
    ctx: typer.Context, data_dir: Path | None, database_url: str | None, *, write: bool = False
) -> Iterator[tuple[HubContext, Session]]:
    """The hub the options point at (:func:`open_hub`) and one transaction on its database: a writer's, committed
    when the block ends, with ``write``; else a read-only snapshot."""
    transaction = write_session if write else read_session
    with open_hub(state_of(ctx), data_dir, database_url) as context, transaction(context.sessions) as session:
        yield context, session


def emit(document: _Document, as_json: bool, show: Callable[[Console, _Document], None]) -> None:
    """Print a command's result: the JSON document with ``--json``, else as ``show`` puts it for a person."""
    if as_json:
        views.emit_json(document)
    else:
        show(views.console(), document)


def validated(model: type[_Model], help_by_field: dict[str, str], **values: object) -> _Model:
    """``model(**values)``, with validation errors turned into one clear :class:`BadRequest`."""
    try:
        return model(**values)
    except ValidationError as e:
        problems = dict.fromkeys(
            help_by_field.get(str(error["loc"][0]), f"{error['loc'][0]}: {error['msg']}") for error in e.errors()
        )
        raise BadRequest("; ".join(problems)) from e
