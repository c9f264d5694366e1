# SPDX-License-Identifier: Apache-2.0
"""Response bodies of ``GET /v1/stats/{table}`` (:class:`protocol.api.StatsAnswer`) and ``GET /v1/completeness``
(shown in the OpenAPI schema).

Built from the services' results (``stats_answer``, ``from_result``); the services define what every field means
(:mod:`hub.services.stats`, :mod:`hub.services.completeness`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from hub.services.completeness import CompletenessResult, Status
from hub.services.scope import Scope, ScopeLevel
from hub.services.stats import CheckpointRef, StatsResult, StatsRow
from protocol.api import StatsAnswer

__all__ = [
    "CheckpointRefPublic",
    "CompletenessPublic",
    "CompletenessRowPublic",
    "PeriodSummaryPublic",
    "ScopePublic",
    "stats_answer",
    "stats_answer_json",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckpointRefPublic(_Body):
    """The signed log state the answer was computed from."""

    origin: Annotated[str | None, Field(description="The log's origin line; null while the log is empty")]
    size: Annotated[int, Field(description="Tree size: the number of log entries the answer reflects")]
    root_hash: Annotated[str, Field(description="Merkle root of that tree, base64")]
    note: Annotated[str | None, Field(description="The C2SP signed checkpoint note, verifiable with the log key")]

    @classmethod
    def from_ref(cls, ref: CheckpointRef) -> CheckpointRefPublic:
        return cls(origin=ref.origin, size=ref.size, root_hash=ref.root_hash_b64, note=ref.note)


class ScopePublic(_Body):
    level: ScopeLevel
    code: Annotated[str | None, Field(description="Country code or hotline id; null for the region")]
    countries: Annotated[
        list[str] | None,
        Field(description="When the token is limited to some countries: the countries the answer covers"),
    ]

    @classmethod
    def from_scope(cls, scope: Scope, countries: tuple[str, ...] | None) -> ScopePublic:
        return cls(level=scope.level, code=scope.code, countries=list(countries) if countries is not None else None)


#: The service's rows as JSON, written by pydantic-core straight from the row objects (no model, no dict per row).
_ROWS: Final = TypeAdapter(list[StatsRow])
_NO_ROWS: Final = b'"rows":[]}'


def stats_answer_json(result: StatsResult) -> bytes:
    """The bytes of :func:`stats_answer`, written without building a model per row: the answer without its rows
    through :class:`protocol.api.StatsAnswer`, then the rows (its last field) serialised from the service's
    :class:`~hub.services.stats.StatsRow` objects, whose fields are the model's, in its order."""
    head = stats_answer(result, rows=()).model_dump_json().encode()
    if not head.endswith(_NO_ROWS):  # pragma: no cover - rows is the model's last field
        raise RuntimeError("StatsAnswer no longer ends with its rows")
    return head[: -len(_NO_ROWS)] + b'"rows":' + _ROWS.dump_json(list(result.rows)) + b"}"


def stats_answer(result: StatsResult, *, rows: Sequence[StatsRow] | None = None) -> StatsAnswer:
    """The answer of ``GET /v1/stats/{table}`` (:class:`protocol.api.StatsAnswer`, the auditor's contract too),
    validated in one pass by pydantic-core, the rows read from the service's row objects (``from_attributes``);
    ``rows`` replaces the result's (:func:`stats_answer_json` writes them itself)."""
    return StatsAnswer.model_validate(
        {
            "table": result.table,
            "description": result.description,
            "unit": result.unit,
            "unit_label": result.unit_label,
            "taxonomy": {"id": result.taxonomy_id, "hash": result.taxonomy_hash},
            "group_by": list(result.group_by),
            "filters": {name: list(codes) for name, codes in result.filters.items()},
            "scope": {
                "level": result.scope.level,
                "code": result.scope.code,
                "countries": list(result.countries) if result.countries is not None else None,
            },
            "period_from": result.period_from,
            "period_to": result.period_to,
            "periods_with_data": list(result.periods_with_data),
            "confidence": result.confidence,
            "clip_negative": result.clip_negative,
            "clip": result.clip,
            "checkpoint": {
                "origin": result.checkpoint.origin,
                "size": result.checkpoint.size,
                "root_hash": result.checkpoint.root_hash_b64,
                "note": result.checkpoint.note,
            },
            "generated_at": result.generated_at,
            "notes": list(result.notes),
            "rows": list(result.rows if rows is None else rows),
        },
        from_attributes=True,
    )


class CompletenessRowPublic(_Body):
    hotline_id: str
    hotline_name: str
    country: str
    period: str
    status: Annotated[Status, Field(description="on_time, late, not_due, missing or not_enrolled")]
    expected: Annotated[bool, Field(description="Enrolled during the month (or reported it anyway)")]
    deadline: datetime
    first_received_at: datetime | None
    latest_received_at: datetime | None
    latest_revision: int | None
    revisions: int
    corrected: Annotated[bool, Field(description="A correction (revision above 1) was received")]


class PeriodSummaryPublic(_Body):
    period: str
    deadline: datetime
    expected: int
    reported: int
    on_time: int
    late: int
    missing: int
    not_due: int
    corrected: int
    reporting_rate: Annotated[float | None, Field(description="reported / expected; null if none expected")]
    on_time_rate: Annotated[float | None, Field(description="on_time / expected; null if none expected")]


class CompletenessPublic(_Body):
    period_from: str
    period_to: str
    deadline_days: Annotated[int, Field(description="Days after a month ends within which a report is on time")]
    scope: ScopePublic
    checkpoint: CheckpointRefPublic
    generated_at: datetime
    periods: list[PeriodSummaryPublic]
    rows: list[CompletenessRowPublic]

    @classmethod
    def from_result(cls, result: CompletenessResult) -> CompletenessPublic:
        return cls(
            period_from=result.period_from,
            period_to=result.period_to,
            deadline_days=result.deadline_days,
            scope=ScopePublic.from_scope(result.scope, result.countries),
            checkpoint=CheckpointRefPublic.from_ref(result.checkpoint),
            generated_at=result.generated_at,
            periods=[
                PeriodSummaryPublic(
                    period=p.period,
                    deadline=p.deadline,
                    expected=p.expected,
                    reported=p.reported,
                    on_time=p.on_time,
                    late=p.late,
                    missing=p.missing,
                    not_due=p.not_due,
                    corrected=p.corrected,
                    reporting_rate=p.reporting_rate,
                    on_time_rate=p.on_time_rate,
                )
                for p in result.periods
            ],
            rows=[
                CompletenessRowPublic(
                    hotline_id=r.hotline_id,
                    hotline_name=r.hotline_name,
                    country=r.country,
                    period=r.period,
                    status=r.status,
                    expected=r.expected,
                    deadline=r.deadline,
                    first_received_at=r.first_received_at,
                    latest_received_at=r.latest_received_at,
                    latest_revision=r.latest_revision,
                    revisions=r.revisions,
                    corrected=r.corrected,
                )
                for r in result.rows
            ],
        )
