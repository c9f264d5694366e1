# SPDX-License-Identifier: Apache-2.0
"""Issue 17 for completeness files: ``tipshare-audit check FILE`` re-derives the reporting grid from the log alone.

A real hub (both backends): ua-a reports 2026-08 on time, 2026-09, and 2026-10 twice (corrected); md-a reports
2026-08 late, skips 2026-09 (a gap: ``missing``), and its 2026-10 release is withdrawn (counted as never received);
ua-b enrols on 2026-10-25 declaring ``reporting_from`` 2026-09, after that month's deadline, and backfills 2026-09
on time by its own deadline. The grid 2026-07..2026-11 is downloaded as ``GET /v1/completeness?format=csv`` and as
``GET /v1/exports/completeness.sdmx.csv``; each verifies as downloaded, and an edited status, an edited expected
flag, a relabelled month and a dropped gap are each caught, naming the hotline and month.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pytest

from auditor.completeness import grid
from auditor.keys import HotlineWindows
from hub.cli import main as hub_main
from protocol.taxonomy import builtin_taxonomy
from tests.support.auditkit import HUB_URL, Wire, run_cli, utc, vector
from tests.support.export_files import check, download, edit_column, rows
from tests.support.hubs import HubUnderTest, start_hub

V1 = builtin_taxonomy(1)
TABLES: Final = ("persons_corridor",)
PERIODS: Final = {"period_from": "2026-07", "period_to": "2026-11"}
CSV: Final = ("/v1/completeness", {**PERIODS, "format": "csv"})
SDMX: Final = ("/v1/exports/completeness.sdmx.csv", PERIODS)


def _operator(hub: HubUnderTest, *argv: str) -> tuple[int, str, str]:
    """``tipshare-hub ARGV`` against this hub's data directory and database, at the hub's clock."""
    settings = hub.context.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url is not None:
        where += ["--database-url", settings.database_url]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = hub_main([*argv, *where], clock=hub.clock)
    return code, out.getvalue(), err.getvalue()


def _submit(hub: HubUnderTest, hotline_id: str, period: str, when: datetime, seed: int, revision: int = 1) -> int:
    hub.clock.now = when
    cells = {t: vector(V1, t, seed) for t in TABLES}
    return hub.submit_cells(hotline_id, period, cells, tables=TABLES, revision=revision).submission_id


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path_factory.mktemp("hub")):
        started.clock.now = utc(2026, 8, 20, 10)
        started.enroll("ua-a", "UA")
        started.enroll("md-a", "MD")
        for hotline_id in ("ua-a", "md-a"):
            started.log_loose_policy(hotline_id)

        _submit(started, "ua-a", "2026-08", utc(2026, 9, 5, 10), 1)
        _submit(started, "md-a", "2026-08", utc(2026, 9, 25, 10), 2)  # after the deadline (2026-09-16): late
        _submit(started, "ua-a", "2026-09", utc(2026, 10, 5, 10), 3)
        # md-a never reports 2026-09: a gap
        started.clock.now = utc(2026, 10, 25, 9)
        started.enroll("ua-b", "UA")
        started.log_policy(
            "ua-b",
            caps=[
                {"measure": "rho", "period": "10", "year": "100"},
                {"measure": "epsilon", "period": "50", "year": "500"},
            ],
            max_monthly_volume=10_000_000,
            reporting_from="2026-09",
            reason="test fixture: reports from 2026-09, enrolled after its deadline",
        )
        _submit(started, "ua-b", "2026-09", utc(2026, 11, 1, 10), 4)  # a backfill: on time by its own deadline
        _submit(started, "ua-a", "2026-10", utc(2026, 11, 5, 10), 5)
        _submit(started, "ua-a", "2026-10", utc(2026, 11, 20, 10), 6, revision=2)  # corrected
        withdrawn = _submit(started, "md-a", "2026-10", utc(2026, 11, 6, 10), 7)
        started.clock.now = utc(2026, 11, 20, 12)
        code, _out, err = _operator(started, "submission", "withdraw", str(withdrawn), "--reason", "sent in error")
        assert code == 0, err
        started.clock.now = utc(2026, 11, 21, 12)
        yield started


def _file(hub: HubUnderTest, tmp_path: Path, route: tuple[str, dict[str, str]]) -> tuple[bytes, Path]:
    content, name = download(hub, *route)
    return content, tmp_path / name


def _line(content: bytes, hotline: str, period: str, *, sdmx: bool = False) -> dict[str, str]:
    keys = ("HOTLINE", "TIME_PERIOD") if sdmx else ("hotline_id", "period")
    (found,) = [line for line in rows(content) if (line[keys[0]], line[keys[1]]) == (hotline, period)]
    return found


def _edited(
    content: bytes, path: Path, column: str, hotline: str, period: str, value: str, *, sdmx: bool = False
) -> Path:
    keys = ("HOTLINE", "TIME_PERIOD") if sdmx else ("hotline_id", "period")

    def change(line: dict[str, str]) -> str | None:
        return value if (line[keys[0]], line[keys[1]]) == (hotline, period) else None

    edited = path.with_name("edited-" + path.name)
    edited.write_bytes(edit_column(content, column, change))
    return edited


def _failures(run: Any) -> list[dict[str, Any]]:
    assert run.code == 1, run.out + run.err
    assert run.document["verdict"] == "FAILED"
    failures: list[dict[str, Any]] = run.document["failures"]
    assert {f["check"] for f in failures} == {"completeness"}, failures
    return failures


def _named(failure: dict[str, Any], hotline: str, period: str) -> bool:
    return bool(failure["hotline_id"] == hotline and failure["keys"] == {"period": period})


@pytest.mark.parametrize("route", [CSV, SDMX], ids=["csv", "sdmx"])
def test_a_genuine_completeness_file_is_verified_from_the_log_alone(
    hub: HubUnderTest, tmp_path: Path, route: tuple[str, dict[str, str]]
) -> None:
    content, path = _file(hub, tmp_path, route)
    path.write_bytes(content)
    sdmx = route is SDMX
    status = "REPORTING_STATUS" if sdmx else "status"
    # the grid holds every rule's outcome: on time, late, a gap, a withdrawn month, a backfill, not yet due
    assert _line(content, "ua-a", "2026-08", sdmx=sdmx)[status] == "on_time"
    assert _line(content, "md-a", "2026-08", sdmx=sdmx)[status] == "late"
    assert _line(content, "md-a", "2026-09", sdmx=sdmx)[status] == "missing"
    assert _line(content, "md-a", "2026-10", sdmx=sdmx)[status] == "missing"  # its only release was withdrawn
    assert _line(content, "ua-b", "2026-09", sdmx=sdmx)[status] == "on_time"  # backfilled by its own deadline
    assert _line(content, "ua-a", "2026-11", sdmx=sdmx)[status] == "not_due"
    assert _line(content, "ua-a", "2026-07", sdmx=sdmx)[status] == "not_enrolled"
    assert _line(content, "ua-a", "2026-10", sdmx=sdmx)["CORRECTED" if sdmx else "corrected"] == "true"

    run = check(hub, tmp_path / "state", path)

    assert run.code == 0, run.out + run.err
    document = run.document
    assert document["verdict"] == "VERIFIED", document["failures"]
    assert document["kind"] == "completeness"
    assert document["rows"] == 3 * 5
    assert document["deadline_days"] == 15  # read from the file: the hub signs no deadline
    assert document["scope_from_lines"] is sdmx


@pytest.mark.parametrize(
    ("route", "column", "hotline", "period", "value"),
    [
        (CSV, "status", "md-a", "2026-08", "on_time"),  # a late report passed off as on time
        (SDMX, "REPORTING_STATUS", "md-a", "2026-08", "on_time"),
        (CSV, "status", "md-a", "2026-09", "not_enrolled"),  # a gap excused
        (CSV, "expected", "md-a", "2026-09", "false"),
        (SDMX, "EXPECTED_REPORTS", "md-a", "2026-09", "0"),
        (CSV, "revisions", "md-a", "2026-10", "1"),  # the withdrawn release counted after all
        (CSV, "status", "md-a", "2026-10", "on_time"),
        (CSV, "deadline", "ua-b", "2026-09", "2026-10-16T00:00:00Z"),  # the backfill's own deadline hidden
    ],
    ids=[
        "late-as-on-time",
        "late-as-on-time-sdmx",
        "gap-excused",
        "expected-dropped",
        "expected-dropped-sdmx",
        "withdrawn-counted",
        "withdrawn-as-on-time",
        "backfill-deadline",
    ],
)
def test_an_edited_cell_is_caught_naming_its_hotline_and_month(
    hub: HubUnderTest,
    tmp_path: Path,
    route: tuple[str, dict[str, str]],
    column: str,
    hotline: str,
    period: str,
    value: str,
) -> None:
    content, path = _file(hub, tmp_path, route)
    edited = _edited(content, path, column, hotline, period, value, sdmx=route is SDMX)

    (failure,) = _failures(check(hub, tmp_path / "state", edited))

    assert _named(failure, hotline, period), failure
    assert f"{column} in the file {value!r}" in failure["message"]


def test_a_relabelled_month_and_a_dropped_gap_are_caught(hub: HubUnderTest, tmp_path: Path) -> None:
    content, path = _file(hub, tmp_path, CSV)
    # md-a's gap relabelled as a month outside the range
    relabelled = _edited(content, path, "period", "md-a", "2026-09", "2026-12")
    failures = _failures(check(hub, tmp_path / "state", relabelled))
    assert any(_named(f, "md-a", "2026-12") and "no such line" in f["message"] for f in failures), failures
    assert any(_named(f, "md-a", "2026-09") and f["message"].endswith(")") for f in failures), failures
    assert len(failures) == 2

    # the gap's line left out of the file altogether
    lines = content.decode("utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("md-a,") or ",2026-09," not in line]
    assert len(kept) == len(lines) - 1
    dropped = path.with_name("dropped-" + path.name)
    dropped.write_text("".join(kept), encoding="utf-8")
    (failure,) = _failures(check(hub, tmp_path / "state", dropped))
    assert _named(failure, "md-a", "2026-09")
    assert "missing: the log implies this line" in failure["message"]


def test_a_status_difference_says_which_rule_decides_it(hub: HubUnderTest, tmp_path: Path) -> None:
    content, path = _file(hub, tmp_path, CSV)
    edited = _edited(content, path, "status", "md-a", "2026-08", "on_time")
    (failure,) = _failures(check(hub, tmp_path / "state", edited))
    assert "recomputed 'late'" in failure["message"]
    assert "first received 2026-09-25T10:00:00Z, deadline 2026-09-16T00:00:00Z" in failure["message"]


def test_the_report_says_deadline_days_was_read_from_the_file(hub: HubUnderTest, tmp_path: Path) -> None:
    content, path = _file(hub, tmp_path, SDMX)
    path.write_bytes(content)
    args = ["check", str(path), "--hub", HUB_URL, "--token", hub.tokens["auditor"], "--state", str(tmp_path / "s")]

    run = run_cli(args, wire=Wire(hub), clock=hub.clock)

    assert run.code == 0, run.out + run.err
    assert "VERIFIED" in run.out
    assert "15 days after a month ends, read from the file's deadline column" in run.out
    assert "an SDMX-CSV message does not name its scope" in run.out


def _hotline(hotline_id: str, *, reporting_from: str | None = None) -> HotlineWindows:
    return HotlineWindows(
        id=hotline_id,
        country="UA",
        windows=((utc(2026, 8, 20, 10), None),),
        reporting_from=reporting_from,
        display_name=hotline_id,
    )


@pytest.mark.parametrize(
    ("made_after", "made_before", "statuses"),
    [
        (utc(2026, 10, 17), utc(2026, 11, 1), ("missing",)),  # the deadline passed before the checkpoint's last entry
        (utc(2026, 10, 1), utc(2026, 10, 10), ("not_due",)),  # and after the check: not yet due
        (utc(2026, 10, 1), utc(2026, 11, 1), ("not_due", "missing")),  # in between: the file does not say when
    ],
)
def test_an_unreported_month_is_not_due_or_missing_by_when_the_file_can_have_been_made(
    made_after: datetime, made_before: datetime, statuses: tuple[str, ...]
) -> None:
    (line,) = grid(
        [_hotline("ua-a")],
        [],
        period_from="2026-09",
        period_to="2026-09",
        deadline_days=15,
        made_after=made_after,
        made_before=made_before,
    )
    assert line.deadline == utc(2026, 10, 16)
    assert line.expected
    assert line.statuses == statuses


def test_a_hotline_enrolled_after_a_deadline_has_its_own_deadline_counted_from_its_enrolment() -> None:
    late = HotlineWindows(
        id="ua-b", country="UA", windows=((utc(2026, 10, 25, 9), None),), reporting_from="2026-09", display_name="B"
    )
    lines = grid(
        [late],
        [],
        period_from="2026-08",
        period_to="2026-09",
        deadline_days=15,
        made_after=utc(2026, 11, 20),
        made_before=utc(2026, 11, 21),
    )
    assert [(line.period, line.statuses, line.deadline) for line in lines] == [
        ("2026-08", ("not_enrolled",), utc(2026, 11, 9, 9)),  # before reporting_from, and ended before it enrolled
        ("2026-09", ("missing",), utc(2026, 11, 9, 9)),
    ]


def _json_file(hub: HubUnderTest, tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    response = hub.client.get("/v1/completeness", params=PERIODS, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    document = response.json()
    if change is not None:
        change(document)
    path = tmp_path / "completeness.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_json_answer_is_verified_with_its_monthly_summaries(hub: HubUnderTest, tmp_path: Path) -> None:
    run = check(hub, tmp_path / "state", _json_file(hub, tmp_path))

    assert run.code == 0, run.out + run.err
    document = run.document
    assert document["verdict"] == "VERIFIED", document["failures"]
    assert (document["kind"], document["format"], document["rows"]) == ("completeness", "json", 15)
    assert document["deadline_days"] == 15
    assert document["deadline_days_stated"] is True


def test_a_json_answer_with_an_edited_summary_or_a_false_time_is_caught(hub: HubUnderTest, tmp_path: Path) -> None:
    def rate(document: dict[str, Any]) -> None:
        (september,) = [p for p in document["periods"] if p["period"] == "2026-09"]
        september["reporting_rate"] = 1.0  # md-a's gap hidden from the rate

    (failure,) = _failures(check(hub, tmp_path / "state", _json_file(hub, tmp_path, rate)))
    assert failure["keys"] == {"period": "2026-09"}
    assert "summary reporting_rate in the answer '1.0', recomputed '0.6666666666666666'" in failure["message"]

    def early(document: dict[str, Any]) -> None:
        document["generated_at"] = "2026-10-01T00:00:00Z"  # before entries its checkpoint holds

    (failure,) = _failures(check(hub, tmp_path / "state", _json_file(hub, tmp_path, early)))
    assert "generated_at 2026-10-01T00:00:00Z is before the last entry of its checkpoint" in failure["message"]
