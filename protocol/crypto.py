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
* Secure aggregation (:mod:`protocol.secagg`) uses X25519 **agreement** (:class:`AgreementKey`, refusing an
  all-zero shared secret), a **KDF** (keyed BLAKE2b-256 over canonical context bytes, :func:`kdf_context`,
  :func:`derive_key`), a **keystream expander** (ChaCha20 from libsodium, :func:`expand_mod`) and an
  authenticated **share seal** between two members' sealing keys (:func:`seal_share`, :func:`open_share`). The
  exact constructions are in docs/secure-aggregation.md, so that an auditor in another language can rebuild them.
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
import struct
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
    "KDF_LABEL",
    "KEY_PURPOSES",
    "KEY_SIZE",
    "SHARE_NONCE_SIZE",
    "SIGNATURE_SIZE",
    "SUBMISSION_CONTEXT",
    "AgreementKey",
    "AgreementPublicKey",
    "EncryptionKey",
    "KeyID",
    "SealingKey",
    "SigningKey",
    "VerifiedSubmission",
    "VerifyKey",
    "chacha20_keystream",
    "check_public_key",
    "check_sealing_key",
    "derive_key",
    "domain_message",
    "expand_mod",
    "fingerprint",
    "kdf_context",
    "open_envelope",
    "open_share",
    "payload_hash",
    "seal",
    "seal_envelope",
    "seal_share",
    "unseal",
    "verify_submission_signature",
    "x25519",
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


def _x25519_broken_rule(key: bytes) -> str | None:
    """The rule 32 bytes break as an X25519 public key, or ``None``: a non-canonical u-coordinate (the top bit
    set, or u >= p), or a point of small order (every shared secret with it would be fixed; libsodium refuses)."""
    u = int.from_bytes(key, "little")
    if u >> 255 or u >= 2**255 - 19:
        return "has a non-canonical encoding (u is not reduced modulo p = 2^255 - 19)"
    try:
        nacl.bindings.crypto_scalarmult(bytes([9]) * KEY_SIZE, bytes(key))
    except nacl.exceptions.CryptoError:
        return "is a point of small order"
    return None


def check_sealing_key(key: bytes) -> None:
    """Refuse 32 bytes that are not a usable X25519 public key (:class:`InvalidPublicKey`, naming the rule): a
    non-canonical u-coordinate (the top bit set, or u >= p), or a point of small order, to which nothing can be
    sealed (the shared secret would be fixed; libsodium refuses it)."""
    if len(key) != KEY_SIZE:
        raise MalformedMessage(f"an X25519 public key is {KEY_SIZE} bytes, got {len(key)}")
    rule = _x25519_broken_rule(bytes(key))
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


# ------------------------------------------------------------------ secure aggregation primitives
#
# Every construction below is spelled out in docs/secure-aggregation.md ("Keys, KDF and expander"), with the
# committed vectors in tests/vectors/secagg/ that a reimplementation checks itself against.

#: First bytes of every KDF context: the protocol version and the construction's name.
KDF_LABEL: Final = f"{PROTOCOL_VERSION} secagg kdf".encode("ascii")
#: What a derived key is for. A key is derived for exactly one purpose, so a mask seed never doubles as a
#: sealing key or a commitment.
KEY_PURPOSES: Final = ("mask", "self-mask", "self-mask-commitment", "share-seal")
#: Longest vector :func:`expand_mod` produces (2^24 elements, 128 MiB of keystream).
MAX_EXPAND_LENGTH: Final = 2**24
_AEAD_TAG: Final = 16
#: Bytes of the random nonce that opens every sealed share (XChaCha20-Poly1305).
SHARE_NONCE_SIZE: Final = 24
_ZERO_NONCE: Final = bytes(12)


def _field(text: str, *, what: str) -> bytes:
    encoded = text.encode("utf-8")
    if not encoded or len(encoded) > 0xFFFF:
        raise MalformedMessage(f"a KDF {what} is 1 to 65535 bytes of UTF-8, got {len(encoded)}")
    return len(encoded).to_bytes(2, "big") + encoded


