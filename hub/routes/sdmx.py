# SPDX-License-Identifier: Apache-2.0
"""Public SDMX structure routes: the data structure definitions, dataflows, codelists and concept scheme that
describe the hub's SDMX-CSV data, as SDMX-ML 2.1 structure messages (:mod:`hub.services.sdmx_structure`).

The paths follow the SDMX REST structure queries under ``/v1/sdmx``::

    GET /v1/sdmx/structure                                          every artefact
    GET /v1/sdmx/dataflow                                           every dataflow (likewise datastructure,
    GET /v1/sdmx/dataflow/TIPSHARE/PERSONS_CORRIDOR/1.0.0           codelist, conceptscheme)
    GET /v1/sdmx/datastructure/TIPSHARE/DSD_PERSON_ESTIMATES/latest?references=descendants

``agency``, ``id`` and ``version`` take ``all`` (or ``*``); ``version`` also ``latest`` (or ``~``).
``references`` (``none``, the default, ``children``, ``descendants`` or ``all``) adds what the artefacts refer to:
a dataflow with ``descendants`` is everything a tool needs to read its data. The structures hold the taxonomies'
codes and labels only (public, like ``/v1/taxonomy``), so no token is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Final, get_args

from fastapi import APIRouter, Query, Request, Response

from hub.deps import ContextDep
from hub.errors import InvalidQuery, NotFound
from hub.services.sdmx_structure import STRUCTURE_MEDIA_TYPE, Artefact, Kind, SdmxCatalogue
from protocol.taxonomy import Taxonomy

__all__ = ["router"]

router = APIRouter(tags=["sdmx"])

_KINDS: Final = frozenset(get_args(Kind))
_RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    200: {"content": {STRUCTURE_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "SDMX-ML 2.1 structure"},
    400: {"description": "An unknown query parameter, or references is not none, children, descendants or all"},
    404: {"description": "No such kind of structure, agency, id or version"},
}
References = Annotated[
    str, Query(description="none (default), children, descendants or all: add the artefacts referred to")
]
_catalogues: dict[tuple[str, ...], SdmxCatalogue] = {}


@router.get("/v1/sdmx/structure", summary="Every SDMX structure of the hub's data", responses=_RESPONSES)
def every_structure(request: Request, context: ContextDep) -> Response:
    """Every dataflow, data structure definition, codelist and the concept scheme, in one SDMX-ML 2.1 message."""
    _check_params(request, frozenset())
    catalogue = _catalogue(context.taxonomies.values())
    return _message(catalogue, catalogue.artefacts(), context)


@router.get("/v1/sdmx/{kind}", summary="Every SDMX structure of one kind", responses=_RESPONSES)
def structures_of_kind(kind: str, request: Request, context: ContextDep, references: References = "none") -> Response:
    """Every ``dataflow``, ``datastructure``, ``codelist`` or ``conceptscheme`` (SDMX-ML 2.1)."""
    return _query(kind, "all", "all", "all", request, context, references)


@router.get(
    "/v1/sdmx/{kind}/{agency}/{resource}/{version}", summary="SDMX structures by REST query", responses=_RESPONSES
)
def structures(
    kind: str,
    agency: str,
    resource: str,
    version: str,
    request: Request,
    context: ContextDep,
    references: References = "none",
) -> Response:
    """The artefacts an SDMX REST structure query names, e.g. ``dataflow/TIPSHARE/PERSONS_CORRIDOR/1.0.0``."""
    return _query(kind, agency, resource, version, request, context, references)


def _query(
    kind: str, agency: str, resource: str, version: str, request: Request, context: ContextDep, references: str
) -> Response:
    _check_params(request, frozenset({"references"}))
    if kind not in _KINDS:
        raise NotFound(f"no SDMX structures of kind {kind!r}: ask for {', '.join(sorted(_KINDS))} or structure")
    catalogue = _catalogue(context.taxonomies.values())
    selected = catalogue.select(kind, agency, resource, version)  # type: ignore[arg-type]  # checked above
    return _message(catalogue, catalogue.with_references(selected, references), context)


def _catalogue(taxonomies: Iterable[Taxonomy]) -> SdmxCatalogue:
    """One catalogue per set of taxonomies (they are immutable; a hub registering one more gets a new one)."""
    accepted = list(taxonomies)
    key = tuple(sorted(t.content_hash for t in accepted))
    if key not in _catalogues:
        _catalogues.clear()
        _catalogues[key] = SdmxCatalogue(accepted)
    return _catalogues[key]


def _message(catalogue: SdmxCatalogue, artefacts: list[Artefact], context: ContextDep) -> Response:
    return Response(catalogue.message(artefacts, prepared=context.clock()), media_type=STRUCTURE_MEDIA_TYPE)


def _check_params(request: Request, known: frozenset[str]) -> None:
    unknown = sorted(name for name in request.query_params if name not in known)
    if unknown:
        accepted = ", ".join(sorted(known)) or "no parameters"
        raise InvalidQuery(f"unknown query parameter(s): {', '.join(unknown)}; this route accepts {accepted}")
    repeated = sorted(name for name in known if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise InvalidQuery(f"query parameter(s) given more than once: {', '.join(repeated)}")
