# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub access-log``: sign a checkpoint of the access log's hash chain (:mod:`hub.services.access_log`).

::

    tipshare-hub access-log checkpoint     # sign the chain's head now (a timer runs it; also every N records)

The hub signs a checkpoint every ``TIPSHARE_HUB_ACCESS_SIGN_EVERY`` records on its own; this command signs the
records since, so a quiet hub's last requests are covered too. Auditors verify with ``tipshare-audit access-log
verify``.
"""

from __future__ import annotations

import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, hub_session
from hub.services.access_log import AccessLogService
from protocol.access_chain import access_log_signer
from protocol.messages import format_timestamp

__all__ = ["access_log_app"]

access_log_app = typer.Typer(
    help="The access log of coordinator requests: sign a checkpoint of its hash chain.", no_args_is_help=True
)


@access_log_app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a checkpoint of the access log's chain as it is now (nothing new is signed twice)."""
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        signed = AccessLogService(session).checkpoint(
            access_log_signer(context.origin, context.keys.log), now=context.clock()
        )
    if as_json:
        views.emit_json(
            {
                "size": signed.size,
                "head": signed.head,
                "note": signed.note,
                "signed_at": format_timestamp(signed.signed_at),
            }
        )
    else:
        typer.echo(f"access log checkpoint: {signed.size} records, head {signed.head}")
