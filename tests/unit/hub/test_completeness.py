# SPDX-License-Identifier: Apache-2.0
"""Reporting completeness: statuses, deadlines, enrolment, scopes, summaries and CSV, with a fixed clock."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from hub.db import read_session
from hub.errors import Forbidden, InvalidQuery, NotFound
from hub.services.completeness import CompletenessResult, CompletenessService, completeness_to_csv
from hub.services.scope import Scope
from hub.settings import Settings
from tests.unit.hub.stats_data import CHECKPOINT_ROOT, Dataset, build, utc

NOW = utc(2026, 5, 1, 12)
EVIL_NAME = '=HYPERLINK("http://example.org/x","click")'


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return build(tmp_path_factory.mktemp("completeness"), display_names={"ua-gone": EVIL_NAME})


def grid(
    data: Dataset,
    period_from: str | None = "2026-01",
    period_to: str | None = "2026-04",
    *,
    now: datetime = NOW,
    deadline_days: int = 15,
    allowed_countries: frozenset[str] | None = None,
    scope: Scope | None = None,
) -> CompletenessResult:
    settings = Settings(data_dir=Path("/nonexistent"), deadline_days=deadline_days)
    with read_session(data.sessions) as session:
        return CompletenessService(session, settings).grid(
            period_from, period_to, now=now, allowed_countries=allowed_countries, scope=scope
        )


def statuses(result: CompletenessResult) -> dict[tuple[str, str], str]:
    return {(row.hotline_id, row.period): row.status for row in result.rows}


def test_every_status_with_a_fixed_clock(data: Dataset) -> None:
    result = grid(data)
    assert statuses(result) == {
        # Enrolled 2026-02-15; January reported as a backfill, whose deadline counts from enrolment.
        ("md-one", "2026-01"): "on_time",
        ("md-one", "2026-02"): "on_time",
        ("md-one", "2026-03"): "on_time",
        ("md-one", "2026-04"): "not_due",  # deadline 2026-05-16
        # Its only key was revoked on 2025-12-05: never expected in 2026.
        ("ua-gone", "2026-01"): "not_enrolled",
        ("ua-gone", "2026-02"): "not_enrolled",
        ("ua-gone", "2026-03"): "not_enrolled",
        ("ua-gone", "2026-04"): "not_enrolled",
        ("ua-one", "2026-01"): "on_time",
        ("ua-one", "2026-02"): "on_time",  # corrected later; the first revision was on time
        ("ua-one", "2026-03"): "late",  # received 2026-04-20, deadline 2026-04-16
        ("ua-one", "2026-04"): "not_due",
        ("ua-two", "2026-01"): "on_time",
        ("ua-two", "2026-02"): "on_time",  # received 00:00:00.4 on the deadline: on time in whole seconds, as logged
        ("ua-two", "2026-03"): "missing",
        ("ua-two", "2026-04"): "not_due",
    }
    assert [row.hotline_id for row in result.rows][::4] == ["md-one", "ua-gone", "ua-one", "ua-two"]  # country, id


def test_received_times_revisions_and_corrections(data: Dataset) -> None:
    rows = {(row.hotline_id, row.period): row for row in grid(data).rows}
    corrected = rows[("ua-one", "2026-02")]
    assert corrected.corrected
    assert (corrected.revisions, corrected.latest_revision) == (2, 2)
    assert corrected.first_received_at == utc(2026, 3, 5, 9)
    assert corrected.latest_received_at == utc(2026, 3, 20, 9)
    assert corrected.deadline == utc(2026, 3, 16)
    once = rows[("ua-one", "2026-01")]
    assert (once.corrected, once.revisions, once.latest_revision) == (False, 1, 1)
    missing = rows[("ua-two", "2026-03")]
    assert (missing.first_received_at, missing.latest_received_at, missing.latest_revision) == (None, None, None)
    assert (missing.revisions, missing.corrected, missing.expected) == (0, False, True)
    assert rows[("ua-two", "2026-02")].first_received_at == utc(2026, 3, 16)
    backfill = rows[("md-one", "2026-01")]
    assert backfill.expected  # it reported, so it counts as expected
    assert backfill.deadline == utc(2026, 3, 2)  # enrolled 2026-02-15 + 15 days
    assert rows[("md-one", "2026-02")].deadline == utc(2026, 3, 16)
    assert not rows[("ua-gone", "2026-01")].expected


def test_a_hotline_is_not_missing_before_it_enrolled(data: Dataset) -> None:
    result = grid(data, "2025-11", "2025-12")
    assert statuses(result) == {
        ("md-one", "2025-11"): "not_enrolled",
        ("md-one", "2025-12"): "not_enrolled",
        ("ua-gone", "2025-11"): "missing",
        ("ua-gone", "2025-12"): "missing",  # its key was valid until 2025-12-05
        ("ua-one", "2025-11"): "missing",
        ("ua-one", "2025-12"): "missing",
        ("ua-two", "2025-11"): "missing",
        ("ua-two", "2025-12"): "missing",
    }


def test_per_period_summary(data: Dataset) -> None:
    summary = {p.period: p for p in grid(data).periods}
    assert list(summary) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    march = summary["2026-03"]
    assert (march.expected, march.reported, march.on_time, march.late, march.missing, march.not_due) == (
        3,
        2,
        1,
        1,
        1,
        0,
    )
    assert march.reporting_rate == pytest.approx(2 / 3)
    assert march.on_time_rate == pytest.approx(1 / 3)
    assert march.deadline == utc(2026, 4, 16)
    february = summary["2026-02"]
    assert (february.expected, february.reported, february.on_time, february.corrected) == (3, 3, 3, 1)
    april = summary["2026-04"]
    assert (april.expected, april.reported, april.not_due, april.reporting_rate) == (3, 0, 3, 0.0)
    empty = grid(data, "2024-01", "2024-01", scope=Scope.hotline("md-one")).periods[0]
    assert (empty.expected, empty.reporting_rate, empty.on_time_rate) == (0, None, None)


def test_the_deadline_is_configurable(data: Dataset) -> None:
    relaxed = statuses(grid(data, deadline_days=30))
    assert relaxed[("ua-one", "2026-03")] == "on_time"  # 2026-04-20 is before 2026-05-01
    assert relaxed[("ua-two", "2026-03")] == "missing"  # the deadline passed at midnight; now is noon
    strict = statuses(grid(data, deadline_days=0))
    assert strict[("ua-one", "2026-01")] == "late"  # received 2026-02-03, deadline 2026-02-01
    assert grid(data, deadline_days=0).deadline_days == 0


def test_now_decides_between_not_due_and_missing(data: Dataset) -> None:
    assert statuses(grid(data, now=utc(2026, 4, 16)))[("ua-two", "2026-03")] == "not_due"  # at the deadline
    assert statuses(grid(data, now=utc(2026, 4, 16, 0, 0, 1)))[("ua-two", "2026-03")] == "missing"


def test_scopes_and_token_countries(data: Dataset) -> None:
    moldova = grid(data, allowed_countries=frozenset({"MD"}))
    assert {row.hotline_id for row in moldova.rows} == {"md-one"}
    assert moldova.countries == ("MD",)
    assert grid(data).countries is None
    assert {row.hotline_id for row in grid(data, scope=Scope.country("UA")).rows} == {"ua-one", "ua-two", "ua-gone"}
    assert {row.hotline_id for row in grid(data, scope=Scope.hotline("ua-two")).rows} == {"ua-two"}
    with pytest.raises(Forbidden, match="country UA"):
        grid(data, scope=Scope.country("UA"), allowed_countries=frozenset({"MD"}))
    with pytest.raises(NotFound, match=r"no hotline 'ua-one' is enrolled in countries MD$"):
        grid(data, scope=Scope.hotline("ua-one"), allowed_countries=frozenset({"MD"}))


def test_default_range_is_the_twelve_months_before_now(data: Dataset) -> None:
    result = grid(data, None, None)
    assert (result.period_from, result.period_to) == ("2025-05", "2026-04")
    assert len(result.rows) == 4 * 12


@pytest.mark.parametrize(
    ("period_from", "period_to", "match"),
    [
        ("2026-1", "2026-02", "period_from must be"),
        ("2026-01", "26-02", "period_to must be"),
        ("2026-03", "2026-02", "is after period_to"),
        ("2010-01", "2026-02", "at most 120"),
    ],
)
def test_invalid_periods_are_named(data: Dataset, period_from: str, period_to: str, match: str) -> None:
    with pytest.raises(InvalidQuery, match=match):
        grid(data, period_from, period_to)


def test_csv_rows_times_and_formula_neutralisation(data: Dataset) -> None:
    result = grid(data)
    lines = list(csv.reader(io.StringIO(completeness_to_csv(result))))
    assert lines[0] == [
        "hotline_id", "hotline_name", "country", "period", "status", "expected", "corrected", "revisions",
        "latest_revision", "first_received_at", "latest_received_at", "deadline", "checkpoint_size", "checkpoint_root",
        "period_from", "period_to", "scope",
    ]  # fmt: skip
    assert len(lines) == 1 + 16
    records = {(r[0], r[3]): dict(zip(lines[0], r, strict=True)) for r in lines[1:]}
    corrected = records[("ua-one", "2026-02")]
    assert corrected["first_received_at"] == "2026-03-05T09:00:00Z"
    assert corrected["latest_received_at"] == "2026-03-20T09:00:00Z"
    assert corrected["deadline"] == "2026-03-16T00:00:00Z"
    assert (corrected["status"], corrected["corrected"], corrected["revisions"]) == ("on_time", "true", "2")
    missing = records[("ua-two", "2026-03")]
    assert (missing["first_received_at"], missing["latest_revision"], missing["status"]) == ("", "", "missing")
    assert records[("ua-gone", "2026-01")]["hotline_name"] == "'" + EVIL_NAME
    assert records[("ua-one", "2026-01")]["hotline_name"] == "UA-ONE"
    assert records[("ua-one", "2026-01")]["checkpoint_size"] == "23"
    assert result.checkpoint.root_hash == CHECKPOINT_ROOT
