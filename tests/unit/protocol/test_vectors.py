# SPDX-License-Identifier: Apache-2.0
"""The committed known-answer vectors (``tests/vectors/protocol/``, written by ``python -m
tests.vectors.protocol_vectors``): canonical bytes, signed checkpoints, a receipt and an envelope, byte for byte.

A failure here means the bytes tipshare writes or accepts changed: every hub, node and auditor already deployed
would disagree. Change the protocol's version instead (docs: the protocol README), and only then the vectors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from protocol.canonical import canonical_bytes, parse_canonical
from protocol.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from protocol.crypto import SUBMISSION_CONTEXT, EncryptionKey, SigningKey, VerifyKey, open_envelope
from protocol.errors import ProtocolError
from protocol.merkle import inclusion_proof, leaf_hash, root_hash
from protocol.messages import Receipt
from protocol.note import NoteSigner, NoteVerifier
from protocol.receipt import make_receipt, verify_receipt

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "protocol"


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    return document


CANONICAL = _load("canonical")


@pytest.mark.parametrize("case", CANONICAL["cases"], ids=lambda case: case["name"])
def test_canonical_bytes_are_the_committed_ones(case: dict[str, Any]) -> None:
    data = canonical_bytes(case["value"])
    assert data.decode("utf-8") == case["canonical"]
    assert hashlib.sha256(data).hexdigest() == case["sha256"]
    assert parse_canonical(data) == case["value"]


def test_the_rfc8785_examples_are_among_them() -> None:
    by_name = {case["name"]: case["canonical"] for case in CANONICAL["cases"]}
    # RFC 8785 §3.2.3: properties sorted by their UTF-16 code units; §3.2.2.2: the string escapes.
    keys = list(json.loads(by_name["rfc8785 property sorting"]))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert (
        by_name["rfc8785 string escapes"] == '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


@pytest.mark.parametrize("case", CANONICAL["refused"], ids=lambda case: case["name"])
def test_refused_inputs_are_refused(case: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        parse_canonical(case["input"].encode("utf-8"))


CHECKPOINTS = _load("checkpoint")


@pytest.mark.parametrize("case", CHECKPOINTS["cases"], ids=lambda case: f"size {case['size']}")
def test_checkpoint_notes_are_the_committed_ones(case: dict[str, Any]) -> None:
    signer = NoteSigner(CHECKPOINTS["origin"], SigningKey(bytes.fromhex(CHECKPOINTS["log_key_seed"])))
    assert signer.verifier.vkey == CHECKPOINTS["vkey"]
    hashes = [leaf_hash(f"leaf {i}".encode()) for i in range(case["size"])]
    root = root_hash(hashes)
    assert base64.b64encode(root).decode() == case["root_hash"]
    assert sign_checkpoint(Checkpoint(CHECKPOINTS["origin"], case["size"], root), signer) == case["note"]
    opened = open_checkpoint(case["note"], NoteVerifier.from_vkey(CHECKPOINTS["vkey"]))
    assert (opened.size, opened.root_hash) == (case["size"], root)


def test_a_checkpoint_note_with_a_changed_size_is_refused() -> None:
    note = CHECKPOINTS["cases"][-1]["note"]
    size = str(CHECKPOINTS["cases"][-1]["size"])
    forged = note.replace(f"\n{size}\n", f"\n{int(size) + 1}\n", 1)
    with pytest.raises(ProtocolError):
        open_checkpoint(forged, NoteVerifier.from_vkey(CHECKPOINTS["vkey"]))


RECEIPT = _load("receipt")


def test_the_receipt_is_the_committed_one_and_proves_its_payload() -> None:
    leaves = [base64.b64decode(leaf) for leaf in RECEIPT["leaves"]]
    hashes = [leaf_hash(leaf) for leaf in leaves]
    signer = NoteSigner(CHECKPOINTS["origin"], SigningKey(bytes.fromhex(RECEIPT["log_key_seed"])))
    note = sign_checkpoint(Checkpoint(CHECKPOINTS["origin"], len(hashes), root_hash(hashes)), signer)
    rebuilt = make_receipt(
        submission_id=1, leaf_index=1, leaf=leaves[1], inclusion_proof=inclusion_proof(1, hashes), checkpoint_note=note
    )
    assert rebuilt.canonical_bytes().decode("utf-8") == RECEIPT["receipt"]
    receipt = Receipt.model_validate_json(RECEIPT["receipt"])
    checked = verify_receipt(
        receipt, log_key=NoteVerifier.from_vkey(RECEIPT["vkey"]), payload_bytes=base64.b64decode(RECEIPT["payload"])
    )
    assert (checked.leaf_index, checked.checkpoint.size) == (1, 2)
    with pytest.raises(ProtocolError):
        verify_receipt(
            receipt,
            log_key=NoteVerifier.from_vkey(RECEIPT["vkey"]),
            payload_bytes=base64.b64decode(RECEIPT["payload"])[:-1],
        )


ENVELOPE = _load("envelope")


def test_the_envelope_opens_to_the_committed_payload() -> None:
    hotline = VerifyKey.from_text(ENVELOPE["hotline_public_key"])
    assert (
        SigningKey(bytes.fromhex(ENVELOPE["hotline_key_seed"])).verify_key.to_text() == ENVELOPE["hotline_public_key"]
    )
    hub = EncryptionKey(bytes.fromhex(ENVELOPE["hub_secret_key"]))
    assert hub.public_key.to_text() == ENVELOPE["hub_public_key"]
    opened = open_envelope(
        ENVELOPE["envelope"].encode("utf-8"), hub_key=hub, hotline_key=lambda _hotline, _key: hotline
    )
    assert opened.payload_bytes.decode("utf-8") == ENVELOPE["payload"]
    assert base64.b64encode(opened.signature).decode() == ENVELOPE["payload_signature"]
    hotline.verify_message(SUBMISSION_CONTEXT, opened.payload_bytes, opened.signature)


def test_the_envelope_does_not_open_with_another_hub_key() -> None:
    hotline = VerifyKey.from_text(ENVELOPE["hotline_public_key"])
    with pytest.raises(ProtocolError):
        open_envelope(
            ENVELOPE["envelope"].encode("utf-8"),
            hub_key=EncryptionKey(bytes(32)),
            hotline_key=lambda _hotline, _key: hotline,
        )
