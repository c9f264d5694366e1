# SPDX-License-Identifier: Apache-2.0
"""Hub key handovers: how a hub replaces its log key or envelope key in place, and how followers trust the new one.

A handover is a log entry (:class:`~protocol.messages.HubKeyHandoverEntry`) naming the log key and envelope key
before and after. Both log keys sign it (:func:`sign_handover`): the **previous** one, which followers pinned,
grants the authority; the **new** one proves the hub holds it. The checkpoint that first includes the entry is
signed by both log keys (it *bridges* the two); every later checkpoint by the new key alone.

A follower (node or auditor) holding a pinned log key never takes a new key from ``GET /v1/hub``: it asks for the
handover proofs (:class:`HandoverProof`, served at ``GET /v1/hub/handovers``) and :func:`follow_handovers` walks
them from the pinned key, each one verified against the key the previous step trusted:

1. the entry's ``previous_log_vkey`` is the trusted key, and its ``previous_log_signature`` verifies with it;
2. the new log key has the log's name (origin) and its ``log_signature`` verifies;
3. the proof's checkpoint is signed by both keys, has size ``leaf_index + 1`` and includes the entry there.

A handover forged without the previous key fails at step 1, and so does one served to a follower that pinned
another log.

>>> from protocol.crypto import EncryptionKey, SigningKey
>>> from protocol.note import NoteSigner
>>> old = NoteSigner("example.org/log", SigningKey.generate())
>>> new = NoteSigner("example.org/log", SigningKey.generate())
>>> box = EncryptionKey.generate().public_key
>>> entry = sign_handover(old=old, new=new, previous_encryption_key=box, encryption_key=box,
...                       effective_at="2026-12-01T10:00:00Z", previous_encryption_key_until="2027-03-01T10:00:00Z")
>>> verify_handover(entry, trusted=old.verifier) == new.verifier
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import Field

from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.crypto import SealingKey, domain_message
from protocol.errors import InvalidCheckpoint, InvalidSignature, MalformedMessage, ProtocolError
from protocol.merkle import leaf_hash, verify_inclusion
from protocol.messages import (
    PROTOCOL_VERSION,
    Base64Bytes,
    HubKeyHandoverEntry,
    Message,
    b64decode,
    b64encode,
    parse_log_entry,
)
from protocol.note import NoteSigner, NoteVerifier, open_note

__all__ = [
    "HANDOVER_CONTEXT",
    "FollowedKeys",
    "HandoverProof",
    "HandoverRefused",
    "follow_handovers",
    "sign_handover",
    "verify_handover",
    "verify_handover_proof",
]

#: Signing context of a handover entry (see :func:`protocol.crypto.domain_message`).
HANDOVER_CONTEXT: Final = f"{PROTOCOL_VERSION} hub key handover"


class HandoverRefused(MalformedMessage):
    """A handover (or its proof) that does not carry the authority of the trusted key; the message says why."""


class HandoverProof(Message):
    """One handover entry, where it sits in the log, and the bridging checkpoint that includes it."""

    leaf_index: Annotated[int, Field(ge=0)]
    #: The entry's canonical bytes, base64.
    leaf: Base64Bytes
    inclusion_proof: Annotated[
        tuple[Annotated[Base64Bytes, Field(min_length=44, max_length=44)], ...], Field(max_length=64)
    ]
    #: The checkpoint of size ``leaf_index + 1``, signed by the previous and the new log key.
    checkpoint: Annotated[str, Field(min_length=1, max_length=10_000)]


@dataclass(frozen=True, slots=True)
class FollowedKeys:
    """Where a walk over handovers ended: the log key and envelope key to pin, and the handovers it applied."""

    log_key: NoteVerifier
    encryption_key: SealingKey | None
    applied: tuple[tuple[int, HubKeyHandoverEntry], ...]


def sign_handover(
    *,
    old: NoteSigner,
    new: NoteSigner,
    previous_encryption_key: SealingKey,
    encryption_key: SealingKey,
    effective_at: str,
    previous_encryption_key_until: str,
) -> HubKeyHandoverEntry:
    """The handover entry, signed by the previous and the new log key (the same key for an envelope-only one)."""
    if old.name != new.name:
        raise ValueError(f"the new log key must keep the log's name {old.name!r}, not {new.name!r}")
    unsigned = HubKeyHandoverEntry.model_construct(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="hub_key_handover",
        previous_log_vkey=old.verifier.vkey,
        log_vkey=new.verifier.vkey,
        previous_encryption_key=previous_encryption_key.to_text(),
        encryption_key=encryption_key.to_text(),
        previous_encryption_key_until=previous_encryption_key_until,
        effective_at=effective_at,
        previous_log_signature="",
        log_signature="",
    )
    message = domain_message(HANDOVER_CONTEXT, unsigned.signed_bytes())
    return HubKeyHandoverEntry.model_validate(
        {
            **unsigned.model_dump(mode="json"),
            "previous_log_signature": b64encode(old.sign(message)),
            "log_signature": b64encode(new.sign(message)),
        }
    )


def verify_handover(entry: HubKeyHandoverEntry, *, trusted: NoteVerifier) -> NoteVerifier:
    """The new log key, if ``entry`` hands over from ``trusted`` and both signatures verify; else
    :class:`HandoverRefused` naming the failed rule."""
    if entry.previous_log_vkey != trusted.vkey:
        raise HandoverRefused(
            f"the handover at {entry.effective_at} is from the log key {entry.previous_log_vkey}, not from the "
            f"trusted key {trusted.vkey}"
        )
    try:
        new = NoteVerifier.from_vkey(entry.log_vkey)
        SealingKey.from_text(entry.encryption_key)
    except ProtocolError as e:
        raise HandoverRefused(f"the handover at {entry.effective_at} names an invalid new key: {e}") from e
    if new.name != trusted.name:
        raise HandoverRefused(f"the handover names a key of another log ({new.name!r}, not {trusted.name!r})")
    message = domain_message(HANDOVER_CONTEXT, entry.signed_bytes())
    try:
        trusted.verify(message, b64decode(entry.previous_log_signature))
    except InvalidSignature:
        raise HandoverRefused(
            f"the handover at {entry.effective_at} is not signed by the trusted log key {trusted.vkey}: "
            "it was made without that key and is refused"
        ) from None
    try:
        new.verify(message, b64decode(entry.log_signature))
    except InvalidSignature:
        raise HandoverRefused(f"the handover at {entry.effective_at} is not signed by its new log key") from None
    return new


def verify_handover_proof(proof: HandoverProof, *, trusted: NoteVerifier) -> tuple[HubKeyHandoverEntry, NoteVerifier]:
    """Verify one proof from ``trusted`` (rules 1 to 3 of the module); return its entry and the new log key."""
    leaf = b64decode(proof.leaf, what="handover leaf")
    entry = parse_log_entry(leaf)
    if not isinstance(entry, HubKeyHandoverEntry):
        raise HandoverRefused(f"log entry {proof.leaf_index} is a {entry.kind} entry, not a hub key handover")
    new = verify_handover(entry, trusted=trusted)
    try:
        checkpoint = open_checkpoint(proof.checkpoint, trusted, origin=trusted.name)
        open_note(proof.checkpoint, [new])
    except InvalidCheckpoint as e:
        raise HandoverRefused(
            f"the checkpoint that includes the handover (entry {proof.leaf_index}) is not signed by both log keys: {e}"
        ) from e
    _check_inclusion(proof, checkpoint, leaf)
    return entry, new


def _check_inclusion(proof: HandoverProof, checkpoint: Checkpoint, leaf: bytes) -> None:
    if checkpoint.size != proof.leaf_index + 1:
        raise HandoverRefused(
            f"the handover's checkpoint has size {checkpoint.size}, not {proof.leaf_index + 1} "
            "(the first to include it)"
        )
    path = [b64decode(node, what="inclusion proof node") for node in proof.inclusion_proof]
    try:
        verify_inclusion(proof.leaf_index, checkpoint.size, leaf_hash(leaf), path, checkpoint.root_hash)
    except ProtocolError as e:
        raise HandoverRefused(f"the handover is not in the log at entry {proof.leaf_index}: {e}") from e


def follow_handovers(trusted: NoteVerifier, proofs: Iterable[HandoverProof]) -> FollowedKeys:
    """Walk the handovers from ``trusted``, in log order; those logged before the trusted key (whose previous key
    is not the one trusted at that point, before the walk started) are skipped. Raises :class:`HandoverRefused`
    if one after the start does not verify."""
    key, encryption_key = trusted, None
    applied: list[tuple[int, HubKeyHandoverEntry]] = []
    for proof in sorted(proofs, key=lambda p: p.leaf_index):
        if not applied:
            unverified = parse_log_entry(b64decode(proof.leaf, what="handover leaf"))
            if not isinstance(unverified, HubKeyHandoverEntry) or unverified.previous_log_vkey != key.vkey:
                continue  # before the pinned key (or not from it): a later proof must start from it
        entry, key = verify_handover_proof(proof, trusted=key)
        encryption_key = SealingKey.from_text(entry.encryption_key)
        applied.append((proof.leaf_index, entry))
    return FollowedKeys(log_key=key, encryption_key=encryption_key, applied=tuple(applied))
