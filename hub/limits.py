# SPDX-License-Identifier: Apache-2.0
"""Request body limits, enforced in pure ASGI before any route or framework code reads a byte.

:class:`BodyLimitMiddleware` gives every request a cap (:func:`body_cap`): a hotline's submission may be as large
as ``TIPSHARE_HUB_MAX_BODY_BYTES``; every other request, ``TIPSHARE_HUB_MAX_REQUEST_BYTES`` (64 KiB by default:
admin forms, policies and dashboard forms are a few hundred bytes). A request is refused with ``413``

* up front, by its ``Content-Length``, without reading the body;
* or while the body streams in (chunked, or a ``Content-Length`` that lies): the chunk past the cap is never
  handed to the application, whose ``receive`` raises a Starlette ``HTTPException(413)`` instead (not a
  :class:`~hub.errors.HubError` on purpose: FastAPI re-raises an ``HTTPException`` from its body parsing, where it
  would turn any other error into a 400, so the client learns the real reason).

>>> body_cap("POST", "/v1/submissions", submission=4_194_304, other=65_536)
4194304
>>> body_cap("POST", "/v1/admin/hotlines", submission=4_194_304, other=65_536)
65536
"""

from __future__ import annotations

import logging
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.problems import problem_response

__all__ = ["ROUND_MESSAGES_PATH", "SUBMISSION_PATH", "BodyLimitMiddleware", "body_cap", "declared_length", "has_body"]

#: The routes whose body may be as large as the submission cap: a release, and a member's message of a secure
#: round (a masked vector of 10,000 cells is 80,000 bytes, about 107,000 in base64: far below the 4 MiB default,
#: which holds about 390,000 cells; the 64 KiB of other routes would not hold one).
SUBMISSION_PATH: Final = "/v1/submissions"
ROUND_MESSAGES_PATH: Final = "/v1/rounds/messages"
_log = logging.getLogger("tipshare.hub")


def _too_large(cap: int) -> HTTPException:
    """What ``receive`` raises once a body grows past its route's cap (rendered as a 413 problem detail)."""
    return HTTPException(413, f"the request body is larger than {cap} bytes, the most this route accepts")


def body_cap(method: str, path: str, *, submission: int, other: int) -> int:
    """The largest body a request may carry: ``submission`` for ``POST /v1/submissions`` and
    ``POST /v1/rounds/messages``, ``other`` elsewhere."""
    return submission if method == "POST" and path in (SUBMISSION_PATH, ROUND_MESSAGES_PATH) else other


_BEYOND_ANY_CAP: Final = 2**63


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` (``-1`` if it is not a number, ``None`` if absent)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.strip()
            if not text.isdigit():  # ASCII digits only (bytes)
                return -1
            significant = text.lstrip(b"0")
            # Thousands of digits are a length larger than any cap (and than int() parses): too large, not malformed.
            return int(significant or b"0") if len(significant) <= 19 else _BEYOND_ANY_CAP
    return None


def has_body(scope: Scope) -> bool:
    """Whether a request announces a body: a non-zero ``Content-Length`` or any ``Transfer-Encoding``."""
    length = declared_length(scope)
    if length is not None and length != 0:
        return True
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


class BodyLimitMiddleware:
    """Refuses bodies over their route's cap, by ``Content-Length`` first and by counting what arrives."""

    def __init__(self, app: ASGIApp, *, submission_bytes: int, other_bytes: int) -> None:
        self.app = app
        self.submission_bytes = submission_bytes
        self.other_bytes = other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(scope["method"], scope["path"], submission=self.submission_bytes, other=self.other_bytes)
        length = declared_length(scope)
        if length == -1:
            await problem_response(
                400, "bad_request", "Bad request", "the Content-Length header is not a number of bytes"
            )(scope, receive, send)
            return
        if length is not None and length > cap:
            detail = f"the request body is {length} bytes; this route accepts at most {cap}: send less"
            await problem_response(413, "payload_too_large", "Payload too large", detail)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _too_large(cap)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except HTTPException as e:  # ours, raised where no exception handler stood (a middleware, say)
            if e.status_code != 413 or received <= cap:
                raise
            if started:
                _log.warning("body over %d bytes after the answer started: connection dropped", cap)
                raise
            await problem_response(413, "payload_too_large", "Payload too large", str(e.detail))(scope, receive, send)
