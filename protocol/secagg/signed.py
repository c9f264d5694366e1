# SPDX-License-Identifier: Apache-2.0
"""A round's messages in the log: members' messages signed by their Ed25519 keys, the hub's steps as log entries,
and the check of a roster's sealing keys against the logged key events.

* A member signs the canonical bytes of its message (share submission, masked submission, reveal) with context
  ``tipshare/1 <type>`` (:func:`member_context`, e.g. ``tipshare/1 secagg-shares``) and sends a
  :class:`SignedRoundMessage`; the hub logs it as a :class:`~protocol.messages.SecaggMemberEntry` with the same
  bytes and signature, so anyone re-verifies it from the log (:func:`verify_member_entry`).
* The hub's steps (roster, committed set, survivors, result) are :class:`~protocol.messages.SecaggStepEntry`
  leaves: in the log, hence under the hub's signed checkpoints (:func:`step_entry`, :func:`step_message`).
* A member reads its round with a :class:`SignedRoundRead` (:func:`sign_round_read`): its signed, dated request,
  context ``tipshare/1 secagg-read``, authenticated like its messages (the round holds the group's statistics, which
  the hub shows only to its members and to token holders).
* :func:`check_roster_keys`: every sealing key a roster lists must be the one its member's latest logged key event
  enrolled; otherwise a hub could list keys of its own and receive every share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field

from protocol.canonical import parse_canonical
from protocol.crypto import SigningKey, VerifyKey
from protocol.errors import MalformedMessage, SecureAggregationError
from protocol.messages import (
    IDENTIFIER_PATTERN,
    PROTOCOL_VERSION,
    SECAGG_MEMBER_KINDS,
    SECAGG_STEP_KINDS,
    Base64Bytes,
    HotlineId,
    KeyEventEntry,
    Message,
    PeriodField,
    SecaggMemberEntry,
    SecaggStepEntry,
    Timestamp,
    b64decode,
    b64encode,
)
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
    digest,
)

__all__ = [
    "READ_CONTEXT",
    "MemberMessage",
    "RosterKeyMismatch",
    "RoundRead",
    "SignedRoundMessage",
    "SignedRoundRead",
    "StepMessage",
    "check_roster_keys",
    "member_context",
    "member_entry",
    "member_message",
    "parse_member_message",
    "parse_step_message",
    "sealing_keys",
    "sign_member_message",
    "sign_round_read",
    "step_entry",
    "step_message",
    "unverified_round_read",
    "verify_member_entry",
    "verify_round_read",
    "verify_signed",
]

#: The signing context of a member's request to read its round.
READ_CONTEXT = f"{PROTOCOL_VERSION} secagg-read"

MemberMessage = ShareSubmission | MaskedSubmission | UnmaskReveal
StepMessage = RoundRoster | CommittedSet | Survivors | RoundResult
_MEMBER_TYPES: dict[str, type[MemberMessage]] = {
    "secagg-shares": ShareSubmission,
    "secagg-masked": MaskedSubmission,
    "secagg-reveal": UnmaskReveal,
}
_STEP_TYPES: dict[str, type[StepMessage]] = {
    "secagg-roster": RoundRoster,
    "secagg-committed": CommittedSet,
    "secagg-survivors": Survivors,
    "secagg-result": RoundResult,
}
_KIND_OF_TYPE = {t: k for k, t in (SECAGG_MEMBER_KINDS | SECAGG_STEP_KINDS).items()}


class RosterKeyMismatch(SecureAggregationError):
    """A roster lists a sealing key its member's logged key events did not enrol (``rule``: ``no-sealing-key``,
    ``sealing-key-mismatch``, ``unknown-hotline``)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class SignedRoundMessage(Message):
    """What a member sends the hub: its message's canonical bytes and its signature over them."""

    type: Literal["secagg_signed"]
    version: Literal["tipshare/1"]
    hotline_id: HotlineId
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    message: Base64Bytes
    signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]


class RoundRead(Message):
    """A member's request to read a round (the latest of the period when ``round`` is absent), dated ``at``."""

    type: Literal["secagg-read"]
    version: Literal["tipshare/1"]
    hotline_id: HotlineId
    group: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
    period: PeriodField
    round: Annotated[int, Field(ge=0, lt=2**32)] | None = None
    at: Timestamp


