# SPDX-License-Identifier: Apache-2.0
"""``GET /v1/stats/{table}`` and ``GET /v1/completeness`` over HTTP.

Most tests read the data set of :mod:`tests.unit.hub.stats_data` written into a real hub's database; the first
one sends releases through the real ingest and checks that statistics read back exactly what was submitted.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from hub.db import write_session
from hub.services.tokens import TokenService
from protocol.accuracy import sum_interval
from tests.support.hubs import HubUnderTest
from tests.unit.hub.stats_data import TAXONOMY, Dataset, independent, populate, utc

RECRUITMENT = "persons_recruitment"
TABLES = [RECRUITMENT, "contacts"]
MONTHS = ["2026-01", "2026-02", "2026-03"]
EVERYONE = ["ua-one", "ua-two", "md-one", "ua-gone"]


@pytest.fixture
def served(hub: HubUnderTest) -> tuple[HubUnderTest, Dataset]:
    data = populate(hub.context.engine, display_names={"ua-gone": "=cmd|' /C calc'!A0"})
    hub.clock.now = utc(2026, 5, 1, 12)
    return hub, data


def _get(hub: HubUnderTest, path: str, role: str = "coordinator", **params: str):  # type: ignore[no-untyped-def]
    return hub.client.get(path, params=params, headers=hub.auth(role))


def _vector(table: str, seed: int) -> list[int]:
    return [((i * 7 + seed * 13) % 23) - 5 for i in range(TAXONOMY.table(table).cell_count)]


def test_statistics_read_back_what_went_through_ingest(hub: HubUnderTest) -> None:
    hub.clock.now = datetime(2026, 8, 20, 10, tzinfo=UTC)
    for hotline_id, country in (("ua-a", "UA"), ("ua-b", "UA"), ("md-a", "MD")):
        hub.enroll(hotline_id, country)
    hub.clock.now = datetime(2026, 10, 5, 10, tzinfo=UTC)
    for seed, hotline_id in enumerate(("ua-a", "ua-b", "md-a")):
        cells = {t: _vector(t, seed) for t in TABLES}
        hub.submit_cells(hotline_id, "2026-09", cells, tables=TABLES, created_at="2026-10-05T09:00:00Z")
    hub.clock.now = datetime(2026, 11, 20, 10, tzinfo=UTC)
    for seed, hotline_id in enumerate(("ua-a", "ua-b"), start=10):
        cells = {t: _vector(t, seed) for t in TABLES}
        hub.submit_cells(hotline_id, "2026-10", cells, tables=TABLES, created_at="2026-11-20T09:00:00Z")
    correction = {t: _vector(t, 21) for t in TABLES}
    hub.submit_cells("ua-b", "2026-10", correction, tables=TABLES, revision=2, created_at="2026-11-20T09:30:00Z")
    hub.clock.now = datetime(2026, 11, 21, 12, tzinfo=UTC)

    response = _get(hub, f"/v1/stats/{RECRUITMENT}", group_by="period", period_from="2026-09", period_to="2026-11")
    assert response.status_code == 200, response.text
    body = response.json()
    september, october, november = body["rows"]
    assert september["estimate"] == sum(sum(_vector(RECRUITMENT, seed)) for seed in (0, 1, 2))
    assert october["estimate"] == sum(sum(_vector(RECRUITMENT, seed)) for seed in (10, 21))  # ua-b's revision 2
    for row, hotlines in ((september, 3), (october, 2)):
        interval = sum_interval([("discrete_gaussian", "10", hotlines * 75)])
        assert row["ci95_high"] - row["estimate"] == interval.halfwidth
        assert row["estimate"] - row["ci95_low"] == interval.halfwidth
        assert row["std"] == pytest.approx(interval.std)
        assert (row["hotlines_reporting"], row["hotlines_expected"]) == (hotlines, 3)
    assert (november["estimate"], november["obs_status"], november["hotlines_expected"]) == (None, "O", 3)
    # The answer names the log it reflects: 3 enrolments, then 3 + 2 + 1 submissions.
    assert body["checkpoint"]["size"] == 9
    assert body["checkpoint"]["note"].startswith("hub.test.tipshare/log\n9\n")
    grid = _get(hub, "/v1/completeness", period_from="2026-08", period_to="2026-10").json()
    statuses = {(row["hotline_id"], row["period"]): row["status"] for row in grid["rows"]}
    assert statuses[("ua-a", "2026-08")] == "missing"  # enrolled 2026-08-20: expected for August
    assert statuses[("ua-a", "2026-09")] == "on_time"
    assert statuses[("ua-b", "2026-10")] == "late"  # received 2026-11-20, deadline 2026-11-15
    assert statuses[("md-a", "2026-10")] == "missing"


def test_time_series_over_http(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, data = served
    response = _get(hub, f"/v1/stats/{RECRUITMENT}", group_by="period", period_from="2026-01", period_to="2026-04")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row["keys"] for row in body["rows"]] == [{"period": p} for p in [*MONTHS, "2026-04"]]
    for row in body["rows"][:3]:
        estimate, interval = independent(
            data, RECRUITMENT, hotlines=EVERYONE, periods=[row["keys"]["period"]], cells={}
        )
        assert (row["estimate"], row["ci95_low"], row["ci95_high"]) == (
            estimate,
            estimate - interval.halfwidth,
            estimate + interval.halfwidth,
        )
        assert row["std"] == pytest.approx(interval.std)
        assert row["interval_method"] == interval.method
        assert row["conf_status"] == "F"
        assert row["display_estimate"] is None
    gap = body["rows"][3]
    assert (gap["estimate"], gap["ci95_low"], gap["obs_status"], gap["hotlines_reporting"]) == (None, None, "O", 0)
    assert body["checkpoint"]["size"] == 23
    assert body["unit_label"] == "potential victims reported to hotlines"
    assert body["clip_negative"] is False
    assert body["taxonomy"] == {"id": TAXONOMY.id, "hash": TAXONOMY.content_hash}
    assert body["generated_at"] == "2026-05-01T12:00:00Z"


def test_dimension_filters_and_scope_parameters(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, data = served
    response = _get(
        hub,
        f"/v1/stats/{RECRUITMENT}",
        group_by="exploitation_group",
        recruitment_channel="online,offline",
        exploitation_group="labour",
        country="UA",
        period_from="2026-01",
        period_to="2026-03",
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    cells = {"exploitation_group": ["labour"], "recruitment_channel": ["online", "offline"]}
    estimate, interval = independent(data, RECRUITMENT, hotlines=["ua-one", "ua-two"], periods=MONTHS, cells=cells)
    assert row["keys"] == {"exploitation_group": "labour"}
    assert (row["estimate"], row["ci95_high"]) == (estimate, estimate + interval.halfwidth)
    assert response.json()["scope"] == {"level": "country", "code": "UA", "countries": None}
    assert response.json()["filters"] == {
        "exploitation_group": ["labour"],
        "recruitment_channel": ["online", "offline"],
    }
    repeated = hub.client.get(
        f"/v1/stats/{RECRUITMENT}?recruitment_channel=online&recruitment_channel=offline&exploitation_group=labour"
        "&country=UA&period_from=2026-01&period_to=2026-03&group_by=exploitation_group",
        headers=hub.auth("coordinator"),
    )
    assert repeated.status_code == 400  # one form for several codes: comma-separated in one parameter
    assert "recruitment_channel" in repeated.json()["detail"]
    one = _get(hub, "/v1/stats/contacts", hotline="md-one", period_from="2026-02", period_to="2026-02", clip="true")
    estimate, _ = independent(data, "contacts", hotlines=["md-one"], periods=["2026-02"], cells={})
    assert one.json()["rows"][0]["display_estimate"] == max(0, estimate)
    assert one.json()["unit_label"] == "contacts received by hotlines"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"colour": "red"}, "colour"),
        ({"citizenship": "UA"}, "citizenship"),  # a dimension, but not of this table
        ({"group_by": "gender"}, "group_by"),
        ({"recruitment_channel": "radio"}, "radio"),
        ({"recruitment_channel": ""}, "recruitment_channel"),
        ({"format": "xml"}, "format"),
        ({"clip": "maybe"}, "clip"),
        ({"period_from": "2026-13"}, "period_from"),
        ({"period_from": "2026-03", "period_to": "2026-01"}, "period_to"),
        ({"country": "Ukraine"}, "country"),
        ({"country": "UA", "hotline": "ua-one"}, "hotline"),
    ],
)
def test_invalid_parameters_are_400_invalid_query(
    served: tuple[HubUnderTest, Dataset], params: dict[str, str], named: str
) -> None:
    hub, _ = served
    response = _get(hub, f"/v1/stats/{RECRUITMENT}", **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_query"
    assert named in response.json()["detail"]


def test_a_repeated_parameter_is_refused(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, _ = served
    response = hub.client.get(
        f"/v1/stats/{RECRUITMENT}?period_from=2026-01&period_from=2026-02", headers=hub.auth("coordinator")
    )
    assert response.status_code == 400
    assert "period_from" in response.json()["detail"]


def test_unknown_table_and_hotline_are_404(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, _ = served
    assert _get(hub, "/v1/stats/persons_nowhere").status_code == 404
    assert _get(hub, f"/v1/stats/{RECRUITMENT}", hotline="no-such-line").status_code == 404


def test_roles(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, _ = served
    assert hub.client.get(f"/v1/stats/{RECRUITMENT}").status_code == 401
    assert _get(hub, f"/v1/stats/{RECRUITMENT}", role="admin").status_code == 403
    assert _get(hub, f"/v1/stats/{RECRUITMENT}", role="auditor").status_code == 200
    assert _get(hub, "/v1/completeness", role="auditor").status_code == 200
    assert _get(hub, "/v1/completeness", role="admin").status_code == 403


def test_a_token_limited_to_moldova(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, data = served
    with write_session(hub.context.sessions) as session:
        created = TokenService(session).create(
            role="coordinator", label="md", now=hub.clock(), countries=frozenset({"MD"})
        )
    headers = {"Authorization": f"Bearer {created.token}"}
    params = {"period_from": "2026-01", "period_to": "2026-03"}
    response = hub.client.get(f"/v1/stats/{RECRUITMENT}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    estimate, _ = independent(data, RECRUITMENT, hotlines=["md-one"], periods=MONTHS, cells={})
    assert response.json()["rows"][0]["estimate"] == estimate
    assert response.json()["scope"]["countries"] == ["MD"]
    forbidden = hub.client.get(f"/v1/stats/{RECRUITMENT}", params={"country": "UA"}, headers=headers)
    assert forbidden.status_code == 403
    assert hub.client.get("/v1/completeness", params={"hotline": "ua-one"}, headers=headers).status_code == 404
    completeness = hub.client.get("/v1/completeness", params=params, headers=headers).json()
    assert {row["hotline_id"] for row in completeness["rows"]} == {"md-one"}
    assert completeness["scope"]["countries"] == ["MD"]


def test_csv_download(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, _ = served
    params = {"group_by": "period", "period_from": "2026-02", "period_to": "2026-04", "format": "csv"}
    response = _get(hub, f"/v1/stats/{RECRUITMENT}", **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="tipshare-stats-{RECRUITMENT}-by-period-2026-02..2026-04-region-cp23.csv"'
    )
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0][:5] == ["table", "period", "estimate", "ci95_low", "ci95_high"]
    assert [line[1] for line in lines[1:]] == ["2026-02", "2026-03", "2026-04"]
    assert {line[lines[0].index("checkpoint_size")] for line in lines[1:]} == {"23"}
    json_rows = _get(hub, f"/v1/stats/{RECRUITMENT}", **{**params, "format": "json"}).json()["rows"]
    assert [line[2] for line in lines[1:]] == [
        str(r["estimate"]) if r["estimate"] is not None else "" for r in json_rows
    ]


def test_completeness_over_http(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, _ = served
    response = _get(hub, "/v1/completeness", period_from="2026-01", period_to="2026-04")
    assert response.status_code == 200, response.text
    body = response.json()
    grid = {(row["hotline_id"], row["period"]): row for row in body["rows"]}
    assert grid[("ua-one", "2026-03")]["status"] == "late"
    assert grid[("ua-two", "2026-03")]["status"] == "missing"
    assert grid[("ua-two", "2026-04")]["status"] == "not_due"
    assert grid[("ua-gone", "2026-01")]["status"] == "not_enrolled"
    assert grid[("ua-one", "2026-02")]["corrected"] is True
    assert grid[("ua-one", "2026-02")]["first_received_at"] == "2026-03-05T09:00:00Z"
    march = body["periods"][2]
    assert (march["expected"], march["reported"], march["on_time"], march["late"], march["missing"]) == (3, 2, 1, 1, 1)
    assert body["deadline_days"] == 15
    assert body["checkpoint"]["size"] == 23

    csv_response = _get(hub, "/v1/completeness", period_from="2026-01", period_to="2026-04", format="csv")
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "tipshare-completeness-2026-01..2026-04-region-cp23.csv" in csv_response.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(csv_response.text)))
    assert len(lines) == 1 + 16
    assert {line[1] for line in lines[1:] if line[0] == "ua-gone"} == {"'=cmd|' /C calc'!A0"}

    unknown = _get(hub, "/v1/completeness", group_by="period")
    assert unknown.status_code == 400
    assert "group_by" in unknown.json()["detail"]


def test_openapi_documents_the_response_models(served: tuple[HubUnderTest, Dataset]) -> None:
    hub, _ = served
    schema = hub.client.app.openapi()  # type: ignore[attr-defined]
    assert {"StatsAnswer", "StatsRow", "CompletenessPublic"} <= set(schema["components"]["schemas"])
    operation = schema["paths"]["/v1/stats/{table}"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"table", "group_by", "period_from", "format", "clip"}
