# SPDX-License-Identifier: Apache-2.0
"""The protocol's messages (version ``tipshare/1``): submission payload, envelope, log entries and receipt.

Every model is a frozen pydantic model with ``extra="forbid"`` and strict types, so what was signed is exactly
what was parsed. Signed and hashed bytes always come from :meth:`Message.canonical_bytes` (RFC 8785, no floats:
noise scales and budgets are decimal strings).

>>> ref = TaxonomyRef(id="tipshare-taxonomy/1", hash="sha256:" + "0" * 64)
>>> ref.canonical_bytes()
b'{"hash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","id":"tipshare-taxonomy/1"}'
>>> TaxonomyRef.from_canonical(ref.canonical_bytes()) == ref
True
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from protocol.canonical import canonical_bytes, parse_canonical, parse_json
from protocol.errors import MalformedMessage, UnsupportedVersion
from protocol.period import PERIOD_PATTERN

__all__ = [
    "MAX_ABS_CELL",
    "MAX_REVISION",
    "PROTOCOL_VERSION",
    "BackfillApprovedEntry",
    "Base64Bytes",
    "BudgetCap",
    "DecimalString",
    "Envelope",
    "HotlineId",
    "HotlinePolicyEntry",
    "HubKeyHandoverEntry",
    "KeyEventEntry",
    "LogEntry",
    "Message",
    "PeriodField",
    "PrivacyBlock",
    "Receipt",
    "SecaggFailedEntry",
    "SecaggMemberEntry",
    "SecaggStepEntry",
    "SubmissionEntry",
    "SubmissionPayload",
    "SubmissionWithdrawnEntry",
    "TableNoise",
    "TableRelease",
    "TaxonomyRef",
    "Timestamp",
    "b64decode",
    "b64encode",
    "envelope_header_bytes",
    "format_timestamp",
    "parse_log_entry",
    "parse_timestamp",
]

PROTOCOL_VERSION: Final = "tipshare/1"
#: Largest absolute value of one released (noisy) cell. A hotline month never comes near it; anything beyond
#: is a broken or hostile sender.
MAX_ABS_CELL: Final = 10_000_000
#: Highest revision number of one (hotline, period). Corrections are rare; this bounds abuse.
MAX_REVISION: Final = 999

_TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_DECIMAL = re.compile(r"\A(0|[1-9][0-9]{0,17})(\.[0-9]{1,30})?\Z")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, the encoding of every byte string in the protocol."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str = "value") -> bytes:
    """Strict base64: valid alphabet and padding, and canonical (re-encodes to the same text)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedMessage(f"{what} is not valid base64") from None
    if b64encode(raw) != text:
        raise MalformedMessage(f"{what} is not canonical base64")
    return raw


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC (whole seconds); the only time format in signed data."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp`; raises :class:`MalformedMessage` on any other form."""
    if not _TIMESTAMP.match(text):
        raise MalformedMessage(f"timestamp {text!r} is not of the form YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise MalformedMessage(f"timestamp {text!r} is not a real date and time") from None


def _check_timestamp(text: str) -> str:
    try:
        parse_timestamp(text)
    except MalformedMessage as e:
        raise ValueError(str(e)) from None
    return text


def _check_b64(text: str) -> str:
    try:
        b64decode(text)
    except MalformedMessage as e:
        raise ValueError(str(e)) from None
    return text


def _check_period(text: str) -> str:
    if text.startswith("0000"):  # the calendar (and datetime) starts at year 1
        raise ValueError(f"period {text} is in year 0, which does not exist")
    return text


def _check_decimal(text: str) -> str:
    if not _DECIMAL.match(text):
        raise ValueError(f"{text!r} is not a plain non-negative decimal such as '3.4641016151377544'")
    try:
        if Decimal(text) <= 0:
            raise ValueError(f"{text!r} must be greater than zero")
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"{text!r} is not a decimal") from None
    return text


#: A hotline id, or an aggregation group id: lowercase letters, digits and hyphens, 3 to 64 characters.
IDENTIFIER_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
#: An ISO 3166-1 alpha-2 country code.
COUNTRY_PATTERN: Final = r"^[A-Z]{2}$"

