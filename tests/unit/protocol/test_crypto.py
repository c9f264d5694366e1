# SPDX-License-Identifier: Apache-2.0
"""Keys, domain-separated signatures, sealed boxes and envelopes."""

from __future__ import annotations

import base64
import json

import nacl.public
import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.crypto import (
    ENVELOPE_CONTEXT,
    SUBMISSION_CONTEXT,
    AgreementKey,
    AgreementPublicKey,
    EncryptionKey,
    SealingKey,
    SigningKey,
    VerifyKey,
    domain_message,
    fingerprint,
    open_envelope,
    payload_hash,
    seal,
    seal_envelope,
    unseal,
    verify_submission_signature,
)
from protocol.errors import (
    DecryptionFailed,
    InvalidPublicKey,
    InvalidSignature,
    MalformedMessage,
    ProtocolError,
)
from protocol.messages import Envelope, b64decode, b64encode

# RFC 8032 §7.1, tests 1-3 (secret key = 32-byte seed, public key, message, signature).
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032_VECTORS)
def test_ed25519_known_answers(seed: str, public: str, message: str, signature: str) -> None:
    key = SigningKey(bytes.fromhex(seed))
    assert bytes(key.verify_key) == bytes.fromhex(public)
    assert key.sign(bytes.fromhex(message)) == bytes.fromhex(signature)
    VerifyKey(bytes.fromhex(public)).verify(bytes.fromhex(message), bytes.fromhex(signature))
    with pytest.raises(InvalidSignature):
        VerifyKey(bytes.fromhex(public)).verify(bytes.fromhex(message) + b"\x00", bytes.fromhex(signature))


def test_domain_message_layout() -> None:
    assert (
        domain_message("tipshare/1 submission", b"abc")
        == b"tipshare/1 submission\x00" + (3).to_bytes(8, "big") + b"abc"
    )
    with pytest.raises(ValueError, match="NUL"):
        domain_message("bad\x00context", b"")
    with pytest.raises(ValueError, match="non-empty"):
        domain_message("", b"")


def test_signature_for_one_context_does_not_verify_in_another(hotline_key: SigningKey) -> None:
    signature = hotline_key.sign_message(SUBMISSION_CONTEXT, b"body")
    hotline_key.verify_key.verify_message(SUBMISSION_CONTEXT, b"body", signature)
    with pytest.raises(InvalidSignature):
        hotline_key.verify_key.verify_message(ENVELOPE_CONTEXT, b"body", signature)
    with pytest.raises(InvalidSignature):
        hotline_key.verify_key.verify(b"body", signature)  # the raw body was never signed


@settings(max_examples=50)
@given(message=st.binary(max_size=2048), context=st.sampled_from([SUBMISSION_CONTEXT, ENVELOPE_CONTEXT, "x"]))
def test_sign_verify_round_trip(message: bytes, context: str) -> None:
    key = SigningKey.generate()
    signature = key.sign_message(context, message)
    key.verify_key.verify_message(context, message, signature)
    with pytest.raises(InvalidSignature):
        SigningKey.generate().verify_key.verify_message(context, message, signature)


@settings(max_examples=50)
@given(plaintext=st.binary(max_size=4096))
def test_seal_unseal_round_trip(plaintext: bytes) -> None:
    key = EncryptionKey.generate()
    sealed = seal(plaintext, key.public_key)
    assert sealed != seal(plaintext, key.public_key)  # fresh ephemeral key every time
    assert unseal(sealed, key) == plaintext
    with pytest.raises(DecryptionFailed):
        unseal(sealed, EncryptionKey.generate())


@pytest.mark.parametrize("ciphertext", [b"", b"\x00" * 47, b"\x00" * 48, b"\x01" * 200])
def test_unseal_garbage_is_opaque(ciphertext: bytes) -> None:
    with pytest.raises(DecryptionFailed) as raised:
        unseal(ciphertext, EncryptionKey.generate())
    assert str(raised.value) == "decryption failed"
    assert raised.value.__cause__ is None


