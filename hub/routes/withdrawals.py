# SPDX-License-Identifier: Apache-2.0
"""Operator route (role admin): withdraw a submission, with a reason. The withdrawal is a signed log entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from hub.deps import ContextDep, WriteSessionDep, require
from hub.schemas import MAX_ID, SubmissionWithdraw, WithdrawalPublic
from hub.services.tokens import Principal
from hub.services.withdrawals import Withdrawals

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])
AdminDep = Annotated[Principal, Depends(require("admin"))]


@router.post(
    "/submissions/{submission_id}/withdraw",
    response_model=WithdrawalPublic,
    summary="Withdraw a submission from the statistics, with a reason (logged, signed by the hub)",
    responses={
        400: {"description": "The reason is blank"},
        404: {"description": "No submission has this id"},
        409: {"description": "The submission is already withdrawn"},
    },
)
def withdraw(
    submission_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: SubmissionWithdraw,
    _admin: AdminDep,
    context: ContextDep,
    session: WriteSessionDep,
) -> WithdrawalPublic:
    done = Withdrawals(context, session).withdraw(submission_id, reason=body.reason, now=context.clock())
    return WithdrawalPublic(
        submission_id=done.submission_id,
        hotline_id=done.hotline_id,
        period=done.period,
        revision=done.revision,
        log_index=done.appended.index,
        tree_size=done.appended.checkpoint.size,
        withdrawn_at=done.withdrawn_at,
        reason=done.reason,
        current_revision=done.current_revision,
    )
