# SPDX-License-Identifier: Apache-2.0
"""Hub key handovers (:mod:`protocol.handover`): signed by the previous and the new log key, followed only from the
pinned key, each step proven to sit in the log under a checkpoint both keys signed."""

from __future__ import annotations

import pytest

from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import EncryptionKey, SealingKey, SigningKey
from protocol.handover import (
    HandoverProof,
    HandoverRefused,
    follow_handovers,
    sign_handover,
    verify_handover,
    verify_handover_proof,
)
from protocol.merkle import inclusion_proof, leaf_hash, root_hash
from protocol.messages import HubKeyHandoverEntry, KeyEventEntry, b64encode, parse_log_entry
from protocol.note import NoteSigner

ORIGIN = "hub.example.org/log"


def _signer() -> NoteSigner:
    return NoteSigner(ORIGIN, SigningKey.generate())


def _handover(old: NoteSigner, new: NoteSigner, box: SealingKey | None = None) -> HubKeyHandoverEntry:
    box = box or EncryptionKey.generate().public_key
    return sign_handover(
        old=old,
        new=new,
        previous_encryption_key=box,
        encryption_key=box,
        effective_at="2026-12-01T10:00:00Z",
        previous_encryption_key_until="2026-12-01T10:00:00Z",
    )


class Log:
    """A tiny log that appends entries and hands out proofs the way the hub does."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = [b"an enrolment", b"a submission"]

    def proof(self, entry: HubKeyHandoverEntry, *signers: NoteSigner) -> HandoverProof:
        self.leaves.append(entry.canonical_bytes())
        hashes = [leaf_hash(leaf) for leaf in self.leaves]
        index = len(hashes) - 1
        note = sign_checkpoint(Checkpoint(ORIGIN, len(hashes), root_hash(hashes)), *signers)
        return HandoverProof(
            leaf_index=index,
            leaf=b64encode(self.leaves[index]),
            inclusion_proof=tuple(b64encode(node) for node in inclusion_proof(index, hashes)),
            checkpoint=note,
        )


def test_a_handover_is_a_log_entry_that_round_trips() -> None:
    old, new = _signer(), _signer()
    entry = _handover(old, new)

    assert parse_log_entry(entry.canonical_bytes()) == entry
    assert verify_handover(entry, trusted=old.verifier) == new.verifier


def test_attack_a_handover_forged_without_the_old_key_is_refused() -> None:
    genuine, impostor = _signer(), _signer()
    forged = _handover(_signer(), impostor).model_copy(update={"previous_log_vkey": genuine.verifier.vkey})

    with pytest.raises(HandoverRefused, match="not signed by the trusted log key"):
        verify_handover(forged, trusted=genuine.verifier)


def test_a_handover_from_another_key_or_log_is_refused() -> None:
    old, new = _signer(), _signer()
    with pytest.raises(HandoverRefused, match="not from the trusted key"):
        verify_handover(_handover(old, new), trusted=_signer().verifier)
    other_log = NoteSigner("elsewhere.example.org/log", SigningKey.generate())
    with pytest.raises(ValueError, match="keep the log's name"):
        _handover(old, other_log)


def test_a_new_key_must_prove_possession() -> None:
    old, new = _signer(), _signer()
    entry = _handover(old, new)
    unproven = entry.model_copy(update={"log_signature": entry.previous_log_signature})

    with pytest.raises(HandoverRefused, match="not signed by its new log key"):
        verify_handover(unproven, trusted=old.verifier)


def test_followers_walk_a_chain_of_handovers_from_their_pinned_key() -> None:
    k0, k1, k2 = _signer(), _signer(), _signer()
    box = EncryptionKey.generate().public_key
    log = Log()
    first = log.proof(_handover(k0, k1), k0, k1)
    second = log.proof(_handover(k1, k2, box), k1, k2)

    followed = follow_handovers(k0.verifier, [second, first])
    assert followed.log_key == k2.verifier
    assert followed.encryption_key == box
    assert [index for index, _ in followed.applied] == [2, 3]
    # A node that pinned k1 (set up after the first handover) applies only the second.
    assert [index for index, _ in follow_handovers(k1.verifier, [first, second]).applied] == [3]
    # Nothing to follow: the pinned key stays.
    assert follow_handovers(k2.verifier, [first, second]).log_key == k2.verifier


def test_a_bridge_checkpoint_must_be_signed_by_both_keys_and_include_the_entry() -> None:
    old, new = _signer(), _signer()
    entry = _handover(old, new)
    only_old = Log().proof(entry, old)
    with pytest.raises(HandoverRefused, match="not signed by both log keys"):
        verify_handover_proof(only_old, trusted=old.verifier)

    proof = Log().proof(entry, old, new)
    elsewhere = proof.model_copy(update={"leaf_index": 0})
    with pytest.raises(HandoverRefused, match="has size 3, not 1"):
        verify_handover_proof(elsewhere, trusted=old.verifier)
    assert verify_handover_proof(proof, trusted=old.verifier) == (entry, new.verifier)


@pytest.mark.parametrize(
    "update",
    [{"log_vkey": "hub.example.org/log+00000000+AAAA"}, {"encryption_key": "x25519:" + b64encode(bytes(32))}],
)
def test_a_handover_naming_an_invalid_new_key_is_refused(update: dict[str, str]) -> None:
    old, new = _signer(), _signer()
    broken = _handover(old, new).model_copy(update=update)
    with pytest.raises(HandoverRefused, match="names an invalid new key"):
        verify_handover(broken, trusted=old.verifier)


def test_a_handover_to_a_key_of_another_log_is_refused_even_when_signed() -> None:
    """``sign_handover`` will not make one; an entry made by hand names the other log's key."""
    old, elsewhere = _signer(), NoteSigner("elsewhere.example.org/log", SigningKey.generate())
    entry = _handover(old, _signer()).model_copy(update={"log_vkey": elsewhere.verifier.vkey})
    with pytest.raises(HandoverRefused, match=r"a key of another log \('elsewhere\.example\.org/log', not 'hub"):
        verify_handover(entry, trusted=old.verifier)


def test_a_proof_whose_leaf_is_another_kind_of_entry_is_refused() -> None:
    old = _signer()
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
    )
    proof = Log().proof(enrolment, old)  # type: ignore[arg-type]
    with pytest.raises(HandoverRefused, match="log entry 2 is a key_enrolled entry, not a hub key handover"):
        verify_handover_proof(proof, trusted=old.verifier)


def test_a_proof_whose_inclusion_path_does_not_lead_to_the_root_is_refused() -> None:
    old, new = _signer(), _signer()
    proof = Log().proof(_handover(old, new), old, new)
    tampered = proof.model_copy(update={"inclusion_proof": (b64encode(bytes(32)), *proof.inclusion_proof[1:])})
    with pytest.raises(HandoverRefused, match="the handover is not in the log at entry 2"):
        verify_handover_proof(tampered, trusted=old.verifier)
    short = proof.model_copy(update={"inclusion_proof": proof.inclusion_proof[1:]})
    with pytest.raises(HandoverRefused, match="the handover is not in the log at entry 2"):
        verify_handover_proof(short, trusted=old.verifier)
