# SPDX-License-Identifier: Apache-2.0
"""Watching receipts: the node checks, on every ``sync`` and ``status``, that the hub still holds what it receipted.

A receipt proves that an entry was in the log at the receipt's checkpoint. A hub that later erases the entry
and re-signs every checkpoint can show auditors a consistent log without it; only the hotline holds proof that
the entry was there. So the node asks the hub (without a token: ``GET /v1/checkpoint`` and
``GET /v1/checkpoint/consistency``) for its latest checkpoint, opens it with the log key pinned at ``init``, and
for the checkpoint of every receipt it holds requires:

* a size not larger than the latest checkpoint's (a smaller log is a rollback),
* at the same size, the same root (another root is a fork),
* otherwise, a consistency proof from the receipt's checkpoint to the latest one that verifies (so the receipted
  entry, included in the receipt's tree, is still in the log).

Any of these failing is a :class:`ReceiptAlarm`: the hub lost or hid a receipted submission. A hub that cannot be
reached is not an alarm (the check waits for the next run).

With a witness policy (``tipshare-node witnesses``, kept in ``witnesses.json`` in the node home), the latest
checkpoint must also carry cosignatures by *k* of the listed witnesses; a checkpoint without them is refused
(:class:`CheckpointNotWitnessed`), naming which witnesses signed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from node.client import HubClient
from node.errors import ConfigError, HubExchangeError, HubResponseInvalid, HubUnreachable
from node.i18n import N_, Text
from node.keystore import write_private_file
from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.cosignature import WitnessPolicy, WitnessVerdict
from protocol.errors import InvalidCheckpoint, InvalidProof, ProtocolError
from protocol.merkle import verify_consistency
from protocol.messages import Receipt
from protocol.note import NoteVerifier

__all__ = [
    "WITNESSES_FILE",
    "CheckpointNotWitnessed",
    "HeldReceipt",
    "ReceiptAlarm",
    "WatchReport",
    "load_policy",
    "save_policy",
    "watch_receipts",
]

WITNESSES_FILE: Final = "witnesses.json"


class ReceiptAlarm(HubExchangeError):
    """The hub's log no longer contains what a receipt proves it contained: signed proof of misbehaviour."""

    hint = (
        "The hub lost or hid a receipted submission: keep this receipt (in receipts/) and contact your auditor; "
        "`tipshare-audit receipt` checks it against the log they verified. Do not delete or re-initialise anything."
    )


class CheckpointNotWitnessed(HubExchangeError):
    """The hub's latest checkpoint lacks the witness cosignatures this node requires."""

    hint = (
        "Nothing was changed. The hub collects cosignatures after each new entry: try again in a few minutes. If it "
        "persists, tell your hub operator and your auditor which witnesses did not sign."
    )


@dataclass(frozen=True, slots=True)
class HeldReceipt:
    """A receipt the node keeps, with the release it is for."""

    period: str
    revision: int
    receipt: Receipt


@dataclass
class WatchReport:
    """What the watch found: the latest checkpoint checked, the receipts checked against it, or why not."""

    checkpoint_size: int | None = None
    receipts_checked: int = 0
    witnesses: WitnessVerdict | None = None
    #: Why nothing was checked (the hub could not be reached), or ``None``.
    skipped: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "checkpoint_size": self.checkpoint_size,
            "receipts_checked": self.receipts_checked,
            "witnesses": None
            if self.witnesses is None
            else {
                "signed": list(self.witnesses.signed),
                "missing": list(self.witnesses.missing),
                "quorum": self.witnesses.quorum,
            },
            "skipped": self.skipped,
        }


def load_policy(home: Path) -> WitnessPolicy | None:
    """The witness policy kept in the node home, or ``None`` if the node requires no witness."""
    path = home / WITNESSES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ConfigError(Text(N_("cannot read %(path)s: %(error)s"), path=str(path), error=str(e))) from e
    try:
        return WitnessPolicy.from_vkeys([str(v) for v in data["witnesses"]], int(data["quorum"]))
    except (KeyError, TypeError, ValueError, ProtocolError) as e:
        raise ConfigError(
            Text(N_("%(path)s is not a witness policy: %(error)s"), path=str(path), error=str(e)),
            hint=Text(N_("Set it again with `tipshare-node witnesses`.")),
        ) from e


def save_policy(home: Path, policy: WitnessPolicy) -> Path:
    path = home / WITNESSES_FILE
    document = {"witnesses": list(policy.vkeys), "quorum": policy.quorum}
    write_private_file(path, json.dumps(document, indent=2).encode("utf-8") + b"\n")
    return path


