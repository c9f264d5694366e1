# SPDX-License-Identifier: Apache-2.0
"""The access log: every coordinator request, who made it and what it asked, for auditors to read.

A coordinator's questions are themselves sensitive (which corridor, which month, which hotline), and a coordinator
who asks many narrow questions is exactly what an auditor wants to see. So every request made with a coordinator
token or dashboard session is recorded **before** its answer leaves the hub: if the record cannot be written,
the answer is withheld (a 503 problem detail). So is every request any other authenticated principal was refused
(403): a hotline or coordinator token probing ``/v1/admin`` or ``/v1/audit`` leaves a record with its role.

Each record keeps the raw query (refused beyond :data:`MAX_QUERY_CHARS`, and then kept cut to it), the parsed
question (:mod:`hub.services.access_question`) and the request id. Records form a hash chain
(:mod:`protocol.access_chain`): each is appended under the writer lock, after the last one, with the hash of the
last one, so concurrent workers never fork the chain. Every ``checkpoint_every`` records (and on
``tipshare-hub access-log checkpoint``) the hub signs a checkpoint of the chain with its log key. Auditors page
through the records with ``GET /v1/audit/access-log`` (JSON or CSV) and the checkpoints with
``GET /v1/audit/access-log/checkpoints``; ``tipshare-audit access-log verify`` recomputes the chain and reports any
record edited, deleted or reordered.

The log is kept in the hub's database, not in the transparency log: an operator with the database **and** the
log key could rewrite it and sign again; without the key, any change at or before a checkpoint an auditor has
seen shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.errors import BadRequest
from hub.models import AccessCheckpoint, AccessRecord
from hub.services.csv_files import write_csv
from hub.services.scope import as_utc
from hub.services.tokens import Principal
from protocol.access_chain import GENESIS, chain_hash, sign_access_checkpoint
from protocol.access_chain import AccessRecord as ChainRecord
from protocol.canonical import canonical_bytes
from protocol.messages import format_timestamp
from protocol.note import NoteSigner

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "MAX_PAGE",
    "MAX_QUERY_CHARS",
    "AccessCheckpointEntry",
    "AccessEntry",
    "AccessLogService",
    "access_log_to_csv",
    "should_record",
]

#: Most records one page returns.
MAX_PAGE: Final = 1000
#: Longer query strings are refused (414); the refusal keeps the query cut to this many characters (and ``…``).
MAX_QUERY_CHARS: Final = 2000
#: A checkpoint is signed when the chain reaches a multiple of this many records.
DEFAULT_CHECKPOINT_EVERY: Final = 100
#: Longest path kept (the column's width).
_MAX_PATH_CHARS: Final = 500
_MAX_REQUEST_ID_CHARS: Final = 64


def should_record(principal: Principal | None, path: str, status: int) -> bool:
    """Whether a request is recorded: a coordinator's (not the dashboard's static files), or any principal's
    refused one (403: a probe of a route its role may not use, or of a country outside its scope)."""
    if principal is None:
        return False
    return status == 403 or (principal.role == "coordinator" and not path.startswith("/static/"))


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: int
    seq: int
    at: datetime
    token_id: int
    role: str
    label: str
    countries: tuple[str, ...] | None
    method: str
    path: str
    query: str
    question: dict[str, Any] | None
    status: int
    request_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AccessCheckpointEntry:
    size: int
    head: str
    note: str
    signed_at: datetime


class AccessLogService:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        principal: Principal,
        *,
        method: str,
        path: str,
        query: str,
        status: int,
        now: datetime,
        question: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        signer: NoteSigner | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> AccessRecord:
        """Append one record to the chain. Call in a writer transaction (:func:`hub.db.write_session`): the chain's
        head is read and extended under the writer lock. With ``signer``, sign a checkpoint every
        ``checkpoint_every`` records."""
        if len(query) > MAX_QUERY_CHARS:
            query = query[: MAX_QUERY_CHARS - 1] + "…"
        countries = tuple(sorted(principal.countries)) if principal.countries is not None else None
        chained = ChainRecord(
            at=format_timestamp(now),
            token_id=principal.token_id,
            role=principal.role,
            label=principal.label,
            countries=countries,
            method=method[:8],
            path=path[:_MAX_PATH_CHARS],
            query=query,
            question=question,
            status=status,
            request_id=request_id[:_MAX_REQUEST_ID_CHARS] if request_id is not None else None,
        )
        seq, previous = self.head()
        digest = chain_hash(previous, chained)
        record = AccessRecord(
            at=now,
            token_id=chained.token_id,
            role=chained.role,
            label=chained.label,
            countries=",".join(countries) if countries is not None else None,
            method=chained.method,
            path=chained.path,
            query=chained.query,
            status=chained.status,
            question=canonical_bytes(dict(question)).decode("utf-8") if question is not None else None,
            request_id=chained.request_id,
            seq=seq + 1,
            prev_hash=previous.hex(),
            hash=digest.hex(),
        )
        self._session.add(record)
        self._session.flush()
        if signer is not None and checkpoint_every > 0 and record.seq % checkpoint_every == 0:
            self.checkpoint(signer, now=now)
        return record

    def head(self) -> tuple[int, bytes]:
        """``(size, hash of the last record)`` of the chain (``(0, GENESIS)`` when empty)."""
        last = self._session.execute(
            select(AccessRecord.seq, AccessRecord.hash).order_by(AccessRecord.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS) if last is None else (last.seq, bytes.fromhex(last.hash))

    def checkpoint(self, signer: NoteSigner, *, now: datetime) -> AccessCheckpointEntry:
        """Sign the chain's head (in a writer transaction); the existing checkpoint when it is already signed."""
        size, head = self.head()
        existing = self._session.get(AccessCheckpoint, size)
        if existing is None:
            existing = AccessCheckpoint(
                size=size, head=head.hex(), note=sign_access_checkpoint(signer, size, head), signed_at=now
            )
            self._session.add(existing)
            self._session.flush()
        return _checkpoint_entry(existing)

    def checkpoints(self, *, after: int = -1, limit: int = MAX_PAGE) -> list[AccessCheckpointEntry]:
        """Checkpoints with ``size > after`` in size order (at most ``limit``)."""
        query = (
            select(AccessCheckpoint).where(AccessCheckpoint.size > after).order_by(AccessCheckpoint.size).limit(limit)
        )
        return [_checkpoint_entry(row) for row in self._session.scalars(query)]

    def unsigned(self) -> int:
        """Records after the last checkpoint."""
        size = self._session.scalar(select(func.max(AccessCheckpoint.size))) or 0
        return self.head()[0] - size

    def page(
        self, *, after: int = 0, limit: int = MAX_PAGE, token_id: int | None = None, since: datetime | None = None
    ) -> list[AccessEntry]:
        """Records with ``seq > after`` in chain order (at most ``limit``), optionally of one token or from
        ``since``."""
        if after < 0:
            raise BadRequest(f"after is a record's seq (0 or more), not {after}")
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
        query = select(AccessRecord).where(AccessRecord.seq > after).order_by(AccessRecord.seq).limit(limit)
        if token_id is not None:
            query = query.where(AccessRecord.token_id == token_id)
        if since is not None:
            query = query.where(AccessRecord.at >= since)
        return [_entry(record) for record in self._session.scalars(query)]


