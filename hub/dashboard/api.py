# SPDX-License-Identifier: Apache-2.0
"""SDMX-CSV from the API: ``GET /v1/exports/stats/{table}.sdmx.csv`` and ``GET /v1/exports/completeness.sdmx.csv``.

The same questions as ``GET /v1/stats/{table}`` and ``GET /v1/completeness`` (same parameters, less ``format`` and
``clip``; same roles and country limits), answered as SDMX-CSV data messages (:mod:`hub.services.exports`) that
name the checkpoint they reflect.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request, Response

from hub.dashboard.queries import api_completeness_scope, api_stats_query
from hub.deps import ContextDep, ReadSessionDep, require
from hub.services.completeness import CompletenessService
from hub.services.exports import SDMX_CSV_MEDIA_TYPE, completeness_to_sdmx_csv, stats_to_sdmx_csv
from hub.services.stats import StatsService
from hub.services.tokens import Principal

__all__ = ["router"]

router = APIRouter(tags=["exports"])
ReaderDep = Annotated[Principal, Depends(require("coordinator", "auditor"))]

_RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    200: {"content": {SDMX_CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "An SDMX-CSV message"},
    400: {"description": "A parameter is invalid, or a dimension sums several codes (SDMX needs one code)"},
    401: {"description": "No valid bearer token"},
    403: {"description": "Not a coordinator or auditor token, or a country outside the token's countries"},
    404: {"description": "No such table, or no such hotline"},
}


@router.get(
    "/v1/exports/stats/{table}.sdmx.csv",
    summary="Regional statistics of one table as SDMX-CSV",
    response_class=Response,
    responses=_RESPONSES,
)
def stats_sdmx(
    table: str, request: Request, principal: ReaderDep, session: ReadSessionDep, context: ContextDep
) -> Response:
    """The answer of ``GET /v1/stats/{table}`` with the same parameters (group_by, dimension filters, period_from,
    period_to, country or hotline) as an SDMX-CSV 2.0 data message: dimensions, ``TIME_PERIOD``, ``OBS_VALUE`` (the
    unclipped estimate), ``CI95_LOWER``/``CI95_UPPER``, ``OBS_STATUS``, ``CONF_STATUS``, hotline counts and the
    checkpoint. A dimension that is not grouped by may be filtered to one code at most."""
    taxonomy = context.taxonomy
    query = api_stats_query(table, request.query_params.multi_items(), taxonomy, allowed_countries=principal.countries)
    result = StatsService(session, taxonomy).query(query, now=context.clock())
    body = stats_to_sdmx_csv(result, taxonomy.table(result.table))
    return _message(body, f"tipshare_{result.table}_{result.period_from}_{result.period_to}")


@router.get(
    "/v1/exports/completeness.sdmx.csv",
    summary="Reporting completeness as SDMX-CSV",
    response_class=Response,
    responses=_RESPONSES,
)
def completeness_sdmx(request: Request, principal: ReaderDep, session: ReadSessionDep, context: ContextDep) -> Response:
    """The grid of ``GET /v1/completeness`` (same parameters) as an SDMX-CSV data message: one observation per
    hotline and month, ``OBS_VALUE`` the reports received (1 or 0), the status and the checkpoint as attributes."""
    period_from, period_to, scope = api_completeness_scope(request.query_params.multi_items())
    result = CompletenessService(session, context.settings).grid(
        period_from, period_to, now=context.clock(), allowed_countries=principal.countries, scope=scope
    )
    return _message(completeness_to_sdmx_csv(result), f"tipshare_completeness_{result.period_from}_{result.period_to}")


def _message(body: str, name: str) -> Response:
    return Response(
        content=body.encode("utf-8"),
        media_type=SDMX_CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.sdmx.csv"'},
    )
