# SPDX-License-Identifier: Apache-2.0
"""``tipshare-node repin``: follow the hub's key handover now and show the fingerprints before and after.

Registered on :data:`node.cli.app` by ``node.cli``; ``sync`` and ``submit`` follow a handover on their own.
"""

from __future__ import annotations

import json

import typer

from node.repin import follow_hub_keys
from protocol.messages import format_timestamp

__all__ = ["repin"]


def repin(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON document instead of text."),
) -> None:
    """Follow the hub's key handover: re-pin its new log and envelope keys if the pinned log key signed it."""
    from node import cli

    state = cli._state(ctx)
    home = state.open_home()
    with state.hub(home.config.hub.url) as client:
        repinned = follow_hub_keys(home, client, now=format_timestamp(state.clock()))
    pinned = (repinned.home if repinned else home).config.hub
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "repinned": repinned is not None,
                    "handovers": list(repinned.handovers) if repinned else [],
                    "log_key_fingerprint": pinned.log_key_fingerprint,
                    "encryption_key_fingerprint": pinned.encryption_key_fingerprint,
                    "log_vkey": pinned.identity.log_vkey,
                    "encryption_key": pinned.identity.encryption_key,
                },
                indent=2,
            )
        )
    elif repinned is None:
        typer.echo(
            f"The hub's keys are the pinned ones: log key {pinned.log_key_fingerprint}, envelope key "
            f"{pinned.encryption_key_fingerprint}."
        )
    else:
        typer.echo(repinned.describe())