class SignedRoundRead(Message):
    """A :class:`RoundRead` (canonical bytes, base64) and the member's signature over it."""

    type: Literal["secagg_signed_read"]
    version: Literal["tipshare/1"]
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    request: Base64Bytes
    signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]


def sign_round_read(request: RoundRead, *, key: SigningKey) -> SignedRoundRead:
    """The member's signed request to read a round."""
    data = request.canonical_bytes()
    return SignedRoundRead(
        type="secagg_signed_read",
        version="tipshare/1",
        key_id=key.verify_key.key_id,
        request=b64encode(data),
        signature=b64encode(key.sign_message(READ_CONTEXT, data)),
    )


def unverified_round_read(signed: SignedRoundRead) -> RoundRead:
    """The request, not yet checked: only to find whose key to check it with."""
    return RoundRead.from_canonical(b64decode(signed.request, what="request"))


def verify_round_read(signed: SignedRoundRead, key: VerifyKey) -> RoundRead:
    """The request, once its signature by ``key`` verifies (:class:`~protocol.errors.InvalidSignature` if not)."""
    if key.key_id != signed.key_id:
        raise MalformedMessage(f"the request names key {signed.key_id}, not the key {key.key_id} it is checked with")
    data = b64decode(signed.request, what="request")
    unverified = RoundRead.from_canonical(data)
    key.verify_message(READ_CONTEXT, data, b64decode(signed.signature, what="signature"))
    return unverified


def member_context(message_type: str) -> str:
    """The signing context of a member's message: ``tipshare/1 secagg-shares`` and so on."""
    if message_type not in _MEMBER_TYPES:
        raise MalformedMessage(f"{message_type!r} is not a member's message of a round")
    return f"{PROTOCOL_VERSION} {message_type}"


def _type_of(data: bytes) -> str:
    value: Any = parse_canonical(data)
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str):
        raise MalformedMessage("a round message is a JSON object with a type")
    return kind


def parse_member_message(data: bytes) -> MemberMessage:
    """Parse a member's message (canonical bytes) into the model its ``type`` names."""
    kind = _type_of(data)
    if kind not in _MEMBER_TYPES:
        raise MalformedMessage(f"{kind!r} is not a member's message of a round")
    return _MEMBER_TYPES[kind].from_canonical(data)


def parse_step_message(data: bytes) -> StepMessage:
    """Parse a hub step's message (canonical bytes) into the model its ``type`` names."""
    kind = _type_of(data)
    if kind not in _STEP_TYPES:
        raise MalformedMessage(f"{kind!r} is not a hub step of a round")
    return _STEP_TYPES[kind].from_canonical(data)


def sign_member_message(message: MemberMessage, *, key: SigningKey) -> SignedRoundMessage:
    """The member's signed message, ready to send (``message.member`` is the hotline that signs)."""
    data = message.canonical_bytes()
    return SignedRoundMessage(
        type="secagg_signed",
        version="tipshare/1",
        hotline_id=message.member,
        key_id=key.verify_key.key_id,
        message=b64encode(data),
        signature=b64encode(key.sign_message(member_context(message.type), data)),
    )


def verify_signed(signed: SignedRoundMessage, key: VerifyKey) -> MemberMessage:
    """The member's message, once its signature by ``key`` verifies and it names the signer as its member.

    Raises :class:`~protocol.errors.InvalidSignature` (opaque) or :class:`~protocol.errors.MalformedMessage`.
    """
    if key.key_id != signed.key_id:
        raise MalformedMessage(f"the message names key {signed.key_id}, not the key {key.key_id} it is checked with")
    data = b64decode(signed.message, what="message")
    unverified = parse_member_message(data)
    key.verify_message(member_context(unverified.type), data, b64decode(signed.signature, what="signature"))
    if unverified.member != signed.hotline_id:
        raise MalformedMessage(f"hotline {signed.hotline_id} signed a message of member {unverified.member}")
    return unverified


