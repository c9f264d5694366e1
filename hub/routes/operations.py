# SPDX-License-Identifier: Apache-2.0
"""``GET /metrics`` in the Prometheus text format (roles metrics and admin: scrape with a metrics token).

The counters are every worker's (:mod:`hub.metrics`); the gauges are read from the database by the worker that
answers the scrape (:func:`hub_state`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.deps import ContextDep, ReadSessionDep, require
from hub.metrics import CONTENT_TYPE, ROUND_STEPS, HubState, HubStateCollector
from hub.models import Hotline, LogCheckpoint, SecaggRound, Witness, WitnessCosignature
from hub.services.completeness import CompletenessService
from hub.services.log import TransparencyLog
from hub.services.tokens import Principal

__all__ = ["hub_state", "router"]

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics", responses={200: {"content": {"text/plain": {}}}})
def metrics(
    _scraper: Annotated[Principal, Depends(require("metrics", "admin"))], context: ContextDep, session: ReadSessionDep
) -> Response:
    state = hub_state(context, session, now=context.clock())
    return Response(context.metrics.render(HubStateCollector(state)), media_type=CONTENT_TYPE)


def hub_state(context: HubContext, session: Session, *, now: datetime) -> HubState:
    """The gauges of ``/metrics``, from one read snapshot."""
    log_size = TransparencyLog(session, signer=context.log_signer).size()
    hotlines = session.scalar(select(func.count()).select_from(Hotline)) or 0
    signed_at = session.scalar(select(func.max(LogCheckpoint.signed_at)))
    cosigned = select(WitnessCosignature.witness, func.max(WitnessCosignature.timestamp)).group_by(
        WitnessCosignature.witness
    )
    newest: dict[str, int] = {row[0]: row[1] for row in session.execute(cosigned)}
    witness_age = {
        witness.name: now.timestamp()
        - (newest[witness.name] if witness.name in newest else witness.added_at.timestamp())
        for witness in session.scalars(select(Witness))
    }
    grid = CompletenessService(session, context.settings).grid(None, None, now=now, allowed_countries=None)
    late = Counter(row.hotline_id for row in grid.rows if row.status == "late")
    missing = Counter(row.hotline_id for row in grid.rows if row.status == "missing")
    hotline_ids = {row.hotline_id for row in grid.rows}
    rounds = _round_state(session, now=now)
    return HubState(
        log_size=log_size,
        hotlines=hotlines,
        checkpoint_age=None if signed_at is None else (now - signed_at).total_seconds(),
        witness_cosignature_age=witness_age,
        late_reports={hotline: late[hotline] for hotline in hotline_ids},
        missing_reports={hotline: missing[hotline] for hotline in hotline_ids},
        rounds_open=rounds.open,
        rounds_failed=rounds.failed,
        round_deadline_in=rounds.deadline_in,
    )


@dataclass(frozen=True, slots=True)
class _RoundState:
    open: dict[str, int]
    failed: int
    deadline_in: float | None


def _round_state(session: Session, *, now: datetime) -> _RoundState:
    """Running rounds by step, failed rounds, and the earliest deadline of a running round's step."""
    by_step = select(SecaggRound.step, func.count()).group_by(SecaggRound.step)
    counts: dict[str, int] = {str(step): int(count) for step, count in session.execute(by_step)}
    deadline_of_step = {
        "shares": SecaggRound.shares_due,
        "masked": SecaggRound.masked_due,
        "reveal": SecaggRound.reveal_due,
    }
    deadlines = [
        due
        for step, column in deadline_of_step.items()
        if (due := session.scalar(select(func.min(column)).where(SecaggRound.step == step))) is not None
    ]
    return _RoundState(
        open={step: counts.get(step, 0) for step in ROUND_STEPS},
        failed=counts.get("failed", 0),
        deadline_in=(min(deadlines) - now).total_seconds() if deadlines else None,
    )
