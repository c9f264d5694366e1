# SPDX-License-Identifier: Apache-2.0
"""The node's receipt watch (run by ``sync`` and ``status``) and ``tipshare-node witnesses`` (see :mod:`node.watch`).

::

    tipshare-node witnesses --witness 'witness.example.org/w1+0a1b2c3d+BM...' \\
        --witness 'witness.example.net/w2+4e5f6a7b+BO...' --witness-quorum 1
    tipshare-node witnesses --none        # require no witness again
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Final

import typer
from rich.console import Console

from node import views
from node.client import HubClient
from node.errors import ConfigError
from node.home import NodeHome
from node.i18n import N_, Text, translate
from node.i18n import gettext as _
from node.outbox import Outbox
from node.watch import CheckpointNotWitnessed, HeldReceipt, WatchReport, load_policy, save_policy, watch_receipts
from protocol.cosignature import WitnessPolicy
from protocol.errors import ProtocolError

__all__ = ["COSIGNATURE_WAIT", "register", "watch"]


#: Seconds ``sync`` waits, once, for the hub to collect cosignatures on a checkpoint it has just signed.
COSIGNATURE_WAIT: Final = 5.0


def watch(
    home: NodeHome,
    db: sqlite3.Connection,
    hub: Callable[[str], AbstractContextManager[HubClient]],
    *,
    sleep: Callable[[float], None] | None = None,
) -> WatchReport:
    """Check every stored receipt against the hub's latest checkpoint (raises ReceiptAlarm); say what was found.

    With ``sleep`` (``sync``, right after delivering), a checkpoint still short of witness cosignatures is asked for
    once more after :data:`COSIGNATURE_WAIT` seconds: the hub collects them just after answering a submission.
    """
    outbox = Outbox(db)
    held = []
    for period, revision, _index, _size, _at in outbox.receipts():
        receipt = outbox.receipt(period, revision)
        if receipt is not None:
            held.append(HeldReceipt(period, revision, receipt))
    policy = load_policy(home.layout.root)
    log_key, *earlier_keys = home.config.hub.log_verifiers
    with hub(home.config.hub.url) as client:
        try:
            report = watch_receipts(client, log_key=log_key, receipts=held, policy=policy, earlier_keys=earlier_keys)
        except CheckpointNotWitnessed:
            if sleep is None:
                raise
            sleep(COSIGNATURE_WAIT)
            report = watch_receipts(client, log_key=log_key, receipts=held, policy=policy, earlier_keys=earlier_keys)
    err = Console(stderr=True, highlight=False)
    if report.skipped:
        err.print(translate(report.skipped), soft_wrap=True)
    elif report.checkpoint_size is not None:
        line = _("Receipts: %(count)s still in the hub's log (checkpoint %(size)s)") % {
            "count": report.receipts_checked,
            "size": report.checkpoint_size,
        }
        if report.witnesses is not None:
            line += _("; the checkpoint is %(witnesses)s") % {"witnesses": report.witnesses.describe()}
        err.print(line + ".", soft_wrap=True)
    return report


def register(app: typer.Typer, open_home: Callable[[typer.Context], NodeHome]) -> None:
    """Add ``witnesses`` to the node's command line."""

    @app.command()
    def witnesses(
        ctx: typer.Context,
        witness: Annotated[
            list[str] | None,
            typer.Option(
                "--witness", help="A witness's cosignature key (vkey), obtained from your auditor; repeat for several."
            ),
        ] = None,
        quorum: Annotated[
            int | None,
            typer.Option("--witness-quorum", min=0, help="How many of them must cosign (default: all of them)."),
        ] = None,
        none: Annotated[bool, typer.Option("--none", help="Require no witness (remove the policy).")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
    ) -> None:
        """Require k-of-n witness cosignatures on the hub's checkpoints (checked by `sync` and `status`)."""
        home = open_home(ctx)
        path = home.layout.root / "witnesses.json"
        if none:
            path.unlink(missing_ok=True)
            policy = None
        elif witness:
            try:
                policy = WitnessPolicy.from_vkeys(witness, quorum)
            except ProtocolError as e:
                raise ConfigError(Text(N_("--witness / --witness-quorum: %(error)s"), error=str(e))) from e
            save_policy(home.layout.root, policy)
        else:
            policy = load_policy(home.layout.root)
        document = {
            "witnesses": [] if policy is None else list(policy.vkeys),
            "quorum": 0 if policy is None else policy.quorum,
        }
        if as_json:
            views.emit_json(document)
        elif policy is None:
            views.console().print(_("No witness is required: checkpoints are checked with the hub's log key alone."))
        else:
            views.console().print(
                _("Checkpoints must be cosigned by %(quorum)s of: %(witnesses)s")
                % {"quorum": policy.quorum, "witnesses": ", ".join(w.name for w in policy.witnesses)}
            )
