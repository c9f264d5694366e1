# SPDX-License-Identifier: Apache-2.0
"""The access log's hash chain and checkpoints: each record's hash, and every kind of tampering named by seq."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from protocol.access_chain import (
    CHAIN_DOMAIN,
    GENESIS,
    AccessRecord,
    ChainedRecord,
    access_log_signer,
    access_log_verifier,
    chain_hash,
    check_checkpoint,
    open_access_checkpoint,
    sign_access_checkpoint,
    verify_chain,
)
from protocol.canonical import canonical_bytes
from protocol.checkpoint import Checkpoint
from protocol.crypto import SigningKey
from protocol.errors import InvalidCheckpoint, ProtocolError
from protocol.note import NoteSigner

ORIGIN = "hub.example.org/tipshare"
KEY = SigningKey(bytes(range(32)))


def _record(number: int) -> AccessRecord:
    return AccessRecord(
        at=f"2026-11-21T12:00:{number:02d}Z",
        token_id=2,
        role="coordinator",
        label="Chisinau desk",
        countries=("MD",),
        method="GET",
        path="/v1/stats/persons_corridor",
        query=f"period_from=2026-0{number % 9 + 1}",
        question={"scope": {"token_countries": ["MD"]}, "period_from": f"2026-0{number % 9 + 1}"},
        status=200,
        request_id=f"request-{number:04d}",
    )


def _chain(count: int) -> list[ChainedRecord]:
    chained, previous = [], GENESIS
    for seq in range(1, count + 1):
        record = _record(seq)
        digest = chain_hash(previous, record)
        chained.append(ChainedRecord(seq, previous, digest, record))
        previous = digest
    return chained


def test_the_hash_is_sha256_of_the_domain_the_previous_hash_and_the_canonical_record() -> None:
    record = _record(1)
    expected = hashlib.sha256(CHAIN_DOMAIN + GENESIS + canonical_bytes(record.document())).digest()
    assert chain_hash(GENESIS, record) == expected
    assert record.document()["countries"] == ["MD"]
    assert chain_hash(expected, record) != expected  # the previous hash is part of it


def test_an_honest_chain_verifies() -> None:
    assert verify_chain(_chain(5)) == []
    assert verify_chain([]) == []


def test_an_edited_record_is_named() -> None:
    chain = _chain(5)
    chain[2] = dataclasses.replace(chain[2], record=dataclasses.replace(chain[2].record, query="country=UA"))
    assert [(f.kind, f.seq) for f in verify_chain(chain)] == [("edited", 3)]


def test_a_deleted_record_is_named() -> None:
    chain = _chain(5)
    del chain[1]
    assert [(f.kind, f.seq) for f in verify_chain(chain)] == [("deleted", 2)]


def test_a_deleted_and_renumbered_record_shows_as_a_break() -> None:
    chain = _chain(5)
    del chain[1]
    chain = [dataclasses.replace(item, seq=number) for number, item in enumerate(chain, start=1)]
    assert [(f.kind, f.seq) for f in verify_chain(chain)] == [("out_of_order", 2)]


def test_reordered_records_are_named() -> None:
    chain = _chain(5)
    chain[1], chain[2] = (dataclasses.replace(chain[2], seq=2), dataclasses.replace(chain[1], seq=3))
    findings = verify_chain(chain)
    assert [(f.kind, f.seq) for f in findings] == [("out_of_order", 2), ("out_of_order", 3), ("out_of_order", 4)]


def test_a_recomputed_chain_does_not_match_the_checkpoint_signed_before() -> None:
    chain = _chain(4)
    signer = access_log_signer(ORIGIN, KEY)
    note = sign_access_checkpoint(signer, 4, chain[-1].hash)
    verifier = access_log_verifier(NoteSigner(ORIGIN, KEY).verifier)
    checkpoint = open_access_checkpoint(note, [verifier])
    assert (checkpoint.origin, checkpoint.size) == (f"{ORIGIN}/access-log", 4)
    assert check_checkpoint(checkpoint, {item.seq: item.hash for item in chain}) is None

    # The operator edits record 2 and recomputes every hash after it: the chain verifies, the checkpoint does not.
    edited = [*chain[:1], dataclasses.replace(chain[1], record=dataclasses.replace(chain[1].record, status=404))]
    previous = edited[-1].prev_hash
    rebuilt = []
    for item in edited[1:] + chain[2:]:
        digest = chain_hash(previous, item.record)
        rebuilt.append(dataclasses.replace(item, prev_hash=previous, hash=digest))
        previous = digest
    forged = [chain[0], *rebuilt]
    assert verify_chain(forged) == []
    finding = check_checkpoint(checkpoint, {item.seq: item.hash for item in forged})
    assert finding is not None
    assert (finding.kind, finding.seq) == ("checkpoint_mismatch", 4)
    beyond = check_checkpoint(checkpoint, {item.seq: item.hash for item in chain[:3]})
    assert beyond is not None
    assert beyond.kind == "checkpoint_beyond_log"


def test_a_checkpoint_needs_the_hub_key_and_the_access_log_name() -> None:
    note = sign_access_checkpoint(access_log_signer(ORIGIN, KEY), 1, bytes(32))
    other = access_log_verifier(NoteSigner(ORIGIN, SigningKey(bytes(32))).verifier)
    with pytest.raises(ProtocolError):
        open_access_checkpoint(note, [other])
    # The transparency log's own name does not verify it: one key, two logs, never confused.
    with pytest.raises(InvalidCheckpoint):
        open_access_checkpoint(note, [NoteSigner(ORIGIN, KEY).verifier])


@pytest.mark.parametrize("length", [0, 31, 33])
def test_a_previous_hash_that_is_not_32_bytes_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match=f"a chain hash is 32 bytes, got {length}"):
        chain_hash(bytes(length), _record(1))


def test_a_record_served_again_after_later_ones_is_named() -> None:
    chain = _chain(4)
    replayed = [*chain[:3], chain[1], chain[3]]
    findings = verify_chain(replayed)
    assert [(f.kind, f.seq) for f in findings] == [("out_of_order", 2), ("out_of_order", 4)]
    assert findings[0].message == "record 2 is served after record 3"


def test_the_checkpoint_of_the_empty_log_holds_whatever_is_served() -> None:
    empty = Checkpoint(f"{ORIGIN}/access-log", 0, GENESIS)
    assert check_checkpoint(empty, {}) is None
    assert check_checkpoint(empty, {1: bytes(32)}) is None
    one = check_checkpoint(Checkpoint(f"{ORIGIN}/access-log", 1, GENESIS), {})
    assert one is not None
    assert one.kind == "checkpoint_beyond_log"


def test_a_checkpoint_cannot_be_opened_without_a_key() -> None:
    note = sign_access_checkpoint(access_log_signer(ORIGIN, KEY), 1, bytes(32))
    with pytest.raises(ValueError, match="no key to verify the access log checkpoint with"):
        open_access_checkpoint(note, [])
