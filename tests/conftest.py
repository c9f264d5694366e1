# SPDX-License-Identifier: Apache-2.0
"""Fixtures shared by the whole suite."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from protocol.crypto import EncryptionKey, SigningKey
from protocol.messages import (
    PrivacyBlock,
    SubmissionPayload,
    TableNoise,
    TableRelease,
    TaxonomyRef,
    b64encode,
)

PayloadFactory = Callable[..., SubmissionPayload]


@pytest.fixture
def hotline_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def hub_key() -> EncryptionKey:
    return EncryptionKey.generate()


@pytest.fixture
def make_payload(hotline_key: SigningKey) -> PayloadFactory:
    """Build a small valid payload; keyword arguments override fields."""

    def build(**overrides: Any) -> SubmissionPayload:
        fields: dict[str, Any] = {
            "type": "submission",
            "version": "tipshare/1",
            "taxonomy": TaxonomyRef(id="tipshare-taxonomy/1", hash="sha256:" + "ab" * 32),
            "hotline_id": "la-strada-ua",
            "key_id": hotline_key.verify_key.key_id,
            "period": "2026-10",
            "revision": 1,
            "created_at": "2026-11-02T09:30:00Z",
            "nonce": b64encode(secrets.token_bytes(16)),
            "privacy": PrivacyBlock(
                mode="local",
                mechanism="discrete_gaussian",
                measure="rho",
                unit="person-month",
                spent="0.02",
                tables=(
                    TableNoise(
                        table="contacts", scale="12.5", l1_sensitivity=3, l2_sensitivity_squared=9, spent="0.01"
                    ),
                    TableNoise(
                        table="persons_corridor",
                        scale="7.0710678118654755",
                        l1_sensitivity=1,
                        l2_sensitivity_squared=1,
                        spent="0.01",
                    ),
                ),
            ),
            "tables": (
                TableRelease(name="contacts", cells=(5, 0, -2, 17)),
                TableRelease(name="persons_corridor", cells=(3, -1, 0, 0, 12, 4)),
            ),
        }
        fields.update(overrides)
        return SubmissionPayload(**fields)

    return build
