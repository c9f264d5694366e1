# SPDX-License-Identifier: Apache-2.0
"""Witness cosignatures (C2SP ``tlog-cosignature``, Ed25519 ``cosignature/v1``) and the ``tlog-witness`` request.

A witness checks that a checkpoint is consistent with the last one it saw of the same log, then signs it. Its
signature is one more line on the checkpoint note::

    — <witness name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)

Key ID = ``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` and the signed message is::

    cosignature/v1
    time <POSIX seconds>
    <the checkpoint body: origin, size, root hash, extension lines>

A witness's verifier key is the vkey ``name+hex(key ID)+base64(0x04 || public key)``. Log clients (nodes,
auditors) hold a :class:`WitnessPolicy`: *k* of these keys must have cosigned a checkpoint before they rely on
it. Lines from other keys are ignored (the hub's own signature among them); a line from a known witness that does
not verify makes the note invalid.

:func:`witness_checkpoint` is the witness's whole decision (pure: the caller keeps the state, atomically), and
:class:`AddCheckpoint` is the body of ``POST <prefix>/add-checkpoint``: ``old <size>``, up to 63 base64 consistency
proof lines, a blank line, then the signed checkpoint.

>>> from protocol.crypto import SigningKey
>>> from protocol.checkpoint import Checkpoint
>>> w = Cosigner("witness.example.org/w1", SigningKey(bytes(32)))
>>> body = Checkpoint("example.org/log", 0, bytes.fromhex(
...     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")).body()
>>> line = w.cosign(body, timestamp=1700000000)
>>> line.startswith("— witness.example.org/w1 ")
True
>>> policy = WitnessPolicy((CosignatureVerifier.from_vkey(w.verifier.vkey),), quorum=1)
>>> policy.check(body + "\\n" + line).signed
('witness.example.org/w1',)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.crypto import KEY_SIZE, SigningKey, VerifyKey
from protocol.errors import InvalidCheckpoint, InvalidProof, InvalidSignature, MalformedMessage, ProtocolError
from protocol.merkle import EMPTY_ROOT, verify_consistency
from protocol.note import KEY_ID_SIZE, MAX_SIGNATURES, NoteVerifier

__all__ = [
    "COSIGNATURE_TYPE",
    "MAX_PROOF_LINES",
    "AddCheckpoint",
    "Cosignature",
    "CosignatureVerifier",
    "Cosigner",
    "Refusal",
    "WitnessPolicy",
    "WitnessRefused",
    "WitnessVerdict",
    "WitnessedCheckpoint",
    "add_signature_lines",
    "cosigned_message",
    "signature_lines",
    "witness_checkpoint",
]

#: The C2SP key type byte of Ed25519 ``cosignature/v1`` keys.
COSIGNATURE_TYPE: Final = 0x04
#: A client sends at most this many consistency proof lines (tlog-witness).
MAX_PROOF_LINES: Final = 63
_SIGNATURE_PREFIX: Final = "\u2014 "
_TIMESTAMP_SIZE: Final = 8
_SIGNATURE_SIZE: Final = 64
_HEX_KEY_ID: Final = re.compile(r"[0-9a-f]{8}")
_SIZE: Final = re.compile(r"0|[1-9][0-9]{0,19}")


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() or c < "\x20" for c in name):
        raise MalformedMessage(f"invalid witness name {name!r}: non-empty, no spaces, no '+'")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedMessage("a witness name must be valid UTF-8") from None


def cosignature_key_id(name: str, key: VerifyKey) -> bytes:
    """``SHA-256(name || 0x0A || 0x04 || public key)[:4]``."""
    _check_name(name)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_TYPE]) + bytes(key)).digest()[:KEY_ID_SIZE]


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: the header line, the time line, then the checkpoint body."""
    if not 0 <= timestamp <= 2**63 - 1:
        raise MalformedMessage(f"a cosignature timestamp is 0 .. 2^63-1, got {timestamp}")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode("utf-8")


