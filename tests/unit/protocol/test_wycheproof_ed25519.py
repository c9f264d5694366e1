# SPDX-License-Identifier: Apache-2.0
"""Ed25519 verification against Project Wycheproof's vectors (tests/vectors/wycheproof): every valid signature
verifies, every invalid one is refused, by ``protocol.crypto.VerifyKey`` as the hub, node and auditor use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest

from protocol.crypto import VerifyKey
from protocol.errors import InvalidSignature, MalformedMessage

VECTORS: Final = Path(__file__).resolve().parents[2] / "vectors" / "wycheproof" / "ed25519_test.json"


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert document["algorithm"] == "EDDSA"
    cases = [
        (group["publicKey"]["pk"], f"tc{test['tcId']}", test)
        for group in document["testGroups"]
        for test in group["tests"]
    ]
    assert len(cases) == document["numberOfTests"]
    return cases


CASES: Final = _cases()


@pytest.mark.parametrize(("public_key", "case"), [(pk, test) for pk, _, test in CASES], ids=[i for _, i, _ in CASES])
def test_wycheproof_ed25519(public_key: str, case: dict[str, Any]) -> None:
    message, signature = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])
    if case["result"] == "valid":
        VerifyKey(bytes.fromhex(public_key)).verify(message, signature)
        return
    assert case["result"] == "invalid", case
    with pytest.raises((InvalidSignature, MalformedMessage)):
        VerifyKey(bytes.fromhex(public_key)).verify(message, signature)


def test_the_vectors_hold_both_kinds() -> None:
    results = [test["result"] for _, _, test in CASES]
    assert results.count("valid") == 88
    assert results.count("invalid") == 63
