# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub db``: the database schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer
from alembic.util import CommandError

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, YesOption, database, settings_for, shown_url
from hub.errors import BadRequest
from hub.migrate import current_revision, downgrade, head_revision, upgrade

__all__ = ["db_app"]

db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOption = None, database_url: DatabaseURLOption = None) -> None:
    """Migrate the database schema to the newest revision this build ships (head)."""
    settings = settings_for(data_dir, database_url)
    with database(settings, must_exist=True) as engine:
        before, head = current_revision(engine), head_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    shown = shown_url(settings)
    if before == after:
        typer.echo(f"{shown} is already at the head revision {head}; nothing to do.")
    else:
        typer.echo(f"{shown} upgraded from {before or 'an empty schema'} to {after} (head).")


@db_app.command("current")
def db_current(
    data_dir: DataDirOption = None, database_url: DatabaseURLOption = None, as_json: JsonOption = False
) -> None:
    """Show the database's schema revision and the head revision of this build."""
    settings = settings_for(data_dir, database_url)
    with database(settings, must_exist=True) as engine:
        current, head = current_revision(engine), head_revision(engine)
    shown = shown_url(settings)
    if as_json:
        views.emit_json({"database_url": shown, "current": current, "head": head, "up_to_date": current == head})
        return
    if current == head:
        state = "up to date"
    elif current is None:
        state = "empty: `tipshare-hub init` (new hub) or `tipshare-hub db upgrade` creates the schema"
    else:
        state = "not the head revision: back it up, then run `tipshare-hub db upgrade`"
    typer.echo(f"database:  {shown}\ncurrent:   {current or '(none)'}\nhead:      {head}\n{state}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="The revision to go back to (`base` removes every table).")],
    yes: YesOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
) -> None:
    """Migrate the schema back to an older revision. Drops tables and their data: back up first."""
    settings = settings_for(data_dir, database_url)
    shown = shown_url(settings)
    with database(settings, must_exist=True) as engine:
        current = current_revision(engine)
        views.error_console().print(
            f"Downgrading {shown} from {current or '(none)'} to {revision} runs the migrations' downgrade steps, "
            "which drop tables and the data in them (down to `base`: the log, the submissions, the key registry "
            "and the tokens). This cannot be undone; back up the database first.",
            soft_wrap=True,
        )
        if not yes and not typer.confirm("Downgrade the database?", default=False, err=True):
            views.error_console().print("Nothing was changed.")
            raise typer.Exit(1)
        try:
            downgrade(engine, revision)
        except CommandError as e:
            raise BadRequest(f"cannot downgrade to {revision!r}: {e}") from e
        after = current_revision(engine)
    typer.echo(f"{shown} downgraded from {current or '(none)'} to {after or 'base (no schema)'}.")