def _b64(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


class CosignatureVerifier:
    """A witness key a client trusts: a name and an Ed25519 public key (key type ``0x04``)."""

    __slots__ = ("_key", "_key_id", "_name")

    def __init__(self, name: str, key: VerifyKey) -> None:
        self._key_id = cosignature_key_id(name, key)
        self._name = name
        self._key = key

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``name+hex8(key ID)+base64(0x04 || key)`` and check the key ID."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise MalformedMessage("a witness vkey has the form name+<8 lowercase hex digits>+<base64 key>")
        name, key_id_hex, encoded = parts
        raw = _b64(encoded)
        if raw is None or len(raw) != 1 + KEY_SIZE:
            raise MalformedMessage("the witness vkey's key is not canonical base64 of a type byte and 32 bytes")
        if raw[0] != COSIGNATURE_TYPE:
            raise MalformedMessage(
                f"key type 0x{raw[0]:02x} is not a witness cosignature key (0x04, C2SP cosignature/v1)"
            )
        verifier = cls(name, VerifyKey(raw[1:]))
        if verifier.key_id.hex() != key_id_hex:
            raise MalformedMessage("the witness vkey's key ID does not match its name and key")
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([COSIGNATURE_TYPE]) + bytes(self._key)).decode("ascii")
        return f"{self._name}+{self._key_id.hex()}+{encoded}"

    def verify(self, body: str, timestamp: int, signature: bytes) -> None:
        """Raise :class:`~protocol.errors.InvalidSignature` unless ``signature`` cosigns ``body`` at ``timestamp``."""
        self._key.verify(cosigned_message(body, timestamp), signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CosignatureVerifier):
            return NotImplemented
        return self._name == other._name and self._key == other._key

    def __hash__(self) -> int:
        return hash((self._name, self._key))

    def __repr__(self) -> str:
        return f"CosignatureVerifier.from_vkey({self.vkey!r})"


class Cosigner:
    """A witness's signing key: a name and an Ed25519 private key."""

    __slots__ = ("_key", "_verifier")

    def __init__(self, name: str, key: SigningKey) -> None:
        self._verifier = CosignatureVerifier(name, key.verify_key)
        self._key = key

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def cosign(self, body: str, *, timestamp: int) -> str:
        """One signature line (ending in a newline) cosigning the checkpoint ``body`` at ``timestamp``."""
        signature = self._key.sign(cosigned_message(body, timestamp))
        raw = self._verifier.key_id + timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature
        return f"{_SIGNATURE_PREFIX}{self.name} {base64.b64encode(raw).decode('ascii')}\n"

    def __repr__(self) -> str:
        return f"Cosigner(<secret>, {self._verifier.vkey!r})"


# ------------------------------------------------------------------------------------------ notes and lines


