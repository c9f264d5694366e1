# SPDX-License-Identifier: Apache-2.0
"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys (signature type ``0x01``).

A signed note is a UTF-8 text ending in a newline, a blank line, then one line per signature::

    — <key name> base64(4-byte key ID || 64-byte Ed25519 signature over the text)

Key ID = ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; a verifier key is published as the
"vkey" string ``name+hex(key ID)+base64(0x01 || public key)``.

:func:`open_note` is strict: anything malformed raises :class:`~protocol.errors.InvalidCheckpoint`.
Signatures from unknown keys (a different name or key ID) are ignored, as the spec requires, which is
what lets witnesses add cosignatures and logs rotate keys; a known key's signature that fails to verify
rejects the whole note. At least one known key must have signed. Problems with a key name or vkey
string raise :class:`~protocol.errors.MalformedMessage`.

>>> from protocol.crypto import SigningKey
>>> signer = NoteSigner("example.org/log", SigningKey(bytes(32)))
>>> signer.verifier.vkey
'example.org/log+4e933303+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop'
>>> note = sign_note("hello\\n", [signer])
>>> note.startswith("hello\\n\\n— example.org/log TpMzA")
True
>>> opened = open_note(note, [NoteVerifier.from_vkey(signer.verifier.vkey)])
>>> (opened.text, opened.signers)
('hello\\n', ('example.org/log',))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from protocol.crypto import KEY_SIZE, SigningKey, VerifyKey
from protocol.errors import InvalidCheckpoint, InvalidSignature, MalformedMessage

__all__ = [
    "ED25519_SIGNATURE_TYPE",
    "KEY_ID_SIZE",
    "MAX_SIGNATURES",
    "NoteSigner",
    "NoteVerifier",
    "VerifiedNote",
    "note_key_id",
    "open_note",
    "sign_note",
    "vkey_for",
]

#: The C2SP signature type byte for Ed25519 note signatures.
ED25519_SIGNATURE_TYPE: Final = 0x01
#: Notes with more signature lines than this are rejected unread (the spec asks for at least 16).
MAX_SIGNATURES: Final = 100
#: Bytes of key ID at the start of every decoded signature.
KEY_ID_SIZE: Final = 4

_SIGNATURE_PREFIX: Final = "\u2014 "  # em dash, space
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_KEY_ID: Final = re.compile(r"[0-9a-f]{8}")


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() or c < "\x20" for c in name):
        raise MalformedMessage(f"invalid note key name {name!r}: non-empty, no spaces, no '+'")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedMessage("a note key name must be valid UTF-8") from None


def note_key_id(name: str, key: VerifyKey) -> bytes:
    """``SHA-256(name || 0x0A || 0x01 || public key)[:4]``: the key ID of an Ed25519 note key."""
    _check_key_name(name)
    material = name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + bytes(key)
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def vkey_for(name: str, key: VerifyKey) -> str:
    """The published verifier key: ``name+hex(key ID)+base64(0x01 || public key)``."""
    encoded = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + bytes(key)).decode("ascii")
    return f"{name}+{note_key_id(name, key).hex()}+{encoded}"


def _b64decode_strict(text: str) -> bytes | None:
    """Standard base64 in its one canonical form (padding, zero trailing bits), or ``None``."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


class NoteVerifier:
    """A trusted Ed25519 note key: a name and a public key."""

    __slots__ = ("_key", "_key_id", "_name")

    def __init__(self, name: str, key: VerifyKey) -> None:
        self._key_id = note_key_id(name, key)
        self._name = name
        self._key = key

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``name+hex8(key ID)+base64(0x01 || key)`` and check that the key ID matches."""
        parts = vkey.split("+", 2)
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise MalformedMessage("a vkey has the form name+<8 lowercase hex digits>+<base64 key>")
        name, key_id_hex, encoded = parts
        raw = _b64decode_strict(encoded)
        if raw is None or len(raw) != 1 + KEY_SIZE:
            raise MalformedMessage("the vkey's key is not canonical base64 of a type byte and 32 bytes")
        if raw[0] != ED25519_SIGNATURE_TYPE:
            raise MalformedMessage(f"vkey signature type 0x{raw[0]:02x} is not supported (only Ed25519 0x01)")
        verifier = cls(name, VerifyKey(raw[1:]))
        if verifier.key_id.hex() != key_id_hex:
            raise MalformedMessage("the vkey's key ID does not match its name and key")
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key(self) -> VerifyKey:
        return self._key

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID (``.hex()`` gives the form used in vkeys)."""
        return self._key_id

    @property
    def vkey(self) -> str:
        return vkey_for(self._name, self._key)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check a raw Ed25519 signature; raise :class:`~protocol.errors.InvalidSignature` if it fails."""
        self._key.verify(message, signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoteVerifier):
            return NotImplemented
        return self._name == other._name and self._key == other._key

    def __hash__(self) -> int:
        return hash((self._name, self._key))

    def __repr__(self) -> str:
        return f"NoteVerifier.from_vkey({self.vkey!r})"


class NoteSigner:
    """An Ed25519 note key that signs: a name and a private key."""

    __slots__ = ("_key", "_verifier")

    def __init__(self, name: str, key: SigningKey) -> None:
        self._verifier = NoteVerifier(name, key.verify_key)
        self._key = key

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    @property
    def verifier(self) -> NoteVerifier:
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """A raw 64-byte Ed25519 signature over exactly ``message`` (the note text)."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"NoteSigner(<secret>, {self._verifier.vkey!r})"


@dataclass(frozen=True, slots=True)
class VerifiedNote:
    """The text of a note whose signatures checked out, and the names of the known keys that signed it."""

    text: str
    signers: tuple[str, ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise InvalidCheckpoint("note text must end with a newline")
    if _CONTROL.search(text):
        raise InvalidCheckpoint("note text must not contain control characters other than newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCheckpoint("note text must be valid UTF-8") from None


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """The signed note: ``text``, a blank line, and one signature line per signer, in order."""
    _check_text(text)
    if not signers:
        raise ValueError("a signed note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise ValueError(f"a note carries at most {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    lines = []
    for signer in signers:
        encoded = base64.b64encode(signer.key_id + signer.sign(message)).decode("ascii")
        lines.append(f"{_SIGNATURE_PREFIX}{signer.name} {encoded}\n")
    return text + "\n" + "".join(lines)


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> VerifiedNote:
    """Parse ``note`` strictly and verify it; return its text and the names of the known keys that signed.

    Raises :class:`~protocol.errors.InvalidCheckpoint` if the note is malformed, carries more than
    :data:`MAX_SIGNATURES` signatures, has a failing signature from a known key, or has none from a known key.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        if known.setdefault((verifier.name, verifier.key_id), verifier) != verifier:
            raise ValueError(f"two different trusted keys share the name and key ID of {verifier.name!r}")
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidCheckpoint("a signed note must be valid UTF-8") from None
    split = note.rfind("\n\n")
    if split < 0:
        raise InvalidCheckpoint("a signed note needs a blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    if not block.endswith("\n") or _CONTROL.search(block):
        raise InvalidCheckpoint("malformed signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidCheckpoint(f"a note may carry at most {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    signers: list[str] = []
    for line in lines:
        name, key_id, signature = _parse_signature_line(line)
        trusted = known.get((name, key_id))
        if trusted is None:
            continue  # an unknown key: the spec says to ignore it
        try:
            trusted.verify(message, signature)
        except InvalidSignature:
            raise InvalidCheckpoint(f"the signature by {name!r} does not verify") from None
        if name not in signers:
            signers.append(name)
    if not signers:
        raise InvalidCheckpoint("no trusted key signed this note")
    return VerifiedNote(text=text, signers=tuple(signers))


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise InvalidCheckpoint("a signature line starts with an em dash and a space")
    name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    try:
        _check_key_name(name)
    except MalformedMessage:
        raise InvalidCheckpoint("a signature line names an invalid key") from None
    raw = _b64decode_strict(encoded) if space else None
    if raw is None or len(raw) <= KEY_ID_SIZE:
        raise InvalidCheckpoint("a signature is not canonical base64 of a key ID and signature bytes")
    return name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]
