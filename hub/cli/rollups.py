# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub rollups``: check the statistics tables against the log, or rebuild them from it."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, hub_session
from hub.errors import LogIntegrityError
from hub.services.rebuild import check_rollups, rebuild_rollups

__all__ = ["rollups_app"]

rollups_app = typer.Typer(
    help="The statistics tables, maintained at ingest: check or rebuild them from the log.", no_args_is_help=True
)


@rollups_app.command("check")
def rollups_check(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every statistic from the log's signed payloads and compare with the stored rollups."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        problems = check_rollups(session, context.taxonomies)
    if as_json:
        views.emit_json({"ok": not problems, "problems": problems})
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems[:50])
        raise LogIntegrityError(
            f"the rollups differ from a rebuild from the log ({len(problems)} differences). The log is the truth: "
            f"after investigating, `tipshare-hub rollups rebuild --yes` rewrites them from it.\n{listed}"
        )
    if not as_json:
        typer.echo("Rollups match a rebuild from the log: every published statistic is the sum of signed payloads.")


@rollups_app.command("rebuild")
def rollups_rebuild(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Rewrite the rollup tables from the log (the log itself is never changed)."""
    if not yes:
        typer.confirm("Rewrite every rollup row from the transparency log?", abort=True)
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        rebuilt = rebuild_rollups(session, context.taxonomies)
    typer.echo(f"Rollups rebuilt from {rebuilt.entries} log entries: {rebuilt.cells} cells.")