def _entry(record: AccessRecord) -> AccessEntry:
    return AccessEntry(
        id=record.id,
        seq=record.seq,
        at=as_utc(record.at),
        token_id=record.token_id,
        role=record.role,
        label=record.label,
        countries=tuple(record.countries.split(",")) if record.countries else None,
        method=record.method,
        path=record.path,
        query=record.query,
        question=json.loads(record.question) if record.question is not None else None,
        status=record.status,
        request_id=record.request_id,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def _checkpoint_entry(row: AccessCheckpoint) -> AccessCheckpointEntry:
    return AccessCheckpointEntry(size=row.size, head=row.head, note=row.note, signed_at=as_utc(row.signed_at))


def access_log_to_csv(entries: Sequence[AccessEntry]) -> str:
    """The records as CSV (formula-safe cells), one line each; times are UTC ``YYYY-MM-DDTHH:MM:SSZ``; the parsed
    question is its canonical JSON."""
    header = [
        "seq",
        "id",
        "at",
        "token_id",
        "role",
        "label",
        "countries",
        "method",
        "path",
        "query",
        "question",
        "status",
        "request_id",
        "prev_hash",
        "hash",
    ]
    lines: list[list[str | int]] = [
        [
            entry.seq,
            entry.id,
            format_timestamp(entry.at),
            entry.token_id,
            entry.role,
            entry.label,
            "+".join(entry.countries) if entry.countries is not None else "",
            entry.method,
            entry.path,
            entry.query,
            canonical_bytes(entry.question).decode("utf-8") if entry.question is not None else "",
            entry.status,
            entry.request_id or "",
            entry.prev_hash,
            entry.hash,
        ]
        for entry in entries
    ]
    return write_csv(header, lines)
