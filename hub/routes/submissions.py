# SPDX-License-Identifier: Apache-2.0
"""``POST /v1/submissions``: authenticated by the envelope signature alone; answers with a receipt."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from hub.context import HubContext
from hub.db import read_session, write_session
from hub.deps import ContextDep
from hub.errors import HubError, PayloadTooLarge, UnsupportedMediaType
from hub.problems import protocol_problem
from hub.services.ingest import IngestResult, IngestService
from protocol.errors import ProtocolError

__all__ = ["router"]

router = APIRouter(tags=["submissions"])


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; this hub accepts at most {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes, the most this hub accepts")
        chunks.append(chunk)
    return b"".join(chunks)


def _ingest(context: HubContext, body: bytes) -> IngestResult:
    # Parsing, decryption, signatures and taxonomy checks run outside the writer lock, so workers do them in
    # parallel; the writer transaction then re-checks the key and appends.
    now = context.clock()
    with read_session(context.sessions) as session:
        verified = IngestService(context, session).verify(body, now=now)
    with write_session(context.sessions) as session:
        return IngestService(context, session).accept(verified, now=now)


@router.post(
    "/v1/submissions",
    status_code=201,
    summary="Submit a sealed, signed monthly release",
    responses={
        200: {"description": "The same payload was accepted before: its original receipt"},
        201: {"description": "Accepted: the receipt (leaf, inclusion proof, signed checkpoint)"},
        400: {"description": "Malformed envelope or payload"},
        403: {"description": "Unknown hotline or key, key not valid, or signature check failed"},
        409: {"description": "The same (hotline, period, revision) was accepted with other content"},
        413: {"description": "Body too large"},
        415: {"description": "Not application/json"},
        422: {"description": "The payload does not fit the taxonomy"},
    },
)
async def submit(request: Request, context: ContextDep) -> Response:
    """The body is the canonical JSON (RFC 8785) of an envelope made with ``protocol.crypto.seal_envelope``."""
    try:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise UnsupportedMediaType("send the envelope as application/json")
        body = await _read_body(request, context.settings.max_body_bytes)
        result = await run_in_threadpool(_ingest, context, body)
    except HubError as e:
        context.metrics.submission_rejected(e.code)
        raise
    except ProtocolError as e:
        context.metrics.submission_rejected(protocol_problem(e)[1])
        raise
    context.metrics.submission_accepted(duplicate=not result.created)
    return Response(
        result.receipt.canonical_bytes(),
        status_code=201 if result.created else 200,
        media_type="application/json",
        headers={"Location": f"/v1/submissions/{result.receipt.submission_id}"},
    )
