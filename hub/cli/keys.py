# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub keys rotate``: hand the hub's log key and/or envelope key over to new ones, in place.

The handover is a log entry signed by the previous and the new log key (:mod:`hub.services.handover`); nodes and
auditors that pinned the previous key follow it on their own. Restart every hub process afterwards.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import open_hub, state_of
from hub.services.handover import rotate_hub_keys
from protocol.crypto import SealingKey, fingerprint
from protocol.note import NoteVerifier

__all__ = ["keys_app"]

keys_app = typer.Typer(help="The hub's own keys: rotate them in place (a logged handover).", no_args_is_help=True)


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    log: Annotated[bool, typer.Option("--log", help="Replace the log key (signs checkpoints).")] = False,
    envelope: Annotated[
        bool, typer.Option("--envelope", help="Replace the envelope key (opens hotlines' sealed releases).")
    ] = False,
    grace_days: Annotated[
        int,
        typer.Option(
            "--grace-days",
            min=0,
            max=366,
            help="Days the previous envelope key still opens releases sealed to it (queued in nodes' outboxes).",
        ),
    ] = 90,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", file_okay=False, show_default=False)] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
) -> None:
    """Rotate the hub's log key (--log) and/or envelope key (--envelope); logged as a hub_key_handover entry."""
    with open_hub(state_of(ctx), data_dir, database_url) as context:
        rotation = rotate_hub_keys(context, log=log, envelope=envelope, grace=timedelta(days=grace_days))
    entry = rotation.entry
    old_log, new_log = NoteVerifier.from_vkey(entry.previous_log_vkey), NoteVerifier.from_vkey(entry.log_vkey)
    old_box, new_box = SealingKey.from_text(entry.previous_encryption_key), SealingKey.from_text(entry.encryption_key)
    document = {
        "log_index": rotation.log_index,
        "tree_size": rotation.tree_size,
        "effective_at": entry.effective_at,
        "log_vkey": {"previous": entry.previous_log_vkey, "current": entry.log_vkey},
        "log_key_fingerprint": {
            "previous": fingerprint(bytes(old_log.key)),
            "current": fingerprint(bytes(new_log.key)),
        },
        "encryption_key": {"previous": entry.previous_encryption_key, "current": entry.encryption_key},
        "encryption_key_fingerprint": {"previous": fingerprint(bytes(old_box)), "current": fingerprint(bytes(new_box))},
        "previous_encryption_key_until": entry.previous_encryption_key_until,
    }
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    typer.echo(
        f"Handed over at log entry {rotation.log_index} (checkpoint {rotation.tree_size} is signed by both keys)."
    )
    for what, key in (("log key", "log_key_fingerprint"), ("envelope key", "encryption_key_fingerprint")):
        pair = document[key]
        assert isinstance(pair, dict)
        change = "unchanged" if pair["previous"] == pair["current"] else f"{pair['previous']} -> {pair['current']}"
        typer.echo(f"  {what}: {change}")
    if envelope:
        typer.echo(f"  the previous envelope key still opens releases until {entry.previous_encryption_key_until}")
    typer.echo(
        "Restart every hub process now (a process holding the previous log key refuses to append). Nodes and "
        "auditors follow the handover on their own; tell hotlines the new fingerprints."
    )
