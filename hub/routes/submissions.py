# SPDX-License-Identifier: Apache-2.0
"""``POST /v1/submissions``: authenticated by the envelope signature alone; answers with a receipt."""

from __future__ import annotations

import time
from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from hub.deps import ContextDep
from hub.errors import BadRequest, HubError, PayloadTooLarge, UnsupportedMediaType
from hub.problems import protocol_problem
from hub.ratelimit import Rate
from hub.services.ingest import HotlineLimit, IngestService
from hub.services.witnessing import collect_after_append
from protocol.errors import ProtocolError
from protocol.messages import Envelope, Receipt

__all__ = ["router"]

router = APIRouter(tags=["submissions"])


def _check_media_type(header: str) -> None:
    """The envelope is JSON, which is UTF-8 (RFC 8259 §8.1): any other declared charset is refused, not guessed at."""
    media_type, _, parameters = header.partition(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaType("send the envelope as application/json")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"')
        if name.strip().lower() == "charset" and charset.lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"the envelope is UTF-8 JSON; charset {charset[:40]!r} is not accepted")


def _check_declared_length(header: str | None, limit: int) -> None:
    """Refuse, before reading a byte of it, a body whose Content-Length is not a length or is over the limit."""
    if header is None:
        return
    text = header.strip()
    if not (text.isascii() and text.isdigit()):  # str.isdigit alone admits "²" and other non-ASCII digits
        raise BadRequest(f"the Content-Length header {header[:40]!r} is not a number of bytes")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:  # no int() of a 5000-digit header
        shown = digits if len(digits) <= 20 else f"a {len(digits)}-digit number of"
        raise PayloadTooLarge(f"the body is {shown} bytes; this hub accepts at most {limit}")


async def _read_body(request: Request, limit: int) -> bytes:
    _check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes, the most this hub accepts")
            chunks.append(chunk)
    except ClientDisconnect:
        # The sender went away mid-body: nobody will read the answer, but it is a refusal like any other, not a
        # crash (no traceback in the server log, no "internal" in the metrics).
        raise BadRequest(f"the connection closed after {size} bytes, before the whole body arrived") from None
    return b"".join(chunks)


def _hotline_limit(request: Request) -> HotlineLimit | None:
    rate: Rate | None = request.app.state.hotline_rate  # None when the hub runs without rate limits
    return HotlineLimit(request.app.state.rate_limiter, rate) if rate is not None else None


#: The body is read by hand (size limit, exact bytes), so the OpenAPI document is told what it is.
_ENVELOPE: Final = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": Envelope.model_json_schema()}}}
}
_RECEIPT: Final = {"application/json": {"schema": Receipt.model_json_schema(mode="serialization")}}


@router.post(
    "/v1/submissions",
    status_code=201,
    summary="Submit a sealed, signed monthly release",
    openapi_extra=_ENVELOPE,
    responses={
        200: {"description": "The same payload was accepted before: its original receipt", "content": _RECEIPT},
        201: {"description": "Accepted: the receipt (leaf, inclusion proof, signed checkpoint)", "content": _RECEIPT},
        400: {"description": "Malformed envelope or payload, a period not over or too old, or an unreadable body"},
        403: {"description": "Unknown hotline or key, key not valid, or signature check failed"},
        409: {"description": "The same (hotline, period, revision) was accepted with other content"},
        413: {"description": "Body too large"},
        415: {"description": "Not application/json, or a charset other than UTF-8"},
        422: {"description": "The payload does not fit the taxonomy"},
        429: {"description": "Too many submissions from this address or hotline (see Retry-After)"},
    },
)
async def submit(request: Request, context: ContextDep) -> Response:
    """The body is the canonical JSON (RFC 8785) of an envelope made with ``protocol.crypto.seal_envelope``."""
    started = time.perf_counter()
    try:
        _check_media_type(request.headers.get("content-type", ""))
        body = await _read_body(request, context.settings.max_body_bytes)
        result = await run_in_threadpool(IngestService(context, hotline_limit=_hotline_limit(request)).submit, body)
    except HubError as e:
        context.metrics.submission_rejected(e.code, seconds=time.perf_counter() - started)
        raise
    except ProtocolError as e:
        context.metrics.submission_rejected(protocol_problem(e)[1], seconds=time.perf_counter() - started)
        raise
    context.metrics.submission_accepted(duplicate=not result.created, seconds=time.perf_counter() - started)
    return Response(
        result.receipt.canonical_bytes(),
        status_code=201 if result.created else 200,
        media_type="application/json",
        headers={"Location": f"/v1/submissions/{result.receipt.submission_id}"},
        background=BackgroundTask(collect_after_append, context) if result.created else None,
    )
