# SPDX-License-Identifier: Apache-2.0
"""Keys, signatures and sealed boxes: the only module of tipshare that touches PyNaCl (libsodium).

* Hotlines sign with **Ed25519**. Every signature is over a *domain-separated* message
  (:func:`domain_message`): ``context || 0x00 || uint64_be(len(body)) || body``, so a signature made for one
  purpose (a submission payload, an envelope header) can never be replayed as another.
* Submissions travel to the hub in an X25519 **sealed box** (anonymous sender, authenticated by the inner
  Ed25519 signature): ``seal(payload || signature)``.
* Public keys are checked where they are built (:class:`VerifyKey`, :func:`check_public_key`): a canonical
  encoding of a point on the curve, of prime order. libsodium decides (``crypto_core_ed25519_is_valid_point``);
  :mod:`protocol.edwards` only names the rule a refused key breaks.
* Failures are deliberately opaque: :class:`~protocol.errors.InvalidSignature` and
  :class:`~protocol.errors.DecryptionFailed` never say which check failed, and no ``nacl`` exception leaks out.

A whole round trip::

    >>> from protocol.crypto import SigningKey, EncryptionKey, seal, unseal
    >>> hotline = SigningKey.generate()
    >>> signature = hotline.sign_message("tipshare/1 example", b"hello")
    >>> hotline.verify_key.verify_message("tipshare/1 example", b"hello", signature)
    >>> hub = EncryptionKey.generate()
    >>> unseal(seal(b"secret", hub.public_key), hub)
    b'secret'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, NewType

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from protocol.edwards import broken_rule
from protocol.errors import DecryptionFailed, InvalidPublicKey, InvalidSignature, MalformedMessage
from protocol.messages import (
    PROTOCOL_VERSION,
    Envelope,
    SubmissionPayload,
    b64decode,
    b64encode,
    envelope_header_bytes,
)

__all__ = [
    "ENVELOPE_CONTEXT",
    "KEY_SIZE",
    "SIGNATURE_SIZE",
    "SUBMISSION_CONTEXT",
    "EncryptionKey",
    "KeyID",
    "SealingKey",
    "SigningKey",
    "VerifiedSubmission",
    "VerifyKey",
    "check_public_key",
    "check_sealing_key",
    "domain_message",
    "fingerprint",
    "open_envelope",
    "payload_hash",
    "seal",
    "seal_envelope",
    "unseal",
    "verify_submission_signature",
]

KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
#: Overhead of a sealed box: ephemeral X25519 public key (32) + Poly1305 tag (16).
SEAL_OVERHEAD: Final = 48

#: Signing context of a submission payload (what the hotline vouches for).
SUBMISSION_CONTEXT: Final = f"{PROTOCOL_VERSION} submission"
#: Signing context of an envelope's clear header (lets the hub reject junk before decrypting).
ENVELOPE_CONTEXT: Final = f"{PROTOCOL_VERSION} envelope"

KeyID = NewType("KeyID", str)
"""Stable identifier of a public key: ``hex(SHA-256(algorithm || 0x00 || key))[:32]``."""

_ED25519_PREFIX: Final = "ed25519:"
_X25519_PREFIX: Final = "x25519:"


def domain_message(context: str, body: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers: ``context || 0x00 || uint64_be(len(body)) || body``."""
    encoded = context.encode("ascii")
    if b"\x00" in encoded or not encoded:
        raise ValueError("a signing context is a non-empty ASCII string without NUL")
    return encoded + b"\x00" + len(body).to_bytes(8, "big") + body


def fingerprint(key: bytes) -> str:
    """A human-comparable fingerprint for out-of-band checks: SHA-256 in groups of four hex digits."""
    digest = hashlib.sha256(key).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def _key_id(algorithm: str, key: bytes) -> KeyID:
    return KeyID(hashlib.sha256(algorithm.encode("ascii") + b"\x00" + key).hexdigest()[:32])


