# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit receipt``: a node's stored receipt, verified offline with the hub's log key alone.

:func:`protocol.receipt.verify_receipt` does the work: the checkpoint is a note signed by the log key, the tree
size and root come only from it, and the entry's leaf hash is included at its index. With the payload the
hotline signed, the entry must hold exactly those bytes. With an auditor's state DIR, the receipt must also
agree with the log the auditor verified: same entry at that index and, if the state reaches that far, the same
root for the checkpoint's size (otherwise the hub showed the hotline a different log than the auditor).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.errors import UsageError, VerificationFailed
from auditor.state import StateStore
from protocol.errors import ProtocolError
from protocol.merkle import root_hash
from protocol.messages import Receipt, b64decode
from protocol.note import NoteVerifier
from protocol.receipt import VerifiedReceipt, verify_receipt

__all__ = ["ReceiptCheck", "check_receipt"]


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """A receipt that verified, and what else was checked."""

    verified: VerifiedReceipt
    log_key: NoteVerifier
    submission_id: int
    payload_checked: bool
    #: What the state DIR says (``None``: no state DIR given).
    state_note: str | None


def check_receipt(
    receipt: bytes, *, hub_key: str, payload: bytes | None = None, store: StateStore | None = None
) -> ReceiptCheck:
    """Verify ``receipt`` (the JSON a node stored); raise :class:`VerificationFailed` naming what does not hold."""
    try:
        log_key = NoteVerifier.from_vkey(hub_key.strip())
    except ProtocolError as e:
        raise UsageError(
            f"--hub-key is not a log verifier key: {e}",
            hint="It looks like origin+keyid+base64; the hub publishes it as log_vkey at GET /v1/hub.",
        ) from e
    try:
        parsed = Receipt.from_json(receipt)
        verified = verify_receipt(parsed, log_key=log_key, payload_bytes=payload)
    except ProtocolError as e:
        raise VerificationFailed(f"the receipt does not verify: {e}") from e
    state_note = None
    if store is not None:
        state_note = _against_state(store, verified, log_key, b64decode(parsed.leaf))
    return ReceiptCheck(
        verified=verified,
        log_key=log_key,
        submission_id=parsed.submission_id,
        payload_checked=payload is not None,
        state_note=state_note,
    )


def _against_state(store: StateStore, verified: VerifiedReceipt, log_key: NoteVerifier, leaf: bytes) -> str:
    pinned = store.pinned()
    if pinned is None:
        raise UsageError("the state DIR has not verified any hub yet", hint="Run tipshare-audit verify with it first.")
    if pinned.vkey != log_key.vkey:
        raise UsageError(f"the state DIR pins the log key {pinned.vkey}, not the --hub-key given")
    held = store.entry_count()
    index, size = verified.leaf_index, verified.checkpoint.size
    if index < held and store.entry(index) != leaf:
        raise VerificationFailed(
            f"entry {index} of the log the auditor verified is not this receipt's entry: the hub showed two logs"
        )
    if size > held:
        return f"its checkpoint (size {size}) is newer than the state DIR ({held} entries): run verify to check it"
    if root_hash(store.leaf_hashes()[:size]) != verified.checkpoint.root_hash:
        raise VerificationFailed(
            f"the receipt's checkpoint {size} is not the tree of that size in the log the auditor verified: "
            "the hub showed two logs"
        )
    return f"matches the log verified in the state DIR (entry {index}, tree size {size})"
