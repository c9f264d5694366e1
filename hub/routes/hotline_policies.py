# SPDX-License-Identifier: Apache-2.0
"""Operator routes (role admin) for hotline policies and backfill approvals; both are logged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from hub.deps import ContextDep, ReadSessionDep, WriteSessionDep, require
from hub.schemas import HOTLINE_ID_PATTERN, CapBody, PolicyTermsBody
from hub.schemas_policy import BackfillCreate, BackfillPublic, PolicyEventPublic, PolicyPublic
from hub.services.log import TransparencyLog
from hub.services.policies import PolicyEvent, PolicyService, PolicyTerms, PolicyView
from hub.services.tokens import Principal

__all__ = ["policy_public", "router", "terms_of"]

router = APIRouter(prefix="/v1/admin/hotlines", tags=["admin"])
AdminDep = Annotated[Principal, Depends(require("admin"))]
HotlineIdPath = Annotated[str, Path(pattern=HOTLINE_ID_PATTERN)]


def terms_of(body: PolicyTermsBody) -> PolicyTerms:
    """The service's terms from a request body."""
    return PolicyTerms(
        caps={cap.measure: (cap.period, cap.year) for cap in body.caps} if body.caps is not None else None,
        max_monthly_volume=body.max_monthly_volume,
        first_period=body.first_period,
        reason=body.reason,
        reporting_from=body.reporting_from,
    )


def _event(event: PolicyEvent) -> PolicyEventPublic:
    return PolicyEventPublic(
        hotline_id=event.entry.hotline_id,
        kind=event.entry.kind,
        log_index=event.appended.index,
        tree_size=event.appended.checkpoint.size,
    )


def policy_public(view: PolicyView) -> PolicyPublic:
    return PolicyPublic(
        hotline_id=view.hotline_id,
        caps=[CapBody(measure=m, period=p, year=y) for m, p, y in view.caps],  # type: ignore[arg-type]
        max_monthly_volume=view.max_monthly_volume,
        first_period=view.first_period,
        reason=view.reason,
        effective_at=view.effective_at,
        log_index=view.log_index,
        backfills=[
            BackfillPublic(
                first_period=b.first_period,
                last_period=b.last_period,
                reason=b.reason,
                approved_at=b.approved_at,
                log_index=b.log_index,
            )
            for b in view.backfills
        ],
        reporting_from=view.reporting_from,
    )


def _service(context: ContextDep, session: ReadSessionDep | WriteSessionDep) -> PolicyService:
    return PolicyService(session, TransparencyLog(session, signer=context.log_signer))


@router.get(
    "/{hotline_id}/policy",
    response_model=PolicyPublic,
    summary="The policy that applies to a hotline, with its backfill approvals",
    responses={404: {"description": "No such hotline"}},
)
def get_policy(
    hotline_id: HotlineIdPath, _admin: AdminDep, context: ContextDep, session: ReadSessionDep
) -> PolicyPublic:
    return policy_public(_service(context, session).view(hotline_id))


@router.post(
    "/{hotline_id}/policy",
    status_code=201,
    response_model=PolicyEventPublic,
    summary="Log a new policy for a hotline (fields left out keep their current value)",
    responses={400: {"description": "The policy is not valid"}, 404: {"description": "No such hotline"}},
)
def set_policy(
    hotline_id: HotlineIdPath,
    body: PolicyTermsBody,
    _admin: AdminDep,
    context: ContextDep,
    session: WriteSessionDep,
) -> PolicyEventPublic:
    service = _service(context, session)
    return _event(service.log_policy(hotline_id, terms_of(body), now=context.clock()))


@router.post(
    "/{hotline_id}/backfills",
    status_code=201,
    response_model=PolicyEventPublic,
    summary="Approve (and log) a hotline's release of periods before its first period",
    responses={400: {"description": "The periods or reason are not valid"}, 404: {"description": "No such hotline"}},
)
def approve_backfill(
    hotline_id: HotlineIdPath,
    body: BackfillCreate,
    _admin: AdminDep,
    context: ContextDep,
    session: WriteSessionDep,
) -> PolicyEventPublic:
    event = _service(context, session).approve_backfill(
        hotline_id,
        first_period=body.first_period,
        last_period=body.last_period,
        reason=body.reason,
        now=context.clock(),
    )
    return _event(event)