def member_entry(signed: SignedRoundMessage, message: MemberMessage, *, received_at: str) -> SecaggMemberEntry:
    """The log entry of a verified member's message."""
    return SecaggMemberEntry(
        type="log_entry",
        version="tipshare/1",
        kind=_KIND_OF_TYPE[message.type],  # type: ignore[arg-type]
        hotline_id=signed.hotline_id,
        key_id=signed.key_id,
        group=message.group,
        period=message.period,
        round=message.round,
        message_hash=digest(message),
        message=signed.message,
        signature=signed.signature,
        received_at=received_at,
    )


def member_message(entry: SecaggMemberEntry) -> MemberMessage:
    """The member's message an entry carries, checked against the entry's own fields (not the signature)."""
    message = parse_member_message(b64decode(entry.message, what="message"))
    if (
        SECAGG_MEMBER_KINDS[entry.kind] != message.type
        or message.member != entry.hotline_id
        or (message.group, message.period, message.round) != (entry.group, entry.period, entry.round)
        or digest(message) != entry.message_hash
    ):
        raise MalformedMessage(f"a {entry.kind} entry's fields do not match the message it carries")
    return message


def verify_member_entry(entry: SecaggMemberEntry, key: VerifyKey) -> MemberMessage:
    """The member's message of a logged entry, once the signature by ``key`` (the hotline's key ``entry.key_id``,
    valid at ``entry.received_at`` by the logged key events) verifies."""
    message = member_message(entry)
    signed = SignedRoundMessage(
        type="secagg_signed",
        version="tipshare/1",
        hotline_id=entry.hotline_id,
        key_id=entry.key_id,
        message=entry.message,
        signature=entry.signature,
    )
    verify_signed(signed, key)
    return message


def step_entry(message: StepMessage, *, effective_at: str) -> SecaggStepEntry:
    """The log entry of one of the hub's steps."""
    return SecaggStepEntry(
        type="log_entry",
        version="tipshare/1",
        kind=_KIND_OF_TYPE[message.type],  # type: ignore[arg-type]
        group=message.group,
        period=message.period,
        round=message.round,
        message_hash=digest(message),
        message=b64encode(message.canonical_bytes()),
        effective_at=effective_at,
    )


def step_message(entry: SecaggStepEntry) -> StepMessage:
    """The hub's message an entry carries, checked against the entry's own fields."""
    message = parse_step_message(b64decode(entry.message, what="message"))
    if (
        SECAGG_STEP_KINDS[entry.kind] != message.type
        or (message.group, message.period, message.round) != (entry.group, entry.period, entry.round)
        or digest(message) != entry.message_hash
    ):
        raise MalformedMessage(f"a {entry.kind} entry's fields do not match the message it carries")
    return message


def sealing_keys(events: Iterable[KeyEventEntry]) -> dict[str, str | None]:
    """Each hotline's current sealing key after ``events`` (in log order): set by its latest enrolment or rotation
    (``None`` if that event enrolled none), cleared when its current key is revoked."""
    keys: dict[str, str | None] = {}
    current: dict[str, str] = {}
    for event in events:
        if event.kind == "key_revoked":
            if current.get(event.hotline_id) == event.key_id:
                keys[event.hotline_id] = None
            continue
        keys[event.hotline_id] = event.sealing_key
        current[event.hotline_id] = event.key_id
    return keys


def check_roster_keys(roster: RoundRoster, events: Iterable[KeyEventEntry]) -> None:
    """Refuse (:class:`RosterKeyMismatch`) a roster whose sealing keys are not those the key events logged before
    it enrolled for its members. ``events`` are the log's key events up to the roster, in log order."""
    keys = sealing_keys(events)
    for member in roster.members:
        if member.id not in keys:
            raise RosterKeyMismatch("unknown-hotline", f"the roster names {member.id}, which no key event enrolled")
        enrolled = keys[member.id]
        if enrolled is None:
            raise RosterKeyMismatch(
                "no-sealing-key",
                f"{member.id} has no sealing key in the log: it must enrol one (a key rotation carrying it) "
                "before it can take part in a round",
            )
        if enrolled != member.sealing_key:
            raise RosterKeyMismatch(
                "sealing-key-mismatch",
                f"the roster lists a sealing key for {member.id} that its logged key events did not enrol: "
                "nothing may be sealed to it",
            )
