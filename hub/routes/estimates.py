# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/estimates/{unit}`` (roles coordinator and auditor): a question answered from every table that can
answer it, as JSON (:class:`protocol.api.EstimatesAnswer`) or CSV.

Parameters are those of ``/v1/stats/{table}`` minus ``clip``: ``group_by`` (dimensions and/or ``period``),
``period_from``, ``period_to``, ``country`` or ``hotline``, ``format``, and dimension filters named after the
dimension with comma-separated codes (``citizenship=UA,MD``). Any other parameter, or any parameter given twice
(a filter too: ``citizenship=UA&citizenship=MD`` is refused), is refused (400 ``invalid_query``), so a mistyped
filter never widens an answer.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query, Request, Response

from hub.deps import ContextDep, ReadSessionDep
from hub.routes.stats import (
    Country,
    Format,
    Hotline,
    PeriodFrom,
    PeriodTo,
    ReaderDep,
    check_params,
    csv_response,
    dimension_names,
    output_format,
    split_list,
)
from hub.services.estimates import EstimatesQuery, EstimatesService
from hub.services.estimates_text import estimates_filename, estimates_to_csv
from hub.services.scope import Scope
from protocol.api import EstimatesAnswer

__all__ = ["router"]

router = APIRouter(tags=["statistics"])

_KNOWN: Final = frozenset({"group_by", "period_from", "period_to", "country", "hotline", "format"})


@router.get(
    "/v1/estimates/{unit}",
    response_model=EstimatesAnswer,
    summary="Best estimates for a question (person, case or contact), from every table that answers it",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The answer (JSON or CSV)"},
        400: {
            "description": "A parameter is invalid, or no combination of the released tables answers the question "
            "for every month in range (the problem detail names the dimensions, months and tables)"
        },
        401: {"description": "No valid bearer token"},
        403: {"description": "Not a coordinator or auditor token, or a country outside the token's countries"},
        404: {"description": "No such unit, or no such hotline (in the token's countries)"},
    },
)
def get_estimates(
    unit: str,
    request: Request,
    principal: ReaderDep,
    session: ReadSessionDep,
    context: ContextDep,
    group_by: Annotated[
        str | None,
        Query(description="Comma-separated dimension names and/or period (a time series); none: the total"),
    ] = None,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    country: Country = None,
    hotline: Hotline = None,
    response_format: Format = "json",
) -> Response:
    """The number of potential victims (``person``), cases or contacts reported to hotlines — never prevalence —
    for each combination of the ``group_by`` keys, estimated from **every** released table that can answer it:
    the one-cell total, the margins, the two-way and three-way corridors, of every taxonomy the months in range
    were released under, combined by generalised least squares. Totals equal the sum of their parts.

    Every row carries a 95% interval (exact, or provably conservative), the hotlines reporting and expected, SDMX
    flags, and the p-value of "the true count is zero": only rows distinguishable from zero after a
    Holm correction (5% family-wise) are ranked. The answer names the signed checkpoint it reflects and the weights
    it used, so anyone can recompute it from the signed submissions.

    Filter a dimension with a query parameter of its name and comma-separated codes, e.g. ``citizenship=UA,MD``.
    """
    check_params(request, _KNOWN, dimensions=dimension_names(context))
    output = output_format(response_format)
    query = EstimatesQuery(
        unit=unit,
        group_by=split_list(group_by),
        filters={name: split_list(value) for name, value in request.query_params.items() if name not in _KNOWN},
        period_from=period_from,
        period_to=period_to,
        scope=Scope.from_params(country=country, hotline=hotline),
        allowed_countries=principal.countries,
    )
    answer = EstimatesService(session, context.taxonomies.values()).answer(query, now=context.clock())
    if output == "csv":
        return csv_response(estimates_to_csv(answer), estimates_filename(answer))
    # The answer is already the response model: serialised once here, not validated again field by field (a
    # corridor matrix has 3,844 rows; FastAPI's response validation of them costs about as much as the sums).
    return Response(answer.model_dump_json(), media_type="application/json")
