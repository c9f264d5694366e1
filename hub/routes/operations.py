# SPDX-License-Identifier: Apache-2.0
"""``GET /metrics`` in the Prometheus text format (roles metrics and admin: scrape with a metrics token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import func, select

from hub.deps import ContextDep, ReadSessionDep, require
from hub.models import Hotline
from hub.services.log import TransparencyLog
from hub.services.tokens import Principal

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics", responses={200: {"content": {"text/plain": {}}}})
def metrics(
    _scraper: Annotated[Principal, Depends(require("metrics", "admin"))], context: ContextDep, session: ReadSessionDep
) -> Response:
    log_size = TransparencyLog(session, signer=context.log_signer).size()
    hotlines = session.scalar(select(func.count()).select_from(Hotline)) or 0
    return Response(
        context.metrics.render(log_size=log_size, hotlines=hotlines), media_type="text/plain; version=0.0.4"
    )
