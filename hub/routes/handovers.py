# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/hub/handovers``: the proofs of every handover of the hub's keys (public, like ``/v1/hub``).

A node or auditor that pinned an earlier log key walks these from its pinned key
(:func:`protocol.handover.follow_handovers`); it never takes a new key from ``/v1/hub`` alone.
"""

from __future__ import annotations

from fastapi import APIRouter

from hub.deps import ContextDep, ReadSessionDep
from hub.services.handover import handover_proofs
from hub.services.log import TransparencyLog
from protocol.handover import HandoverProof

__all__ = ["router"]

router = APIRouter(tags=["identity"])


@router.get(
    "/v1/hub/handovers",
    response_model=list[HandoverProof],
    summary="Handovers of the hub's keys, each with its bridging checkpoint and inclusion proof",
)
def handovers(context: ContextDep, session: ReadSessionDep) -> list[HandoverProof]:
    return handover_proofs(session, TransparencyLog(session, signer=context.log_signer))