HotlineId = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
"""A hotline's stable identifier: lowercase letters, digits and hyphens, 3 to 64 characters."""
KeyIdField = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
PeriodField = Annotated[str, Field(pattern=PERIOD_PATTERN), AfterValidator(_check_period)]
"""A calendar month, ``YYYY-MM`` (:mod:`protocol.period`)."""
Timestamp = Annotated[str, AfterValidator(_check_timestamp)]
Base64Bytes = Annotated[str, Field(max_length=16_000_000), AfterValidator(_check_b64)]
DecimalString = Annotated[str, AfterValidator(_check_decimal)]
"""A positive decimal written as a string (no floats in signed data)."""
ContentHash = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
TableName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Cell = Annotated[int, Field(ge=-MAX_ABS_CELL, le=MAX_ABS_CELL)]


class Message(BaseModel):
    """Base of every protocol message: frozen, no extra fields, strict types."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def canonical_bytes(self) -> bytes:
        """The RFC 8785 bytes of this message: what is signed, hashed and sent."""
        return canonical_bytes(self.model_dump(mode="json"))

    @classmethod
    def from_canonical(cls, data: bytes) -> Self:
        """Parse bytes that must be exactly the canonical encoding of a valid message of this type."""
        return cls._validate(data, cls._parse(parse_canonical, data))

    @classmethod
    def from_json(cls, data: bytes) -> Self:
        """Parse strict JSON (no duplicate keys, no floats) that need not be canonical."""
        return cls._validate(data, cls._parse(parse_json, data))

    @classmethod
    def _parse(cls, parse: Callable[[bytes], Any], data: bytes) -> Any:
        # The JSON errors say what is wrong, not in which message: an envelope and the payload sealed in it
        # are both JSON, and "duplicate JSON key 'period'" alone does not tell a sender which one to fix.
        try:
            return parse(data)
        except MalformedMessage as e:
            raise type(e)(f"invalid {cls.__name__}: {e}") from None

    @classmethod
    def _validate(cls, data: bytes, value: Any) -> Self:
        # Another protocol version is refused as such, before any field is checked.
        if isinstance(value, dict) and "version" in cls.model_fields:
            version = value.get("version")
            if version is not None and version != PROTOCOL_VERSION:
                raise UnsupportedVersion(
                    f"{cls.__name__} has protocol version {version!r}; this software speaks {PROTOCOL_VERSION!r}"
                )
        try:
            return cls.model_validate_json(data)
        except ValidationError as e:
            raise MalformedMessage(_describe(cls.__name__, e)) from None


def _describe(name: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "(message)"
        problems.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"invalid {name}: " + "; ".join(problems) + suffix


class TaxonomyRef(Message):
    """Which taxonomy a payload follows: its id and content hash."""

    id: Annotated[str, Field(min_length=1, max_length=100)]
    hash: ContentHash


class TableNoise(Message):
    """The public noise parameters of one released table."""

    table: TableName
    #: Noise scale as OpenDP used it: σ for the discrete Gaussian, the Laplace scale for discrete Laplace.
    scale: DecimalString
    #: Per-person L1 bound of the table (most a person can add to all its cells together).
    l1_sensitivity: Annotated[int, Field(ge=1, le=1000)]
    #: Square of the per-person L2 bound (an integer, so no irrational numbers are signed).
    l2_sensitivity_squared: Annotated[int, Field(ge=1, le=1_000_000)]
    #: Privacy loss of this table: ρ (zCDP) for the discrete Gaussian, ε for discrete Laplace.
    spent: DecimalString


class PrivacyBlock(Message):
    """How a release was noised, and what it cost; enough for anyone to compute every interval."""

    #: ``local``: each hotline adds its own noise (tipshare/1). A two-aggregator mode will declare itself here.
    mode: Literal["local"]
    mechanism: Literal["discrete_gaussian", "discrete_laplace"]
    #: ``rho`` (zero-concentrated DP) for the discrete Gaussian, ``epsilon`` (pure DP) for discrete Laplace.
    measure: Literal["rho", "epsilon"]
    #: The unit of privacy. ``person-month``: one person registered at this hotline in this month (every table's
    #: contribution bound holds per person). ``record-month`` (added later; older payloads never carry it): the
    #: bounds hold per record of the hotline's export in the month, not per person, because the hotline could not
    #: link a person's records: rows counted as persons (no person identifier), or contacts without a contactor
    #: identifier counted as contactors of their own. A person with r records is then protected as r records are.
    unit: Literal["person-month", "record-month"]
    #: Total privacy loss of this release (the sum of the tables' spends).
    spent: DecimalString
    tables: Annotated[tuple[TableNoise, ...], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        expected = {"discrete_gaussian": "rho", "discrete_laplace": "epsilon"}[self.mechanism]
        if self.measure != expected:
            raise ValueError(f"mechanism {self.mechanism} is accounted in {expected}, not {self.measure}")
        names = [t.table for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("a table appears twice in the privacy block")
        return self


class TableRelease(Message):
    """One table, released densely: every cell of its domain, in the taxonomy's row-major order."""

    name: TableName
    cells: Annotated[tuple[Cell, ...], Field(min_length=1, max_length=200_000)]


