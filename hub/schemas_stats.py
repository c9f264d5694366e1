# SPDX-License-Identifier: Apache-2.0
"""Response bodies of ``GET /v1/stats/{table}`` and ``GET /v1/completeness`` (shown in the OpenAPI schema).

Built from the services' results with ``from_result``; the services define what every field means
(:mod:`hub.services.stats`, :mod:`hub.services.completeness`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.schemas import TaxonomyRefPublic
from hub.services.completeness import CompletenessResult, Status
from hub.services.scope import Scope, ScopeLevel
from hub.services.stats import CheckpointRef, ObsStatus, StatsResult

__all__ = [
    "CheckpointRefPublic",
    "CompletenessPublic",
    "CompletenessRowPublic",
    "PeriodSummaryPublic",
    "ScopePublic",
    "StatsPublic",
    "StatsRowPublic",
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


class StatsRowPublic(_Body):
    keys: Annotated[dict[str, str], Field(description="Group keys: dimension name → code, and period → YYYY-MM")]
    estimate: Annotated[
        int | None, Field(description="Unbiased sum of noisy counts (may be negative); null if nobody reported")
    ]
    ci95_low: Annotated[int | None, Field(description="estimate − half-width of the 95% interval (not clipped)")]
    ci95_high: Annotated[int | None, Field(description="estimate + half-width of the 95% interval")]
    display_estimate: Annotated[
        int | None, Field(description="max(0, estimate), for display only; present when clip=true")
    ]
    std: Annotated[float | None, Field(description="Standard deviation of the noise in the estimate")]
    interval_method: Literal["exact", "normal"] | None
    coverage: Annotated[float | None, Field(description="Probability that the interval holds the noise-free sum")]
    hotlines_reporting: Annotated[int, Field(description="Hotlines in scope that reported the table")]
    hotlines_expected: Annotated[int, Field(description="Hotlines in scope expected to report (enrolled)")]
    obs_status: Annotated[
        ObsStatus, Field(description="SDMX OBS_STATUS: A normal, U low reliability, O missing (nobody reported)")
    ]
    conf_status: Annotated[
        Literal["F"], Field(description="SDMX CONF_STATUS: F free (differential privacy, no suppression)")
    ]
    wide_interval: Annotated[bool, Field(description="The interval is wider than the estimate: half-width > |est|")]


class StatsPublic(_Body):
    table: str
    description: str
    unit: Annotated[str, Field(description="Taxonomy counting unit: person, case or contact")]
    unit_label: Annotated[str, Field(description="What the numbers count, e.g. potential victims reported to hotlines")]
    taxonomy: TaxonomyRefPublic
    group_by: list[str]
    filters: dict[str, list[str]]
    scope: ScopePublic
    period_from: str
    period_to: str
    periods_with_data: Annotated[list[str], Field(description="Months in range that some hotline in scope reported")]
    confidence: float
    clip_negative: Annotated[Literal[False], Field(description="Estimates and intervals are never clipped at zero")]
    clip: Annotated[bool, Field(description="Whether display_estimate was requested")]
    checkpoint: CheckpointRefPublic
    generated_at: datetime
    notes: list[str]
    rows: list[StatsRowPublic]

    @classmethod
    def from_result(cls, result: StatsResult) -> StatsPublic:
        return cls(
            table=result.table,
            description=result.description,
            unit=result.unit,
            unit_label=result.unit_label,
            taxonomy=TaxonomyRefPublic(id=result.taxonomy_id, hash=result.taxonomy_hash),
            group_by=list(result.group_by),
            filters={name: list(codes) for name, codes in result.filters.items()},
            scope=ScopePublic.from_scope(result.scope, result.countries),
            period_from=result.period_from,
            period_to=result.period_to,
            periods_with_data=list(result.periods_with_data),
            confidence=result.confidence,
            clip_negative=result.clip_negative,
            clip=result.clip,
            checkpoint=CheckpointRefPublic.from_ref(result.checkpoint),
            generated_at=result.generated_at,
            notes=list(result.notes),
            rows=[
                StatsRowPublic(
                    keys=dict(row.keys),
                    estimate=row.estimate,
                    ci95_low=row.ci95_low,
                    ci95_high=row.ci95_high,
                    display_estimate=row.display_estimate,
                    std=row.std,
                    interval_method=row.interval_method,
                    coverage=row.coverage,
                    hotlines_reporting=row.hotlines_reporting,
                    hotlines_expected=row.hotlines_expected,
                    obs_status=row.obs_status,
                    conf_status=row.conf_status,
                    wide_interval=row.wide_interval,
                )
                for row in result.rows
            ],
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
