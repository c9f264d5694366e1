# SPDX-License-Identifier: Apache-2.0
"""Public routes: the hub's identity, its taxonomies, health."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from hub.deps import ContextDep, ReadSessionDep
from protocol.api import HubIdentity, PublishedTaxonomy
from protocol.messages import PROTOCOL_VERSION

__all__ = ["router"]

router = APIRouter(tags=["identity"])


@router.get("/v1/hub", response_model=HubIdentity, summary="The hub's identity: log key, encryption key, taxonomy")
def identity(context: ContextDep) -> HubIdentity:
    taxonomy = context.taxonomy
    return HubIdentity(
        protocol_version=PROTOCOL_VERSION,
        log_origin=context.origin,
        log_vkey=context.log_signer.verifier.vkey,
        encryption_key=context.keys.envelope.public_key.to_text(),
        taxonomy=PublishedTaxonomy(id=taxonomy.id, hash=taxonomy.content_hash),
    )


@router.get("/v1/taxonomy", response_model=list[PublishedTaxonomy], summary="Taxonomies this hub accepts")
def taxonomies(context: ContextDep) -> list[PublishedTaxonomy]:
    return [PublishedTaxonomy(id=t.id, hash=t.content_hash) for t in context.taxonomies.values()]


@router.get(
    "/v1/taxonomy/{taxonomy_id:path}",
    summary="A taxonomy document (its canonical bytes, which hash to its content hash)",
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "This hub has no such taxonomy"}},
)
def taxonomy(taxonomy_id: str, context: ContextDep) -> Response:
    document = context.taxonomy_by_id(taxonomy_id)
    return Response(document.canonical_bytes(), media_type="application/json")


@router.get("/healthz", summary="Liveness and database reachability", tags=["operations"])
def healthz(session: ReadSessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
