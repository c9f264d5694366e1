# SPDX-License-Identifier: Apache-2.0
"""Receipts: the hub's proof that a submission is in its transparency log, checkable offline.

A :class:`~protocol.messages.Receipt` carries the log entry (the leaf data), its index, an inclusion proof, and a
checkpoint signed by the hub's log key. :func:`verify_receipt` needs nothing but the receipt and the hub's
verifier key (a C2SP vkey string, pinned by the node at ``init`` and published by the hub):

1. the checkpoint is a signed note whose log signature verifies, and whose origin is the log's name;
2. the tree size and root come **only** from that signed checkpoint (an inclusion proof alone does not bind the
   size; see RFC 6962 pitfalls);
3. the leaf hash of the entry bytes is included at ``leaf_index`` in that tree;
4. optionally, the entry is a submission whose payload bytes are exactly the ones the caller signed.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.errors import InvalidProof, MalformedMessage
from protocol.merkle import leaf_hash, verify_inclusion
from protocol.messages import (
    PROTOCOL_VERSION,
    LogEntry,
    Receipt,
    SubmissionEntry,
    b64decode,
    b64encode,
    parse_log_entry,
)
from protocol.note import NoteVerifier

__all__ = ["VerifiedReceipt", "make_receipt", "verify_receipt"]


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    """What a receipt proves, once verified."""

    checkpoint: Checkpoint
    entry: LogEntry
    leaf_index: int
    leaf_hash: bytes


def make_receipt(
    *, submission_id: int, leaf_index: int, leaf: bytes, inclusion_proof: list[bytes], checkpoint_note: str
) -> Receipt:
    """Assemble a receipt (the hub's side)."""
    return Receipt(
        type="receipt",
        version=PROTOCOL_VERSION,
        submission_id=submission_id,
        leaf_index=leaf_index,
        leaf=b64encode(leaf),
        inclusion_proof=tuple(b64encode(node) for node in inclusion_proof),
        checkpoint=checkpoint_note,
    )


def verify_receipt(
    receipt: Receipt,
    *,
    log_key: NoteVerifier,
    payload_bytes: bytes | None = None,
) -> VerifiedReceipt:
    """Verify ``receipt`` against the hub's log key; raise a :class:`~protocol.errors.ProtocolError` if it fails.

    With ``payload_bytes``, also require that the logged entry is a submission of exactly those bytes.
    """
    checkpoint = open_checkpoint(receipt.checkpoint, log_key, origin=log_key.name)
    leaf = b64decode(receipt.leaf, what="receipt leaf")
    entry = parse_log_entry(leaf)
    proof = [b64decode(node, what="inclusion proof node") for node in receipt.inclusion_proof]
    hashed = leaf_hash(leaf)
    if receipt.leaf_index >= checkpoint.size:
        raise InvalidProof(f"leaf {receipt.leaf_index} is outside the checkpoint's tree of size {checkpoint.size}")
    verify_inclusion(receipt.leaf_index, checkpoint.size, hashed, proof, checkpoint.root_hash)
    if payload_bytes is not None:
        if not isinstance(entry, SubmissionEntry):
            raise MalformedMessage(f"the receipt's log entry is a {entry.kind} event, not a submission")
        if b64decode(entry.payload) != payload_bytes:
            raise MalformedMessage("the receipt's log entry holds another payload than the one submitted")
    return VerifiedReceipt(checkpoint=checkpoint, entry=entry, leaf_index=receipt.leaf_index, leaf_hash=hashed)
