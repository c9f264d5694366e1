# SPDX-License-Identifier: Apache-2.0
"""A month backfilled years before the others leaves a long stretch of months nobody released. ``verify`` asks the
answers grouped by a dimension only for the months with data (the totals by period still cover every month), so
the stretch costs next to nothing, and the verdict is the same: an honest hub passes, a hub that claims data in
the stretch or forges a cell of the backfilled month is caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditor.stats import month_range
from tests.support.auditkit import TABLES, Wire, admin, audit, cells, populate
from tests.support.hubs import HubUnderTest, start_hub

BACKFILLED = "2019-03"
REGION_ONLY = "--region-only"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        populate(started)  # releases for 2026-09 and 2026-10
        admin(started, "/v1/admin/hotlines/ua-a/policy", {"max_monthly_volume": 20, "first_period": BACKFILLED})
        admin(
            started,
            "/v1/admin/hotlines/ua-a/backfills",
            {"first_period": BACKFILLED, "last_period": BACKFILLED, "reason": "the 2019 paper files"},
        )
        started.submit_cells("ua-a", BACKFILLED, cells(started.context.taxonomy, 60), tables=TABLES)
        yield started


def _months_asked(request: httpx.Request) -> list[str]:
    params = request.url.params
    return month_range(params["period_from"], params["period_to"])


def _grouping(request: httpx.Request) -> list[str]:
    return [name for name in request.url.params.get("group_by", "").split(",") if name]


def test_a_gap_of_years_does_not_change_the_verdict_and_is_asked_by_period_only(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    wire = Wire(hub)
    run = audit(hub, tmp_path / "state", REGION_ONLY, wire=wire)

    assert run.code == 0, run.out + run.err
    assert run.document["failures"] == []
    assert BACKFILLED in run.document["periods"]
    with_data = {BACKFILLED, "2026-09", "2026-10"}
    answers = [r for r in wire.requests if r.url.path.startswith(("/v1/stats/", "/v1/estimates/"))]
    by_a_dimension = [r for r in answers if set(_grouping(r)) - {"period"}]
    assert by_a_dimension
    for request in by_a_dimension:  # never a month of the gap
        assert set(_months_asked(request)) <= with_data, request.url
    totals = [r for r in answers if _grouping(r) in (["period"], [])]
    covered = {month for request in totals for month in _months_asked(request)}
    assert set(month_range(BACKFILLED, "2026-10")) <= covered  # the gap is still asked, by period


def _rewrite_region_stats(table: str, group_by: str, change: Any) -> Any:
    def rewrite(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        params = request.url.params
        if request.url.path != f"/v1/stats/{table}" or params.get("group_by") != group_by or "country" in params:
            return response
        answer = json.loads(response.content)
        change(answer)
        return httpx.Response(200, json=answer, headers={"content-type": "application/json"})

    return rewrite


def test_a_hub_claiming_data_in_the_gap_is_caught(hub: HubUnderTest, tmp_path: Path) -> None:
    def claim(answer: dict[str, Any]) -> None:
        row = next(row for row in answer["rows"] if row["keys"] == {"period": "2022-06"})
        assert row["estimate"] is None
        row["estimate"] = 40

    wire = Wire(hub, rewrite=_rewrite_region_stats("contacts", "period", claim))
    run = audit(hub, tmp_path / "state", REGION_ONLY, wire=wire)

    assert run.code == 1, run.out + run.err
    failures = run.failures("statistics")
    assert failures
    assert all(f["keys"] == {"period": "2022-06"} for f in failures), failures


def test_a_forged_cell_of_the_backfilled_month_is_caught(hub: HubUnderTest, tmp_path: Path) -> None:
    taxonomy = hub.context.taxonomy
    grid = ",".join(("period", *taxonomy.table("contacts").dimension_names))

    def forge(answer: dict[str, Any]) -> None:
        for row in answer["rows"][:1]:
            if row["keys"]["period"] == BACKFILLED:  # (the answer for the months of 2026 goes through)
                row["estimate"] += 3

    wire = Wire(hub, rewrite=_rewrite_region_stats("contacts", grid, forge))
    run = audit(hub, tmp_path / "state", REGION_ONLY, wire=wire)

    assert run.code == 1, run.out + run.err
    [failure] = run.failures("statistics")
    assert failure["keys"]["period"] == BACKFILLED