def kdf_context(*, purpose: str, group: str, period: str, round_number: int, members: Sequence[str]) -> bytes:
    """The canonical bytes a derived key is bound to.

    ``KDF_LABEL || 0x00 || f(purpose) || f(group) || f(period) || uint32_be(round) || uint8(len(members)) ||
    f(member)...`` where ``f(s) = uint16_be(len(utf8(s))) || utf8(s)``. ``members`` is one id (self-mask), the
    two ids of a pair in roster order (mask), or sender then recipient (share-seal).
    """
    if purpose not in KEY_PURPOSES:
        raise MalformedMessage(f"a derived key's purpose is one of {', '.join(KEY_PURPOSES)}, not {purpose!r}")
    if not 0 <= round_number < 2**32:
        raise MalformedMessage(f"a round number is 0 to 2^32 - 1, got {round_number}")
    if not 1 <= len(members) <= 2 or len(set(members)) != len(members):
        raise MalformedMessage("a derived key is bound to one member or to two distinct members")
    return (
        KDF_LABEL
        + b"\x00"
        + _field(purpose, what="purpose")
        + _field(group, what="group id")
        + _field(period, what="period")
        + round_number.to_bytes(4, "big")
        + len(members).to_bytes(1, "big")
        + b"".join(_field(m, what="member id") for m in members)
    )


def derive_key(secret: bytes, context: bytes) -> bytes:
    """A 32-byte key bound to ``context``: keyed BLAKE2b-256 (RFC 7693), key = ``secret``, message = ``context``."""
    if len(secret) != KEY_SIZE:
        raise MalformedMessage(f"a KDF input secret is {KEY_SIZE} bytes, got {len(secret)}")
    return bytes(nacl.bindings.crypto_generichash_blake2b_salt_personal(context, digest_size=KEY_SIZE, key=secret))


def chacha20_keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    """``length`` bytes of the RFC 8439 ChaCha20 keystream from block counter 1.

    libsodium exposes no raw ChaCha20 through PyNaCl; the ChaCha20-Poly1305-IETF AEAD encrypts with exactly that
    keystream (RFC 8439 §2.8: block 0 makes the Poly1305 key, the plaintext is XORed from block 1), so the
    ciphertext of ``length`` zero bytes, without its 16-byte tag, *is* the keystream. The tests check this
    against RFC 8439 §2.4.2 and A.1.
    """
    if len(key) != KEY_SIZE or len(nonce) != len(_ZERO_NONCE):
        raise MalformedMessage("ChaCha20 takes a 32-byte key and a 12-byte nonce")
    sealed = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(bytes(length), None, nonce, key)
    return bytes(sealed[:-_AEAD_TAG])


def expand_mod(seed: bytes, length: int, bits: int) -> list[int]:
    """``length`` uniformly random integers mod ``2**bits`` (1 <= bits <= 64) from a 32-byte seed.

    Element i is the little-endian uint64 at bytes ``8i .. 8i+7`` of the ChaCha20 keystream (key = seed, nonce =
    12 zero bytes, counter from 1; :func:`chacha20_keystream`), reduced mod ``2**bits`` (exact: ``2**bits``
    divides ``2**64``). The all-zero nonce is safe because every seed is a derived key used for one expansion.
    """
    if len(seed) != KEY_SIZE:
        raise MalformedMessage(f"an expander seed is {KEY_SIZE} bytes, got {len(seed)}")
    if not 1 <= bits <= 64:
        raise MalformedMessage(f"the expander makes elements of 1 to 64 bits, not {bits}")
    if not 0 <= length <= MAX_EXPAND_LENGTH:
        raise MalformedMessage(f"the expander makes 0 to {MAX_EXPAND_LENGTH} elements, not {length}")
    words = struct.unpack(f"<{length}Q", chacha20_keystream(seed, _ZERO_NONCE, 8 * length))
    if bits == 64:
        return list(words)
    mask = (1 << bits) - 1
    return [w & mask for w in words]


def x25519(secret: bytes, public: bytes) -> bytes:
    """The raw X25519 function (RFC 7748); refuses an all-zero result (a low-order ``public``)."""
    if len(secret) != KEY_SIZE or len(public) != KEY_SIZE:
        raise MalformedMessage(f"X25519 takes a {KEY_SIZE}-byte scalar and a {KEY_SIZE}-byte u-coordinate")
    try:
        shared = bytes(nacl.bindings.crypto_scalarmult(bytes(secret), bytes(public)))
    except nacl.exceptions.CryptoError:
        shared = bytes(KEY_SIZE)
    if not any(shared):
        raise InvalidPublicKey("X25519 with this public key gives the all-zero secret: a point of small order")
    return shared


