# SPDX-License-Identifier: Apache-2.0
"""The secure-aggregation primitives of protocol.crypto against the standards' vectors and our committed ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.crypto import (
    KDF_LABEL,
    AgreementKey,
    AgreementPublicKey,
    chacha20_keystream,
    derive_key,
    expand_mod,
    kdf_context,
    open_share,
    seal_share,
    x25519,
)
from protocol.errors import DecryptionFailed, InvalidPublicKey, MalformedMessage
from tests.unit.protocol import chacha20_reference

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "secagg" / "kdf_expand.json").read_text(encoding="utf-8")
)

# ------------------------------------------------------------------ X25519: RFC 7748


@pytest.mark.parametrize(
    ("scalar", "u", "out"),
    [
        (  # §5.2, first vector
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (  # §5.2, second vector (its u has the top bit set, which X25519 ignores)
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ],
)
def test_x25519_rfc7748_section_5_2(scalar: str, u: str, out: str) -> None:
    assert x25519(bytes.fromhex(scalar), bytes.fromhex(u)) == bytes.fromhex(out)


def test_x25519_rfc7748_section_6_1_key_agreement() -> None:
    alice = AgreementKey(bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    bob = AgreementKey(bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
    assert bytes(alice.public_key).hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert bytes(bob.public_key).hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert alice.agree(bob.public_key).hex() == shared
    assert bob.agree(alice.public_key).hex() == shared


LOW_ORDER = [
    bytes(32),  # u = 0
    (1).to_bytes(32, "little"),  # u = 1
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),  # order 8
    (2**255 - 19 - 1).to_bytes(32, "little"),  # u = p - 1, order 2
]


@pytest.mark.parametrize("point", LOW_ORDER)
def test_agreement_with_a_low_order_point_is_refused(point: bytes) -> None:
    key = AgreementKey.generate()
    with pytest.raises(InvalidPublicKey, match="all-zero secret"):
        x25519(key.secret(), point)
    with pytest.raises(InvalidPublicKey, match="small order"):
        AgreementPublicKey(point)


def test_agreement_public_key_refuses_non_canonical_and_round_trips_text() -> None:
    with pytest.raises(InvalidPublicKey, match="non-canonical"):
        AgreementPublicKey((2**255 - 19 + 9).to_bytes(32, "little"))
    with pytest.raises(MalformedMessage, match="32 bytes"):
        AgreementPublicKey(bytes(31))
    key = AgreementKey.generate().public_key
    assert AgreementPublicKey.from_text(key.to_text()) == key
    assert key.to_text().startswith("x25519:")
    assert len(key.key_id) == 32
    with pytest.raises(MalformedMessage, match="starts with"):
        AgreementPublicKey.from_text("ed25519:" + key.to_text()[7:])
    assert "secret" in repr(AgreementKey.generate())


# ------------------------------------------------------------------ ChaCha20 keystream: RFC 8439


def test_keystream_rfc8439_section_2_4_2() -> None:
    """The AEAD's ciphertext of zeros is the keystream: XORed with the RFC's plaintext it gives its ciphertext."""
    key = bytes(range(32))
    nonce = bytes.fromhex("000000000000004a00000000")
    plaintext = (
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
        b"sunscreen would be it."
    )
    expected = bytes.fromhex(
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
        "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
        "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
        "5af90bbf74a35be6b40b8eedf2785e42874d"
    )
    stream = chacha20_keystream(key, nonce, len(plaintext))
    assert bytes(p ^ s for p, s in zip(plaintext, stream, strict=True)) == expected


def test_keystream_rfc8439_appendix_a1_second_vector() -> None:
    """A.1 test vector #2: all-zero key and nonce, block counter 1."""
    assert chacha20_keystream(bytes(32), bytes(12), 64).hex() == (
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
        "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"
    )


@settings(max_examples=30)
@given(key=st.binary(min_size=32, max_size=32), nonce=st.binary(min_size=12, max_size=12), length=st.integers(0, 300))
def test_keystream_agrees_with_the_rfc_reference(key: bytes, nonce: bytes, length: int) -> None:
    assert chacha20_keystream(key, nonce, length) == chacha20_reference.keystream(key, nonce, length)


# ------------------------------------------------------------------ BLAKE2b KDF: RFC 7693


