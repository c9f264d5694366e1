# SPDX-License-Identifier: Apache-2.0
"""The hub's app plus one bare route, for the ingest benchmark: ``POST /bench/verify-only``.

The bare route does what the real ``POST /v1/submissions`` must do at the least, in the same process, on the same
envelopes: read the body, then (in the thread pool, as the real route) parse the envelope, check the header
signature, open the sealed box and check the payload signature, with the hotlines' keys held in memory. It does
not parse or validate the payload, touch the database, append to the log or write a receipt. Its throughput is
the crypto + HTTP limit that ingest is compared with.

Served by uvicorn like the hub itself: ``uvicorn --factory bench.ingest_app:app_from_environment``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hub.app import create_app
from hub.context import HubContext
from hub.db import read_session
from hub.models import HotlineKey
from hub.settings import Settings
from protocol.crypto import ENVELOPE_CONTEXT, SIGNATURE_SIZE, SUBMISSION_CONTEXT, VerifyKey, unseal
from protocol.messages import Envelope, b64decode

__all__ = ["BARE_PATH", "app_from_environment"]

BARE_PATH = "/bench/verify-only"


def app_from_environment() -> FastAPI:
    """The hub's app (as ``tipshare-hub serve`` builds it) with the bare route added."""
    app = create_app(Settings())
    context: HubContext = app.state.hub
    with read_session(context.sessions) as session:
        keys = {
            (row.hotline_id, row.key_id): VerifyKey.from_text(row.public_key)
            for row in session.execute(select(HotlineKey.hotline_id, HotlineKey.key_id, HotlineKey.public_key))
        }

    def verify(body: bytes) -> int:
        envelope = Envelope.from_canonical(body)
        key = keys[(envelope.hotline_id, envelope.key_id)]
        key.verify_message(ENVELOPE_CONTEXT, envelope.header_bytes(), b64decode(envelope.signature))
        plaintext = unseal(b64decode(envelope.sealed, what="sealed box"), context.keys.envelope)
        key.verify_message(SUBMISSION_CONTEXT, plaintext[:-SIGNATURE_SIZE], plaintext[-SIGNATURE_SIZE:])
        return len(plaintext) - SIGNATURE_SIZE

    @app.post(BARE_PATH, status_code=201, include_in_schema=False)
    async def verify_only(request: Request) -> Response:
        body = b"".join([chunk async for chunk in request.stream()])
        size = await run_in_threadpool(verify, body)
        return Response(f'{{"payload_bytes":{size}}}'.encode(), status_code=201, media_type="application/json")

    return app
