# SPDX-License-Identifier: Apache-2.0
"""Known answers for Ed25519 public-key validation (:func:`protocol.crypto.check_public_key`).

Vectors: the eight small-order points in every encoding libsodium blacklists (as listed in "Taming the many
EdDSAs", Chalkias et al., 2020), the 19 non-canonical encodings ``y = p + k``, points off the curve, and points
with a torsion component (a valid key plus a point of order 2 or 8). libsodium
(``crypto_core_ed25519_is_valid_point``) and :mod:`protocol.edwards` must agree on every one.
"""

from __future__ import annotations

import base64

import nacl.bindings
import pytest

from protocol.crypto import EncryptionKey, SealingKey, SigningKey, VerifyKey, check_public_key
from protocol.edwards import broken_rule
from protocol.errors import InvalidPublicKey, MalformedMessage
from protocol.note import NoteVerifier, vkey_for

P = 2**255 - 19

SMALL_ORDER = {
    "identity (order 1)": ("0100000000000000000000000000000000000000000000000000000000000000", 1),
    "order 2": ("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 2),
    "order 4, x > 0": ("0000000000000000000000000000000000000000000000000000000000000000", 4),
    "order 4, x < 0": ("0000000000000000000000000000000000000000000000000000000000000080", 4),
    "order 8 (a)": ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", 8),
    "order 8 (b)": ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", 8),
    "order 8 (c)": ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", 8),
    "order 8 (d)": ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", 8),
}


def _agree(raw: bytes) -> str | None:
    """The rule protocol.edwards names, after checking that libsodium agrees on valid / invalid."""
    rule = broken_rule(raw)
    assert (rule is None) == nacl.bindings.crypto_core_ed25519_is_valid_point(raw), (raw.hex(), rule)
    return rule


@pytest.mark.parametrize("name", sorted(SMALL_ORDER))
def test_small_order_points_are_refused(name: str) -> None:
    encoded, order = SMALL_ORDER[name]
    raw = bytes.fromhex(encoded)

    assert _agree(raw) == f"is a point of small order (order {order})"
    with pytest.raises(InvalidPublicKey, match="small order"):
        VerifyKey(raw)


@pytest.mark.parametrize("k", range(19))
def test_non_canonical_y_is_refused(k: int) -> None:
    raw = (P + k).to_bytes(32, "little")

    assert _agree(raw) == f"has a non-canonical encoding: y = p + {k} is not reduced modulo p = 2^255 - 19"
    with pytest.raises(InvalidPublicKey, match="non-canonical"):
        check_public_key(raw)


def test_x_zero_with_the_sign_bit_set_is_non_canonical() -> None:
    for y in (1, P - 1):  # the two points with x = 0: the identity and the point of order 2
        raw = (y | 1 << 255).to_bytes(32, "little")
        assert _agree(raw) == "has a non-canonical encoding: x = 0 with the sign bit set"


@pytest.mark.parametrize("y", [2, 7, 8, 11, 12, 13, 17])
def test_points_off_the_curve_are_refused(y: int) -> None:
    raw = y.to_bytes(32, "little")

    assert _agree(raw) == "is not a point on the Ed25519 curve (no x fits its y)"
    with pytest.raises(InvalidPublicKey, match="not a point on the Ed25519 curve"):
        VerifyKey.from_text("ed25519:" + base64.b64encode(raw).decode())


@pytest.mark.parametrize("torsion", ["order 2", "order 4, x > 0", "order 8 (a)", "order 8 (d)"])
def test_a_valid_key_plus_a_small_order_point_is_refused(torsion: str) -> None:
    key = bytes(SigningKey(bytes(range(32))).verify_key)
    mixed = nacl.bindings.crypto_core_ed25519_add(key, bytes.fromhex(SMALL_ORDER[torsion][0]))

    assert _agree(mixed) == "is not in the prime-order subgroup (it has a small-order torsion component)"
    with pytest.raises(InvalidPublicKey, match="prime-order subgroup"):
        VerifyKey(mixed)


def test_generated_and_rfc8032_keys_are_valid() -> None:
    rfc8032 = [
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    ]
    keys = [bytes.fromhex(h) for h in rfc8032] + [bytes(SigningKey.generate().verify_key) for _ in range(50)]
    for raw in keys:
        assert _agree(raw) is None
        check_public_key(raw)


def test_the_message_names_the_key_and_what_to_do() -> None:
    with pytest.raises(InvalidPublicKey) as caught:
        VerifyKey(bytes(32))
    assert "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" in str(caught.value)
    assert "never typed by hand" in str(caught.value)
    assert isinstance(caught.value, MalformedMessage)


def test_a_vkey_of_an_invalid_point_is_refused() -> None:
    # What a node pins and an auditor is given: the vkey's key must be a valid point too.
    valid = NoteVerifier("hub.example.org/log", SigningKey(bytes(32)).verify_key)
    raw = bytes.fromhex(SMALL_ORDER["order 8 (a)"][0])
    forged = valid.vkey.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x01" + raw).decode()
    with pytest.raises(MalformedMessage):
        NoteVerifier.from_vkey(forged)
    assert vkey_for(valid.name, valid.key) == valid.vkey


# Low-order X25519 points (Bernstein's list, as used by libsodium's blacklist): u = 0, 1, and the points of order 8.
X25519_SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


@pytest.mark.parametrize("encoded", X25519_SMALL_ORDER)
def test_an_x25519_key_of_small_order_or_not_reduced_is_refused(encoded: str) -> None:
    with pytest.raises(InvalidPublicKey, match=r"small order|non-canonical"):
        SealingKey(bytes.fromhex(encoded))


def test_an_x25519_key_with_the_top_bit_set_is_non_canonical() -> None:
    raw = bytearray(bytes(EncryptionKey.generate().public_key))
    raw[31] |= 0x80
    with pytest.raises(InvalidPublicKey, match="non-canonical"):
        SealingKey(bytes(raw))
    for _ in range(20):
        SealingKey(bytes(EncryptionKey.generate().public_key))  # generated keys are always fine


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_the_rule_namer_names_a_wrong_length(length: int) -> None:
    assert broken_rule(bytes(length)) == f"is {length} bytes long, not 32"
