# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit witness``: run a C2SP tlog-witness for a hub's log (see :mod:`auditor.witness`).

::

    tipshare-audit witness init --dir ~/witness --name witness.example.org/w1 \\
        --log 'hub.example.org/log+1a2b3c4d+AUx...'          # prints the witness vkey to give the hub operator
    tipshare-audit witness serve --dir ~/witness --host 0.0.0.0 --port 8760   # behind a TLS proxy
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from auditor.i18n import gettext as _
from auditor.witness import WitnessHome, create_witness, witness_app

__all__ = ["witness_app_cli"]

witness_app_cli = typer.Typer(
    help="Run a witness: cosign a hub's checkpoints only if they extend what it cosigned before.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path,
    typer.Option("--dir", help="The witness's directory (its key and state).", file_okay=False, show_default=False),
]


@witness_app_cli.command("init")
def init(
    directory: DirOption,
    name: Annotated[
        str, typer.Option("--name", help="The witness's name, e.g. witness.example.org/w1.", show_default=False)
    ],
    logs: Annotated[
        list[str],
        typer.Option("--log", help="A log key (vkey) to witness, obtained out of band; repeat for several logs."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
) -> None:
    """Create a witness: a new cosigning key and the logs it witnesses. Prints its vkey for the hub operator."""
    cosigner = create_witness(directory, name=name, logs=logs)
    if as_json:
        typer.echo(json.dumps({"name": cosigner.name, "vkey": cosigner.verifier.vkey}))
        return
    typer.echo(_("witness {name} created in {directory}").format(name=cosigner.name, directory=directory))
    typer.echo(f"vkey: {cosigner.verifier.vkey}")
    typer.echo(
        _(
            "Give the vkey to the hub operator (`tipshare-hub witness add`) and to hotlines and auditors who require "
            "your cosignature (`--witness`)."
        )
    )


@witness_app_cli.command("serve")
def serve(
    directory: DirOption,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8760,
) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint until interrupted."""
    import uvicorn  # loaded by this command only

    home = WitnessHome.open(directory)
    uvicorn.run(witness_app(home, clock=lambda: int(time.time())), host=host, port=port, log_level="warning")
