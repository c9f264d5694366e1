# SPDX-License-Identifier: Apache-2.0
"""The dashboard's four views and their exports, for a signed-in coordinator or auditor.

=======================  =====================================================================================
``GET /trends``          monthly estimates with 95% interval bands, any table, filters, lines by one dimension
``GET /corridors``       citizenship × country of exploitation heat map, and the largest corridors
``GET /demography``      gender × age band, for one exploitation type or all
``GET /completeness``    which hotline reported which month: on time, late, missing, corrected
``GET /<view>/export``   the view's answer as ``format=csv``, ``json`` (as the API) or ``sdmx-csv``
=======================  =====================================================================================

Each view reads through :class:`~hub.services.stats.StatsService` or
:class:`~hub.services.completeness.CompletenessService`, limited to the token's countries, and answers a plain GET
form, so every view is a bookmarkable URL. A question the services refuse (a bad period, a country outside the
token's) shows the form again with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.dashboard.auth import Viewer, ViewerDep
from hub.dashboard.labels import Labels
from hub.dashboard.pages import Pages, secure
from hub.dashboard.queries import (
    MAX_SERIES,
    TOP_CHOICES,
    CompletenessForm,
    CorridorsForm,
    DemographyForm,
    Params,
    TrendsForm,
)
from hub.dashboard.views import completeness_view, corridor_view, demography_view, trends_view
from hub.deps import ContextDep, ReadSessionDep
from hub.errors import HubError, InvalidQuery, NotFound
from hub.schemas_stats import CompletenessPublic, StatsPublic
from hub.services.completeness import CompletenessResult, CompletenessService, completeness_to_csv
from hub.services.exports import SDMX_CSV_MEDIA_TYPE, completeness_to_sdmx_csv, stats_to_sdmx_csv
from hub.services.scope import Scope, hotlines_in_scope, resolve_scope
from hub.services.stats import StatsQuery, StatsResult, StatsService, stats_to_csv

__all__ = ["NAVIGATION", "router"]

router = APIRouter(include_in_schema=False)

#: The views, in the order the navigation lists them: (path, label).
NAVIGATION: Final = (
    ("/trends", "Trends"),
    ("/corridors", "Corridors"),
    ("/demography", "Demography"),
    ("/completeness", "Completeness"),
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

    @property
    def params(self) -> Params:
        return self.request.query_params.multi_items()

    @property
    def labels(self) -> Labels:
        return Labels(self.context.taxonomy)

    @property
    def allowed(self) -> frozenset[str] | None:
        return self.viewer.principal.countries

    def stats(self, query: StatsQuery) -> StatsResult:
        return StatsService(self.session, self.context.taxonomy).query(query, now=self.context.clock())

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
            taxonomy=self.context.taxonomy,
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
    taxonomy = context.taxonomy
    form, error = _attempt(lambda: TrendsForm.parse(page.params, taxonomy))
    form = form or TrendsForm.parse([], taxonomy)
    view = None
    if error is None:
        result, error = _attempt(lambda: page.stats(form.stats_query(allowed_countries=page.allowed)))
        if result is not None:
            split = form.split
            codes = form.filters.get(split) or taxonomy.dimensions[split].code_names if split else ()
            view = trends_view(result, labels=page.labels, split=split, codes=codes)
    sdmx_blocked = sorted(name for name, codes in form.filters.items() if name != form.split and len(codes) > 1)
    return page.render(
        "trends.html",
        status=error.status_code if error else 200,
        title="Trends",
        form=form,
        view=view,
        error=error,
        max_series=MAX_SERIES,
        export_params=form.params(),
        sdmx_blocked=sdmx_blocked,
    )


@router.get("/corridors")
def corridors(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    form, error = _attempt(lambda: CorridorsForm.parse(page.params, context.taxonomy))
    form = form or CorridorsForm.parse([], context.taxonomy)
    view = None
    if error is None:
        result, error = _attempt(lambda: page.stats(form.stats_query(allowed_countries=page.allowed)))
        if result is not None:
            view = corridor_view(result, labels=page.labels, top=form.top)
    return page.render(
        "corridors.html",
        status=error.status_code if error else 200,
        title="Corridors",
        form=form,
        view=view,
        error=error,
        top_choices=TOP_CHOICES,
        export_params=form.params(),
        sdmx_blocked=[],
    )


@router.get("/demography")
def demography(request: Request, viewer: ViewerDep, session: ReadSessionDep, context: ContextDep) -> Response:
    page = _Page(request, viewer, session, context)
    taxonomy = context.taxonomy
    form, error = _attempt(lambda: DemographyForm.parse(page.params, taxonomy))
    form = form or DemographyForm.parse([], taxonomy)
    view = None
    if error is None:
        result, error = _attempt(lambda: page.stats(form.stats_query(allowed_countries=page.allowed)))
        if result is not None:
            view = demography_view(
                result,
                labels=page.labels,
                ages=taxonomy.dimensions["age_band"].code_names,
                genders=taxonomy.dimensions["gender"].code_names,
            )
    return page.render(
        "demography.html",
        status=error.status_code if error else 200,
        title="Demography",
        form=form,
        view=view,
        error=error,
        export_params=form.params(),
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
        title="Reporting completeness",
        form=form,
        view=view,
        error=error,
        export_params=form.params(),
        sdmx_blocked=[],
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
            return _completeness_file(page.completeness(CompletenessForm.parse(params)), output)
        taxonomy = context.taxonomy
        parsers: dict[str, Callable[[], TrendsForm | CorridorsForm | DemographyForm]] = {
            "trends": lambda: TrendsForm.parse(params, taxonomy),
            "corridors": lambda: CorridorsForm.parse(params, taxonomy),
            "demography": lambda: DemographyForm.parse(params, taxonomy),
        }
        if view not in parsers:
            raise NotFound(f"there is no dashboard view {view!r}")
        result = page.stats(parsers[view]().stats_query(allowed_countries=page.allowed))
        return _stats_file(result, output, view, page)
    except HubError as e:
        if e.status_code >= 500:
            raise
        return page.render("error.html", status=e.status_code, title="Export failed", error=e, view=None)


def _stats_file(result: StatsResult, output: ExportFormat, view: str, page: _Page) -> Response:
    if output == "csv":
        body = stats_to_csv(result)
    elif output == "json":
        body = StatsPublic.from_result(result).model_dump_json()
    else:
        body = stats_to_sdmx_csv(result, page.context.taxonomy.table(result.table))
    name = f"tipshare_{view}_{result.table}_{result.period_from}_{result.period_to}_checkpoint-{result.checkpoint.size}"
    return _file(body, output, name)


def _completeness_file(result: CompletenessResult, output: ExportFormat) -> Response:
    if output == "csv":
        body = completeness_to_csv(result)
    elif output == "json":
        body = CompletenessPublic.from_result(result).model_dump_json()
    else:
        body = completeness_to_sdmx_csv(result)
    name = f"tipshare_completeness_{result.period_from}_{result.period_to}_checkpoint-{result.checkpoint.size}"
    return _file(body, output, name)


def _file(body: str, output: ExportFormat, name: str) -> Response:
    media_type, extension = _MEDIA[output]
    response = Response(
        content=body.encode("utf-8"),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )
    return secure(response)
