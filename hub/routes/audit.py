# SPDX-License-Identifier: Apache-2.0
"""Audit routes (role auditor): the signed checkpoint, log entries, proofs, and stored submissions.

Proofs are unsigned on purpose: they are checked against a *signed* checkpoint, whose size and root the verifier
must take from that checkpoint alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from hub.deps import ContextDep, LogDep, ReadSessionDep, require
from hub.errors import BadRequest, NotFound
from hub.models import Submission
from hub.routes import checkpoint as public
from hub.routes.checkpoint import NonNegative
from hub.schemas import MAX_ID, SubmissionPublic, WithdrawnPublic
from hub.services.tokens import Principal
from protocol.api import ConsistencyProof, InclusionProof, LogEntries, LogEntry
from protocol.messages import b64encode

__all__ = ["router"]

router = APIRouter(tags=["audit"])
AuditorDep = Annotated[Principal, Depends(require("auditor"))]


@router.get(
    "/v1/log/checkpoint",
    summary="The latest signed checkpoint (C2SP signed note)",
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": "The log is empty"}},
)
def checkpoint(_auditor: AuditorDep, log: LogDep, session: ReadSessionDep) -> Response:
    return public.latest_checkpoint(log, session)


@router.get(
    "/v1/log/entries",
    response_model=LogEntries,
    summary="Log entries start <= index < end (capped)",
    responses={400: {"description": "start is beyond the end of the log"}},
)
def entries(
    _auditor: AuditorDep, context: ContextDep, log: LogDep, start: NonNegative = 0, end: NonNegative | None = None
) -> LogEntries:
    size = log.size()
    limit = context.settings.entries_page_max
    stop = min(size, start + limit if end is None else min(end, start + limit))
    if start > size:
        raise BadRequest(f"start {start} is beyond the end of the log (size {size})")
    leaves = log.entries(start, stop) if start < stop else []
    return LogEntries(
        start=start,
        end=start + len(leaves),
        tree_size=size,
        entries=[
            LogEntry(index=leaf.index, leaf_hash=b64encode(leaf.leaf_hash), data=b64encode(leaf.data))
            for leaf in leaves
        ],
    )


@router.get(
    "/v1/log/proof/inclusion",
    response_model=InclusionProof,
    summary="Inclusion proof of one leaf",
    responses={400: {"description": "tree_size is larger than the log, or index is not below it"}},
)
def inclusion(_auditor: AuditorDep, log: LogDep, index: NonNegative, tree_size: NonNegative) -> InclusionProof:
    proof = log.inclusion_proof(index, tree_size)
    leaf = log.entries(index, index + 1)[0]
    return InclusionProof(
        index=index, tree_size=tree_size, leaf_hash=b64encode(leaf.leaf_hash), proof=[b64encode(p) for p in proof]
    )


@router.get(
    "/v1/log/proof/consistency",
    response_model=ConsistencyProof,
    summary="Consistency proof between two sizes",
    responses={400: {"description": "second is larger than the log, or first is larger than second"}},
)
def consistency(_auditor: AuditorDep, log: LogDep, first: NonNegative, second: NonNegative) -> ConsistencyProof:
    return public.consistency(log, first, second)


@router.get(
    "/v1/submissions/{submission_id}",
    response_model=SubmissionPublic,
    summary="A stored signed submission",
    responses={404: {"description": "No submission has this id"}},
)
def submission(
    submission_id: Annotated[int, Path(ge=1, le=MAX_ID)], _auditor: AuditorDep, session: ReadSessionDep
) -> SubmissionPublic:
    stored = session.get(Submission, submission_id)
    if stored is None:
        raise NotFound(f"no submission has id {submission_id}")
    return SubmissionPublic(
        id=stored.id,
        hotline_id=stored.hotline_id,
        key_id=stored.key_id,
        period=stored.period,
        revision=stored.revision,
        taxonomy_id=stored.taxonomy_id,
        payload_hash=stored.payload_hash,
        payload=b64encode(stored.payload),
        signature=b64encode(stored.signature),
        received_at=stored.received_at,
        leaf_index=stored.leaf_index,
        is_current=stored.is_current,
        privacy_unit=stored.privacy_unit,
        withdrawal=None
        if stored.withdrawn_index is None or stored.withdrawn_at is None
        else WithdrawnPublic(
            log_index=stored.withdrawn_index, withdrawn_at=stored.withdrawn_at, reason=stored.withdraw_reason or ""
        ),
    )
