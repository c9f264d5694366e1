# SPDX-License-Identifier: Apache-2.0
"""SDMX-CSV from the API: ``GET /v1/exports/estimates/{unit}.sdmx.csv``, ``GET /v1/exports/stats/{table}.sdmx.csv``
and ``GET /v1/exports/completeness.sdmx.csv``.

The same questions as ``GET /v1/estimates/{unit}``, ``GET /v1/stats/{table}`` and ``GET /v1/completeness`` (same
parameters, less ``format`` and ``clip``; same roles and country limits), answered as SDMX-CSV data messages
(:mod:`hub.services.exports`) that name the checkpoint they reflect.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request, Response

from hub.dashboard.params import Params, all_dimensions, codes_of, single, values_of
from hub.deps import ContextDep, ReadSessionDep, require
from hub.errors import InvalidQuery
from hub.services.completeness import CompletenessService
from hub.services.estimates import EstimatesQuery, EstimatesService
from hub.services.estimates_text import estimates_filename
from hub.services.export_names import completeness_filename, stats_filename
from hub.services.exports import (
    SDMX_CSV_MEDIA_TYPE,
    completeness_to_sdmx_csv,
    estimates_to_sdmx_csv,
    stats_to_sdmx_csv,
)
from hub.services.scope import Scope
from hub.services.stats import StatsQuery, StatsService
from hub.services.taxonomies import union_tables
from hub.services.tokens import Principal
from protocol.taxonomy import Table, Taxonomy

__all__ = ["router"]

router = APIRouter(tags=["exports"])
ReaderDep = Annotated[Principal, Depends(require("coordinator", "auditor"))]

_RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    200: {"content": {SDMX_CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "An SDMX-CSV message"},
    400: {"description": "A parameter is invalid, or a dimension sums several codes (SDMX needs one code)"},
    401: {"description": "No valid bearer token"},
    403: {"description": "Not a coordinator or auditor token, or a country outside the token's countries"},
    404: {"description": "No such unit or table, or no such hotline (in the token's countries)"},
}


@router.get(
    "/v1/exports/estimates/{unit}.sdmx.csv",
    summary="Best estimates for a question (person, case or contact) as SDMX-CSV",
    response_class=Response,
    responses={
        **_RESPONSES,
        400: {
            "description": "A parameter is invalid, a dimension sums several codes (SDMX needs one code), or no "
            "combination of the released tables answers the question for every month in range"
        },
    },
)
def estimates_sdmx(
    unit: str, request: Request, principal: ReaderDep, session: ReadSessionDep, context: ContextDep
) -> Response:
    """The answer of ``GET /v1/estimates/{unit}`` with the same parameters (group_by, dimension filters,
    period_from, period_to, country or hotline) as an SDMX-CSV 2.0 data message: one dimension column per dimension
    of the unit, ``TIME_PERIOD``, ``OBS_VALUE`` (the unclipped least-squares estimate), ``CI95_LOWER`` and
    ``CI95_UPPER``, ``INTERVAL_METHOD``, ``OBS_STATUS``, ``CONF_STATUS``, ``DISTINGUISHABLE`` (from zero, after the
    answer's multiple-comparison correction), ``RANK`` (empty when not ranked), ``P_ZERO``, hotline counts and the
    checkpoint. A dimension that is not grouped by may be filtered to one code at most."""
    tables = union_tables(context.taxonomies.values())
    query = api_estimates_query(unit, request.query_params.multi_items(), tables, allowed_countries=principal.countries)
    answer = EstimatesService(session, context.taxonomies.values()).answer(query, now=context.clock())
    return _message(estimates_to_sdmx_csv(answer, tables), estimates_filename(answer, "sdmx.csv"))


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
    taxonomy = context.taxonomy_for_table(table)
    query = api_stats_query(table, request.query_params.multi_items(), taxonomy, allowed_countries=principal.countries)
    result = StatsService(session, taxonomy).query(query, now=context.clock())
    body = stats_to_sdmx_csv(result, taxonomy.table(result.table))
    return _message(body, stats_filename(result, "sdmx.csv"))


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
    return _message(completeness_to_sdmx_csv(result), completeness_filename(result, "sdmx.csv"))


def _message(body: str, name: str) -> Response:
    return Response(
        content=body.encode("utf-8"),
        media_type=SDMX_CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---------------------------------------------------------------------------------------------- parameters

_API_STATS: Final = frozenset({"group_by", "period_from", "period_to", "country", "hotline"})
_API_ESTIMATES: Final = _API_STATS
_API_COMPLETENESS: Final = frozenset({"period_from", "period_to", "country", "hotline"})


def api_stats_query(
    table: str, params: Params, taxonomy: Taxonomy, *, allowed_countries: frozenset[str] | None
) -> StatsQuery:
    """The query of ``GET /v1/exports/stats/{table}.sdmx.csv``: the parameters of ``/v1/stats`` less ``format``
    and ``clip`` (an export never clips). Unknown or repeated parameters are refused, so a mistyped filter never
    silently widens an answer."""
    values = values_of(params)
    _check_api_params(values, _API_STATS, taxonomy.dimensions, "the table's dimension names")
    return StatsQuery(
        table=table,
        group_by=codes_of([single(values, "group_by") or ""]),
        filters=_api_filters(values, _API_STATS),
        period_from=single(values, "period_from"),
        period_to=single(values, "period_to"),
        scope=Scope.from_params(country=single(values, "country"), hotline=single(values, "hotline")),
        allowed_countries=allowed_countries,
    )


def api_estimates_query(
    unit: str, params: Params, tables: Mapping[str, Table], *, allowed_countries: frozenset[str] | None
) -> EstimatesQuery:
    """The question of ``GET /v1/exports/estimates/{unit}.sdmx.csv``: the parameters of ``/v1/estimates`` less
    ``format``. Unknown or repeated parameters are refused, as there."""
    values = values_of(params)
    _check_api_params(values, _API_ESTIMATES, all_dimensions(tables), "dimension names")
    return EstimatesQuery(
        unit=unit,
        group_by=codes_of([single(values, "group_by") or ""]),
        filters=MappingProxyType(_api_filters(values, _API_ESTIMATES)),
        period_from=single(values, "period_from"),
        period_to=single(values, "period_to"),
        scope=Scope.from_params(country=single(values, "country"), hotline=single(values, "hotline")),
        allowed_countries=allowed_countries,
    )


def api_completeness_scope(params: Params) -> tuple[str | None, str | None, Scope]:
    """``(period_from, period_to, scope)`` of ``GET /v1/exports/completeness.sdmx.csv``."""
    values = values_of(params)
    _check_api_params(values, _API_COMPLETENESS, {}, None)
    scope = Scope.from_params(country=single(values, "country"), hotline=single(values, "hotline"))
    return single(values, "period_from"), single(values, "period_to"), scope


def _api_filters(values: Mapping[str, list[str]], known: frozenset[str]) -> dict[str, tuple[str, ...]]:
    filters = {name: codes_of(given) for name, given in values.items() if name not in known}
    empty = sorted(name for name, codes in filters.items() if not codes)
    if empty:
        raise InvalidQuery(f"filter(s) {', '.join(empty)} need one or more codes")
    return filters


def _check_api_params(
    values: Mapping[str, list[str]], known: frozenset[str], dimensions: Mapping[str, object], named: str | None
) -> None:
    unknown = sorted(name for name in values if name not in known and name not in dimensions)
    if unknown:
        accepted = ", ".join(sorted(known)) + (f", and {named}" if named else "")
        raise InvalidQuery(f"unknown query parameter(s): {', '.join(unknown)}; this route accepts {accepted}")
    repeated = sorted(name for name, given in values.items() if len(given) > 1)
    if repeated:
        raise InvalidQuery(
            f"query parameter(s) given more than once: {', '.join(repeated)}; give each once (several codes of a "
            "filter go comma-separated in one parameter, such as citizenship=UA,MD)"
        )
