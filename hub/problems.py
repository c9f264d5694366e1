# SPDX-License-Identifier: Apache-2.0
"""RFC 9457 problem details: every error response of the hub is ``application/problem+json``.

``type`` is ``https://tipshare.org/problems/<code>``; ``code`` repeats the last part for clients that switch on
it; ``detail`` says what failed. Unexpected errors give a bare 500 with no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import HubError
from protocol.errors import (
    DecryptionFailed,
    InvalidCheckpoint,
    InvalidProof,
    InvalidSignature,
    ProtocolError,
    TaxonomyViolation,
    UnsupportedVersion,
)

__all__ = ["PROBLEM_BASE", "PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem_response"]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_BASE: Final = "https://tipshare.org/problems/"
_log = logging.getLogger("tipshare.hub")

#: How protocol errors map to HTTP: (status, code, title).
_PROTOCOL_STATUS: Final[dict[type[ProtocolError], tuple[int, str, str]]] = {
    InvalidSignature: (403, "invalid_signature", "Signature verification failed"),
    DecryptionFailed: (400, "decryption_failed", "Sealed box could not be opened"),
    UnsupportedVersion: (400, "unsupported_version", "Unsupported protocol version"),
    TaxonomyViolation: (422, "taxonomy_violation", "Payload does not fit the taxonomy"),
    InvalidProof: (400, "invalid_proof", "Invalid proof"),
    InvalidCheckpoint: (400, "invalid_checkpoint", "Invalid checkpoint"),
}


def problem_response(
    status: int, code: str, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def protocol_problem(error: ProtocolError) -> tuple[int, str, str]:
    for cls in type(error).__mro__:
        if cls in _PROTOCOL_STATUS:
            return _PROTOCOL_STATUS[cls]
    return 400, "malformed_message", "Malformed message"


def install_problem_handlers(app: FastAPI) -> None:
    async def hub_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HubError)
        if error.status_code >= 500:
            _log.error("%s: %s", type(error).__name__, error)
        # RFC 9110 §15.5.2: a 401 response must name the authentication scheme (WWW-Authenticate).
        headers = {"WWW-Authenticate": 'Bearer realm="tipshare"'} if error.status_code == 401 else None
        return problem_response(error.status_code, error.code, error.title, str(error), headers=headers)

    async def protocol_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProtocolError)
        status, code, title = protocol_problem(error)
        return problem_response(status, code, title, str(error))

    async def validation_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [
            f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', 'invalid')}"
            for item in error.errors()[:10]
        ]
        return problem_response(422, "invalid_request", "Invalid request", "; ".join(problems))

    async def http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return problem_response(error.status_code, code, str(error.detail), str(error.detail), headers=error.headers)

    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=error)
        return problem_response(500, "internal", "Internal error", "the hub failed to handle this request")

    app.add_exception_handler(HubError, hub_error)
    app.add_exception_handler(ProtocolError, protocol_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
