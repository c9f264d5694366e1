# SPDX-License-Identifier: Apache-2.0
"""Key commands of ``tipshare-node``, registered on :data:`node.cli.app` by ``node.cli``.

* ``repin``: follow the hub's key handover now and show the fingerprints before and after (``sync`` and ``submit``
  follow a handover on their own, :mod:`node.repin`);
* ``rekey``: a new signing key for this hotline, keeping the ledger (:mod:`node.rekey`).
"""

from __future__ import annotations

import json

import typer

from node.i18n import gettext as _
from node.keystore import sealing_key
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
            _("The hub's keys are the pinned ones: log key %(log)s, envelope key %(envelope)s.")
            % {"log": pinned.log_key_fingerprint, "envelope": pinned.encryption_key_fingerprint}
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
        typer.echo(
            _("This node now signs with key %(new)s (the old key %(old)s is kept, retired).")
            % {"new": done.new_key_id, "old": done.old_key_id}
        )
        for period, revision in done.rewritten:
            typer.echo(
                _("  %(period)s revision %(revision)s: not delivered yet; it will be signed with the new key")
                % {"period": period, "revision": revision}
            )
        typer.echo(_("Run `tipshare-node sync` to send what is approved."))
        return
    key, made = start_rekey(home)
    line = f"{home.config.hotline_id} {key.verify_key.to_text()}"
    if as_json:
        document = {"enrollment_line": line, "key_id": key.verify_key.key_id, "new": made}
        document["sealing_key"] = sealing_key(key).public_key.to_text()  # `hotline rotate-key --sealing-key`
        typer.echo(json.dumps(document, indent=2))
        return
    typer.echo(
        _("A new signing key was made; give this line")
        if made
        else _("A new signing key is already waiting; give this line")
    )
    typer.echo(_('to your hub operator, for `tipshare-hub hotline rotate-key --line "..."`:'))
    typer.echo(f"  {line}")
    typer.echo(
        _("  key id %(key_id)s, fingerprint %(fingerprint)s")
        % {"key_id": key.verify_key.key_id, "fingerprint": fingerprint(bytes(key.verify_key))}
    )
    typer.echo(
        _(
            "Until then this node signs with its current key: run `tipshare-node sync` first. Once the operator has "
            "rotated, run `tipshare-node rekey --confirm`."
        )
    )