def test_key_text_forms_round_trip(hotline_key: SigningKey, hub_key: EncryptionKey) -> None:
    text = hotline_key.verify_key.to_text()
    assert text.startswith("ed25519:")
    assert VerifyKey.from_text(text) == hotline_key.verify_key
    sealing_text = hub_key.public_key.to_text()
    assert sealing_text.startswith("x25519:")
    assert SealingKey.from_text(sealing_text) == hub_key.public_key
    assert SigningKey(hotline_key.seed()).verify_key == hotline_key.verify_key
    assert EncryptionKey(hub_key.secret()).public_key == hub_key.public_key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x25519:" + "A" * 43 + "=", "starts with 'ed25519:'"),
        ("ed25519:not base64!", "not valid base64"),
        ("ed25519:" + base64.b64encode(b"\x00" * 31).decode(), "must be 32 bytes"),
        ("ed25519:" + "A" * 42 + "B=", "canonical"),
    ],
)
def test_bad_key_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        VerifyKey.from_text(text)


def test_key_ids_are_stable_and_algorithm_separated() -> None:
    public = bytes.fromhex(RFC8032_VECTORS[0][1])
    # hex(SHA-256("ed25519" || 0x00 || key))[:32], pinned so that a change of the rule cannot go unnoticed.
    assert VerifyKey(public).key_id == "40302329e41f3cc765c446cc3902ec77"
    assert SealingKey(public).key_id != VerifyKey(public).key_id
    assert len(fingerprint(public).split(":")) == 8


def test_secrets_stay_out_of_repr(hotline_key: SigningKey, hub_key: EncryptionKey) -> None:
    assert hotline_key.seed().hex() not in repr(hotline_key)
    assert base64.b64encode(hotline_key.seed()).decode() not in repr(hotline_key)
    assert hub_key.secret().hex() not in repr(hub_key)


# ------------------------------------------------------------------------------------------------ envelopes


def test_envelope_round_trip(make_payload, hotline_key: SigningKey, hub_key: EncryptionKey) -> None:  # type: ignore[no-untyped-def]
    payload = make_payload()
    envelope = seal_envelope(payload, signing_key=hotline_key, hub_key=hub_key.public_key)
    wire = envelope.canonical_bytes()
    lookups: list[tuple[str, str]] = []

    def lookup(hotline_id: str, key_id: str) -> VerifyKey:
        lookups.append((hotline_id, key_id))
        return hotline_key.verify_key

    verified = open_envelope(wire, hub_key=hub_key, hotline_key=lookup)
    assert verified.payload == payload
    assert verified.payload_bytes == payload.canonical_bytes()
    assert verified.payload_hash == payload_hash(payload.canonical_bytes())
    assert lookups == [("la-strada-ua", hotline_key.verify_key.key_id)]
    # The clear part of the envelope reveals only routing data: no table, period or count.
    clear = json.loads(wire)
    assert set(clear) == {"type", "version", "hotline_id", "key_id", "sealed", "signature"}
    assert b"persons_corridor" not in wire
    assert b"2026-10" not in wire
    # An auditor re-verifies the stored payload and signature offline.
    assert verify_submission_signature(verified.payload_bytes, verified.signature, hotline_key.verify_key) == payload