def _split(note: str) -> tuple[str, list[str]]:
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise InvalidCheckpoint("a signed note needs a blank line before its signatures and a final newline")
    lines = note[split + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidCheckpoint(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return note[: split + 1], lines


def signature_lines(note: str) -> list[str]:
    """The signature lines of a note, each with its final newline."""
    return [f"{line}\n" for line in _split(note)[1]]


def add_signature_lines(note: str, lines: Sequence[str]) -> str:
    """``note`` with the signature ``lines`` it does not carry yet appended (in order)."""
    have = set(signature_lines(note))
    extra = [line for line in lines if line not in have]
    for line in extra:
        if not line.startswith(_SIGNATURE_PREFIX) or not line.endswith("\n") or "\n" in line[:-1]:
            raise InvalidCheckpoint("a signature line starts with an em dash and a space and is one line")
    return note + "".join(extra)


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A cosignature that verified: who signed, and when (POSIX seconds)."""

    witness: str
    timestamp: int
    line: str


def verified_cosignatures(note: str, witnesses: Sequence[CosignatureVerifier]) -> list[Cosignature]:
    """The cosignatures on ``note`` by the given witnesses, verified (one per witness at most).

    Lines of other keys are ignored; a line that names a known witness and key ID but does not verify raises
    :class:`~protocol.errors.InvalidCheckpoint`.
    """
    known = {(w.name, w.key_id): w for w in witnesses}
    body, lines = _split(note)
    found: dict[str, Cosignature] = {}
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise InvalidCheckpoint("a signature line starts with an em dash and a space")
        name, _space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        raw = _b64(encoded)
        if raw is None or len(raw) <= KEY_ID_SIZE:
            raise InvalidCheckpoint("a signature is not canonical base64 of a key ID and signature bytes")
        witness = known.get((name, raw[:KEY_ID_SIZE]))
        if witness is None:
            continue
        if len(raw) != KEY_ID_SIZE + _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
            raise InvalidCheckpoint(f"the cosignature by {name!r} is not a timestamped Ed25519 signature")
        timestamp = int.from_bytes(raw[KEY_ID_SIZE : KEY_ID_SIZE + _TIMESTAMP_SIZE], "big")
        try:
            witness.verify(body, timestamp, raw[KEY_ID_SIZE + _TIMESTAMP_SIZE :])
        except (InvalidSignature, MalformedMessage):
            raise InvalidCheckpoint(f"the cosignature by witness {name!r} does not verify") from None
        found.setdefault(name, Cosignature(witness=name, timestamp=timestamp, line=f"{line}\n"))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class WitnessVerdict:
    """Which of a policy's witnesses cosigned a checkpoint, and whether that is enough."""

    signed: tuple[str, ...]
    missing: tuple[str, ...]
    quorum: int

    @property
    def ok(self) -> bool:
        return len(self.signed) >= self.quorum

    def describe(self) -> str:
        """``cosigned by w1 (1 of 2; 2 required); not by w2``."""
        signed = ", ".join(self.signed) or "no witness"
        text = f"cosigned by {signed} ({len(self.signed)} of {len(self.signed) + len(self.missing)}; "
        text += f"{self.quorum} required)"
        return text + (f"; not by {', '.join(self.missing)}" if self.missing else "")


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """*k* of *n* witness keys must have cosigned a checkpoint before it is relied on."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int

    def __post_init__(self) -> None:
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise MalformedMessage("two witness keys share a name: give each witness once")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise MalformedMessage(
                f"a witness quorum of {self.quorum} cannot be met by {len(self.witnesses)} witness key(s)"
            )

    @classmethod
    def from_vkeys(cls, vkeys: Sequence[str], quorum: int | None = None) -> WitnessPolicy:
        """The policy of these vkeys; ``quorum`` defaults to all of them."""
        witnesses = tuple(CosignatureVerifier.from_vkey(v) for v in vkeys)
        return cls(witnesses, len(witnesses) if quorum is None else quorum)

    @property
    def vkeys(self) -> tuple[str, ...]:
        return tuple(w.vkey for w in self.witnesses)

    def check(self, note: str) -> WitnessVerdict:
        """Who of the policy's witnesses cosigned ``note`` (raises on a known witness's bad line)."""
        signed = tuple(c.witness for c in verified_cosignatures(note, self.witnesses))
        missing = tuple(w.name for w in self.witnesses if w.name not in signed)
        return WitnessVerdict(signed=signed, missing=missing, quorum=self.quorum)


# ------------------------------------------------------------------------------------------ add-checkpoint


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """The body of a ``tlog-witness`` add-checkpoint request."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old_size}\n", *(base64.b64encode(h).decode("ascii") + "\n" for h in self.proof), "\n"]
        return ("".join(lines) + self.note).encode("utf-8")

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse strictly; raise :class:`~protocol.errors.MalformedMessage` on any flaw."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage("an add-checkpoint request is UTF-8 text") from None
        head, blank, note = text.partition("\n\n")
        if not blank or not head.startswith("old "):
            raise MalformedMessage("an add-checkpoint request starts with `old <size>`, proof lines, a blank line")
        first, *proof_lines = head.split("\n")
        size_text = first[len("old ") :]
        if not _SIZE.fullmatch(size_text) or int(size_text) > 2**64 - 1:
            raise MalformedMessage("the old size is a decimal number without leading zeros")
        if len(proof_lines) > MAX_PROOF_LINES:
            raise MalformedMessage(f"an add-checkpoint request carries at most {MAX_PROOF_LINES} proof lines")
        proof = []
        for line in proof_lines:
            raw = _b64(line)
            if raw is None or len(raw) != 32:
                raise MalformedMessage("a consistency proof line is the base64 of a 32-byte hash")
            proof.append(raw)
        return cls(old_size=int(size_text), proof=tuple(proof), note=note)


