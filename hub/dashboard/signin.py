# SPDX-License-Identifier: Apache-2.0
"""``GET /`` (to the trends or the sign-in page), ``GET/POST /login`` and ``POST /logout``.

Signing in exchanges a coordinator or auditor token for a session cookie; the token itself is never stored in the
browser or echoed back. Both forms are CSRF-protected (:mod:`hub.dashboard.session`) and refuse cross-origin
posts. A failed sign-in says only that the token is not valid, never which check failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from hub.dashboard.auth import (
    DASHBOARD_ROLES,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SignInRequired,
    Viewer,
    check_origin,
    clear_cookie,
    cookie_name,
    cookies_of,
    current_viewer,
    set_cookie,
)
from hub.dashboard.i18n import N_
from hub.dashboard.pages import Pages, secure
from hub.dashboard.session import LOGIN_LIFETIME
from hub.db import read_session, write_session
from hub.deps import ContextDep, ReadSessionDep
from hub.errors import BadRequest, HubError, PayloadTooLarge, Unauthorized
from hub.services.sessions import EndedSessions
from hub.services.tokens import TokenService, hash_token

__all__ = ["VIEW_PATHS", "router", "safe_next"]

router = APIRouter(include_in_schema=False)

#: The pages a sign-in may return to.
VIEW_PATHS: Final = ("/trends", "/corridors", "/demography", "/completeness", "/pivot")
_HOME: Final = "/trends"
_MAX_FORM: Final = 4096


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard view (with its query) or the trends page; never another site."""
    if target and target.split("?", 1)[0] in VIEW_PATHS and "\\" not in target and "//" not in target:
        return target
    return _HOME


def _redirect(request: Request, path: str) -> Response:
    base = str(request.scope.get("root_path", "")).rstrip("/")
    return secure(RedirectResponse(base + path, status_code=303))


@router.get("/")
def home(request: Request, context: ContextDep, session: ReadSessionDep) -> Response:
    try:
        current_viewer(request, context, session)
    except SignInRequired:
        return _redirect(request, "/login")
    return _redirect(request, _HOME)


@router.get("/login")
def login_form(request: Request, context: ContextDep, session: ReadSessionDep, next: str | None = None) -> Response:
    try:
        current_viewer(request, context, session)
    except SignInRequired:
        return _login_page(request, context, next_path=safe_next(next))
    return _redirect(request, safe_next(next))


@router.post("/login")
async def login(request: Request, context: ContextDep) -> Response:
    now = context.clock()
    try:
        check_origin(request)
        fields = await _form(request)
    except HubError as e:
        return _login_page(request, context, next_path=_HOME, error=str(e), status=e.status_code)
    next_path = safe_next(fields.get("next"))
    cookies = cookies_of(request)
    signin = request.cookies.get(cookie_name(request, LOGIN_COOKIE))
    form = cookies.verify_login(signin, now=now) if signin else None
    if form is None or not cookies.csrf_valid(form.nonce, fields.get("csrf")):
        return _login_page(
            request,
            context,
            next_path=next_path,
            status=400,
            error=N_("This sign-in form has expired. Please try again."),
        )
    token = fields.get("token", "").strip()
    try:
        with read_session(context.sessions) as session:
            principal = TokenService(session).authenticate(token, now=now)
    except Unauthorized:
        error = N_("That token is not valid (unknown, expired or revoked).")
        return _login_page(request, context, next_path=next_path, status=401, error=error)
    if principal.role not in DASHBOARD_ROLES:
        error = N_("A %(role)s token cannot use the dashboard: sign in with a coordinator or auditor token.")
        return _login_page(request, context, next_path=next_path, status=403, error=error, role=principal.role)
    value, _ = cookies.issue_session(token_id=principal.token_id, token_hash=hash_token(token), now=now)
    response = _redirect(request, next_path)
    set_cookie(request, response, SESSION_COOKIE, value, max_age=int(cookies.lifetime.total_seconds()))
    clear_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, context: ContextDep, session: ReadSessionDep) -> Response:
    check_origin(request)
    viewer = current_viewer(request, context, session)  # SignInRequired: nothing to sign out of
    fields = await _form(request)
    if not cookies_of(request).csrf_valid(viewer.session.nonce, fields.get("csrf")):
        raise BadRequest("the sign-out form is not valid: reload the page and try again")
    await run_in_threadpool(_end_session, context, viewer)
    response = _redirect(request, "/login")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


def _end_session(context: ContextDep, viewer: Viewer) -> None:
    """Record the session as ended, so that every worker refuses its cookie from now on."""
    session = viewer.session
    expires_at = datetime.fromtimestamp(session.expires_at, tz=UTC)
    try:
        with write_session(context.sessions) as db:
            EndedSessions(db).end(session.nonce, token_id=session.token_id, expires_at=expires_at, now=context.clock())
    except IntegrityError:
        pass  # a concurrent sign-out of the same session recorded it first


def _login_page(
    request: Request,
    context: ContextDep,
    *,
    next_path: str,
    error: str | None = None,
    status: int = 200,
    role: str = "",
) -> Response:
    """The sign-in form; ``error`` is an English message (translated on the page), ``%(role)s`` in it is ``role``."""
    cookies = cookies_of(request)
    value, form = cookies.issue_login(now=context.clock())
    pages: Pages = request.app.state.dashboard_pages
    response = pages.render(
        request,
        "login.html",
        status=status,
        title=N_("Sign in"),
        csrf=cookies.csrf_token(form.nonce),
        next_path=next_path,
        error=error,
        error_args={"role": role},
    )
    set_cookie(request, response, LOGIN_COOKIE, value, max_age=int(LOGIN_LIFETIME.total_seconds()))
    return response


async def _form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body as a dict (the first value of each field)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadRequest("send this form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise PayloadTooLarge(f"a dashboard form is at most {_MAX_FORM} bytes")
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"the form could not be read: {e}") from None
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields
