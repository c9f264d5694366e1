# SPDX-License-Identifier: Apache-2.0
"""The dashboard's five views and their exports, for a signed-in coordinator or auditor.

=======================  =====================================================================================
``GET /trends``          monthly estimates with 95% interval bands of persons, cases or contacts, filters,
                         lines by one dimension
``GET /corridors``       citizenship × country of exploitation heat map, and the corridors distinguishable from
                         zero, ranked
``GET /demography``      gender × age band (every form), or gender × age group for one exploitation group
``GET /completeness``    which hotline reported which month: on time, late, missing, corrected
``GET /pivot``           the custom table: any grouping the estimates API answers as rows × columns, filters,
                         months and unit, with row, column and overall totals (:mod:`~hub.dashboard.pivot`)
``GET /<view>/export``   the view's answer as ``format=csv``, ``json`` (both as ``GET /v1/estimates``) or
                         ``sdmx-csv``
=======================  =====================================================================================

Every view (and the sign-in page) also takes ``lang`` (``en``, ``uk``, ``ro`` or ``ru``, :mod:`hub.dashboard.i18n`):
the language of the page, kept in a cookie; it is not part of the question, so exports and the API question shown
never carry it.

Trends, corridors, demography and the custom table ask :class:`~hub.services.estimates.EstimatesService` the
question their form describes (the custom table asks its totals as questions of their own too),
the same service and the same question as ``GET /v1/estimates/{unit}``; completeness reads
:class:`~hub.services.completeness.CompletenessService`. Both are limited to the token's countries, and every view
answers a plain GET form, so every view is a bookmarkable URL (and is recorded in the access log like any
coordinator request). A question the services refuse (a bad period, a country outside the token's, months whose
releases cannot answer it) shows the form again with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.dashboard import i18n
from hub.dashboard.auth import Viewer, ViewerDep
from hub.dashboard.i18n import N_
from hub.dashboard.labels import Labels
from hub.dashboard.pages import Pages, request_language, secure
from hub.dashboard.pivot import MAX_COLUMNS, MAX_ROWS, PivotForm, pivot_view
from hub.dashboard.queries import (
    MAX_SERIES,
    TOP_CHOICES,
    UNIT_NAMES,
    CompletenessForm,
    CorridorsForm,
    DemographyForm,
    Params,
    TrendsForm,
    unit_dimensions,
)
from hub.dashboard.views import completeness_view, corridor_view, demography_view, trends_view
from hub.deps import ContextDep, ReadSessionDep
from hub.errors import HubError, InvalidQuery, NotFound
from hub.schemas_stats import CompletenessPublic
from hub.services.completeness import CompletenessResult, CompletenessService, completeness_to_csv
from hub.services.estimates import EstimatesQuery, EstimatesService
from hub.services.estimates_text import estimates_filename, estimates_to_csv
from hub.services.export_names import completeness_filename
from hub.services.exports import SDMX_CSV_MEDIA_TYPE, completeness_to_sdmx_csv, estimates_to_sdmx_csv
from hub.services.scope import Scope, hotlines_in_scope, resolve_scope
from hub.services.taxonomies import union_tables
from protocol.api import EstimatesAnswer
from protocol.taxonomy import Table

__all__ = ["NAVIGATION", "router"]

router = APIRouter(include_in_schema=False)
_T = TypeVar("_T")

#: The views, in the order the navigation lists them: (path, label).
NAVIGATION: Final = (
    ("/trends", N_("Trends")),
    ("/corridors", N_("Corridors")),
    ("/demography", N_("Demography")),
    ("/completeness", N_("Completeness")),
    ("/pivot", N_("Custom table")),
)
ExportFormat = Literal["csv", "json", "sdmx-csv"]
EXPORT_FORMATS: Final[tuple[tuple[ExportFormat, str], ...]] = (
    ("csv", "CSV"),
    ("json", "JSON"),
    ("sdmx-csv", "SDMX-CSV"),
)
_MEDIA: Final[dict[ExportFormat, tuple[str, str]]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "sdmx-csv": (SDMX_CSV_MEDIA_TYPE, "sdmx.csv"),
}


@dataclass(slots=True)
class _Page:
    """What every view needs: the request, the viewer, a read session and the hub context."""

    request: Request
    viewer: Viewer
    session: Session
    context: HubContext

    def __post_init__(self) -> None:
        # What the view builds (status names, flags, code labels) is worded in the page's language. The endpoint
        # runs in a copy of the request's context, so the choice ends with it.
        i18n.set_language(request_language(self.request))

    @property
    def params(self) -> Params:
        """The question's parameters (``lang`` chooses the page's language, not the question)."""
        return [(name, value) for name, value in self.request.query_params.multi_items() if name != "lang"]

    @property
    def labels(self) -> Labels:
        return Labels(self.context.taxonomy)

    @property
    def tables(self) -> dict[str, Table]:
        """Every table of every taxonomy the hub accepts: what the views' questions can be answered from."""
        return union_tables(self.context.taxonomies.values())

    @property
    def allowed(self) -> frozenset[str] | None:
        return self.viewer.principal.countries

    def estimates(self, query: EstimatesQuery) -> EstimatesAnswer:
        """The answer ``GET /v1/estimates/{unit}`` gives to the same question (same service, same read snapshot)."""
        service = EstimatesService(self.session, self.context.taxonomies.values())
        return service.answer(query, now=self.context.clock())

    def completeness(self, form: CompletenessForm) -> CompletenessResult:
        return CompletenessService(self.session, self.context.settings).grid(
            form.scope.period_from,
            form.scope.period_to,
            now=self.context.clock(),
            allowed_countries=self.allowed,
            scope=form.scope.scope,
        )

    def countries(self) -> list[tuple[str, str]]:
        """The countries this viewer may choose: their token's, or every country with an enrolled hotline."""
        resolved = resolve_scope(self.session, Scope.region(), allowed_countries=self.allowed)
        codes = resolved.countries or {h.country for h in hotlines_in_scope(self.session, resolved)}
        return sorted(((code, self.labels.country(code)) for code in codes), key=lambda item: item[1])

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        pages: Pages = self.request.app.state.dashboard_pages
        principal = self.viewer.principal
        return pages.render(
            self.request,
            template,
            status=status,
            viewer=principal,
            csrf=self.viewer.csrf,
            navigation=NAVIGATION,
            countries=self.countries(),
            labels=self.labels,
            tables=self.tables,
            export_formats=EXPORT_FORMATS,
            **context,
        )


