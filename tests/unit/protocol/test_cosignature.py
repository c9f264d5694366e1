# SPDX-License-Identifier: Apache-2.0
"""C2SP cosignatures (Ed25519 ``cosignature/v1``), witness policies, and the tlog-witness decision."""

from __future__ import annotations

import base64
import hashlib

import pytest

from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.cosignature import (
    MAX_PROOF_LINES,
    AddCheckpoint,
    CosignatureVerifier,
    Cosigner,
    Refusal,
    WitnessedCheckpoint,
    WitnessPolicy,
    WitnessRefused,
    add_signature_lines,
    cosigned_message,
    signature_lines,
    witness_checkpoint,
)
from protocol.crypto import SigningKey
from protocol.errors import InvalidCheckpoint, MalformedMessage
from protocol.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, root_hash
from protocol.note import MAX_SIGNATURES, NoteSigner, NoteVerifier, open_note

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


@pytest.mark.parametrize("name", ["", "a+b", "a b", "tab\there", "bell\x07"])
def test_a_witness_name_with_a_space_a_plus_or_a_control_character_is_refused(name: str) -> None:
    with pytest.raises(MalformedMessage, match="invalid witness name"):
        _witness(name)


def test_a_witness_name_that_is_not_utf8_is_refused_as_malformed() -> None:
    with pytest.raises(MalformedMessage, match="witness name must be valid UTF-8"):
        _witness("witness\ud800.example.org")
    vkey = _witness().verifier.vkey
    with pytest.raises(MalformedMessage, match="witness name must be valid UTF-8"):
        CosignatureVerifier.from_vkey("\udcff" + vkey)  # a name read with surrogateescape


@pytest.mark.parametrize("timestamp", [-1, 2**63])
def test_a_cosignature_timestamp_outside_the_u63_range_is_refused(timestamp: int) -> None:
    with pytest.raises(MalformedMessage, match=r"0 \.\. 2\^63-1"):
        cosigned_message("body\n", timestamp)
    assert cosigned_message("b\n", 2**63 - 1) == f"cosignature/v1\ntime {2**63 - 1}\nb\n".encode()


def test_malformed_vkeys_are_refused_with_the_reason() -> None:
    good = _witness().verifier.vkey
    name, key_id, encoded = good.split("+")
    raw = base64.b64decode(encoded)
    other_type = base64.b64encode(bytes([1]) + raw[1:]).decode()
    cases = {
        f"{name}+{key_id}": "has the form",
        f"{name}+{key_id.upper()}+{encoded}": "has the form",
        f"{name}+{key_id}+{encoded[:-1]}*": "not canonical base64",
        f"{name}+{key_id}+{base64.b64encode(raw[:-1]).decode()}": "not canonical base64",
        f"{name}+{key_id}+{other_type}": "key type 0x01",
        f"{name}+00000000+{encoded}": "key ID does not match",
        f"other.example.org+{key_id}+{encoded}": "key ID does not match",
    }
    for vkey, reason in cases.items():
        with pytest.raises(MalformedMessage, match=reason):
            CosignatureVerifier.from_vkey(vkey)
    assert CosignatureVerifier.from_vkey(f"  {good}\n") == _witness().verifier


def test_verifiers_compare_by_name_and_key_and_show_their_vkey() -> None:
    one, same, other_key, other_name = (
        CosignatureVerifier.from_vkey(_witness().verifier.vkey),
        _witness().verifier,
        _witness(seed=8).verifier,
        _witness("witness.example.org/w2").verifier,
    )
    assert one == same
    assert hash(one) == hash(same)
    assert one != other_key
    assert one != other_name
    assert one != one.vkey  # another type: not equal, no error
    assert len({one, same, other_key, other_name}) == 3
    assert repr(one) == f"CosignatureVerifier.from_vkey({one.vkey!r})"
    assert eval(repr(one), {"CosignatureVerifier": CosignatureVerifier}) == one  # noqa: S307 - our own repr


def test_a_cosigners_repr_shows_its_public_key_and_hides_its_secret() -> None:
    witness = _witness()
    assert repr(witness) == f"Cosigner(<secret>, {witness.verifier.vkey!r})"
    assert bytes([7] * 32).hex() not in repr(witness)


def test_a_policy_gives_back_its_vkeys() -> None:
    vkeys = (_witness().verifier.vkey, _witness("witness.example.org/w2", seed=8).verifier.vkey)
    assert WitnessPolicy.from_vkeys(vkeys, quorum=1).vkeys == vkeys


