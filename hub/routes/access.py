# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/audit/access-log`` (role auditor): every coordinator request, in order, as JSON or CSV.

Page with ``after`` (the last ``id`` seen) until ``next_after`` is null; narrow with ``token_id`` or ``since``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from hub.deps import ReadSessionDep, require
from hub.errors import BadRequest
from hub.schemas import MAX_ID, MAX_INDEX
from hub.services.access_log import MAX_PAGE, AccessEntry, AccessLogService, access_log_to_csv
from hub.services.tokens import Principal
from protocol.errors import ProtocolError
from protocol.messages import format_timestamp, parse_timestamp

__all__ = ["router"]

router = APIRouter(tags=["audit"])
AuditorDep = Annotated[Principal, Depends(require("auditor"))]
_CSV: Final = "text/csv; charset=utf-8"


class AccessRecordPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: str
    token_id: int
    role: str
    label: str
    countries: list[str] | None
    method: str
    path: str
    query: str
    status: int


class AccessLogPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    records: list[AccessRecordPublic]
    #: Pass as ``after`` for the next page; null when this page is the last.
    next_after: int | None


def _public(entry: AccessEntry) -> AccessRecordPublic:
    return AccessRecordPublic(
        id=entry.id,
        at=format_timestamp(entry.at),
        token_id=entry.token_id,
        role=entry.role,
        label=entry.label,
        countries=list(entry.countries) if entry.countries is not None else None,
        method=entry.method,
        path=entry.path,
        query=entry.query,
        status=entry.status,
    )


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ProtocolError:
        raise BadRequest(f"since is a UTC time such as 2026-11-01T00:00:00Z, not {value!r}") from None


@router.get(
    "/v1/audit/access-log",
    response_model=AccessLogPublic,
    summary="Coordinator requests: who asked what, when (JSON or CSV)",
    responses={200: {"content": {"text/csv": {}}}, 400: {"description": "since is not a UTC time"}},
)
def access_log(
    _auditor: AuditorDep,
    session: ReadSessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_INDEX, description="return records with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    token_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this token's requests")] = None,
    since: Annotated[str | None, Query(description="only requests at or after this UTC time")] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> AccessLogPublic | Response:
    entries = AccessLogService(session).page(after=after, limit=limit, token_id=token_id, since=_since(since))
    if output == "csv":
        return Response(
            access_log_to_csv(entries).encode("utf-8"),
            media_type=_CSV,
            headers={"Content-Disposition": 'attachment; filename="tipshare-access-log.csv"'},
        )
    next_after = entries[-1].id if len(entries) == limit else None
    return AccessLogPublic(records=[_public(entry) for entry in entries], next_after=next_after)
