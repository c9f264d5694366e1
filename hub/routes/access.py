# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/audit/access-log`` (role auditor): every recorded request, in chain order, as JSON or CSV; and
``GET /v1/audit/access-log/checkpoints``: the chain's signed checkpoints.

Page with ``after`` (the last ``seq`` seen) until ``next_after`` is null; narrow with ``token_id`` or ``since``.
Each record carries its parsed ``question``, its ``request_id`` and the chain's ``prev_hash`` and ``hash`` (hex; see
:mod:`protocol.access_chain`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Query, Response

from hub.deps import ReadSessionDep, require
from hub.errors import BadRequest
from hub.schemas import MAX_ID, MAX_INDEX
from hub.services.access_log import (
    MAX_PAGE,
    AccessCheckpointEntry,
    AccessEntry,
    AccessLogService,
    access_log_to_csv,
)
from hub.services.tokens import Principal
from protocol.api import AccessLogCheckpoint, AccessLogCheckpoints, AccessLogPage, AccessLogRecord
from protocol.errors import ProtocolError
from protocol.messages import format_timestamp, parse_timestamp

__all__ = ["router"]

router = APIRouter(tags=["audit"])
AuditorDep = Annotated[Principal, Depends(require("auditor"))]
_CSV: Final = "text/csv; charset=utf-8"


def _public(entry: AccessEntry) -> AccessLogRecord:
    return AccessLogRecord(
        seq=entry.seq,
        id=entry.id,
        at=format_timestamp(entry.at),
        token_id=entry.token_id,
        role=entry.role,
        label=entry.label,
        countries=list(entry.countries) if entry.countries is not None else None,
        method=entry.method,
        path=entry.path,
        query=entry.query,
        question=entry.question,
        status=entry.status,
        request_id=entry.request_id,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
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
    response_model=AccessLogPage,
    summary="Coordinator requests and refused probes: who asked what, when (JSON or CSV), hash-chained",
    responses={200: {"content": {"text/csv": {}}}, 400: {"description": "since is not a UTC time"}},
)
def access_log(
    _auditor: AuditorDep,
    session: ReadSessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_INDEX, description="return records with a larger seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    token_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this token's requests")] = None,
    since: Annotated[str | None, Query(description="only requests at or after this UTC time")] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> AccessLogPage | Response:
    entries = AccessLogService(session).page(after=after, limit=limit, token_id=token_id, since=_since(since))
    if output == "csv":
        return Response(
            access_log_to_csv(entries).encode("utf-8"),
            media_type=_CSV,
            headers={"Content-Disposition": 'attachment; filename="tipshare-access-log.csv"'},
        )
    next_after = entries[-1].seq if len(entries) == limit else None
    return AccessLogPage(records=[_public(entry) for entry in entries], next_after=next_after)


@router.get(
    "/v1/audit/access-log/checkpoints",
    response_model=AccessLogCheckpoints,
    summary="The access log's signed checkpoints (size and head hash of its chain), in size order",
)
def access_log_checkpoints(
    _auditor: AuditorDep,
    session: ReadSessionDep,
    after: Annotated[int, Query(ge=-1, le=MAX_INDEX, description="return checkpoints with a larger size")] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> AccessLogCheckpoints:
    found = AccessLogService(session).checkpoints(after=after, limit=limit)
    next_after = found[-1].size if len(found) == limit else None
    return AccessLogCheckpoints(checkpoints=[_checkpoint(entry) for entry in found], next_after=next_after)


def _checkpoint(entry: AccessCheckpointEntry) -> AccessLogCheckpoint:
    return AccessLogCheckpoint(
        size=entry.size, head=entry.head, note=entry.note, signed_at=format_timestamp(entry.signed_at)
    )
