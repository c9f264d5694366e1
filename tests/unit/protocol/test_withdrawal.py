# SPDX-License-Identifier: Apache-2.0
"""Withdrawal entries and revocations naming ``compromised_since``: signed, strict, and old entries unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.canonical import canonical_bytes
from protocol.crypto import SigningKey
from protocol.errors import InvalidSignature, MalformedMessage
from protocol.messages import KeyEventEntry, SubmissionWithdrawnEntry, b64encode, parse_log_entry
from protocol.note import NoteSigner
from protocol.withdrawal import sign_withdrawal, verify_withdrawal

ORIGIN = "hub.example.org/log"
KEY = SigningKey(bytes(range(32))).verify_key


def _withdrawal(signer: NoteSigner, **changes: Any) -> SubmissionWithdrawnEntry:
    fields: dict[str, Any] = {
        "leaf_index": 7,
        "hotline_id": "la-strada-ua",
        "key_id": KEY.key_id,
        "period": "2026-10",
        "revision": 2,
        "payload_hash": "sha256:" + "ab" * 32,
        "reason": "sent with a stolen key",
        "withdrawn_at": "2026-11-21T12:00:00Z",
    }
    return sign_withdrawal(signer, **(fields | changes))


def _revocation(**changes: Any) -> KeyEventEntry:
    fields: dict[str, Any] = {
        "type": "log_entry",
        "version": "tipshare/1",
        "kind": "key_revoked",
        "hotline_id": "la-strada-ua",
        "key_id": KEY.key_id,
        "public_key": KEY.to_text(),
        "display_name": "La Strada",
        "country": "UA",
        "reason": "laptop stolen",
        "effective_at": "2026-11-21T12:00:00Z",
    }
    return KeyEventEntry(**(fields | changes))


def test_a_withdrawal_round_trips_and_verifies_with_the_log_key_it_names() -> None:
    log = NoteSigner(ORIGIN, SigningKey.generate())
    other = NoteSigner(ORIGIN, SigningKey.generate())
    entry = _withdrawal(log)

    parsed = parse_log_entry(entry.canonical_bytes())

    assert parsed == entry
    assert isinstance(parsed, SubmissionWithdrawnEntry)
    assert parsed.log_key_id == log.key_id.hex()
    verify_withdrawal(parsed, [other.verifier, log.verifier])
    with pytest.raises(InvalidSignature):
        verify_withdrawal(parsed, [other.verifier])  # the key it names is not given
    for field, value in (
        ("leaf_index", 8),
        ("reason", "another"),
        ("revision", 3),
        ("withdrawn_at", "2026-11-22T00:00:00Z"),
    ):
        with pytest.raises(InvalidSignature):
            verify_withdrawal(parsed.model_copy(update={field: value}), [log.verifier])


def test_a_withdrawal_signature_covers_the_domain_separated_statement_only() -> None:
    log = NoteSigner(ORIGIN, SigningKey.generate())
    entry = _withdrawal(log)

    bare = entry.model_copy(update={"signature": b64encode(log.sign(entry.statement_bytes()))})

    with pytest.raises(InvalidSignature):
        verify_withdrawal(bare, [log.verifier])


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", ""), ("reason", "x" * 501), ("leaf_index", -1), ("log_key_id", "ABCDEF01"), ("revision", 0)],
)
def test_a_malformed_withdrawal_is_refused(field: str, value: Any) -> None:
    document = _withdrawal(NoteSigner(ORIGIN, SigningKey.generate())).model_dump(mode="json")
    document[field] = value

    with pytest.raises(MalformedMessage, match=field):
        parse_log_entry(canonical_bytes(document))


def test_a_revocation_without_compromised_since_keeps_the_bytes_it_always_had() -> None:
    revocation = _revocation()
    later_optional_fields = {"compromised_since", "sealing_key"}  # absent from the bytes when not given
    before = canonical_bytes(
        {name: value for name, value in revocation.model_dump(mode="json").items() if name not in later_optional_fields}
    )

    assert revocation.canonical_bytes() == before
    assert b"compromised_since" not in before
    assert parse_log_entry(before) == revocation


def test_a_revocation_may_name_when_the_key_was_compromised_and_only_a_revocation() -> None:
    revocation = _revocation(compromised_since="2026-11-20T08:00:00Z")

    assert parse_log_entry(revocation.canonical_bytes()) == revocation
    assert b'"compromised_since":"2026-11-20T08:00:00Z"' in revocation.canonical_bytes()
    with pytest.raises(ValueError, match="only for a revocation"):
        _revocation(kind="key_enrolled", reason=None, compromised_since="2026-11-20T08:00:00Z")
    with pytest.raises(ValueError, match="not after the revocation"):
        _revocation(compromised_since="2026-11-22T00:00:00Z")
