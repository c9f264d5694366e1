# SPDX-License-Identifier: Apache-2.0
"""The access log: every coordinator request, who made it and what it asked, for auditors to read.

A coordinator's questions are themselves sensitive (which corridor, which month, which hotline), and a coordinator
who asks many narrow questions is exactly what an auditor wants to see. So every request made with a coordinator
token or dashboard session is recorded **before** its answer leaves the hub: if the record cannot be written,
the answer is withheld (a 503 problem detail). Auditors page through the records
with ``GET /v1/audit/access-log`` (JSON or CSV).

The log is kept in the hub's database: it shows what the hub's software saw, and an operator with database access
could edit it. It is not part of the transparency log (a coordinator's queries are not statistics anyone signs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import BadRequest
from hub.models import AccessRecord
from hub.services.stats import write_csv
from hub.services.tokens import Principal
from protocol.messages import format_timestamp

__all__ = ["MAX_PAGE", "MAX_QUERY_CHARS", "AccessEntry", "AccessLogService", "access_log_to_csv", "should_record"]

#: Most records one page returns.
MAX_PAGE: Final = 1000
#: Longer query strings are cut to this many characters (and end with ``…``).
MAX_QUERY_CHARS: Final = 2000
#: Longest path kept (the column's width).
_MAX_PATH_CHARS: Final = 500


def should_record(principal: Principal | None, path: str) -> bool:
    """Whether a request is a coordinator's (the dashboard's static files are not questions)."""
    return principal is not None and principal.role == "coordinator" and not path.startswith("/static/")


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: int
    at: datetime
    token_id: int
    role: str
    label: str
    countries: tuple[str, ...] | None
    method: str
    path: str
    query: str
    status: int


class AccessLogService:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self, principal: Principal, *, method: str, path: str, query: str, status: int, now: datetime
    ) -> AccessRecord:
        if len(query) > MAX_QUERY_CHARS:
            query = query[: MAX_QUERY_CHARS - 1] + "…"
        record = AccessRecord(
            at=now,
            token_id=principal.token_id,
            role=principal.role,
            label=principal.label,
            countries=",".join(sorted(principal.countries)) if principal.countries is not None else None,
            method=method[:8],
            path=path[:_MAX_PATH_CHARS],
            query=query,
            status=status,
        )
        self._session.add(record)
        self._session.flush()
        return record

    def page(
        self, *, after: int = 0, limit: int = MAX_PAGE, token_id: int | None = None, since: datetime | None = None
    ) -> list[AccessEntry]:
        """Records with ``id > after`` in id order (at most ``limit``), optionally of one token or from ``since``."""
        if after < 0:
            raise BadRequest(f"after is a record id (0 or more), not {after}")
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
        query = select(AccessRecord).where(AccessRecord.id > after).order_by(AccessRecord.id).limit(limit)
        if token_id is not None:
            query = query.where(AccessRecord.token_id == token_id)
        if since is not None:
            query = query.where(AccessRecord.at >= since)
        return [_entry(record) for record in self._session.scalars(query)]


def _entry(record: AccessRecord) -> AccessEntry:
    return AccessEntry(
        id=record.id,
        at=record.at,
        token_id=record.token_id,
        role=record.role,
        label=record.label,
        countries=tuple(record.countries.split(",")) if record.countries else None,
        method=record.method,
        path=record.path,
        query=record.query,
        status=record.status,
    )


def access_log_to_csv(entries: Sequence[AccessEntry]) -> str:
    """The records as CSV (formula-safe cells), one line each; times are UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    header = ["id", "at", "token_id", "role", "label", "countries", "method", "path", "query", "status"]
    lines: list[list[str | int]] = [
        [
            entry.id,
            format_timestamp(entry.at),
            entry.token_id,
            entry.role,
            entry.label,
            "+".join(entry.countries) if entry.countries is not None else "",
            entry.method,
            entry.path,
            entry.query,
            entry.status,
        ]
        for entry in entries
    ]
    return write_csv(header, lines)
