# SPDX-License-Identifier: Apache-2.0
"""C2SP cosignatures (Ed25519 ``cosignature/v1``), witness policies, and the tlog-witness decision."""

from __future__ import annotations

import base64
import hashlib

import pytest

from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.cosignature import (
    AddCheckpoint,
    CosignatureVerifier,
    Cosigner,
    Refusal,
    WitnessedCheckpoint,
    WitnessPolicy,
    WitnessRefused,
    add_signature_lines,
    cosigned_message,
    witness_checkpoint,
)
from protocol.crypto import SigningKey
from protocol.errors import InvalidCheckpoint, MalformedMessage
from protocol.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, root_hash
from protocol.note import NoteSigner, NoteVerifier, open_note

ORIGIN = "hub.example.org/log"
LOG = NoteSigner(ORIGIN, SigningKey(bytes(range(32))))
LEAVES = [leaf_hash(bytes([i])) for i in range(10)]


def _note(size: int, leaves: list[bytes] = LEAVES, signer: NoteSigner = LOG) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(leaves[:size])), signer)


def _witness(name: str = "witness.example.org/w1", seed: int = 7) -> Cosigner:
    return Cosigner(name, SigningKey(bytes([seed]) * 32))


def test_key_id_and_vkey_follow_the_spec() -> None:
    w = _witness()
    key = bytes(w.verifier._key)
    expected = hashlib.sha256(w.name.encode() + b"\n\x04" + key).digest()[:4]
    assert w.verifier.key_id == expected
    name, key_id, encoded = w.verifier.vkey.split("+")
    assert (name, key_id, base64.b64decode(encoded)) == (w.name, expected.hex(), b"\x04" + key)
    assert CosignatureVerifier.from_vkey(w.verifier.vkey) == w.verifier


def test_the_signed_message_and_the_line_layout() -> None:
    body = Checkpoint(ORIGIN, 3, root_hash(LEAVES[:3])).body()
    assert cosigned_message(body, 1679315147) == b"cosignature/v1\ntime 1679315147\n" + body.encode()
    line = _witness().cosign(body, timestamp=1679315147)
    raw = base64.b64decode(line.split(" ")[2])
    assert line.startswith("\u2014 witness.example.org/w1 ")
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147


def test_a_cosigned_note_still_opens_with_the_log_key_and_the_policy_counts_witnesses() -> None:
    w1, w2 = _witness(), _witness("witness.example.net/w2", 9)
    note = _note(5)
    body = note.split("\n\n")[0] + "\n"
    cosigned = add_signature_lines(note, [w1.cosign(body, timestamp=10)])
    assert open_note(cosigned, [LOG.verifier]).signers == (ORIGIN,)
    policy = WitnessPolicy((w1.verifier, w2.verifier), quorum=1)
    verdict = policy.check(cosigned)
    assert (verdict.signed, verdict.missing, verdict.ok) == ((w1.name,), (w2.name,), True)
    strict = WitnessPolicy((w1.verifier, w2.verifier), quorum=2).check(cosigned)
    assert not strict.ok
    assert strict.describe() == f"cosigned by {w1.name} (1 of 2; 2 required); not by {w2.name}"


def test_a_cosignature_over_another_checkpoint_is_refused() -> None:
    w = _witness()
    other = Checkpoint(ORIGIN, 4, root_hash(LEAVES[:4])).body()
    forged = add_signature_lines(_note(5), [w.cosign(other, timestamp=10)])
    with pytest.raises(InvalidCheckpoint, match="does not verify"):
        WitnessPolicy((w.verifier,), 1).check(forged)


def test_policy_rules() -> None:
    w = _witness()
    with pytest.raises(MalformedMessage, match="cannot be met"):
        WitnessPolicy((w.verifier,), quorum=2)
    with pytest.raises(MalformedMessage, match="share a name"):
        WitnessPolicy((w.verifier, _witness(seed=3).verifier), quorum=1)
    with pytest.raises(MalformedMessage, match="not a witness cosignature key"):
        CosignatureVerifier.from_vkey(LOG.verifier.vkey)
    assert WitnessPolicy.from_vkeys([w.verifier.vkey]).quorum == 1