def test_a_note_without_a_blank_line_a_final_newline_or_with_too_many_signatures_is_refused() -> None:
    note = _note(3)
    for broken in (note.replace("\n\n", "\n"), note[:-1]):
        with pytest.raises(InvalidCheckpoint, match="blank line before its signatures and a final newline"):
            signature_lines(broken)
    line = signature_lines(note)[0]
    assert signature_lines(note + line * (MAX_SIGNATURES - 1)) == [line] * MAX_SIGNATURES
    with pytest.raises(InvalidCheckpoint, match=f"at most {MAX_SIGNATURES} signatures"):
        signature_lines(note + line * MAX_SIGNATURES)


@pytest.mark.parametrize(
    "line", ["witness.example.org/w1 AAAA\n", "— w1 AAAA", "— w1 AAAA\n— w2 AAAA\n", "— w1 AA\nAA\n"]
)
def test_only_whole_em_dash_lines_are_added_to_a_note(line: str) -> None:
    with pytest.raises(InvalidCheckpoint, match="starts with an em dash and a space and is one line"):
        add_signature_lines(_note(3), [line])


def test_a_line_already_on_the_note_is_not_added_twice() -> None:
    note = _note(3)
    cosigned = add_signature_lines(note, [_witness().cosign(note[: note.rfind("\n\n") + 1], timestamp=5)])
    assert add_signature_lines(cosigned, signature_lines(cosigned)) == cosigned


def test_malformed_signature_lines_make_the_note_invalid() -> None:
    note = _note(3)
    body = note[: note.rfind("\n\n") + 1]
    witness = _witness()
    policy = WitnessPolicy((witness.verifier,), quorum=1)
    cases = {
        "-- w1 AAAA\n": "starts with an em dash and a space",
        "— w1 not-base64!\n": "not canonical base64",
        "— w1 AAAAAA==\n": "not canonical base64",  # 4 bytes: a key ID and no signature
    }
    for line, reason in cases.items():
        with pytest.raises(InvalidCheckpoint, match=reason):
            policy.check(note + line)
    # a known witness's line that is not key ID + u64 time + 64 signature bytes
    short = base64.b64encode(witness.verifier.key_id + bytes(8 + 63)).decode()
    with pytest.raises(InvalidCheckpoint, match=r"'witness\.example\.org/w1' is not a timestamped Ed25519 signature"):
        policy.check(f"{note}— {witness.name} {short}\n")
    # the same bytes under an unknown key ID are another key's line: ignored
    other = base64.b64encode(bytes(4 + 8 + 63)).decode()
    assert policy.check(f"{note}— {witness.name} {other}\n").signed == ()
    assert policy.check(note + witness.cosign(body, timestamp=1)).signed == (witness.name,)


def test_an_add_checkpoint_request_that_is_not_utf8_or_carries_too_many_proof_lines_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="is UTF-8 text"):
        AddCheckpoint.parse(b"old 0\n\n\xff")
    proof = tuple(bytes([i]) * 32 for i in range(MAX_PROOF_LINES))
    assert AddCheckpoint.parse(AddCheckpoint(1, proof, _note(1)).to_bytes()).proof == proof
    with pytest.raises(MalformedMessage, match=f"at most {MAX_PROOF_LINES} proof lines"):
        AddCheckpoint.parse(AddCheckpoint(1, (*proof, bytes(32)), _note(1)).to_bytes())


def test_the_witness_refuses_a_note_that_is_not_a_signed_note() -> None:
    request = AddCheckpoint(0, (), _note(3).replace("\n\n", "\n"))
    with pytest.raises(WitnessRefused, match="is not a signed note") as refused:
        witness_checkpoint(request, logs=[LOG.verifier], latest={})
    assert refused.value.refusal is Refusal.BAD_REQUEST
    assert refused.value.refusal.status == 400


def test_the_witness_refuses_an_empty_checkpoint_with_another_root() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG)
    with pytest.raises(WitnessRefused, match="size 0 must have the empty tree's root") as refused:
        witness_checkpoint(AddCheckpoint(0, (), note), logs=[LOG.verifier], latest={})
    assert refused.value.refusal is Refusal.INCONSISTENT
    assert refused.value.refusal.status == 422
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), LOG)
    assert witness_checkpoint(AddCheckpoint(0, (), empty), logs=[LOG.verifier], latest={})[0].size == 0
