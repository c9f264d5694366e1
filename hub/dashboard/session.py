# SPDX-License-Identifier: Apache-2.0
"""Signed dashboard cookies: the session after sign-in, the sign-in form's cookie before it, and CSRF tokens.

>>> cookies = SessionCookies(secret)                                                   # doctest: +SKIP
>>> value, session = cookies.issue_session(token_id=7, token_hash=record.token_hash, now=now)  # doctest: +SKIP
>>> cookies.session_token_id(value)                                                    # doctest: +SKIP
7
>>> cookies.verify_session(value, token_hash=record.token_hash, now=now) == session   # doctest: +SKIP
True

A cookie value is ``base64url(JSON claims) "." base64url(HMAC-SHA256)``. The MAC covers a purpose label (so a
sign-in cookie never passes as a session) and, for a session, the SHA-256 of the token it was opened with, which
the hub re-reads on every request: the cookie holds the token's id, never the token. A session ends when its
``expires_at`` passes, when the token is revoked or expires, or when the user signs out.

CSRF: every session (and every sign-in form) has a random ``nonce``; forms carry ``HMAC(secret, "csrf" ‖ nonce)``
(a synchronizer token). The cookie is ``HttpOnly`` and ``SameSite=Strict``, so another site can neither read the
nonce nor make the browser send the cookie with a cross-site form; the token is the second, independent check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

__all__ = [
    "LOGIN_LIFETIME",
    "SESSION_LIFETIME",
    "DashboardSession",
    "LoginForm",
    "SessionCookies",
]

#: How long a dashboard session lasts after sign-in (then the user signs in again).
SESSION_LIFETIME: Final = timedelta(hours=8)
#: How long a sign-in form stays valid after it was shown.
LOGIN_LIFETIME: Final = timedelta(minutes=30)
#: Longest cookie value read; anything longer is not ours.
_MAX_VALUE: Final = 600
_SESSION: Final = "tipshare-dashboard-session"
_LOGIN: Final = "tipshare-dashboard-login"
_CSRF: Final = "tipshare-dashboard-csrf"


@dataclass(frozen=True, slots=True)
class DashboardSession:
    """A signed-in dashboard session: which token opened it, until when, and its CSRF nonce."""

    token_id: int
    issued_at: int
    expires_at: int
    nonce: str


@dataclass(frozen=True, slots=True)
class LoginForm:
    """The state of a sign-in form that was shown: its CSRF nonce and expiry."""

    nonce: str
    expires_at: int


class SessionCookies:
    """Issues and checks the dashboard's signed cookie values with one secret."""

    def __init__(self, secret: bytes, *, lifetime: timedelta = SESSION_LIFETIME) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret needs at least 32 bytes")
        self._secret = secret
        self._lifetime = lifetime

    @property
    def lifetime(self) -> timedelta:
        return self._lifetime

    # ------------------------------------------------------------------------------------------ session

    def issue_session(self, *, token_id: int, token_hash: str, now: datetime) -> tuple[str, DashboardSession]:
        issued = int(now.timestamp())
        session = DashboardSession(
            token_id=token_id,
            issued_at=issued,
            expires_at=issued + int(self._lifetime.total_seconds()),
            nonce=_nonce(),
        )
        claims = {"t": session.token_id, "i": session.issued_at, "e": session.expires_at, "n": session.nonce}
        return self._sign(_SESSION, claims, binding=token_hash), session

    def session_token_id(self, value: str) -> int | None:
        """The token id a session cookie names, read *before* its MAC is checked (to look up the token's hash).

        Only a lookup key: nothing else is trusted until :meth:`verify_session` passes.
        """
        unverified_claims = _decode(value)
        if unverified_claims is None:
            return None
        token_id = unverified_claims.get("t")
        return token_id if isinstance(token_id, int) and not isinstance(token_id, bool) else None

    def verify_session(self, value: str, *, token_hash: str, now: datetime) -> DashboardSession | None:
        """The session if ``value`` was issued by us for the token with ``token_hash`` and has not expired."""
        claims = self._verify(_SESSION, value, binding=token_hash)
        if claims is None:
            return None
        try:
            session = DashboardSession(
                token_id=_int(claims["t"]), issued_at=_int(claims["i"]), expires_at=_int(claims["e"]), nonce=claims["n"]
            )
        except (KeyError, TypeError):
            return None
        if not isinstance(session.nonce, str) or not session.issued_at <= now.timestamp() < session.expires_at:
            return None
        return session

    # ------------------------------------------------------------------------------------------ sign-in form

    def issue_login(self, *, now: datetime) -> tuple[str, LoginForm]:
        form = LoginForm(nonce=_nonce(), expires_at=int((now + LOGIN_LIFETIME).timestamp()))
        return self._sign(_LOGIN, {"n": form.nonce, "e": form.expires_at}), form

    def verify_login(self, value: str, *, now: datetime) -> LoginForm | None:
        claims = self._verify(_LOGIN, value)
        if claims is None:
            return None
        try:
            form = LoginForm(nonce=claims["n"], expires_at=_int(claims["e"]))
        except (KeyError, TypeError):
            return None
        if not isinstance(form.nonce, str) or now.timestamp() >= form.expires_at:
            return None
        return form

    # ------------------------------------------------------------------------------------------ CSRF

    def csrf_token(self, nonce: str) -> str:
        return _b64(hmac.new(self._secret, _CSRF.encode() + b"\x00" + nonce.encode(), hashlib.sha256).digest())

    def csrf_valid(self, nonce: str, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self.csrf_token(nonce), presented)

    # ------------------------------------------------------------------------------------------ signing

    def _mac(self, purpose: str, payload: str, binding: str) -> str:
        message = b"\x00".join((purpose.encode(), payload.encode("ascii"), binding.encode()))
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def _sign(self, purpose: str, claims: dict[str, Any], *, binding: str = "") -> str:
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._mac(purpose, payload, binding)}"

    def _verify(self, purpose: str, value: str, *, binding: str = "") -> dict[str, Any] | None:
        if len(value) > _MAX_VALUE or value.count(".") != 1 or not value.isascii():
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(self._mac(purpose, payload, binding), mac):
            return None
        return _decode(value)


def _nonce() -> str:
    return _b64(secrets.token_bytes(18))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(value: str) -> dict[str, Any] | None:
    """The claims of a cookie value, MAC unchecked (``None`` if it is not one of our cookie values)."""
    if len(value) > _MAX_VALUE or value.count(".") != 1 or not value.isascii():
        return None
    payload = value.split(".")[0]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value