class SubmissionPayload(Message):
    """What a hotline signs: one month's noisy tables and the parameters of their noise."""

    type: Literal["submission"]
    version: Literal["tipshare/1"]
    taxonomy: TaxonomyRef
    hotline_id: HotlineId
    key_id: KeyIdField
    period: PeriodField
    revision: Annotated[int, Field(ge=1, le=MAX_REVISION)]
    created_at: Timestamp
    #: 16 random bytes, so that two releases with equal tables still have distinct signed bytes.
    nonce: Annotated[Base64Bytes, Field(min_length=24, max_length=24)]
    privacy: PrivacyBlock
    tables: Annotated[tuple[TableRelease, ...], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _tables_match_privacy(self) -> Self:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("a table appears twice")
        if set(names) != {t.table for t in self.privacy.tables}:
            raise ValueError("the privacy block must describe exactly the released tables")
        return self


class Envelope(Message):
    """What travels to the hub: the sealed payload plus a signed clear header.

    ``sealed`` is ``SealedBox(hub_key, payload_bytes || payload_signature)``. ``signature`` is the hotline's
    Ed25519 signature over the canonical bytes of this envelope without its ``signature`` field, so the hub can
    reject junk before decrypting.
    """

    type: Literal["envelope"]
    version: Literal["tipshare/1"]
    hotline_id: HotlineId
    key_id: KeyIdField
    sealed: Base64Bytes
    signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]

    def header_bytes(self) -> bytes:
        """The canonical bytes the envelope signature covers (everything but the signature)."""
        return envelope_header_bytes(hotline_id=self.hotline_id, key_id=self.key_id, sealed=self.sealed)


def envelope_header_bytes(*, hotline_id: str, key_id: str, sealed: str) -> bytes:
    """The canonical bytes of an envelope without its signature: what the envelope signature covers."""
    return canonical_bytes(
        {"type": "envelope", "version": PROTOCOL_VERSION, "hotline_id": hotline_id, "key_id": key_id, "sealed": sealed}
    )


class SubmissionEntry(Message):
    """Log leaf of an accepted submission: the signed payload itself, so anyone can re-verify it."""

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["submission"]
    hotline_id: HotlineId
    key_id: KeyIdField
    period: PeriodField
    revision: Annotated[int, Field(ge=1, le=MAX_REVISION)]
    #: ``sha256:<hex>`` of the payload bytes.
    payload_hash: ContentHash
    #: The exact payload bytes the hotline signed (canonical JSON), base64.
    payload: Base64Bytes
    #: Ed25519 signature over the domain-separated payload (context ``tipshare/1 submission``), base64.
    signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]
    received_at: Timestamp


