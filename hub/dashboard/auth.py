# SPDX-License-Identifier: Apache-2.0
"""Who is looking at the dashboard: a coordinator or auditor token, signed in once, then a session cookie.

* ``POST /login`` checks the token with :meth:`TokenService.authenticate` and sets the session cookie
  (:mod:`hub.dashboard.session`): ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, a ``Max-Age`` of the session's
  lifetime, and ``Secure`` with the ``__Host-`` name prefix whenever the request came over HTTPS (behind a TLS
  proxy, run uvicorn with ``--proxy-headers`` so the hub sees the original scheme).
* Every request re-reads the token's record: a session ends as soon as its token is revoked or expires. Signing
  out ends the session on the server (:mod:`hub.services.sessions`): a copy of the cookie is refused afterwards.
* :data:`ViewerDep` gives a route the signed-in :class:`Viewer`, or raises :class:`SignInRequired`, which the
  dashboard answers with a redirect to the sign-in page.
* State-changing forms (sign-in, sign-out) carry a CSRF token, and a request whose ``Origin`` header names
  another origin is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from hub.dashboard.session import DashboardSession, SessionCookies
from hub.deps import ContextDep, ReadSessionDep
from hub.errors import Forbidden, Unauthorized
from hub.models import ApiToken
from hub.services.sessions import EndedSessions
from hub.services.tokens import Principal, Role, principal_of

__all__ = [
    "DASHBOARD_ROLES",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "CrossOriginRequest",
    "SignInRequired",
    "Viewer",
    "ViewerDep",
    "check_origin",
    "clear_cookie",
    "cookie_name",
    "cookies_of",
    "current_viewer",
    "principal_for_session",
    "set_cookie",
]

#: Roles that may use the dashboard.
DASHBOARD_ROLES: Final[tuple[Role, ...]] = ("coordinator", "auditor")
SESSION_COOKIE: Final = "tipshare_session"
LOGIN_COOKIE: Final = "tipshare_signin"


class SignInRequired(Unauthorized):
    """No valid dashboard session: the dashboard redirects to its sign-in page."""

    code = "sign_in_required"
    title = "Sign in required"


class CrossOriginRequest(Forbidden):
    """A state-changing request sent from another origin."""

    code = "cross_origin"
    title = "Cross-origin request refused"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user: their token's principal, their session and the CSRF token their forms carry."""

    principal: Principal
    session: DashboardSession
    csrf: str


def cookies_of(request: Request) -> SessionCookies:
    cookies: SessionCookies = request.app.state.dashboard_cookies
    return cookies


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    """``__Host-<base>`` over HTTPS (the browser then insists on Secure, Path=/ and no Domain), else ``base``."""
    return f"__Host-{base}" if _secure(request) else base


def set_cookie(request: Request, response: Response, base: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        cookie_name(request, base),
        value,
        max_age=max_age,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(request: Request, response: Response, base: str) -> None:
    response.delete_cookie(
        cookie_name(request, base), path="/", secure=_secure(request), httponly=True, samesite="strict"
    )


def check_origin(request: Request) -> None:
    """Refuse a form post that a browser says came from elsewhere: ``Sec-Fetch-Site`` other than same-origin, or
    an ``Origin`` other than the hub's own (``null`` included: sandboxed frames and opaque origins send it)."""
    expected = f"{request.url.scheme}://{request.url.netloc}"
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None and site != "same-origin":
        raise CrossOriginRequest(f"this form may only be sent from a page of {expected} (Sec-Fetch-Site: {site})")
    if origin is not None and origin != expected:
        raise CrossOriginRequest(f"this form may only be sent from a page of {expected}, not from {origin}")


def principal_for_session(
    session: Session, cookies: SessionCookies, value: str, *, now: datetime
) -> tuple[Principal, DashboardSession] | None:
    """The principal of a session cookie whose token is still valid and allowed on the dashboard, else ``None``.

    The token's validity is :func:`~hub.services.tokens.principal_of`'s, the check bearer tokens get (unknown,
    revoked, expired), by the token's id; and the session must not have been signed out.
    """
    token_id = cookies.session_token_id(value)
    if token_id is None:
        return None
    record = session.get(ApiToken, token_id)
    if record is None:
        return None
    dashboard_session = cookies.verify_session(value, token_hash=record.token_hash, now=now)
    principal = principal_of(record, now=now)
    if (
        dashboard_session is None
        or principal is None
        or principal.role not in DASHBOARD_ROLES
        or EndedSessions(session).has_ended(dashboard_session.nonce)
    ):
        return None
    return principal, dashboard_session


def current_viewer(request: Request, context: ContextDep, session: ReadSessionDep) -> Viewer:
    """The signed-in viewer, or :class:`SignInRequired`."""
    value = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    cookies = cookies_of(request)
    found = principal_for_session(session, cookies, value, now=context.clock()) if value else None
    if found is None:
        raise SignInRequired("sign in with a coordinator or auditor token to use the dashboard")
    principal, dashboard_session = found
    request.state.principal = principal
    return Viewer(principal, dashboard_session, cookies.csrf_token(dashboard_session.nonce))


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
