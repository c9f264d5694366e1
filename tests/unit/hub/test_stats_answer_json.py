# SPDX-License-Identifier: Apache-2.0
"""The bytes the hub sends for ``GET /v1/stats/{table}`` are exactly :class:`protocol.api.StatsAnswer`'s own."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from hub.schemas_stats import stats_answer, stats_answer_json
from hub.services.scope import Scope
from hub.services.stats import CheckpointRef, StatsResult, StatsRow
from protocol.api import StatsAnswer


def _result(*, clip: bool, countries: tuple[str, ...] | None) -> StatsResult:
    rows = (
        StatsRow(
            keys={"period": "2026-08", "citizenship": "UA"},
            estimate=-3,
            ci95_low=-25,
            ci95_high=19,
            display_estimate=0 if clip else None,
            std=10.5,
            interval_method="exact",
            coverage=0.9512345678901234,
            hotlines_reporting=2,
            hotlines_expected=3,
            obs_status="U",
            wide_interval=True,
        ),
        StatsRow(
            keys={"period": "2026-09", "citizenship": "UA"},
            estimate=None,
            ci95_low=None,
            ci95_high=None,
            std=None,
            interval_method=None,
            coverage=None,
            hotlines_reporting=0,
            hotlines_expected=3,
            obs_status="O",
            wide_interval=False,
        ),
    )
    return StatsResult(
        table="persons",
        description="Potential victims",
        unit="person",
        unit_label="potential victims reported to hotlines",
        taxonomy_id="tipshare-taxonomy/2",
        taxonomy_hash="sha256:" + "ab" * 32,
        group_by=("period", "citizenship"),
        filters=MappingProxyType({"citizenship": ("UA", "MD")}),
        scope=Scope.region(),
        countries=countries,
        period_from="2026-08",
        period_to="2026-09",
        periods_with_data=("2026-08",),
        confidence=0.95,
        clip=clip,
        checkpoint=CheckpointRef(size=9, root_hash=bytes(range(32)), note="origin\n9\nroot\n\n— sig\n"),
        generated_at=datetime(2026, 10, 1, 12, 30, tzinfo=UTC),
        notes=('a note with "quotes" and ünïcode',),
        rows=rows,
    )


@pytest.mark.parametrize(("clip", "countries"), [(False, None), (True, ("MD", "UA"))])
def test_the_rows_written_from_the_service_objects_are_the_models_bytes(
    clip: bool, countries: tuple[str, ...] | None
) -> None:
    result = _result(clip=clip, countries=countries)
    body = stats_answer_json(result)
    assert body == stats_answer(result).model_dump_json().encode()
    assert StatsAnswer.model_validate_json(body, strict=True) == stats_answer(result)


def test_an_answer_without_rows() -> None:
    result = _result(clip=False, countries=None)
    empty = dataclasses.replace(result, rows=())
    assert stats_answer_json(empty) == stats_answer(empty).model_dump_json().encode()