def watch_receipts(
    client: HubClient,
    *,
    log_key: NoteVerifier,
    receipts: Sequence[HeldReceipt],
    policy: WitnessPolicy | None,
    earlier_keys: Sequence[NoteVerifier] = (),
) -> WatchReport:
    """Check every held receipt against the hub's latest checkpoint; raise :class:`ReceiptAlarm` if one fails.

    The latest checkpoint must verify with ``log_key``; a receipt's checkpoint with it or with one of
    ``earlier_keys`` (log keys pinned before a followed handover, which signed the receipts of their time)."""
    report = WatchReport()
    if not receipts and policy is None:
        return report
    try:
        note = client.checkpoint()
    except HubUnreachable as e:
        report.skipped = Text(N_("the receipts could not be checked against the hub's log: %(error)s"), error=str(e))
        return report
    receipted = []
    for held in receipts:
        try:
            receipted.append((held, _open_receipt_checkpoint(held, (log_key, *earlier_keys))))
        except InvalidCheckpoint as e:
            raise ReceiptAlarm(
                Text(
                    N_(
                        "the stored receipt for %(period)s revision %(revision)s no longer verifies with the pinned "
                        "log key: %(error)s"
                    ),
                    period=held.period,
                    revision=held.revision,
                    error=str(e),
                )
            ) from e
    if note is None:
        if receipted:
            held, signed = max(receipted, key=lambda pair: pair[1].size)
            raise ReceiptAlarm(
                Text(
                    N_(
                        "the hub lost or hid a receipted submission: it now serves an empty log, but the receipt for "
                        "%(period)s revision %(revision)s holds its signed checkpoint of size %(size)s"
                    ),
                    period=held.period,
                    revision=held.revision,
                    size=signed.size,
                )
            )
        return report
    try:
        latest = open_checkpoint(note, log_key, origin=log_key.name)
    except InvalidCheckpoint as e:
        raise HubResponseInvalid(
            Text(N_("the hub's latest checkpoint does not verify with the pinned log key: %(error)s"), error=str(e))
        ) from e
    report.checkpoint_size = latest.size
    if policy is not None:
        try:
            report.witnesses = policy.check(note)
        except InvalidCheckpoint as e:
            raise CheckpointNotWitnessed(
                Text(
                    N_("the hub's checkpoint %(size)s carries a forged cosignature: %(error)s"),
                    size=latest.size,
                    error=str(e),
                )
            ) from e
    try:
        for held, signed in receipted:
            _check_one(client, held, signed, latest)
            report.receipts_checked += 1
    except HubUnreachable as e:
        report.skipped = Text(
            N_("the receipts could not all be checked against the hub's log: %(error)s"), error=str(e)
        )
        return report
    if report.witnesses is not None and not report.witnesses.ok:
        raise CheckpointNotWitnessed(
            Text(
                N_("the hub's checkpoint %(size)s is %(witnesses)s: this node does not rely on it"),
                size=latest.size,
                witnesses=report.witnesses.describe(),
            )
        )
    return report


def _open_receipt_checkpoint(held: HeldReceipt, keys: Sequence[NoteVerifier]) -> Checkpoint:
    """The receipt's checkpoint, opened with the first of ``keys`` that signed it (the pinned key's error if none)."""
    first: InvalidCheckpoint | None = None
    for key in keys:
        try:
            return open_checkpoint(held.receipt.checkpoint, key, origin=key.name)
        except InvalidCheckpoint as e:
            first = first or e
    assert first is not None
    raise first


def _check_one(client: HubClient, held: HeldReceipt, signed: Checkpoint, latest: Checkpoint) -> None:
    what = Text(
        N_("%(period)s revision %(revision)s (receipt checkpoint size %(size)s, log entry %(leaf)s)"),
        period=held.period,
        revision=held.revision,
        size=signed.size,
        leaf=held.receipt.leaf_index,
    )
    if signed.size > latest.size:
        raise ReceiptAlarm(
            Text(
                N_(
                    "the hub lost or hid a receipted submission: %(what)s: the hub's log now has only %(latest)s "
                    "entries, fewer than the %(signed)s its own signed receipt checkpoint counts (a rollback)"
                ),
                what=what,
                latest=latest.size,
                signed=signed.size,
            )
        )
    if signed.size == latest.size:
        if signed.root_hash != latest.root_hash:
            raise ReceiptAlarm(
                Text(
                    N_(
                        "the hub lost or hid a receipted submission: %(what)s: the hub's checkpoint of size "
                        "%(size)s has another root than the receipt's checkpoint of the same size (a fork)"
                    ),
                    what=what,
                    size=latest.size,
                )
            )
        return
    try:
        proof = client.consistency_proof(signed.size, latest.size)
    except HubUnreachable:
        raise
    except HubExchangeError as e:
        raise ReceiptAlarm(
            Text(
                N_(
                    "the hub lost or hid a receipted submission: %(what)s: it gives no consistency proof to its "
                    "checkpoint of size %(size)s: %(error)s"
                ),
                what=what,
                size=latest.size,
                error=str(e),
            )
        ) from e
    try:
        verify_consistency(signed.size, latest.size, signed.root_hash, latest.root_hash, proof)
    except InvalidProof as e:
        raise ReceiptAlarm(
            Text(
                N_(
                    "the hub lost or hid a receipted submission: %(what)s: the hub's log of size %(size)s does not "
                    "extend the receipt's checkpoint (%(error)s)"
                ),
                what=what,
                size=latest.size,
                error=str(e),
            )
        ) from e
