# SPDX-License-Identifier: Apache-2.0
"""Request and response bodies of the HTTP API (the OpenAPI schema at ``/docs`` shows them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConsistencyProofPublic",
    "HotlineCreate",
    "HotlinePublic",
    "HubIdentity",
    "InclusionProofPublic",
    "KeyEventPublic",
    "KeyPublic",
    "KeyRevoke",
    "KeyRotate",
    "LogEntriesPublic",
    "LogEntryPublic",
    "SubmissionPublic",
    "TaxonomyRefPublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaxonomyRefPublic(_Body):
    id: str
    hash: str


class HubIdentity(_Body):
    """Everything a node pins at ``init`` and an auditor needs to verify the log."""

    protocol_version: str
    log_origin: str
    #: C2SP verifier key of the log: ``origin+keyid+base64(0x01||key)``.
    log_vkey: str
    #: X25519 key submissions are sealed to: ``x25519:<base64>``.
    encryption_key: str
    taxonomy: TaxonomyRefPublic


class HotlineCreate(_Body):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")]
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    public_key: Annotated[str, Field(min_length=1, max_length=100)]


class KeyRotate(_Body):
    public_key: Annotated[str, Field(min_length=1, max_length=100)]


class KeyRevoke(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class KeyPublic(_Body):
    key_id: str
    public_key: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    revoke_reason: str | None
    log_index: int


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


class TokenCreate(_Body):
    role: Literal["coordinator", "auditor", "admin"]
    label: Annotated[str, Field(min_length=1, max_length=200)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = None


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


class LogEntryPublic(_Body):
    index: int
    leaf_hash: str
    #: The leaf data (canonical JSON of the log entry), base64.
    data: str


class LogEntriesPublic(_Body):
    start: int
    end: int
    tree_size: int
    entries: list[LogEntryPublic]


class InclusionProofPublic(_Body):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProofPublic(_Body):
    first: int
    second: int
    proof: list[str]


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