def test_blake2b_rfc7693_appendix_a_through_libsodium() -> None:
    """RFC 7693 Appendix A, BLAKE2b-512("abc"), through the same libsodium call the KDF makes (keyed, 32 bytes,
    is checked against hashlib below)."""
    import nacl.bindings

    assert nacl.bindings.crypto_generichash_blake2b_salt_personal(b"abc", digest_size=64).hex() == (
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
    )


@settings(max_examples=30)
@given(secret=st.binary(min_size=32, max_size=32), context=st.binary(max_size=200))
def test_derive_key_is_keyed_blake2b_256(secret: bytes, context: bytes) -> None:
    assert derive_key(secret, context) == hashlib.blake2b(context, digest_size=32, key=secret).digest()


@pytest.mark.parametrize("case", VECTORS["kdf"]["vectors"], ids=lambda c: f"{c['purpose']}-{c['round']}")
def test_kdf_committed_vectors(case: dict[str, Any]) -> None:
    context = kdf_context(
        purpose=case["purpose"],
        group=case["group"],
        period=case["period"],
        round_number=case["round"],
        members=case["members"],
    )
    assert context.hex() == case["context"]
    assert context.startswith(KDF_LABEL + b"\x00")
    key = derive_key(bytes.fromhex(case["secret"]), context)
    assert key.hex() == case["key"]
    # and the vector itself is keyed BLAKE2b as any other library computes it
    assert hashlib.blake2b(context, digest_size=32, key=bytes.fromhex(case["secret"])).hexdigest() == case["key"]


def test_kdf_context_binds_every_field() -> None:
    base = {"purpose": "mask", "group": "g1", "period": "2026-10", "round_number": 1, "members": ("a", "b")}
    variants = [
        {"purpose": "self-mask"},
        {"group": "g2"},
        {"period": "2026-11"},
        {"round_number": 2},
        {"members": ("b", "a")},
        {"members": ("a", "c")},
        {"members": ("ab",)},
    ]
    contexts = {kdf_context(**base)} | {kdf_context(**(base | v)) for v in variants}  # type: ignore[arg-type]
    assert len(contexts) == len(variants) + 1
    # length prefixes: moving a byte from one field to the next changes the bytes
    assert kdf_context(**(base | {"group": "g1x", "period": "2026"})) != kdf_context(  # type: ignore[arg-type]
        **(base | {"group": "g1", "period": "x2026"})
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"purpose": "sealing"}, "purpose"),
        ({"round_number": 2**32}, "round number"),
        ({"round_number": -1}, "round number"),
        ({"members": ()}, "one member or"),
        ({"members": ("a", "a")}, "two distinct"),
        ({"members": ("a", "b", "c")}, "one member or"),
        ({"group": ""}, "group id"),
    ],
)
def test_kdf_context_refusals(change: dict[str, Any], message: str) -> None:
    base = {"purpose": "mask", "group": "g1", "period": "2026-10", "round_number": 1, "members": ("a", "b")}
    with pytest.raises(MalformedMessage, match=message):
        kdf_context(**(base | change))


def test_derive_key_refuses_a_short_secret() -> None:
    with pytest.raises(MalformedMessage, match="32 bytes"):
        derive_key(bytes(16), b"context")


# ------------------------------------------------------------------ the expander


@pytest.mark.parametrize("case", VECTORS["expand"]["vectors"], ids=lambda c: f"{c['length']}x{c['bits']}")
def test_expander_committed_vectors(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["seed"])
    elements = expand_mod(seed, case["length"], case["bits"])
    assert [format(x, "016x") for x in elements] == case["elements"]
    # and the vector follows from the RFC's ChaCha20 as the docs describe it
    stream = chacha20_reference.keystream(seed, bytes(12), 8 * case["length"])
    words = [int.from_bytes(stream[8 * i : 8 * i + 8], "little") % 2 ** case["bits"] for i in range(case["length"])]
    assert [format(x, "016x") for x in words] == case["elements"]


@settings(max_examples=30)
@given(seed=st.binary(min_size=32, max_size=32), length=st.integers(0, 40), bits=st.integers(1, 64))
def test_expander_elements_are_in_range_and_prefix_stable(seed: bytes, length: int, bits: int) -> None:
    elements = expand_mod(seed, length, bits)
    assert len(elements) == length
    assert all(0 <= x < 2**bits for x in elements)
    assert expand_mod(seed, length + 3, bits)[:length] == elements