def test_every_single_bit_flip_of_an_envelope_is_rejected(
    make_payload,  # type: ignore[no-untyped-def]
    hotline_key: SigningKey,
    hub_key: EncryptionKey,
) -> None:
    wire = seal_envelope(make_payload(), signing_key=hotline_key, hub_key=hub_key.public_key).canonical_bytes()
    for bit in range(len(wire) * 8):
        mutated = bytearray(wire)
        mutated[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProtocolError):
            open_envelope(bytes(mutated), hub_key=hub_key, hotline_key=lambda _h, _k: hotline_key.verify_key)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_bit_flip_inside_the_sealed_box_is_rejected(
    make_payload,  # type: ignore[no-untyped-def]
    hotline_key: SigningKey,
    hub_key: EncryptionKey,
    data: st.DataObject,
) -> None:
    envelope = seal_envelope(make_payload(), signing_key=hotline_key, hub_key=hub_key.public_key)
    sealed = bytearray(b64decode(envelope.sealed))
    bit = data.draw(st.integers(min_value=0, max_value=len(sealed) * 8 - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    # Re-sign the header, as a hotline (or an attacker holding its key) could: the box itself must still fail.
    header = Envelope(
        type="envelope",
        version="tipshare/1",
        hotline_id=envelope.hotline_id,
        key_id=envelope.key_id,
        sealed=b64encode(bytes(sealed)),
        signature=envelope.signature,
    )
    resigned = header.model_copy(
        update={"signature": b64encode(hotline_key.sign_message(ENVELOPE_CONTEXT, header.header_bytes()))}
    )
    with pytest.raises(DecryptionFailed):
        open_envelope(resigned, hub_key=hub_key, hotline_key=lambda _h, _k: hotline_key.verify_key)


def test_wrong_hub_key_and_wrong_hotline_key(make_payload, hotline_key: SigningKey, hub_key: EncryptionKey) -> None:  # type: ignore[no-untyped-def]
    envelope = seal_envelope(make_payload(), signing_key=hotline_key, hub_key=hub_key.public_key)
    with pytest.raises(DecryptionFailed):
        open_envelope(envelope, hub_key=EncryptionKey.generate(), hotline_key=lambda _h, _k: hotline_key.verify_key)
    other = SigningKey.generate()
    with pytest.raises(InvalidSignature):
        open_envelope(envelope, hub_key=hub_key, hotline_key=lambda _h, _k: other.verify_key)


def test_a_hotline_cannot_submit_as_another(make_payload, hub_key: EncryptionKey) -> None:  # type: ignore[no-untyped-def]
    """Hotline B seals a payload claiming to be hotline A, but signs it with its own key."""
    mallory = SigningKey.generate()
    forged = make_payload(hotline_id="hotline-a", key_id=mallory.verify_key.key_id)
    envelope = seal_envelope(forged, signing_key=mallory, hub_key=hub_key.public_key)
    # Header claims hotline-a: the registry gives hotline-a's real key, whose id differs from the one claimed.
    real_a = SigningKey.generate()
    with pytest.raises(InvalidSignature):
        open_envelope(envelope, hub_key=hub_key, hotline_key=lambda _h, _k: real_a.verify_key)
    # Header altered to mallory's own id while the signed payload still claims hotline-a: refused after opening.
    payload_bytes = forged.canonical_bytes()
    inner = payload_bytes + mallory.sign_message(SUBMISSION_CONTEXT, payload_bytes)
    sealed = b64encode(seal(inner, hub_key.public_key))
    unsigned = Envelope(
        type="envelope",
        version="tipshare/1",
        hotline_id="mallory-hotline",
        key_id=mallory.verify_key.key_id,
        sealed=sealed,
        signature=b64encode(bytes(64)),
    )
    relabelled = unsigned.model_copy(
        update={"signature": b64encode(mallory.sign_message(ENVELOPE_CONTEXT, unsigned.header_bytes()))}
    )
    with pytest.raises(MalformedMessage, match="another hotline or key"):
        open_envelope(relabelled, hub_key=hub_key, hotline_key=lambda _h, _k: mallory.verify_key)


def test_payload_must_name_the_signing_key(make_payload, hub_key: EncryptionKey) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedMessage, match="being signed with key"):
        seal_envelope(make_payload(), signing_key=SigningKey.generate(), hub_key=hub_key.public_key)


def test_the_hotline_key_lookup_can_refuse(make_payload, hotline_key: SigningKey, hub_key: EncryptionKey) -> None:  # type: ignore[no-untyped-def]
    class Revoked(Exception):
        pass

    def revoked(_hotline: str, _key: str) -> VerifyKey:
        raise Revoked

    envelope = seal_envelope(make_payload(), signing_key=hotline_key, hub_key=hub_key.public_key)
    with pytest.raises(Revoked):
        open_envelope(envelope, hub_key=hub_key, hotline_key=revoked)


def test_no_pynacl_exception_escapes_on_hostile_keys() -> None:
    # A low-order point as "public key" is refused when the key is built, with our own error.
    low_order = bytes(32)
    with pytest.raises(InvalidPublicKey, match="small order"):
        VerifyKey(low_order)
    with pytest.raises(InvalidSignature):
        VerifyKey(bytes(nacl.signing.SigningKey.generate().verify_key)).verify(b"m", b"short")
    assert isinstance(nacl.public.PrivateKey.generate(), nacl.public.PrivateKey)


# ------------------------------------------------------------------------------------------------ key values


@pytest.mark.parametrize(
    ("make", "length_error"),
    [
        (VerifyKey, "an Ed25519 public key is 32 bytes, got 31"),
        (SigningKey, "an Ed25519 seed is 32 bytes, got 31"),
        (SealingKey, "an X25519 public key is 32 bytes, got 31"),
        (EncryptionKey, "an X25519 private key is 32 bytes, got 31"),
        (AgreementPublicKey, "an X25519 public key is 32 bytes, got 31"),
        (AgreementKey, "an X25519 private key is 32 bytes, got 31"),
    ],
)
def test_a_key_of_the_wrong_length_is_refused_naming_the_length(make: type, length_error: str) -> None:
    with pytest.raises(MalformedMessage, match=length_error):
        make(bytes(range(31)))
    with pytest.raises(MalformedMessage, match="got 33"):
        make(bytes(range(33)))


def _public_keys() -> list[tuple[type, bytes, bytes]]:
    one, two = SigningKey(bytes(32)), SigningKey(bytes([1]) * 32)
    three, four = EncryptionKey(bytes([2]) * 32), EncryptionKey(bytes([3]) * 32)
    return [
        (VerifyKey, bytes(one.verify_key), bytes(two.verify_key)),
        (SealingKey, bytes(three.public_key), bytes(four.public_key)),
        (AgreementPublicKey, bytes(three.public_key), bytes(four.public_key)),
    ]


@pytest.mark.parametrize(("make", "raw", "other"), _public_keys())
def test_public_keys_compare_by_value_hash_alike_and_show_their_text_form(make: type, raw: bytes, other: bytes) -> None:
    key, same, different = make(raw), make(bytes(raw)), make(other)
    assert key == same
    assert hash(key) == hash(same)
    assert key != different
    assert key != raw  # bytes are not a key: no equality across types
    assert len({key, same, different}) == 2
    assert repr(key) == f"{make.__name__}({key.to_text()!r})"
    assert make.from_text(key.to_text()) == key


def test_an_x25519_key_without_its_prefix_is_refused() -> None:
    text = EncryptionKey(bytes([2]) * 32).public_key.to_text()
    assert SealingKey.from_text(text).to_text() == text
    with pytest.raises(MalformedMessage, match="starts with 'x25519:'"):
        SealingKey.from_text(text.removeprefix("x25519:"))
    with pytest.raises(MalformedMessage, match="starts with 'x25519:'"):
        SealingKey.from_text("ed25519:" + text.removeprefix("x25519:"))


@pytest.mark.parametrize("inner_size", [0, 1, 64])
def test_a_sealed_box_too_short_to_hold_a_payload_and_its_signature_is_refused(
    hotline_key: SigningKey, hub_key: EncryptionKey, inner_size: int
) -> None:
    """A hotline (or whoever holds its key) seals fewer than 65 bytes under a correctly signed header."""
    sealed = b64encode(seal(bytes(inner_size), hub_key.public_key))
    unsigned = Envelope(
        type="envelope",
        version="tipshare/1",
        hotline_id="la-strada-ua",
        key_id=hotline_key.verify_key.key_id,
        sealed=sealed,
        signature=b64encode(bytes(64)),
    )
    signed = unsigned.model_copy(
        update={"signature": b64encode(hotline_key.sign_message(ENVELOPE_CONTEXT, unsigned.header_bytes()))}
    )
    with pytest.raises(DecryptionFailed):
        open_envelope(signed, hub_key=hub_key, hotline_key=lambda _h, _k: hotline_key.verify_key)


def test_offline_verification_refuses_a_payload_naming_another_key(make_payload, hotline_key: SigningKey) -> None:  # type: ignore[no-untyped-def]
    payload_bytes = make_payload(key_id=SigningKey.generate().verify_key.key_id).canonical_bytes()
    signature = hotline_key.sign_message(SUBMISSION_CONTEXT, payload_bytes)
    with pytest.raises(MalformedMessage, match="names another key than the one that signed it"):
        verify_submission_signature(payload_bytes, signature, hotline_key.verify_key)
