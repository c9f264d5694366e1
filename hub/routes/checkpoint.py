# SPDX-License-Identifier: Apache-2.0
"""Public routes for log clients without a token (hotlines' nodes): the latest checkpoint, and consistency proofs.

A node keeps the checkpoint of every receipt it got; on ``sync`` and ``status`` it asks for the latest checkpoint
(with the witnesses' cosignatures) and a consistency proof from each receipt's tree size, so a hub that took back a
receipted entry is caught by the hotline itself. Sizes and root hashes reveal nothing about the entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.deps import LogDep, ReadSessionDep
from hub.errors import NotFound
from hub.schemas import MAX_INDEX
from hub.services.witnessing import cosigned_note
from protocol.api import ConsistencyProof
from protocol.messages import b64encode

__all__ = ["router"]

router = APIRouter(tags=["identity"])
NonNegative = Annotated[int, Query(ge=0, le=MAX_INDEX)]


@router.get(
    "/v1/checkpoint",
    summary="The latest signed checkpoint with its witness cosignatures (C2SP signed note)",
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": "The log is empty"}},
)
def latest_checkpoint(log: LogDep, session: ReadSessionDep) -> Response:
    latest = log.latest_checkpoint()
    if latest is None:
        raise NotFound("the log is empty: no checkpoint has been signed yet")
    return Response(cosigned_note(session, latest), media_type="text/plain; charset=utf-8")


@router.get(
    "/v1/checkpoint/consistency",
    response_model=ConsistencyProof,
    summary="Consistency proof between two tree sizes (check it against signed checkpoints only)",
    responses={400: {"description": "second is larger than the log, or first is larger than second"}},
)
def consistency(log: LogDep, first: NonNegative, second: NonNegative) -> ConsistencyProof:
    proof = log.consistency_proof(first, second)
    return ConsistencyProof(first=first, second=second, proof=[b64encode(p) for p in proof])