def test_expander_output_is_not_visibly_biased() -> None:
    """10,000 bytes' worth of 1-bit elements: the count of ones is within 5 sigma of half."""
    ones = sum(expand_mod(hashlib.sha256(b"bias").digest(), 10_000, 1))
    assert abs(ones - 5_000) < 5 * 50


@pytest.mark.parametrize(
    ("seed", "length", "bits", "message"),
    [
        (bytes(31), 1, 64, "32 bytes"),
        (bytes(32), 1, 0, "1 to 64 bits"),
        (bytes(32), 1, 65, "1 to 64 bits"),
        (bytes(32), -1, 64, "elements"),
    ],
)
def test_expander_refusals(seed: bytes, length: int, bits: int, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        expand_mod(seed, length, bits)


# ------------------------------------------------------------------ sealing a share


ROUND = {"group": "region-eu-east", "period": "2026-10", "round_number": 3}


def test_share_seal_round_trip_and_binding() -> None:
    alice, bob, eve = AgreementKey.generate(), AgreementKey.generate(), AgreementKey.generate()
    nonce = bytes(range(24))
    sealed = seal_share(
        b"share",
        sender_key=alice,
        recipient_key=bob.public_key,
        sender="alice",
        recipient="bob",
        nonce=nonce,
        **ROUND,
    )
    assert len(sealed) == 24 + len(b"share") + 16
    assert sealed.startswith(nonce)
    again = seal_share(
        b"share",
        sender_key=alice,
        recipient_key=bob.public_key,
        sender="alice",
        recipient="bob",
        nonce=bytes(24),
        **ROUND,
    )
    assert again[24:] != sealed[24:]  # another nonce, another keystream
    opened = open_share(
        sealed, recipient_key=bob, sender_key=alice.public_key, sender="alice", recipient="bob", **ROUND
    )
    assert opened == b"share"
    wrong: list[dict[str, Any]] = [
        {"recipient_key": eve},  # another member's key
        {"sender_key": eve.public_key},  # another sender
        {"sender": "bob", "recipient": "alice"},  # reflected
        {"round_number": 4},  # another round
        {"period": "2026-11"},
        {"group": "region-eu-west"},
    ]
    for change in wrong:
        arguments: dict[str, Any] = {
            "recipient_key": bob,
            "sender_key": alice.public_key,
            "sender": "alice",
            "recipient": "bob",
            **ROUND,
        } | change
        with pytest.raises(DecryptionFailed):
            open_share(sealed, **arguments)
    for position in (0, 30, len(sealed) - 1):  # the nonce, the ciphertext, the tag
        tampered = sealed[:position] + bytes([sealed[position] ^ 1]) + sealed[position + 1 :]
        with pytest.raises(DecryptionFailed):
            open_share(
                tampered, recipient_key=bob, sender_key=alice.public_key, sender="alice", recipient="bob", **ROUND
            )
    with pytest.raises(DecryptionFailed):
        open_share(
            sealed[:39], recipient_key=bob, sender_key=alice.public_key, sender="alice", recipient="bob", **ROUND
        )
    with pytest.raises(MalformedMessage, match="24 random bytes"):
        seal_share(
            b"", sender_key=alice, recipient_key=bob.public_key, sender="a", recipient="b", nonce=bytes(12), **ROUND
        )


@pytest.mark.parametrize(("key", "nonce"), [(bytes(31), bytes(12)), (bytes(33), bytes(12)), (bytes(32), bytes(8))])
def test_the_keystream_refuses_a_key_or_nonce_of_the_wrong_length(key: bytes, nonce: bytes) -> None:
    with pytest.raises(MalformedMessage, match="32-byte key and a 12-byte nonce"):
        chacha20_keystream(key, nonce, 16)


@pytest.mark.parametrize(("secret", "public"), [(bytes(31), bytes([9]) + bytes(31)), (bytes(32), bytes([9]) * 33)])
def test_x25519_refuses_a_scalar_or_point_of_the_wrong_length(secret: bytes, public: bytes) -> None:
    with pytest.raises(MalformedMessage, match="32-byte scalar and a 32-byte u-coordinate"):
        x25519(secret, public)
