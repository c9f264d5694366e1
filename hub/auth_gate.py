# SPDX-License-Identifier: Apache-2.0
"""Authentication before any body is read: a token-protected route refuses a request without a valid token
before the framework parses its body.

FastAPI reads and parses a route's body *before* it runs the route's dependencies, the bearer-token check
(:func:`hub.deps.require`) among them: an unauthenticated client could make the hub read and parse megabytes
only to be told ``401`` afterwards. :class:`TokenGateMiddleware` (pure ASGI) runs first: a request that carries a
body (``Content-Length`` above zero, or any ``Transfer-Encoding``) to a route that needs a token (its operation
in the OpenAPI document has a security requirement, which :func:`~hub.deps.require` declares) must present a
token that :func:`hub.deps.authenticate` accepts, or it is answered ``401`` with its
body unread. The role is still checked by the route (``403``); the body is
still capped by :mod:`hub.limits`. Requests without a body, and routes that need no token (submissions, which
are signed, and the dashboard's sign-in form), pass straight through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.context import HubContext
from hub.deps import authenticate
from hub.errors import Unauthorized
from hub.limits import has_body
from hub.problems import error_response

__all__ = ["TokenGateMiddleware", "bearer_token", "token_operations"]

_PARAMETER = re.compile(r"(\{[^}/]+\})")  # a path template's parameter, kept by re.split


def token_operations(openapi: Mapping[str, Any]) -> list[tuple[str, re.Pattern[str]]]:
    """``(METHOD, path pattern)`` of every operation the OpenAPI document says needs a bearer token.

    The document is where :func:`hub.deps.require` declares itself (the ``HubToken`` security scheme), so the
    gate and the published reference cannot disagree about which routes are protected.
    """
    found: list[tuple[str, re.Pattern[str]]] = []
    for path, item in openapi.get("paths", {}).items():
        pattern = re.compile(
            "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in _PARAMETER.split(path))
        )
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("security"):
                found.append((method.upper(), pattern))
    return found


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (scheme case-insensitive), or ``None``."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


class TokenGateMiddleware:
    """Answers ``401`` to a body-carrying request to a token-protected route that has no valid token."""

    def __init__(self, app: ASGIApp, *, context: HubContext, openapi: Callable[[], Mapping[str, Any]]) -> None:
        self.app = app
        self._context = context
        self._openapi = openapi
        self._protected: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope) or not self._protected_route(scope):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await self._refuse("this route needs an `Authorization: Bearer <token>` header", scope, receive, send)
            return
        try:
            await run_in_threadpool(authenticate, self._context, token)
        except Unauthorized as e:
            await self._refuse(str(e), scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _protected_route(self, scope: Scope) -> bool:
        if self._protected is None:  # the routes are all in place once the first request arrives
            self._protected = token_operations(self._openapi())
        method, path = scope["method"], scope["path"]
        return any(method == m and pattern.fullmatch(path) for m, pattern in self._protected)

    @staticmethod
    async def _refuse(detail: str, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(Unauthorized(detail))(scope, receive, send)