class Refusal(StrEnum):
    """Why a witness does not cosign, with the HTTP status tlog-witness gives each reason."""

    UNKNOWN_ORIGIN = "unknown_origin"  # 404
    NOT_SIGNED = "not_signed"  # 403
    BAD_REQUEST = "bad_request"  # 400
    CONFLICT = "conflict"  # 409: the old size is not the witness's latest size
    INCONSISTENT = "inconsistent"  # 422: a proof that does not verify, another root for the same size

    @property
    def status(self) -> int:
        return {"unknown_origin": 404, "not_signed": 403, "bad_request": 400, "conflict": 409}.get(self.value, 422)


class WitnessRefused(ProtocolError):
    """The witness does not cosign; :attr:`refusal` says why (and :attr:`latest_size` for a conflict)."""

    def __init__(self, refusal: Refusal, message: str, *, latest_size: int | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.latest_size = latest_size


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """What a witness remembers of one log: the latest checkpoint it cosigned, with the log's note."""

    size: int
    root_hash: bytes
    note: str


def witness_checkpoint(
    request: AddCheckpoint, *, logs: Sequence[NoteVerifier], latest: dict[str, WitnessedCheckpoint]
) -> tuple[Checkpoint, WitnessedCheckpoint]:
    """Decide an add-checkpoint request: the checkpoint to cosign and the new state for its origin.

    ``logs`` are the log keys the witness trusts (one per origin), ``latest`` the latest checkpoint cosigned per
    origin. Raises :class:`WitnessRefused` with the tlog-witness reason otherwise. The caller cosigns, stores the
    new state **atomically with this check**, and only then answers.
    """
    try:
        body, _lines = _split(request.note)
        origin = body.split("\n", 1)[0]
    except InvalidCheckpoint as e:
        raise WitnessRefused(Refusal.BAD_REQUEST, f"the checkpoint is not a signed note: {e}") from None
    log = next((key for key in logs if key.name == origin), None)
    if log is None:
        raise WitnessRefused(Refusal.UNKNOWN_ORIGIN, f"this witness does not witness the log {origin!r}")
    try:
        checkpoint = open_checkpoint(request.note, log, origin=origin)
    except InvalidCheckpoint as e:
        raise WitnessRefused(Refusal.NOT_SIGNED, f"the checkpoint is not signed by the log's key: {e}") from None
    if request.old_size > checkpoint.size:
        raise WitnessRefused(Refusal.BAD_REQUEST, f"old size {request.old_size} exceeds the checkpoint's size")
    previous = latest.get(origin)
    known_size = 0 if previous is None else previous.size
    if request.old_size != known_size:
        raise WitnessRefused(
            Refusal.CONFLICT,
            f"the witness's latest checkpoint of {origin} has size {known_size}, not {request.old_size}",
            latest_size=known_size,
        )
    if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise WitnessRefused(Refusal.INCONSISTENT, "a checkpoint of size 0 must have the empty tree's root")
    if previous is None or request.old_size == 0:
        if request.proof:
            raise WitnessRefused(Refusal.INCONSISTENT, "a proof from the empty tree must be empty")
    else:
        try:
            verify_consistency(previous.size, checkpoint.size, previous.root_hash, checkpoint.root_hash, request.proof)
        except InvalidProof as e:
            raise WitnessRefused(
                Refusal.INCONSISTENT,
                f"checkpoint {checkpoint.size} of {origin} is not consistent with checkpoint {previous.size}, "
                f"which this witness cosigned: {e}",
            ) from None
    return checkpoint, WitnessedCheckpoint(size=checkpoint.size, root_hash=checkpoint.root_hash, note=request.note)