class KeyEventEntry(Message):
    """Log leaf of a key event: enrolment of a hotline key, rotation to a new key, or revocation."""

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["key_enrolled", "key_rotated", "key_revoked"]
    hotline_id: HotlineId
    key_id: KeyIdField
    #: The key the event is about, ``ed25519:<base64>``.
    public_key: Annotated[str, Field(pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$")]
    #: Hotline name and ISO 3166-1 alpha-2 country, as enrolled (repeated on rotation for readability).
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    country: Annotated[str, Field(pattern=COUNTRY_PATTERN)]
    #: For a rotation: the key it replaces (which stops being valid at ``effective_at``).
    previous_key_id: KeyIdField | None = None
    #: For a revocation: why, in words an auditor can read.
    reason: Annotated[str, Field(max_length=500)] | None = None
    effective_at: Timestamp
    #: For a revocation of a stolen key (added later; absent from older entries, and then not in their bytes): the
    #: time since which the key is held to be compromised. Every submission signed with it and received at or after
    #: this time is withdrawn (``submission_withdrawn`` entries) in the same logged act, just before this entry.
    compromised_since: Timestamp | None = None
    #: The hotline's long-term share-sealing key for secure aggregation, ``x25519:<base64>`` (added later; absent
    #: from older entries and from events without one, and then not in their bytes). Given only at an enrolment or
    #: a rotation; it is the hotline's sealing key until its next enrolment, rotation or revocation.
    sealing_key: Annotated[str, Field(pattern=r"^x25519:[A-Za-z0-9+/]{43}=$")] | None = None

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Self:
        if (self.kind == "key_rotated") != (self.previous_key_id is not None):
            raise ValueError("previous_key_id is given for a rotation and only for a rotation")
        if self.sealing_key is not None and self.kind == "key_revoked":
            raise ValueError("a sealing key is enrolled with a key, never with a revocation")
        if self.kind == "key_revoked" and not self.reason:
            raise ValueError("a revocation states its reason")
        if self.compromised_since is not None:
            if self.kind != "key_revoked":
                raise ValueError("compromised_since is given for a revocation and only for a revocation")
            if self.compromised_since > self.effective_at:  # same fixed-width format: text order is time order
                raise ValueError("compromised_since is not after the revocation itself")
        return self

    def canonical_bytes(self) -> bytes:
        """As for every message, but an absent ``compromised_since`` or ``sealing_key`` is left out, so that every key
        event logged before the fields existed keeps its exact bytes (and leaf hash)."""
        absent = {name for name in ("compromised_since", "sealing_key") if getattr(self, name) is None}
        return canonical_bytes(self.model_dump(mode="json", exclude=absent or None))


class SubmissionWithdrawnEntry(Message):
    """Log leaf taking an accepted submission out of the statistics, signed by the hub's operator.

    It names the submission by its log index and repeats what identifies it (hotline, key, period, revision,
    payload hash). ``signature`` is an Ed25519 signature by the hub's log key (the one whose note key ID is
    ``log_key_id``) over the domain-separated canonical bytes of the entry without its signature (context
    ``tipshare/1 submission_withdrawn``; see :mod:`protocol.withdrawal`), so the statement stands on its own,
    outside any checkpoint. The withdrawn entry stays in the log; it counts for nothing from this entry on.
    """

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["submission_withdrawn"]
    #: Log index of the ``submission`` entry withdrawn.
    leaf_index: Annotated[int, Field(ge=0, le=2**63 - 1)]
    hotline_id: HotlineId
    key_id: KeyIdField
    period: PeriodField
    revision: Annotated[int, Field(ge=1, le=MAX_REVISION)]
    payload_hash: ContentHash
    #: Why, in words an auditor can read.
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    withdrawn_at: Timestamp
    #: The C2SP note key ID (8 lowercase hex digits) of the log key that signed.
    log_key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
    signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]

    def statement_bytes(self) -> bytes:
        """The canonical bytes the signature covers: the entry without its ``signature``."""
        return canonical_bytes(self.model_dump(mode="json", exclude={"signature"}))


class HubKeyHandoverEntry(Message):
    """Log leaf of a handover of the hub's own keys (log key, envelope key or both), signed inside the entry by
    the previous log key (authority) and the new one (possession), over :meth:`signed_bytes` with context
    ``tipshare/1 hub key handover`` (see :mod:`protocol.handover`). Added to ``tipshare/1`` without changing any
    other entry; a follower that pinned ``previous_log_vkey`` trusts ``log_vkey`` from this entry on."""

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["hub_key_handover"]
    #: C2SP vkeys of the log key before and after (equal when only the envelope key changes).
    previous_log_vkey: Annotated[str, Field(min_length=1, max_length=300)]
    log_vkey: Annotated[str, Field(min_length=1, max_length=300)]
    #: X25519 envelope keys before and after (equal when only the log key changes).
    previous_encryption_key: Annotated[str, Field(pattern=r"^x25519:[A-Za-z0-9+/]{43}=$")]
    encryption_key: Annotated[str, Field(pattern=r"^x25519:[A-Za-z0-9+/]{43}=$")]
    #: Envelopes sealed to the previous encryption key are still opened until then (releases already queued).
    previous_encryption_key_until: Timestamp
    effective_at: Timestamp
    previous_log_signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]
    log_signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]

    def signed_bytes(self) -> bytes:
        """The canonical bytes both signatures cover: the entry without its two signatures."""
        return canonical_bytes(self.model_dump(mode="json", exclude={"previous_log_signature", "log_signature"}))


