# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/stats/{table}`` and ``GET /v1/completeness`` (roles coordinator and auditor), as JSON or CSV.

Dimension filters are query parameters named after the dimension, with comma-separated codes:
``/v1/stats/persons_corridor?group_by=period&citizenship=UA,MD&exploitation_group=labour``. Any other unknown
parameter, and any parameter given twice (``citizenship=UA&citizenship=MD``: write ``citizenship=UA,MD``), is
refused (400 ``invalid_query``), so a mistyped filter never silently widens an answer and the access log records
one question per parameter.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response

from hub.context import HubContext
from hub.deps import ContextDep, ReadSessionDep, require
from hub.errors import InvalidQuery
from hub.schemas_stats import CompletenessPublic, stats_answer_json
from hub.services.completeness import CompletenessService, completeness_to_csv
from hub.services.export_names import completeness_filename, stats_filename
from hub.services.scope import Scope
from hub.services.stats import StatsQuery, StatsService, stats_to_csv
from hub.services.tokens import Principal
from protocol.api import StatsAnswer

__all__ = [
    "Country",
    "Format",
    "Hotline",
    "PeriodFrom",
    "PeriodTo",
    "ReaderDep",
    "check_params",
    "csv_response",
    "dimension_names",
    "output_format",
    "router",
    "split_list",
]

router = APIRouter(tags=["statistics"])
ReaderDep = Annotated[Principal, Depends(require("coordinator", "auditor"))]

_CSV: Final = "text/csv; charset=utf-8"
_SCOPE_PARAMS: Final = ("period_from", "period_to", "country", "hotline", "format")
_STATS_PARAMS: Final = frozenset({*_SCOPE_PARAMS, "group_by", "clip"})
_COMPLETENESS_PARAMS: Final = frozenset(_SCOPE_PARAMS)
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})
_ERRORS: Final[dict[int | str, dict[str, str]]] = {
    400: {"description": "A parameter is invalid (the problem detail names it)"},
    401: {"description": "No valid bearer token"},
    403: {"description": "Not a coordinator or auditor token, or a country outside the token's countries"},
}

PeriodFrom = Annotated[str | None, Query(description="First month, YYYY-MM (default: 12 months before period_to)")]
PeriodTo = Annotated[str | None, Query(description="Last month, YYYY-MM (default: the previous month)")]
Country = Annotated[str | None, Query(description="Limit to hotlines of one country (ISO 3166-1 alpha-2)")]
Hotline = Annotated[str | None, Query(description="Limit to one hotline (its id)")]
Format = Annotated[str, Query(alias="format", description="json (default) or csv", examples=["json", "csv"])]


@router.get(
    "/v1/stats/{table}",
    response_model=StatsAnswer,
    summary="Regional statistics of one table, with 95% intervals",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The answer (JSON or CSV)"},
        **_ERRORS,
        404: {"description": "No such table, or no such hotline (in the token's countries)"},
    },
)
def get_stats(
    table: str,
    request: Request,
    principal: ReaderDep,
    session: ReadSessionDep,
    context: ContextDep,
    group_by: Annotated[
        str | None, Query(description="Comma-separated dimensions of the table and/or period (time series)")
    ] = None,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    country: Country = None,
    hotline: Hotline = None,
    response_format: Format = "json",
    clip: Annotated[str | None, Query(description="true: add display_estimate = max(0, estimate)")] = None,
) -> Response:
    """Sums of the hotlines' noisy counts over the requested cells and months ("potential victims reported to
    hotlines", never prevalence). Every row carries its 95% interval from the public noise scales, the hotlines
    reporting and expected, and SDMX flags; the answer names the signed checkpoint it reflects.

    Filter a dimension with a query parameter of its name and comma-separated codes, e.g. ``citizenship=UA,MD``.
    """
    check_params(request, _STATS_PARAMS, dimensions=dimension_names(context))
    output = output_format(response_format)
    query = StatsQuery(
        table=table,
        group_by=split_list(group_by),
        filters=_filters(request),
        period_from=period_from,
        period_to=period_to,
        scope=Scope.from_params(country=country, hotline=hotline),
        allowed_countries=principal.countries,
        clip=_flag("clip", clip),
    )
    result = StatsService(session, context.taxonomy_for_table(table)).query(query, now=context.clock())
    if output == "csv":
        return csv_response(stats_to_csv(result), stats_filename(result, "csv"))
    return Response(content=stats_answer_json(result), media_type="application/json")  # a StatsAnswer, byte for byte


@router.get(
    "/v1/completeness",
    response_model=CompletenessPublic,
    summary="Which hotline reported which month, when, and whether on time",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The grid (JSON or CSV)"},
        **_ERRORS,
        404: {"description": "No such hotline (in the token's countries)"},
    },
)
def get_completeness(
    request: Request,
    principal: ReaderDep,
    session: ReadSessionDep,
    context: ContextDep,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    country: Country = None,
    hotline: Hotline = None,
    response_format: Format = "json",
) -> CompletenessPublic | Response:
    """One row per hotline and month (on_time, late, not_due, missing, not_enrolled), from the receive times the
    log records, and per month the expected and reported counts with both reporting rates."""
    check_params(request, _COMPLETENESS_PARAMS, dimensions=None)
    output = output_format(response_format)
    result = CompletenessService(session, context.settings).grid(
        period_from,
        period_to,
        now=context.clock(),
        allowed_countries=principal.countries,
        scope=Scope.from_params(country=country, hotline=hotline),
    )
    if output == "csv":
        return csv_response(completeness_to_csv(result), completeness_filename(result, "csv"))
    return CompletenessPublic.from_result(result)


# ---------------------------------------------------------------------------------------------- parsing


def dimension_names(context: HubContext) -> frozenset[str]:
    """Every dimension name of every registered taxonomy: the query parameters that are filters."""
    return frozenset(name for taxonomy in context.taxonomies.values() for name in taxonomy.dimensions)


def check_params(request: Request, known: frozenset[str], *, dimensions: frozenset[str] | None) -> None:
    """Refuse unknown and repeated parameters (a filter's codes go comma-separated in one parameter; percent-encoded
    names were decoded, so ``%68otline`` is ``hotline`` here). With ``dimensions``, those names are filters (the
    service checks that they belong to the table or question)."""
    unknown = sorted({name for name in request.query_params if name not in known and name not in (dimensions or ())})
    if unknown:
        accepted = ", ".join(sorted(known)) + (", and dimension names" if dimensions is not None else "")
        raise InvalidQuery(f"unknown query parameter(s): {', '.join(unknown)}; this route accepts {accepted}")
    repeated = sorted({name for name in request.query_params if len(request.query_params.getlist(name)) > 1})
    if repeated:
        raise InvalidQuery(
            f"query parameter(s) given more than once: {', '.join(repeated)}; give each once (several codes of a "
            "filter go comma-separated in one parameter, such as citizenship=UA,MD)"
        )


def split_list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _filters(request: Request) -> dict[str, tuple[str, ...]]:
    """Every parameter that is not a known one is a dimension filter (given once: :func:`check_params`)."""
    return {name: split_list(value) for name, value in request.query_params.items() if name not in _STATS_PARAMS}


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.strip().lower() in _FALSE:
        return False
    if value.strip().lower() in _TRUE:
        return True
    raise InvalidQuery(f"{name} must be true or false; got {value!r}")


def output_format(value: str) -> str:
    if value not in ("json", "csv"):
        raise InvalidQuery(f"format must be json or csv; got {value!r}")
    return value


def csv_response(text: str, filename: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type=_CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
