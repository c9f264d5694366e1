# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub witness``: register witnesses and collect their cosignatures (:mod:`hub.services.witnessing`).

::

    tipshare-hub witness add witness.example.org/w1 'witness.example.org/w1+0a1b2c3d+BM...' https://witness.example.org
    tipshare-hub witness list
    tipshare-hub witness collect      # send the latest checkpoint to every witness (a timer runs it every minute)
    tipshare-hub witness remove witness.example.org/w1

``collect`` exits 0 when every witness cosigned or was merely unreachable (an offline witness is reported, not an
error: it will cosign a later checkpoint with a proof covering everything since), and 1 when a witness refused
the checkpoint: that is a witness saying the log is not consistent with what it saw, which needs the operator.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, hub_session, open_hub, state_of
from hub.cli.text import printable
from hub.errors import LogIntegrityError
from hub.services.witnessing import WitnessRegistry, collect

__all__ = ["witness_app"]

witness_app = typer.Typer(
    help="Witnesses that cosign the log's checkpoints: register them, collect their cosignatures.",
    no_args_is_help=True,
)


def _witness_document(witness: Any) -> dict[str, Any]:
    return {
        "name": witness.name,
        "vkey": witness.vkey,
        "url": witness.url,
        "added_at": witness.added_at.isoformat(),
        "cosigned_size": witness.cosigned_size,
        "last_contact_at": witness.last_contact_at.isoformat() if witness.last_contact_at else None,
        "last_error": witness.last_error,
    }


@witness_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The witness's name, e.g. witness.example.org/w1.", show_default=False)],
    vkey: Annotated[
        str, typer.Argument(help="Its cosignature key (vkey), as `tipshare-audit witness init` printed it.")
    ],
    url: Annotated[str, typer.Argument(help="Its submission prefix, e.g. https://witness.example.org.")],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a witness: from now on `collect` sends it every new checkpoint."""
    with hub_session(ctx, data_dir, database_url, write=True) as (context, session):
        document = _witness_document(
            WitnessRegistry(session).add(name=name, vkey=vkey.strip(), url=url.strip(), now=context.clock())
        )
    if as_json:
        views.emit_json(document)
    else:
        typer.echo(f"witness {name} registered ({document['url']}); run `tipshare-hub witness collect`")


@witness_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The witness's name.", show_default=False)],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
) -> None:
    """Stop sending checkpoints to a witness (the cosignatures it gave stay served)."""
    with hub_session(ctx, data_dir, database_url, write=True) as (_, session):
        WitnessRegistry(session).remove(name)
    typer.echo(f"witness {name} removed")


@witness_app.command("list")
def list_witnesses(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """The registered witnesses: the size each cosigned last, and the last error."""
    with hub_session(ctx, data_dir, database_url) as (_, session):
        documents = [_witness_document(w) for w in WitnessRegistry(session).all()]
    if as_json:
        views.emit_json(documents)
        return
    if not documents:
        typer.echo("No witness is registered (`tipshare-hub witness add NAME VKEY URL`).")
    for d in documents:
        state = f"cosigned up to size {d['cosigned_size']}" + (
            f"; last error: {printable(d['last_error'])}" if d["last_error"] else ""
        )
        typer.echo(f"{printable(d['name'])}  {printable(d['url'])}  {state}")


@witness_app.command("collect")
def collect_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send the latest checkpoint to every witness and store their cosignatures (run it from a timer)."""
    with open_hub(state_of(ctx), data_dir, database_url) as context, httpx.Client(follow_redirects=False) as http:
        outcomes = collect(context.sessions, signer=context.log_signer, http=http, clock=context.clock)
    if as_json:
        views.emit_json(
            [{"witness": o.witness, "size": o.size, "result": o.result, "detail": o.detail} for o in outcomes]
        )
    else:
        if not outcomes:
            typer.echo("Nothing to do: no witness is registered, or the log is empty.")
        for o in outcomes:
            typer.echo(f"{o.witness}: {o.result} (checkpoint {o.size})" + (f": {o.detail}" if o.detail else ""))
    refused = [o for o in outcomes if o.result == "refused"]
    if refused:
        raise LogIntegrityError(
            f"witness {refused[0].witness} refused checkpoint {refused[0].size}: {refused[0].detail}. A witness "
            "refuses a checkpoint that does not extend the one it cosigned: check the log (`tipshare-hub log "
            "verify`) and the database's history before anything else"
        )