class BudgetCap(Message):
    """The privacy spend a hotline may declare in one measure: per period (all revisions together) and per year."""

    measure: Literal["rho", "epsilon"]
    period: DecimalString
    year: DecimalString

    @model_validator(mode="after")
    def _period_within_year(self) -> Self:
        if Decimal(self.period) > Decimal(self.year):
            raise ValueError(f"the period cap {self.period} is larger than the year cap {self.year}")
        return self


class HotlinePolicyEntry(Message):
    """Log leaf of a hotline's policy: what the hub lets its releases spend and contain (``protocol.plausibility``).

    Appended with the enrolment and again whenever the operator changes it; the latest one before a submission
    applies to it.
    """

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["hotline_policy"]
    hotline_id: HotlineId
    #: The budget caps, one per measure the hotline may release in (a measure not listed is refused).
    caps: Annotated[tuple[BudgetCap, ...], Field(min_length=1, max_length=2)]
    #: The most persons (privacy units: records, for a ``record-month`` release) the hotline could see in a month.
    max_monthly_volume: Annotated[int, Field(ge=1, le=10_000_000)]
    #: The first period the hotline reports; an earlier one needs a logged backfill approval.
    first_period: PeriodField
    reason: Annotated[str, Field(max_length=500)] | None = None
    effective_at: Timestamp
    #: The first period the hotline is *expected* to report (added later; absent from older entries, and then not in
    #: their bytes): from it on, a month with nothing received is a gap in completeness. Absent: a hotline is
    #: expected for the months one of its keys was valid in.
    reporting_from: PeriodField | None = None

    @model_validator(mode="after")
    def _one_cap_per_measure(self) -> Self:
        measures = [cap.measure for cap in self.caps]
        if len(set(measures)) != len(measures):
            raise ValueError("a measure has two caps")
        return self

    @model_validator(mode="after")
    def _reporting_from_first_period(self) -> Self:
        if self.reporting_from is not None and self.reporting_from < self.first_period:
            raise ValueError(
                f"reporting_from {self.reporting_from} is before first_period {self.first_period}: a hotline is not "
                "expected to report months it may not release"
            )
        return self

    def canonical_bytes(self) -> bytes:
        """As for every message, but an absent ``reporting_from`` is left out, so that every policy logged before
        the field existed keeps its exact bytes (and leaf hash)."""
        absent = {"reporting_from"} if self.reporting_from is None else None
        return canonical_bytes(self.model_dump(mode="json", exclude=absent))


class BackfillApprovedEntry(Message):
    """Log leaf of an operator's approval for a hotline to release periods before its first period."""

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["backfill_approved"]
    hotline_id: HotlineId
    first_period: PeriodField
    last_period: PeriodField
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    effective_at: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.first_period > self.last_period:
            raise ValueError(f"first_period {self.first_period} is after last_period {self.last_period}")
        return self


GroupIdField = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
RoundNumber = Annotated[int, Field(ge=0, lt=2**32)]
#: Kinds of the hub's steps of a secure-aggregation round, and the ``type`` of the message each carries.
SECAGG_STEP_KINDS: Final = {
    "secagg_roster": "secagg-roster",
    "secagg_committed": "secagg-committed",
    "secagg_survivors": "secagg-survivors",
    "secagg_result": "secagg-result",
}
#: Kinds of the members' messages of a round, and the ``type`` of the message each carries.
SECAGG_MEMBER_KINDS: Final = {
    "secagg_shares": "secagg-shares",
    "secagg_masked": "secagg-masked",
    "secagg_reveal": "secagg-reveal",
}


class SecaggStepEntry(Message):
    """Log leaf of a hub step of a secure-aggregation round (issue 18; added to ``tipshare/1`` without changing
    any other entry): roster, committed set, survivor set or result.

    ``message`` is the canonical bytes of the :mod:`protocol.secagg.messages` model the kind names; the entry is
    the hub's statement because it is in the log, whose checkpoints the hub signs.
    """

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["secagg_roster", "secagg_committed", "secagg_survivors", "secagg_result"]
    group: GroupIdField
    period: PeriodField
    round: RoundNumber
    #: ``sha256:<hex>`` of the message bytes: the digest the next step names.
    message_hash: ContentHash
    message: Base64Bytes
    effective_at: Timestamp


