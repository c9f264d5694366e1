# SPDX-License-Identifier: Apache-2.0
"""RFC 9457 problem details: every error response of the hub is ``application/problem+json``.

``type`` is ``https://tipshare.org/problems/<code>``; ``code`` repeats the last part for clients that switch on
it; ``detail`` says what failed. Unexpected errors give a bare 500 with no internals. A database that refuses a
write (disk full, read-only, I/O error) gives 507 or 503 (:func:`hub.db.storage_fault`): the client learns what
happened, only the server log learns where the database is and what to check.

:func:`install_problem_handlers` also makes the OpenAPI document say so (:func:`document_problems`): every 4xx and
5xx response it lists is ``application/problem+json`` (:class:`~hub.schemas.ProblemPublic`), every route that
needs a bearer token lists 401 and 403, and the 422 of a request that does not fit the schema is a problem
detail too, not FastAPI's default body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.db import database_busy, storage_fault
from hub.errors import HubError
from hub.ratelimit import request_class
from hub.request_id import current_request_id
from hub.schemas import ProblemPublic
from protocol.errors import (
    DecryptionFailed,
    InvalidCheckpoint,
    InvalidProof,
    InvalidSignature,
    ProtocolError,
    TaxonomyViolation,
    UnsupportedVersion,
)

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "document_problems",
    "error_response",
    "install_problem_handlers",
    "problem_response",
]

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
    if (request_id := current_request_id()) is not None:  # the operator finds it in the server and access logs
        body.setdefault("request_id", request_id)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def protocol_problem(error: ProtocolError) -> tuple[int, str, str]:
    for cls in type(error).__mro__:
        if cls in _PROTOCOL_STATUS:
            return _PROTOCOL_STATUS[cls]
    return 400, "malformed_message", "Malformed message"


#: Errors raised by FastAPI and Starlette themselves, before a route runs: (code, title) by status.
_HTTP_PROBLEMS: Final[dict[int, tuple[str, str]]] = {
    400: ("malformed_body", "Request body could not be read"),  # FastAPI: "There was an error parsing the body"
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),  # hub.limits: a body grew past its route's cap
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def error_response(error: HubError) -> JSONResponse:
    """The problem detail of a hub error: the exception handler's answer, and the one the middleware sends when it
    refuses a request itself (a rate limit), so both say the same thing the same way."""
    if error.status_code >= 500:
        _log.error("%s", error.diagnostics())  # a StorageFault's diagnostics name paths: server log only
    # RFC 9110 §15.5.2: a 401 response must name the authentication scheme (WWW-Authenticate).
    headers: dict[str, str] = {}
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tipshare"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return problem_response(
        error.status_code, error.code, error.title, str(error), headers=headers or None, **error.problem_fields()
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def hub_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HubError)
        return error_response(error)

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
        code, title = _HTTP_PROBLEMS.get(error.status_code, ("http_error", _phrase(error.status_code)))
        return problem_response(error.status_code, code, title, str(error.detail), headers=error.headers)

    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=error)
        return problem_response(500, "internal", "Internal error", "the hub failed to handle this request")

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        # A full disk, a read-only database or an I/O error is the operator's to fix: the client is told what
        # happened, the server log where and what to check. Any other database error is unexpected.
        assert isinstance(error, DBAPIError)
        fault = storage_fault(error, request.app.state.hub.engine.url) or database_busy(error)
        return await (unexpected(request, error) if fault is None else hub_error(request, fault))

    app.add_exception_handler(HubError, hub_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(ProtocolError, protocol_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


# ---------------------------------------------------------------------------------------------- OpenAPI

_PROBLEM_SCHEMA: Final = ProblemPublic.__name__
_FASTAPI_VALIDATION_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")
_AUTH_RESPONSES: Final[dict[str, dict[str, Any]]] = {
    "401": {
        "description": "No valid bearer token: missing, malformed, unknown, expired or revoked",
        "headers": {
            "WWW-Authenticate": {
                "description": 'The authentication scheme: Bearer realm="tipshare"',
                "schema": {"type": "string"},
            }
        },
    },
    "403": {"description": "The token's role may not use this route"},
}
_INVALID_REQUEST: Final = "A parameter or the body does not fit this schema (the problem detail names each one)"


_RATE_LIMITED: Final[dict[str, Any]] = {
    "description": "Too many requests from this address, token or hotline: try again after Retry-After seconds",
    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}},
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Complete an OpenAPI document (in place) with the error responses the handlers above produce."""
    reference = {"$ref": f"#/components/schemas/{_PROBLEM_SCHEMA}"}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[_PROBLEM_SCHEMA] = ProblemPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if request_class(method.upper(), path) is not None:
                responses.setdefault("429", dict(_RATE_LIMITED))
            if operation.get("security"):
                for status, response in _AUTH_RESPONSES.items():
                    responses.setdefault(status, {}).update(
                        {key: value for key, value in response.items() if key not in responses[status]}
                    )
            if "422" in responses and responses["422"].get("description") == "Validation Error":
                responses["422"]["description"] = _INVALID_REQUEST
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": dict(reference)}}
    used = json.dumps(schema.get("paths", {}))
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}" not in used:
            components.pop(name, None)
    return schema
