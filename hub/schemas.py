# SPDX-License-Identifier: Apache-2.0
"""Request and response bodies of the HTTP API (the OpenAPI schema at ``/docs`` shows them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from protocol.messages import COUNTRY_PATTERN, IDENTIFIER_PATTERN

__all__ = [
    "HOTLINE_ID_PATTERN",
    "KEY_ID_PATTERN",
    "MAX_ID",
    "MAX_INDEX",
    "TEXT_PATTERN",
    "CapBody",
    "HotlineCreate",
    "HotlinePublic",
    "KeyEventPublic",
    "KeyPublic",
    "KeyRevoke",
    "KeyRevokedPublic",
    "KeyRotate",
    "PolicyTermsBody",
    "ProblemPublic",
    "SubmissionPublic",
    "SubmissionWithdraw",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "WithdrawalPublic",
    "WithdrawnPublic",
]


# Bounds of what reaches a database query, so that anything else is a 422 and never a driver error (a 500).
#: Row ids (tokens, submissions) are INTEGER columns: 32 bits on PostgreSQL.
MAX_ID: Final = 2**31 - 1
#: Log indexes and sizes are BIGINT columns (64 bits).
MAX_INDEX: Final = 2**63 - 1
#: Identifiers of the protocol (:data:`protocol.messages.HotlineId`, :data:`protocol.messages.KeyIdField`).
HOTLINE_ID_PATTERN: Final = IDENTIFIER_PATTERN
KEY_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
#: Text a person writes (names, labels, reasons): anything but NUL, which PostgreSQL text columns cannot hold.
TEXT_PATTERN: Final = r"^[^\x00]*$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Request(_Body):
    """A request body: JSON types exactly as the schema says (``true`` is no integer, ``1`` no string)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ProblemPublic(BaseModel):
    """An RFC 9457 problem detail: the body of every error response, as ``application/problem+json``.

    Extension members may follow (RFC 9457 §3.2), so unknown members are allowed.
    """

    model_config = ConfigDict(extra="allow")

    type: Annotated[str, Field(description="https://tipshare.org/problems/<code>: what kind of problem this is")]
    title: Annotated[str, Field(description="A short summary of the kind of problem, the same for every occurrence")]
    status: Annotated[int, Field(ge=400, le=599, description="The HTTP status code of this response")]
    detail: Annotated[str, Field(description="What went wrong with this request, naming the field or rule")]
    code: Annotated[str, Field(description="The last part of type, for clients that switch on it")]
    request_id: Annotated[
        str | None,
        Field(
            description="The request's id (its X-Request-ID header): quote it to the operator, who finds it in the logs"
        ),
    ] = None


#: A positive decimal as the protocol writes amounts (``protocol.messages.DecimalString``).
DECIMAL_PATTERN: Final = r"^(0|[1-9][0-9]{0,17})(\.[0-9]{1,30})?$"
PERIOD_PATTERN: Final = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class CapBody(_Request):
    """The privacy spend a hotline may declare in one measure: per period (all revisions) and per calendar year."""

    measure: Literal["rho", "epsilon"]
    period: Annotated[str, Field(pattern=DECIMAL_PATTERN, examples=["0.2"])]
    year: Annotated[str, Field(pattern=DECIMAL_PATTERN, examples=["1.5"])]


class PolicyTermsBody(_Request):
    """A hotline's policy (``protocol.plausibility``); a field left out keeps the current value (at enrolment: the
    hub's default)."""

    caps: Annotated[list[CapBody], Field(min_length=1, max_length=2)] | None = None
    max_monthly_volume: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    first_period: Annotated[str, Field(pattern=PERIOD_PATTERN)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)] | None = None
    #: The first month the hotline is expected to report (completeness); at enrolment, left out: the month before
    #: enrolment if enrolled by that month's deadline, else the month of enrolment.
    reporting_from: Annotated[str, Field(pattern=PERIOD_PATTERN)] | None = None

    @model_validator(mode="after")
    def _one_cap_per_measure(self) -> PolicyTermsBody:
        measures = [cap.measure for cap in self.caps or ()]
        if len(set(measures)) != len(measures):
            raise ValueError("caps name a measure twice")
        return self


class HotlineCreate(_Request):
    id: Annotated[str, Field(pattern=HOTLINE_ID_PATTERN)]
    display_name: Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
    country: Annotated[str, Field(pattern=COUNTRY_PATTERN)]
    public_key: Annotated[str, Field(min_length=1, max_length=100)]
    #: The hotline's policy; left out, the hub's defaults are logged.
    policy: PolicyTermsBody | None = None
    #: The share-sealing key for secure aggregation (``x25519:<base64>``); left out, the hotline has none.
    sealing_key: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class KeyRotate(_Request):
    public_key: Annotated[str, Field(min_length=1, max_length=100)]
    #: The share-sealing key logged with the new key; left out, the hotline has none from now on.
    sealing_key: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class KeyRevoke(_Request):
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)]
    #: For a stolen key: since when it may have been in other hands (RFC 3339 with a zone). Every submission signed
    #: with it and received since then is withdrawn in the same logged act.
    compromised_since: Annotated[AwareDatetime, Field(strict=False)] | None = None


class KeyPublic(_Body):
    key_id: str
    public_key: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    revoke_reason: str | None
    log_index: int
    #: The share-sealing key logged with this key (secure rounds), if any.
    sealing_key: str | None = None


class HotlinePublic(_Body):
    id: str
    display_name: str
    country: str
    enrolled_at: datetime
    keys: list[KeyPublic]


class KeyEventPublic(_Body):
    """The outcome of an enrolment, rotation or revocation: the log entry that records it."""

    hotline_id: str
    key_id: str
    log_index: int
    tree_size: int


class KeyRevokedPublic(KeyEventPublic):
    """A revocation; for a key revoked as compromised (only then), the submissions withdrawn with it."""

    #: Ids of the submissions signed with the key since it was compromised, withdrawn first (oldest first).
    withdrawn_submissions: list[int] | None = None


class SubmissionWithdraw(_Request):
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)]


class WithdrawnPublic(_Body):
    """How a submission was withdrawn: the ``submission_withdrawn`` log entry, when, and why."""

    log_index: int
    withdrawn_at: datetime
    reason: str


class WithdrawalPublic(WithdrawnPublic):
    """The outcome of a withdrawal: its log entry, and the revision of the month that counts now."""

    submission_id: int
    hotline_id: str
    period: str
    revision: int
    tree_size: int
    #: The revision of this hotline's month that the statistics use now (``None``: none).
    current_revision: int | None


class TokenCreate(_Request):
    role: Literal["coordinator", "auditor", "admin", "metrics"]
    label: Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    countries: list[Annotated[str, Field(pattern=COUNTRY_PATTERN)]] | None = None


class TokenPublic(_Body):
    id: int
    role: str
    label: str
    countries: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    #: The token itself. Shown once; the hub keeps only its hash.
    token: str


class SubmissionPublic(_Body):
    """A stored submission, with everything needed to verify it offline."""

    id: int
    hotline_id: str
    key_id: str
    period: str
    revision: int
    taxonomy_id: str
    payload_hash: str
    #: The exact payload bytes the hotline signed, base64.
    payload: str
    #: Ed25519 signature over the domain-separated payload, base64.
    signature: str
    received_at: datetime
    leaf_index: int
    is_current: bool
    #: The unit of privacy the payload declares: person-month, or record-month (bounds per record of the export).
    privacy_unit: str
    #: Set when the operator withdrew it (it counts for nothing since): by which log entry, when, why.
    withdrawal: WithdrawnPublic | None = None