def test_add_checkpoint_round_trip_and_strict_parsing() -> None:
    request = AddCheckpoint(old_size=3, proof=tuple(consistency_proof(3, LEAVES[:7])), note=_note(7))
    body = request.to_bytes()
    assert body.startswith(b"old 3\n")
    assert AddCheckpoint.parse(body) == request
    for bad in (b"old 03\n\n" + _note(7).encode(), b"old 3\nnot-base64\n\n" + _note(7).encode(), b"3\n\nx"):
        with pytest.raises(MalformedMessage):
            AddCheckpoint.parse(bad)


def _decide(request: AddCheckpoint, latest: dict[str, WitnessedCheckpoint]) -> WitnessedCheckpoint:
    return witness_checkpoint(request, logs=[LOG.verifier], latest=latest)[1]


def test_the_witness_cosigns_what_extends_its_view_and_nothing_else() -> None:
    first = _decide(AddCheckpoint(0, (), _note(3)), {})
    assert first.size == 3
    latest = {ORIGIN: first}
    grown = _decide(AddCheckpoint(3, tuple(consistency_proof(3, LEAVES[:7])), _note(7)), latest)
    assert grown.size == 7

    def refused(request: AddCheckpoint, state: dict[str, WitnessedCheckpoint]) -> WitnessRefused:
        with pytest.raises(WitnessRefused) as caught:
            _decide(request, state)
        return caught.value

    # A fork: the second leaf replaced, the log extended as if nothing happened.
    forked = [LEAVES[0], leaf_hash(b"x"), *LEAVES[2:7]]
    fork = AddCheckpoint(3, tuple(consistency_proof(3, forked)), _note(7, forked))
    assert refused(fork, latest).refusal is Refusal.INCONSISTENT
    # Another root for the size it holds.
    same_size = AddCheckpoint(3, (), _note(3, [*forked[:2], leaf_hash(b"y")]))
    assert refused(same_size, latest).refusal is Refusal.INCONSISTENT
    # A rollback: old size above the new size, or a stale old size.
    assert refused(AddCheckpoint(3, (), _note(2)), latest).refusal is Refusal.BAD_REQUEST
    conflict = refused(AddCheckpoint(0, (), _note(7)), latest)
    assert (conflict.refusal, conflict.latest_size, conflict.refusal.status) == (Refusal.CONFLICT, 3, 409)
    # Unknown logs and checkpoints not signed by the log's key.
    stranger = NoteSigner("other.example/log", SigningKey(bytes(32)))
    unknown = AddCheckpoint(0, (), sign_checkpoint(Checkpoint("other.example/log", 1, LEAVES[0]), stranger))
    assert refused(unknown, {}).refusal.status == 404
    impostor = NoteSigner(ORIGIN, SigningKey(bytes(32)))
    assert refused(AddCheckpoint(0, (), _note(3, signer=impostor)), {}).refusal.status == 403
    # An empty tree must have the empty root; a proof from the empty tree must be empty.
    assert _decide(AddCheckpoint(0, (), _note(0)), {}).root_hash == EMPTY_ROOT
    wrong_proof = AddCheckpoint(0, (LEAVES[0],), _note(3))
    assert refused(wrong_proof, {}).refusal.status == 422


def test_the_log_key_alone_still_opens_a_checkpoint_with_many_cosignatures() -> None:
    note = _note(4)
    body = note.split("\n\n")[0] + "\n"
    lines = [_witness(f"w{i}.example/w", i).cosign(body, timestamp=i) for i in range(5)]
    assert open_note(add_signature_lines(note, lines), [NoteVerifier.from_vkey(LOG.verifier.vkey)]).text == body
