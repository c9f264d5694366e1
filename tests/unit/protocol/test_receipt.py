# SPDX-License-Identifier: Apache-2.0
"""Receipts verify offline with the hub's log key alone, and every kind of forgery is caught."""

from __future__ import annotations

import pytest

from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SigningKey
from protocol.errors import InvalidCheckpoint, InvalidProof, MalformedMessage, ProtocolError
from protocol.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from protocol.messages import KeyEventEntry, SubmissionEntry, b64encode
from protocol.note import NoteSigner
from protocol.receipt import make_receipt, verify_receipt

ORIGIN = "hub.tipshare.example/log"


def _entry(payload_bytes: bytes, n: int) -> bytes:
    return SubmissionEntry(
        type="log_entry",
        version="tipshare/1",
        kind="submission",
        hotline_id="la-strada-ua",
        key_id="a" * 32,
        period=f"2026-{n % 12 + 1:02d}",
        revision=1,
        payload_hash="sha256:" + "0" * 64,
        payload=b64encode(payload_bytes),
        signature=b64encode(bytes(64)),
        received_at="2026-11-02T09:31:00Z",
    ).canonical_bytes()


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, SigningKey.generate())


@pytest.fixture
def leaves() -> list[bytes]:
    enrolment = KeyEventEntry(
        type="log_entry",
        version="tipshare/1",
        kind="key_enrolled",
        hotline_id="la-strada-ua",
        key_id="a" * 32,
        public_key="ed25519:" + b64encode(bytes(32)),
        display_name="La Strada Ukraine",
        country="UA",
        effective_at="2026-01-01T00:00:00Z",
    ).canonical_bytes()
    return [enrolment] + [_entry(f"payload {n}".encode(), n) for n in range(1, 7)]


def _receipt(leaves: list[bytes], index: int, signer: NoteSigner, size: int | None = None):  # type: ignore[no-untyped-def]
    size = len(leaves) if size is None else size
    hashes = [leaf_hash(leaf) for leaf in leaves[:size]]
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(hashes)), signer)
    return make_receipt(
        submission_id=index + 1,
        leaf_index=index,
        leaf=leaves[index],
        inclusion_proof=inclusion_proof(index, hashes),
        checkpoint_note=note,
    )


@pytest.mark.parametrize("index", range(1, 7))
def test_receipts_verify_offline(leaves: list[bytes], log_signer: NoteSigner, index: int) -> None:
    receipt = _receipt(leaves, index, log_signer)
    verified = verify_receipt(receipt, log_key=log_signer.verifier, payload_bytes=f"payload {index}".encode())
    assert verified.leaf_index == index
    assert verified.checkpoint.size == len(leaves)
    assert isinstance(verified.entry, SubmissionEntry)
    # The receipt survives a round trip through its own canonical bytes (as a node stores it).
    type(receipt).from_canonical(receipt.canonical_bytes())


def test_receipt_for_another_payload_is_refused(leaves: list[bytes], log_signer: NoteSigner) -> None:
    with pytest.raises(MalformedMessage, match="another payload"):
        verify_receipt(_receipt(leaves, 2, log_signer), log_key=log_signer.verifier, payload_bytes=b"payload 3")


def test_key_event_is_not_a_submission_receipt(leaves: list[bytes], log_signer: NoteSigner) -> None:
    receipt = _receipt(leaves, 0, log_signer)
    verify_receipt(receipt, log_key=log_signer.verifier)
    with pytest.raises(MalformedMessage, match="key_enrolled event"):
        verify_receipt(receipt, log_key=log_signer.verifier, payload_bytes=b"anything")


def test_checkpoint_signed_by_another_key_is_refused(leaves: list[bytes], log_signer: NoteSigner) -> None:
    impostor = NoteSigner(ORIGIN, SigningKey.generate())
    with pytest.raises(InvalidCheckpoint):
        verify_receipt(_receipt(leaves, 3, impostor), log_key=log_signer.verifier)


def test_tampered_receipts_are_refused(leaves: list[bytes], log_signer: NoteSigner) -> None:
    receipt = _receipt(leaves, 3, log_signer)
    forged_leaf = receipt.model_copy(update={"leaf": b64encode(_entry(b"forged", 3))})
    with pytest.raises(InvalidProof):
        verify_receipt(forged_leaf, log_key=log_signer.verifier)
    wrong_index = receipt.model_copy(update={"leaf_index": 4})
    with pytest.raises(InvalidProof):
        verify_receipt(wrong_index, log_key=log_signer.verifier)
    outside = receipt.model_copy(update={"leaf_index": 7})
    with pytest.raises(InvalidProof, match="outside"):
        verify_receipt(outside, log_key=log_signer.verifier)
    # A proof from a smaller tree, presented with the larger tree's signed checkpoint.
    small = _receipt(leaves, 3, log_signer, size=5)
    mixed = receipt.model_copy(update={"inclusion_proof": small.inclusion_proof})
    with pytest.raises(InvalidProof):
        verify_receipt(mixed, log_key=log_signer.verifier)


def test_every_single_byte_change_to_a_receipt_is_caught(leaves: list[bytes], log_signer: NoteSigner) -> None:
    receipt = _receipt(leaves, 5, log_signer)
    wire = receipt.canonical_bytes()
    survived = 0
    for position in range(0, len(wire), 7):  # every 7th byte keeps the test fast; the offsets cover each field
        mutated = bytearray(wire)
        mutated[position] ^= 0x01
        try:
            verify_receipt(type(receipt).from_canonical(bytes(mutated)), log_key=log_signer.verifier)
        except ProtocolError:
            continue
        survived += 1
    assert survived == 0


def test_old_receipt_stays_valid_as_the_log_grows(leaves: list[bytes], log_signer: NoteSigner) -> None:
    """A receipt at size 4 plus a consistency proof 4 -> 7 shows the entry is still in today's log."""
    early = _receipt(leaves, 2, log_signer, size=4)
    verified = verify_receipt(early, log_key=log_signer.verifier)
    hashes = [leaf_hash(leaf) for leaf in leaves]
    from protocol.merkle import verify_consistency

    verify_consistency(4, 7, verified.checkpoint.root_hash, root_hash(hashes), consistency_proof(4, hashes))
