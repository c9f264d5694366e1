# SPDX-License-Identifier: Apache-2.0
"""Write the protocol's committed known-answer vectors (``tests/vectors/protocol/*.json``).

    python -m tests.vectors.protocol_vectors        # rewrites the files; review the diff before committing

The vectors pin the bytes every party must produce or accept, so a change of format shows up as a failing test
(``tests/unit/protocol/test_vectors.py``) rather than as a silent incompatibility, and another implementation can
check itself against them:

* ``canonical.json``: values and their RFC 8785 bytes (RFC 8785's own examples of property sorting and string
  escaping among them, less its floating-point numbers, which tipshare refuses), and inputs that are refused;
* ``checkpoint.json``: C2SP signed checkpoint notes from fixed Ed25519 seeds (Ed25519 signatures are deterministic);
* ``receipt.json``: a receipt over a two-leaf log, byte for byte, with the payload it proves;
* ``envelope.json``: a sealed, signed submission envelope with the keys that open it (sealing is randomised, so it
  cannot be rebuilt byte for byte: readers must open it and find exactly the payload recorded beside it).

Every key here is a test key from a fixed seed; none is used anywhere else.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from protocol.canonical import canonical_bytes
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SUBMISSION_CONTEXT, EncryptionKey, SigningKey, payload_hash, seal_envelope
from protocol.merkle import inclusion_proof, leaf_hash, root_hash
from protocol.messages import (
    PrivacyBlock,
    SubmissionEntry,
    SubmissionPayload,
    TableNoise,
    TableRelease,
    TaxonomyRef,
    b64encode,
)
from protocol.note import NoteSigner
from protocol.receipt import make_receipt

HERE = Path(__file__).resolve().parent / "protocol"
ORIGIN = "hub.example.org/tipshare"


def seed(label: str) -> bytes:
    """A fixed 32-byte seed named by ``label`` (SHA-256 of it): reproducible, and obviously a test key."""
    return hashlib.sha256(f"tipshare test vector {label}".encode()).digest()


#: Canonical cases: (name, value). RFC 8785 §3.2.3 (sorting by UTF-16 code units) and §3.2.2.2 (string escapes).
CANONICAL_CASES: list[tuple[str, Any]] = [
    ("empty object", {}),
    ("empty array", []),
    ("literals", [None, True, False]),
    (
        "rfc8785 property sorting",
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        },
    ),
    ("rfc8785 string escapes", {"string": '€$\u000f\nA\'B"\\\\"/', "literals": [None, True, False]}),
    ("control characters", "\u0000\u0001\u001f\b\f\t\u007f"),
    ("safe integers", [0, -1, 9007199254740991, -9007199254740991]),
    ("nested, sorted at every level", {"b": {"z": 1, "a": [{"y": 2, "x": 1}]}, "a": ""}),
    ("decimal strings stay strings", {"scale": "3.4641016151377544", "spent": "0.1"}),
]

#: Inputs that are refused: (name, JSON text, why).
REFUSED_CASES: list[tuple[str, str, str]] = [
    ("a float", '{"a":1.5}', "floating-point numbers are refused"),
    ("an exponent", '{"a":1e3}', "floating-point numbers are refused"),
    ("an unsafe integer", '{"a":9007199254740992}', "integers beyond 2^53 - 1 are refused"),
    ("a duplicate key", '{"a":1,"a":2}', "duplicate keys are refused"),
    ("NaN", '{"a":NaN}', "non-JSON constants are refused"),
    ("unsorted keys", '{"b":1,"a":2}', "not canonical: keys out of order"),
    ("whitespace", '{"a": 1}', "not canonical: whitespace"),
]


def canonical_vectors() -> dict[str, Any]:
    cases = []
    for name, value in CANONICAL_CASES:
        data = canonical_bytes(value)
        cases.append({"name": name, "value": value, "canonical": data.decode("utf-8"), "sha256": _sha(data)})
    refused = [{"name": name, "input": text, "why": why} for name, text, why in REFUSED_CASES]
    return {
        "description": "RFC 8785 canonical bytes as tipshare writes them (no floats)",
        "cases": cases,
        "refused": refused,
    }


def checkpoint_vectors() -> dict[str, Any]:
    signer = NoteSigner(ORIGIN, SigningKey(seed("log key")))
    cases = []
    for size in (0, 1, 7):
        hashes = [leaf_hash(f"leaf {i}".encode()) for i in range(size)]
        root = root_hash(hashes)
        note = sign_checkpoint(Checkpoint(ORIGIN, size, root), signer)
        cases.append({"size": size, "root_hash": b64encode(root), "note": note})
    return {
        "description": "C2SP signed checkpoints (tlog-checkpoint, signed-note) from a fixed Ed25519 seed",
        "origin": ORIGIN,
        "log_key_seed": seed("log key").hex(),
        "vkey": signer.verifier.vkey,
        "cases": cases,
    }


def _payload(hotline: SigningKey) -> SubmissionPayload:
    return SubmissionPayload(
        type="submission",
        version="tipshare/1",
        taxonomy=TaxonomyRef(id="tipshare-taxonomy/1", hash="sha256:" + "ab" * 32),
        hotline_id="la-strada-ua",
        key_id=hotline.verify_key.key_id,
        period="2026-10",
        revision=1,
        created_at="2026-11-02T09:30:00Z",
        nonce=b64encode(bytes(range(16))),
        privacy=PrivacyBlock(
            mode="local",
            mechanism="discrete_gaussian",
            measure="rho",
            unit="person-month",
            spent="0.045",
            tables=(
                TableNoise(table="contacts", scale="10", l1_sensitivity=3, l2_sensitivity_squared=9, spent="0.045"),
            ),
        ),
        tables=(TableRelease(name="contacts", cells=(5, 0, -2, 17)),),
    )


def receipt_vectors() -> dict[str, Any]:
    hotline = SigningKey(seed("hotline key"))
    signer = NoteSigner(ORIGIN, SigningKey(seed("log key")))
    payload = _payload(hotline)
    payload_bytes = payload.canonical_bytes()
    entry = SubmissionEntry(
        type="log_entry",
        version="tipshare/1",
        kind="submission",
        hotline_id=payload.hotline_id,
        key_id=payload.key_id,
        period=payload.period,
        revision=payload.revision,
        payload_hash=payload_hash(payload_bytes),
        payload=b64encode(payload_bytes),
        signature=b64encode(_payload_signature(hotline, payload_bytes)),
        received_at="2026-11-02T09:31:00Z",
    )
    leaves = [b"an earlier entry", entry.canonical_bytes()]
    hashes = [leaf_hash(leaf) for leaf in leaves]
    note = sign_checkpoint(Checkpoint(ORIGIN, len(hashes), root_hash(hashes)), signer)
    receipt = make_receipt(
        submission_id=1, leaf_index=1, leaf=leaves[1], inclusion_proof=inclusion_proof(1, hashes), checkpoint_note=note
    )
    return {
        "description": "a receipt for the second entry of a two-entry log, and the payload it proves",
        "vkey": signer.verifier.vkey,
        "log_key_seed": seed("log key").hex(),
        "leaves": [b64encode(leaf) for leaf in leaves],
        "payload": b64encode(payload_bytes),
        "receipt": receipt.canonical_bytes().decode("utf-8"),
    }


def _payload_signature(hotline: SigningKey, payload_bytes: bytes) -> bytes:
    return hotline.sign_message(SUBMISSION_CONTEXT, payload_bytes)


def envelope_vectors() -> dict[str, Any]:
    hotline = SigningKey(seed("hotline key"))
    hub = EncryptionKey(seed("hub encryption key"))
    payload = _payload(hotline)
    envelope = seal_envelope(payload, signing_key=hotline, hub_key=hub.public_key)
    return {
        "description": "a submission envelope: open it with the hub's secret and the hotline's key",
        "hotline_key_seed": seed("hotline key").hex(),
        "hotline_public_key": hotline.verify_key.to_text(),
        "hub_secret_key": hub.secret().hex(),
        "hub_public_key": hub.public_key.to_text(),
        "envelope": envelope.canonical_bytes().decode("utf-8"),
        "payload": payload.canonical_bytes().decode("utf-8"),
        "payload_signature": b64encode(_payload_signature(hotline, payload.canonical_bytes())),
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, build in (
        ("canonical", canonical_vectors),
        ("checkpoint", checkpoint_vectors),
        ("receipt", receipt_vectors),
        ("envelope", envelope_vectors),
    ):
        (HERE / f"{name}.json").write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
