# SPDX-License-Identifier: Apache-2.0
"""Bearer tokens for coordinators, auditors, admins and metrics scrapers.

A token is ``tsh_`` + 32 random bytes (base64url). It is shown once, when created; the hub stores only its
SHA-256, so a database leak reveals no usable token. Tokens can expire and be revoked; a coordinator token may be
scoped to a set of countries. A ``metrics`` token opens ``GET /metrics`` only.

Whether a stored token is valid is decided in one place, :func:`token_status` (unknown, revoked, expired), and a
caller learns who it stands for through :func:`principal_of` only: the bearer check of the API
(:meth:`TokenService.authenticate`, used by :func:`hub.deps.require`, the body gate and the access log), the
dashboard's session check (by the token's id) and the CLI's listing cannot disagree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import BadRequest, NotFound, Unauthorized
from hub.models import ApiToken

__all__ = [
    "ROLES",
    "CreatedToken",
    "Principal",
    "Role",
    "TokenService",
    "TokenStatus",
    "hash_token",
    "principal_of",
    "token_status",
]

Role = Literal["coordinator", "auditor", "admin", "metrics"]
#: ``metrics``: ``GET /metrics`` and nothing else (a Prometheus scraper holds one, not an admin token).
ROLES: Final[tuple[Role, ...]] = ("coordinator", "auditor", "admin", "metrics")
_PREFIX: Final = "tsh_"
TokenStatus = Literal["active", "expired", "revoked"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, role, label and (for coordinators) country scope."""

    token_id: int
    role: Role
    label: str
    countries: frozenset[str] | None


def token_status(record: ApiToken, *, now: datetime) -> TokenStatus:
    """The one rule of a stored token's validity: revoked, expired (at ``expires_at`` itself), or active."""
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "active"


def principal_of(record: ApiToken | None, *, now: datetime) -> Principal | None:
    """Who a stored token stands for, if it exists and is valid now (:func:`token_status`); else ``None``."""
    if record is None or token_status(record, now=now) != "active":
        return None
    countries = frozenset(record.countries.split(",")) if record.countries else None
    return Principal(token_id=record.id, role=record.role, label=record.label, countries=countries)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CreatedToken:
    token: str
    record: ApiToken


class TokenService:
    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self,
        *,
        role: str,
        label: str,
        now: datetime,
        expires_in: timedelta | None = None,
        countries: frozenset[str] | None = None,
    ) -> CreatedToken:
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not label.strip():
            raise BadRequest("a token needs a label saying who holds it")
        if countries is not None and (not countries or any(len(c) != 2 or not c.isupper() for c in countries)):
            raise BadRequest("countries are ISO 3166-1 alpha-2 codes such as UA, MD")
        if countries is not None and role != "coordinator":
            raise BadRequest("only coordinator tokens are limited to countries; the other roles are not")
        token = _PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
        record = ApiToken(
            token_hash=hash_token(token),
            role=role,
            label=label.strip(),
            countries=",".join(sorted(countries)) if countries else None,
            created_at=now,
            expires_at=now + expires_in if expires_in else None,
        )
        self._session.add(record)
        self._session.flush()
        return CreatedToken(token=token, record=record)

    def authenticate(self, token: str, *, now: datetime) -> Principal:
        """The principal of a presented token, or :class:`Unauthorized` (never saying which check failed)."""
        if not token.startswith(_PREFIX) or len(token) > 100:
            raise Unauthorized("the bearer token is not valid")
        digest = hash_token(token)
        record = self._session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
        if record is not None and not hmac.compare_digest(record.token_hash, digest):
            record = None
        principal = principal_of(record, now=now)
        if principal is None:
            raise Unauthorized("the bearer token is not valid (unknown, expired or revoked)")
        return principal

    def list(self) -> list[ApiToken]:
        return list(self._session.scalars(select(ApiToken).order_by(ApiToken.id)))

    def is_revoked(self, token_id: int) -> bool:
        """Whether a token with this id exists and is revoked already (revoking it again changes nothing)."""
        record = self._session.get(ApiToken, token_id)
        return record is not None and record.revoked_at is not None

    def revoke(self, token_id: int, *, now: datetime) -> ApiToken:
        record = self._session.get(ApiToken, token_id)
        if record is None:
            raise NotFound(f"no token has id {token_id}")
        if record.revoked_at is None:
            record.revoked_at = now
            self._session.flush()
        return record