class AgreementPublicKey:
    """An X25519 public key of a member of a secure-aggregation group: its share-sealing key, or a round's
    mask-agreement key. Checked on construction: canonical, not of small order."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise MalformedMessage(f"an X25519 public key is {KEY_SIZE} bytes, got {len(key)}")
        rule = _x25519_broken_rule(bytes(key))
        if rule is not None:
            raise InvalidPublicKey(
                f"the X25519 public key {base64.b64encode(bytes(key)).decode('ascii')} {rule}; "
                "a member's agreement and sealing keys are made by tipshare-node, never typed by hand"
            )
        self._key = bytes(key)

    @classmethod
    def from_text(cls, text: str) -> AgreementPublicKey:
        """Parse the text form ``x25519:<base64>``."""
        if not text.startswith(_X25519_PREFIX):
            raise MalformedMessage(f"an X25519 public key starts with {_X25519_PREFIX!r}")
        return cls(_decode_b64(text[len(_X25519_PREFIX) :], what="X25519 public key", size=KEY_SIZE))

    def to_text(self) -> str:
        return _X25519_PREFIX + base64.b64encode(self._key).decode("ascii")

    def __bytes__(self) -> bytes:
        return self._key

    @property
    def key_id(self) -> KeyID:
        return _key_id("x25519", self._key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AgreementPublicKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"AgreementPublicKey({self.to_text()!r})"


class AgreementKey:
    """An X25519 private key of a group member: a round's mask-agreement key (its secret is Shamir-shared) or the
    member's long-term share-sealing key (never shared). Two roles, two key pairs; see the design document."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_SIZE:
            raise MalformedMessage(f"an X25519 private key is {KEY_SIZE} bytes, got {len(secret)}")
        self._secret = bytes(secret)

    @classmethod
    def generate(cls) -> AgreementKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    def secret(self) -> bytes:
        """The secret scalar bytes. Handle with care."""
        return self._secret

    @property
    def public_key(self) -> AgreementPublicKey:
        return AgreementPublicKey(bytes(nacl.bindings.crypto_scalarmult_base(self._secret)))

    def agree(self, peer: AgreementPublicKey) -> bytes:
        """The raw 32-byte X25519 shared secret with ``peer`` (never used as a key itself: see :func:`derive_key`)."""
        return x25519(self._secret, bytes(peer))

    def __repr__(self) -> str:
        return f"AgreementKey(<secret>, public={self.public_key.to_text()!r})"


def _share_seal_key(
    mine: AgreementKey,
    theirs: AgreementPublicKey,
    *,
    group: str,
    period: str,
    round_number: int,
    sender: str,
    recipient: str,
) -> tuple[bytes, bytes]:
    context = kdf_context(
        purpose="share-seal", group=group, period=period, round_number=round_number, members=(sender, recipient)
    )
    return derive_key(mine.agree(theirs), context), context


def seal_share(
    plaintext: bytes,
    *,
    sender_key: AgreementKey,
    recipient_key: AgreementPublicKey,
    group: str,
    period: str,
    round_number: int,
    sender: str,
    recipient: str,
    nonce: bytes,
) -> bytes:
    """Seal ``plaintext`` from one member to another with their long-term sealing keys: ``nonce || ciphertext``.

    Key = :func:`derive_key` (X25519(sender secret, recipient public), share-seal context naming sender then
    recipient); XChaCha20-Poly1305-IETF with the caller's random 24-byte ``nonce`` and the context as associated
    data. The key is the same for every message of one round between the same two members, so the nonce must be
    fresh: a node that re-sends its shares (after a crash) then never reuses a keystream. Only the two members can
    derive the key; the hub, holding neither secret, cannot.
    """
    if len(nonce) != SHARE_NONCE_SIZE:
        raise MalformedMessage(f"a share seal's nonce is {SHARE_NONCE_SIZE} random bytes, got {len(nonce)}")
    key, context = _share_seal_key(
        sender_key,
        recipient_key,
        group=group,
        period=period,
        round_number=round_number,
        sender=sender,
        recipient=recipient,
    )
    return nonce + bytes(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, context, nonce, key))


def open_share(
    sealed: bytes,
    *,
    recipient_key: AgreementKey,
    sender_key: AgreementPublicKey,
    group: str,
    period: str,
    round_number: int,
    sender: str,
    recipient: str,
) -> bytes:
    """Open what :func:`seal_share` sealed; raise :class:`DecryptionFailed` (and nothing else) if it does not."""
    if len(sealed) < SHARE_NONCE_SIZE + _AEAD_TAG:
        raise DecryptionFailed
    key, context = _share_seal_key(
        recipient_key,
        sender_key,
        group=group,
        period=period,
        round_number=round_number,
        sender=sender,
        recipient=recipient,
    )
    nonce, ciphertext = sealed[:SHARE_NONCE_SIZE], sealed[SHARE_NONCE_SIZE:]
    try:
        return bytes(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, context, nonce, key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionFailed from None