def _attempt(action: Callable[[], Any]) -> tuple[Any, HubError | None]:
    """Run a service call; a refusal (4xx) comes back to show on the page, a failure (5xx) propagates."""
    try:
        return action(), None
    except HubError as e:
        if e.status_code >= 500:
            raise
        return None, e


# ---------------------------------------------------------------------------------------------- views


@router.get("/trends")
def trends(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    tables = page.tables
    form, error = _attempt(lambda: TrendsForm.parse(page.params, tables))
    form = form or TrendsForm.parse([], tables)
    dimensions = unit_dimensions(tables, form.unit)
    view = None
    if error is None:
        answer, error = _attempt(lambda: page.estimates(form.estimates_query(allowed_countries=page.allowed)))
        if answer is not None:
            split = form.split
            codes = (form.filters.get(split) or dimensions[split].code_names) if split else ()
            view = trends_view(answer, labels=page.labels, split=split, codes=codes, clip=form.clip)
    return page.render(
        "trends.html",
        status=error.status_code if error else 200,
        title=N_("Trends"),
        form=form,
        view=view,
        error=error,
        units=UNIT_NAMES,
        dimensions=dimensions,
        max_series=MAX_SERIES,
        export_params=form.params(),
        api_path=f"/v1/estimates/{form.unit}",
        api_params=form.api_params(),
        sdmx_blocked=form.sdmx_blocked,
    )


@router.get("/corridors")
def corridors(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    tables = page.tables
    form, error = _attempt(lambda: CorridorsForm.parse(page.params, tables))
    form = form or CorridorsForm.parse([], tables)
    view = None
    if error is None:
        answer, error = _attempt(lambda: page.estimates(form.estimates_query(allowed_countries=page.allowed)))
        if answer is not None:
            view = corridor_view(answer, labels=page.labels, top=form.top)
    return page.render(
        "corridors.html",
        status=error.status_code if error else 200,
        title=N_("Corridors"),
        form=form,
        view=view,
        error=error,
        top_choices=TOP_CHOICES,
        dimensions=unit_dimensions(tables, "person"),
        export_params=form.params(),
        api_path="/v1/estimates/person",
        api_params=form.api_params(),
        sdmx_blocked=[],
    )


@router.get("/demography")
def demography(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    tables = page.tables
    form, error = _attempt(lambda: DemographyForm.parse(page.params, tables))
    form = form or DemographyForm.parse([], tables)
    dimensions = unit_dimensions(tables, "person")
    view = None
    if error is None:
        answer, error = _attempt(lambda: page.estimates(form.estimates_query(allowed_countries=page.allowed)))
        if answer is not None:
            view = demography_view(
                answer,
                labels=page.labels,
                age=form.age,
                ages=dimensions[form.age].code_names,
                genders=dimensions["gender"].code_names,
            )
    return page.render(
        "demography.html",
        status=error.status_code if error else 200,
        title=N_("Demography"),
        form=form,
        view=view,
        error=error,
        dimensions=dimensions,
        export_params=form.params(),
        api_path="/v1/estimates/person",
        api_params=form.api_params(),
        sdmx_blocked=[],
    )


@router.get("/completeness")
def completeness(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    form, error = _attempt(lambda: CompletenessForm.parse(page.params))
    form = form or CompletenessForm.parse([])
    view = None
    if error is None:
        result, error = _attempt(lambda: page.completeness(form))
        if result is not None:
            view = completeness_view(result, labels=page.labels)
    return page.render(
        "completeness.html",
        status=error.status_code if error else 200,
        title=N_("Reporting completeness"),
        form=form,
        view=view,
        error=error,
        export_params=form.params(),
        api_path="/v1/completeness",
        api_params=form.params(),
        sdmx_blocked=[],
    )


@router.get("/pivot")
def pivot(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    tables = page.tables
    form, error = _attempt(lambda: PivotForm.parse(page.params, tables))
    form = form or PivotForm.parse([], tables)
    view = None
    if error is None:

        def total(group_by: tuple[str, ...]) -> EstimatesAnswer:
            return page.estimates(form.question(group_by, allowed_countries=page.allowed))

        answer, error = _attempt(lambda: page.estimates(form.estimates_query(allowed_countries=page.allowed)))
        if answer is not None:
            view, error = _attempt(lambda: pivot_view(form, answer, labels=page.labels, total=total))
    return page.render(
        "pivot.html",
        status=error.status_code if error else 200,
        title=N_("Custom table"),
        form=form,
        view=view,
        error=error,
        units=UNIT_NAMES,
        dimensions=unit_dimensions(tables, form.unit),
        max_rows=MAX_ROWS,
        max_columns=MAX_COLUMNS,
        export_params=form.params(),
        api_path=f"/v1/estimates/{form.unit}",
        api_params=form.api_params(),
        sdmx_blocked=form.sdmx_blocked,
    )


# ---------------------------------------------------------------------------------------------- exports


@router.get("/{view}/export")
def export(
    view: str,
    request: Request,
    viewer: ViewerDep,
    session: ReadSessionDep,
    context: ContextDep,
    format: str = "csv",
) -> Response:
    """The answer behind a view, as a file: CSV, JSON (the API's body) or SDMX-CSV, naming its checkpoint."""
    page = _Page(request, viewer, session, context)
    params = [(name, value) for name, value in page.params if name != "format"]
    try:
        if format not in _MEDIA:
            raise InvalidQuery(f"format must be csv, json or sdmx-csv; got {format!r}")
        output: ExportFormat = format
        if view == "completeness":
            form = CompletenessForm.parse(params)
            return _completeness_file(_in_english(lambda: page.completeness(form)), output)
        tables = page.tables
        parsers: dict[str, Callable[[], TrendsForm | CorridorsForm | DemographyForm | PivotForm]] = {
            "pivot": lambda: PivotForm.parse(params, tables),
            "trends": lambda: TrendsForm.parse(params, tables),
            "corridors": lambda: CorridorsForm.parse(params, tables),
            "demography": lambda: DemographyForm.parse(params, tables),
        }
        if view not in parsers:
            raise NotFound(f"there is no dashboard view {view!r}")
        query = parsers[view]().estimates_query(allowed_countries=page.allowed)
        return _estimates_file(_in_english(lambda: page.estimates(query)), output, tables)
    except HubError as e:
        if e.status_code >= 500:
            raise
        return page.render("error.html", status=e.status_code, title=N_("Export failed"), error=e, view=None)


def _in_english(action: Callable[[], _T]) -> _T:
    """What a file holds is worded in English, whatever the page's language (a JSON export is the API's body, byte
    for byte: its notes too); a refusal is asked again in the page's language, to be shown on the error page."""
    try:
        with i18n.using(i18n.DEFAULT_LANGUAGE):
            return action()
    except HubError as e:
        if e.status_code >= 500:
            raise
        action()
        raise


def _estimates_file(answer: EstimatesAnswer, output: ExportFormat, tables: dict[str, Table]) -> Response:
    """The answer as ``GET /v1/estimates`` gives it (CSV, JSON) or as SDMX-CSV; the file is named like the API's
    CSV, plus the checkpoint."""
    if output == "csv":
        body = estimates_to_csv(answer)
    elif output == "json":
        body = answer.model_dump_json()
    else:
        body = estimates_to_sdmx_csv(answer, tables)
    return _file(body, output, estimates_filename(answer, _MEDIA[output][1]))


def _completeness_file(result: CompletenessResult, output: ExportFormat) -> Response:
    if output == "csv":
        body = completeness_to_csv(result)
    elif output == "json":
        body = CompletenessPublic.from_result(result).model_dump_json()
    else:
        body = completeness_to_sdmx_csv(result)
    return _file(body, output, completeness_filename(result, _MEDIA[output][1]))


def _file(body: str, output: ExportFormat, name: str) -> Response:
    media_type = _MEDIA[output][0]
    response = Response(
        content=body.encode("utf-8"),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return secure(response)
