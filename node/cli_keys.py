# SPDX-License-Identifier: Apache-2.0
"""Key commands of ``tipshare-node``, registered on :data:`node.cli.app` by ``node.cli``.

* ``repin``: follow the hub's key handover now and show the fingerprints before and after (``sync`` and ``submit``
  follow a handover on their own, :mod:`node.repin`);
* ``rekey``: a new signing key for this hotline, keeping the ledger (:mod:`node.rekey`).
"""

from __future__ import annotations

import json

import typer

from node.rekey import confirm_rekey, start_rekey
from node.repin import follow_hub_keys
from protocol.crypto import fingerprint
from protocol.messages import format_timestamp

__all__ = ["rekey", "repin"]


def repin(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON document instead of text."),
) -> None:
    """Follow the hub's key handover: re-pin its new log and envelope keys if the pinned log key signed it."""
    from node import cli  # node.cli registers this command: import it when the command runs

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


def rekey(
    ctx: typer.Context,
    confirm: bool = typer.Option(
        False, "--confirm", help="The operator has rotated to the new key: switch to it (after `sync`)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON document instead of text."),
) -> None:
    """Make a new signing key for this hotline (kept waiting until --confirm); the ledger and receipts stay."""
    from node import cli  # node.cli registers this command: import it when the command runs

    state = cli._state(ctx)
    home = state.open_home()
    if confirm:
        db = home.database()
        try:
            done = confirm_rekey(home, db)
        finally:
            db.close()
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "old_key_id": done.old_key_id,
                        "key_id": done.new_key_id,
                        "rewritten": [{"period": p, "revision": r} for p, r in done.rewritten],
                    },
                    indent=2,
                )
            )
            return
        typer.echo(f"This node now signs with key {done.new_key_id} (the old key {done.old_key_id} is kept, retired).")
        for period, revision in done.rewritten:
            typer.echo(f"  {period} revision {revision}: not delivered yet; it will be signed with the new key")
        typer.echo("Run `tipshare-node sync` to send what is approved.")
        return
    key, made = start_rekey(home)
    line = f"{home.config.hotline_id} {key.verify_key.to_text()}"
    if as_json:
        typer.echo(json.dumps({"enrollment_line": line, "key_id": key.verify_key.key_id, "new": made}, indent=2))
        return
    typer.echo(("A new signing key was made" if made else "A new signing key is already waiting") + "; give this line")
    typer.echo('to your hub operator, for `tipshare-hub hotline rotate-key --line "..."`:')
    typer.echo(f"  {line}")
    typer.echo(f"  key id {key.verify_key.key_id}, fingerprint {fingerprint(bytes(key.verify_key))}")
    typer.echo(
        "Until then this node signs with its current key: run `tipshare-node sync` first. Once the operator has "
        "rotated, run `tipshare-node rekey --confirm`."
    )