def _decode_b64(text: str, *, what: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedMessage(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise MalformedMessage(f"{what} must be {size} bytes, got {len(raw)}")
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedMessage(f"{what} is not in canonical base64 form")
    return raw


def check_public_key(key: bytes) -> None:
    """Refuse 32 bytes that are not a valid Ed25519 public key, naming the rule (:class:`InvalidPublicKey`).

    Valid: the canonical encoding (y < p; x = 0 only with the sign bit clear) of a point on the curve that lies in
    the prime-order subgroup, so neither of small order nor with a torsion component. libsodium's
    ``crypto_core_ed25519_is_valid_point`` decides; :func:`protocol.edwards.broken_rule` names the rule (the
    tests check that the two agree).
    """
    if len(key) != KEY_SIZE:
        raise MalformedMessage(f"an Ed25519 public key is {KEY_SIZE} bytes, got {len(key)}")
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(bytes(key)):
        rule = broken_rule(bytes(key)) or "is not a valid Ed25519 point"
        raise InvalidPublicKey(
            f"the Ed25519 public key {base64.b64encode(bytes(key)).decode('ascii')} {rule}; "
            "a real key is made by tipshare (`tipshare-node init` or `rekey`), never typed by hand"
        )


class VerifyKey:
    """An Ed25519 public key: always a canonical encoding of a prime-order point (:func:`check_public_key`)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        check_public_key(key)
        try:
            self._key = nacl.signing.VerifyKey(bytes(key))
        except (
            nacl.exceptions.CryptoError,
            ValueError,
            TypeError,
        ):  # pragma: no cover - length checked
            raise MalformedMessage("not an Ed25519 public key") from None

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        """Parse the text form ``ed25519:<base64>`` (as printed by :meth:`to_text`)."""
        if not text.startswith(_ED25519_PREFIX):
            raise MalformedMessage(f"an Ed25519 public key starts with {_ED25519_PREFIX!r}")
        return cls(_decode_b64(text[len(_ED25519_PREFIX) :], what="Ed25519 public key", size=KEY_SIZE))

    def to_text(self) -> str:
        return _ED25519_PREFIX + base64.b64encode(bytes(self)).decode("ascii")

    def __bytes__(self) -> bytes:
        return bytes(self._key)

    @property
    def key_id(self) -> KeyID:
        return _key_id("ed25519", bytes(self))

    def verify(self, message: bytes, signature: bytes) -> None:
        """Verify a raw Ed25519 signature over ``message``; raise :class:`InvalidSignature` if it fails."""
        if len(signature) != SIGNATURE_SIZE:
            raise InvalidSignature
        try:
            self._key.verify(message, signature)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise InvalidSignature from None

    def verify_message(self, context: str, body: bytes, signature: bytes) -> None:
        """Verify a domain-separated signature (see :func:`domain_message`)."""
        self.verify(domain_message(context, body), signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return hmac.compare_digest(bytes(self), bytes(other))

    def __hash__(self) -> int:
        return hash(bytes(self))

    def __repr__(self) -> str:
        return f"VerifyKey({self.to_text()!r})"


class SigningKey:
    """An Ed25519 private key. Its 32-byte seed is the secret; keep it in a 0600 file."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != KEY_SIZE:
            raise MalformedMessage(f"an Ed25519 seed is {KEY_SIZE} bytes, got {len(seed)}")
        self._key = nacl.signing.SigningKey(bytes(seed))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    def seed(self) -> bytes:
        """The secret seed. Handle with care: this is the key."""
        return bytes(self._key)

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(bytes(self._key.verify_key))

    def sign(self, message: bytes) -> bytes:
        """A raw, detached Ed25519 signature over exactly ``message``.

        Only for formats that define their own signed bytes (C2SP signed notes); use :meth:`sign_message`
        for everything else.
        """
        return bytes(self._key.sign(message).signature)

    def sign_message(self, context: str, body: bytes) -> bytes:
        """A detached signature over the domain-separated message (see :func:`domain_message`)."""
        return self.sign(domain_message(context, body))

    def __repr__(self) -> str:
        return f"SigningKey(<secret>, public={self.verify_key.to_text()!r})"


def check_sealing_key(key: bytes) -> None:
    """Refuse 32 bytes that are not a usable X25519 public key (:class:`InvalidPublicKey`, naming the rule): a
    non-canonical u-coordinate (the top bit set, or u >= p), or a point of small order, to which nothing can be
    sealed (the shared secret would be fixed; libsodium refuses it)."""
    if len(key) != KEY_SIZE:
        raise MalformedMessage(f"an X25519 public key is {KEY_SIZE} bytes, got {len(key)}")
    u = int.from_bytes(key, "little")
    rule = None
    if u >> 255 or u >= 2**255 - 19:
        rule = "has a non-canonical encoding (u is not reduced modulo p = 2^255 - 19)"
    else:
        try:
            nacl.bindings.crypto_scalarmult(bytes([9]) * KEY_SIZE, bytes(key))
        except nacl.exceptions.CryptoError:
            rule = "is a point of small order"
    if rule is not None:
        raise InvalidPublicKey(
            f"the X25519 public key {base64.b64encode(bytes(key)).decode('ascii')} {rule}; "
            "a hub's encryption key is made by `tipshare-hub init` or `keys rotate`"
        )


class SealingKey:
    """An X25519 public key that anyone may seal messages to (the hub's encryption key); checked on construction
    (:func:`check_sealing_key`)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        check_sealing_key(key)
        self._key = nacl.public.PublicKey(bytes(key))

    @classmethod
    def from_text(cls, text: str) -> SealingKey:
        """Parse the text form ``x25519:<base64>``."""
        if not text.startswith(_X25519_PREFIX):
            raise MalformedMessage(f"an X25519 public key starts with {_X25519_PREFIX!r}")
        return cls(_decode_b64(text[len(_X25519_PREFIX) :], what="X25519 public key", size=KEY_SIZE))

    def to_text(self) -> str:
        return _X25519_PREFIX + base64.b64encode(bytes(self)).decode("ascii")

    def __bytes__(self) -> bytes:
        return bytes(self._key)

    @property
    def key_id(self) -> KeyID:
        return _key_id("x25519", bytes(self))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SealingKey):
            return NotImplemented
        return hmac.compare_digest(bytes(self), bytes(other))

    def __hash__(self) -> int:
        return hash(bytes(self))

    def __repr__(self) -> str:
        return f"SealingKey({self.to_text()!r})"


class EncryptionKey:
    """An X25519 private key that opens sealed boxes (held by the hub only)."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_SIZE:
            raise MalformedMessage(f"an X25519 private key is {KEY_SIZE} bytes, got {len(secret)}")
        self._key = nacl.public.PrivateKey(bytes(secret))

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    def secret(self) -> bytes:
        """The secret key bytes. Handle with care."""
        return bytes(self._key)

    @property
    def public_key(self) -> SealingKey:
        return SealingKey(bytes(self._key.public_key))

    def __repr__(self) -> str:
        return f"EncryptionKey(<secret>, public={self.public_key.to_text()!r})"


def seal(plaintext: bytes, recipient: SealingKey) -> bytes:
    """Encrypt ``plaintext`` to ``recipient`` in an anonymous sealed box (X25519 + XSalsa20-Poly1305)."""
    return bytes(nacl.public.SealedBox(recipient._key).encrypt(plaintext))


def unseal(ciphertext: bytes, key: EncryptionKey | Sequence[EncryptionKey]) -> bytes:
    """Open a sealed box; raise :class:`DecryptionFailed` (and nothing else) if it does not open.

    Several keys (the current one first, then envelope keys still in their grace period after a handover): the
    first that opens it.
    """
    if len(ciphertext) < SEAL_OVERHEAD:
        raise DecryptionFailed
    for candidate in (key,) if isinstance(key, EncryptionKey) else key:
        try:
            return bytes(nacl.public.SealedBox(candidate._key).decrypt(ciphertext))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            continue
    raise DecryptionFailed


def payload_hash(payload_bytes: bytes) -> str:
    """``sha256:<hex>`` of a payload's canonical bytes: its identity in the log and at the hub."""
    return "sha256:" + hashlib.sha256(payload_bytes).hexdigest()


@dataclass(frozen=True, slots=True)
class VerifiedSubmission:
    """A payload whose hotline signature has been checked: what :func:`open_envelope` returns."""

    payload: SubmissionPayload
    #: The exact canonical bytes the hotline signed.
    payload_bytes: bytes
    #: The hotline's Ed25519 signature over the domain-separated payload bytes.
    signature: bytes
    envelope: Envelope

    @property
    def payload_hash(self) -> str:
        return payload_hash(self.payload_bytes)


def seal_envelope(payload: SubmissionPayload, *, signing_key: SigningKey, hub_key: SealingKey) -> Envelope:
    """Sign a payload, seal ``payload || signature`` to the hub, and sign the clear header.

    The payload must name the signing key (``payload.key_id == signing_key.verify_key.key_id``).
    """
    key_id = signing_key.verify_key.key_id
    if payload.key_id != key_id:
        raise MalformedMessage(f"payload names key {payload.key_id}, but is being signed with key {key_id}")
    payload_bytes = payload.canonical_bytes()
    signature = signing_key.sign_message(SUBMISSION_CONTEXT, payload_bytes)
    sealed_text = b64encode(seal(payload_bytes + signature, hub_key))
    header = envelope_header_bytes(hotline_id=payload.hotline_id, key_id=key_id, sealed=sealed_text)
    return Envelope(
        type="envelope",
        version=PROTOCOL_VERSION,
        hotline_id=payload.hotline_id,
        key_id=key_id,
        sealed=sealed_text,
        signature=b64encode(signing_key.sign_message(ENVELOPE_CONTEXT, header)),
    )


def open_envelope(
    envelope: Envelope | bytes,
    *,
    hub_key: EncryptionKey | Sequence[EncryptionKey],
    hotline_key: Callable[[str, str], VerifyKey],
) -> VerifiedSubmission:
    """Check, decrypt and verify an envelope; return the verified payload or raise.

    ``envelope`` may be the canonical bytes received on the wire. ``hotline_key(hotline_id, key_id)`` returns
    the key that is valid for that hotline now, or raises (the caller's own error, for an unknown hotline or a
    revoked key). Order of checks: header signature (cheap, before any decryption), sealed box, payload
    signature, then that the payload names the same hotline and key as the header. Crypto failures raise
    :class:`InvalidSignature` or :class:`DecryptionFailed` with no detail.
    """
    unverified = Envelope.from_canonical(envelope) if isinstance(envelope, bytes) else envelope
    key = hotline_key(unverified.hotline_id, unverified.key_id)
    if key.key_id != unverified.key_id:
        raise InvalidSignature
    key.verify_message(ENVELOPE_CONTEXT, unverified.header_bytes(), b64decode(unverified.signature))
    plaintext = unseal(b64decode(unverified.sealed, what="sealed box"), hub_key)
    if len(plaintext) <= SIGNATURE_SIZE:
        raise DecryptionFailed
    payload_bytes, signature = plaintext[:-SIGNATURE_SIZE], plaintext[-SIGNATURE_SIZE:]
    key.verify_message(SUBMISSION_CONTEXT, payload_bytes, signature)
    payload = SubmissionPayload.from_canonical(payload_bytes)
    if payload.hotline_id != unverified.hotline_id or payload.key_id != unverified.key_id:
        raise MalformedMessage("the signed payload names another hotline or key than its envelope")
    return VerifiedSubmission(payload=payload, payload_bytes=payload_bytes, signature=signature, envelope=unverified)


def verify_submission_signature(payload_bytes: bytes, signature: bytes, key: VerifyKey) -> SubmissionPayload:
    """Verify a stored payload and its signature offline (as an auditor does) and return the parsed payload."""
    key.verify_message(SUBMISSION_CONTEXT, payload_bytes, signature)
    payload = SubmissionPayload.from_canonical(payload_bytes)
    if payload.key_id != key.key_id:
        raise MalformedMessage("the payload names another key than the one that signed it")
    return payload
