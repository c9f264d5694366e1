# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub log``: the transparency log's latest checkpoint, and its self-check
(:func:`hub.services.logcheck.check_log`)."""

from __future__ import annotations

import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, hub_session
from hub.errors import LogIntegrityError, NotFound
from hub.services.log import TransparencyLog
from hub.services.logcheck import check_log
from hub.services.witnessing import cosigned_note
from protocol.messages import b64encode

__all__ = ["log_app"]

log_app = typer.Typer(help="The transparency log: latest checkpoint, self-check.", no_args_is_help=True)


@log_app.command("checkpoint")
def log_checkpoint(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the latest signed checkpoint (a C2SP signed note), exactly as the hub hands it out."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        latest = TransparencyLog(session, signer=context.log_signer).latest_checkpoint()
        if latest is None:
            raise NotFound("the log is empty: the hub signs its first checkpoint when it logs its first entry")
        document = views.checkpoint_document(context.origin, latest) | {"note": cosigned_note(session, latest)}
    if as_json:
        views.emit_json(document)
    else:
        typer.echo(document["note"], nl=False)


@log_app.command("verify")
def log_verify(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild the log's Merkle tree from every entry and check it against every checkpoint the hub signed."""
    with hub_session(ctx, data_dir, database_url) as (context, session):
        result = check_log(session, signer=context.log_signer)
    if as_json:
        views.emit_json(
            {
                "origin": result.origin,
                "size": result.size,
                "root_hash": b64encode(result.root_hash),
                "checkpoints_checked": result.checkpoints,
                "ok": result.ok,
                "problems": list(result.problems),
            }
        )
    if not result.ok:
        listed = "\n".join(f"  - {problem}" for problem in result.problems)
        raise LogIntegrityError(
            f"the transparency log of {result.origin} FAILED its self-check. Stop the hub, keep a copy of the "
            f"database as it is, and investigate:\n{listed}"
        )
    if not as_json:
        typer.echo(
            f"Log {result.origin} is consistent: {result.size} entries rebuild the root {b64encode(result.root_hash)}, "
            f"and all {result.checkpoints} signed checkpoints verify with this hub's log key and match the entries."
        )
