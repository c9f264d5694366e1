# SPDX-License-Identifier: Apache-2.0
"""One id per request, for the operator to follow a request from its answer to the server's log and access log.

:class:`RequestIdMiddleware` (pure ASGI, outermost) gives every HTTP request an id: the client's ``X-Request-ID``
when it is a short token of safe characters (a proxy's id is kept, so the proxy's log and the hub's agree), a
fresh random one otherwise. The id is

* in ``scope["state"]["request_id"]`` (``request.state.request_id`` in a route),
* in :func:`current_request_id` for code without the request (logging, problem details),
* and in the ``X-Request-ID`` header of the answer.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "current_request_id", "valid_request_id"]

REQUEST_ID_HEADER: Final = "X-Request-ID"
_INCOMING: Final = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_current: ContextVar[str | None] = ContextVar("tipshare_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being answered, or ``None`` outside a request."""
    return _current.get()


def valid_request_id(value: str) -> bool:
    """Whether a client's ``X-Request-ID`` is kept: 8-64 letters, digits and ``._:-`` (nothing a log misreads)."""
    return _INCOMING.fullmatch(value) is not None


def _new_id() -> str:
    return secrets.token_hex(12)


class RequestIdMiddleware:
    """Pure ASGI: sets the id before anything else runs and adds it to the answer's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if valid_request_id(incoming) else _new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