class SecaggMemberEntry(Message):
    """Log leaf of a member's message in a round: share submission, masked submission or unmask reveal.

    ``message`` is the canonical bytes of the member's :mod:`protocol.secagg.messages` model; ``signature`` is
    the member's Ed25519 signature (key ``key_id``, valid when received by its logged key events) over the
    domain-separated message, context ``tipshare/1 <message type>`` (see :mod:`protocol.secagg.signed`), so anyone
    can check it from the log alone.
    """

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["secagg_shares", "secagg_masked", "secagg_reveal"]
    hotline_id: HotlineId
    key_id: KeyIdField
    group: GroupIdField
    period: PeriodField
    round: RoundNumber
    message_hash: ContentHash
    message: Base64Bytes
    signature: Annotated[Base64Bytes, Field(min_length=88, max_length=88)]
    received_at: Timestamp


class SecaggFailedEntry(Message):
    """Log leaf of a round that ended without a result: too few members at a step (``below-threshold``) or a sum
    that cannot be rebuilt (the reconstruction's rule). Members then send local releases for the period."""

    type: Literal["log_entry"]
    version: Literal["tipshare/1"]
    kind: Literal["secagg_failed"]
    group: GroupIdField
    period: PeriodField
    round: RoundNumber
    #: The step the round stopped at: ``committed``, ``survivors`` or ``result``.
    step: Literal["committed", "survivors", "result"]
    rule: Annotated[str, Field(pattern=r"^[a-z][a-z-]{0,63}$")]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    effective_at: Timestamp


LogEntry = (
    SubmissionEntry
    | KeyEventEntry
    | SubmissionWithdrawnEntry
    | HubKeyHandoverEntry
    | HotlinePolicyEntry
    | BackfillApprovedEntry
    | SecaggStepEntry
    | SecaggMemberEntry
    | SecaggFailedEntry
)


def parse_log_entry(data: bytes) -> LogEntry:
    """Parse the canonical bytes of a log leaf into the entry type its ``kind`` names (checked once, not per type)."""
    value: Any = parse_canonical(data)
    if not isinstance(value, dict):
        raise MalformedMessage("a log entry is a JSON object")
    kind = value.get("kind")
    if kind == "submission":
        return SubmissionEntry._validate(data, value)
    if kind in ("key_enrolled", "key_rotated", "key_revoked"):
        return KeyEventEntry._validate(data, value)
    if kind == "submission_withdrawn":
        return SubmissionWithdrawnEntry._validate(data, value)
    if kind == "hub_key_handover":
        return HubKeyHandoverEntry._validate(data, value)
    if kind == "hotline_policy":
        return HotlinePolicyEntry._validate(data, value)
    if kind == "backfill_approved":
        return BackfillApprovedEntry._validate(data, value)
    if kind in SECAGG_STEP_KINDS:
        return SecaggStepEntry._validate(data, value)
    if kind in SECAGG_MEMBER_KINDS:
        return SecaggMemberEntry._validate(data, value)
    if kind == "secagg_failed":
        return SecaggFailedEntry._validate(data, value)
    raise MalformedMessage(f"unknown log entry kind {kind!r}")


class Receipt(Message):
    """What the hub returns for an accepted submission, verifiable offline with the hub's log key.

    ``leaf`` is the log entry (canonical bytes, base64) whose leaf hash sits at ``leaf_index``;
    ``inclusion_proof`` proves it is in the tree that the signed ``checkpoint`` (a C2SP signed note) commits to.
    """

    type: Literal["receipt"]
    version: Literal["tipshare/1"]
    submission_id: Annotated[int, Field(ge=1)]
    leaf_index: Annotated[int, Field(ge=0)]
    leaf: Base64Bytes
    inclusion_proof: Annotated[
        tuple[Annotated[Base64Bytes, Field(min_length=44, max_length=44)], ...],
        Field(max_length=64),
    ]
    checkpoint: Annotated[str, Field(min_length=1, max_length=10_000)]
