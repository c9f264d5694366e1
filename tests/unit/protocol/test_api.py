# SPDX-License-Identifier: Apache-2.0
"""protocol.api: the hub's identity as a node and an auditor read it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from protocol.api import HubIdentity, PublishedTaxonomy
from protocol.crypto import EncryptionKey, SigningKey
from protocol.errors import MalformedMessage, ProtocolError
from protocol.note import NoteSigner

LOG = NoteSigner("hub.example.org/log", SigningKey(bytes([5]) * 32))
SEALING = EncryptionKey(bytes([6]) * 32).public_key


def _identity(**overrides: str) -> HubIdentity:
    fields = {
        "protocol_version": "tipshare/1",
        "log_origin": "hub.example.org/log",
        "log_vkey": LOG.verifier.vkey,
        "encryption_key": SEALING.to_text(),
    }
    return HubIdentity(
        **(fields | overrides), taxonomy=PublishedTaxonomy(id="tipshare-taxonomy/2", hash="sha256:" + "ab" * 32)
    )


def test_the_identity_gives_the_taxonomy_and_parses_its_keys() -> None:
    identity = _identity()
    assert identity.taxonomy_id == "tipshare-taxonomy/2"
    assert identity.taxonomy_hash == "sha256:" + "ab" * 32
    assert identity.log_verifier == LOG.verifier
    assert identity.sealing_key == SEALING


def test_a_malformed_key_in_the_identity_raises_a_protocol_error_when_read() -> None:
    identity = _identity(log_vkey="hub.example.org/log+00000000+AAAA", encryption_key="ed25519:AAAA")
    with pytest.raises(ProtocolError):
        _ = identity.log_verifier
    with pytest.raises(MalformedMessage, match="starts with 'x25519:'"):
        _ = identity.sealing_key


def test_a_taxonomy_hash_must_be_a_sha256() -> None:
    with pytest.raises(ValidationError):
        PublishedTaxonomy(id="tipshare-taxonomy/2", hash="md5:" + "ab" * 16)
