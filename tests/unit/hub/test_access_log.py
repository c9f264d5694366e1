# SPDX-License-Identifier: Apache-2.0
"""The access log: every coordinator request is recorded before it is answered, and auditors can read it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from hub.db import write_session
from hub.services.tokens import TokenService
from tests.support.hubkit import assert_problem
from tests.support.hubs import HubUnderTest
from tests.unit.hub.test_dashboard_auth import sign_in

STATS = "/v1/stats/persons_recruitment"


def _token(hub: HubUnderTest, label: str, **kwargs: Any) -> tuple[int, str]:
    with write_session(hub.context.sessions) as session:
        created = TokenService(session).create(role="coordinator", label=label, now=hub.clock(), **kwargs)
        return created.record.id, created.token


def _records(hub: HubUnderTest, **params: Any) -> list[dict[str, Any]]:
    response = hub.client.get("/v1/audit/access-log", params=params, headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def test_a_coordinator_query_is_recorded_with_who_what_and_the_status(hub: HubUnderTest) -> None:
    token_id, token = _token(hub, "Chisinau desk", countries=frozenset({"MD"}))
    headers = {"Authorization": f"Bearer {token}"}
    params = {"period_from": "2026-01", "period_to": "2026-03", "group_by": "period"}
    assert hub.client.get(STATS, params=params, headers=headers).status_code == 200
    assert hub.client.get(STATS, params={"country": "UA"}, headers=headers).status_code == 403  # outside its scope
    first, refused = _records(hub)
    assert first == {
        "id": first["id"],
        "at": "2026-11-21T12:00:00Z",
        "token_id": token_id,
        "role": "coordinator",
        "label": "Chisinau desk",
        "countries": ["MD"],
        "method": "GET",
        "path": STATS,
        "query": "period_from=2026-01&period_to=2026-03&group_by=period",
        "question": {
            "scope": {"token_countries": ["MD"]},
            "table": "persons_recruitment",
            "period_from": "2026-01",
            "period_to": "2026-03",
            "group_by": ["period"],
        },
        "status": 200,
        "seq": 1,
        "request_id": first["request_id"],
        "prev_hash": "00" * 32,
        "hash": first["hash"],
    }
    assert (refused["query"], refused["status"]) == ("country=UA", 403)  # probing is recorded too


def test_auditors_admins_hotlines_and_anonymous_callers_are_not_recorded(hub: HubUnderTest) -> None:
    hub.client.get(STATS, headers=hub.auth("auditor"))
    hub.client.get("/v1/admin/tokens", headers=hub.auth("admin"))
    hub.client.get(STATS)
    hub.client.get("/v1/hub")
    hub.enroll("ua-one", "UA")
    hub.submit(hub.release("ua-one", "2026-01"))
    assert _records(hub) == []


def test_dashboard_views_and_exports_are_recorded(hub: HubUnderTest) -> None:
    client = TestClient(hub.client.app, follow_redirects=False)
    sign_in(client, hub.tokens["coordinator"])
    assert client.get("/corridors", params={"period_from": "2026-01"}).status_code == 200
    assert client.get("/trends/export", params={"format": "csv"}).status_code == 200
    assert client.get("/static/dashboard.css").status_code in (200, 404)
    paths = [(record["path"], record["query"], record["label"]) for record in _records(hub)]
    assert paths == [
        ("/corridors", "period_from=2026-01", "test coordinator"),
        ("/trends/export", "format=csv", "test coordinator"),
    ]


def test_pages_filters_and_csv(hub: HubUnderTest) -> None:
    other_id, other = _token(hub, "=HYPERLINK(evil)")
    for _ in range(3):
        hub.client.get(STATS, headers=hub.auth("coordinator"))
    hub.clock.advance(hours=1)
    hub.client.get(STATS, headers={"Authorization": f"Bearer {other}"})
    everything = _records(hub)
    assert len(everything) == 4
    page = hub.client.get("/v1/audit/access-log", params={"limit": 3}, headers=hub.auth("auditor")).json()
    assert [r["id"] for r in page["records"]] == [r["id"] for r in everything[:3]]
    rest = _records(hub, after=page["next_after"])
    assert [r["id"] for r in rest] == [everything[3]["id"]]
    assert [r["token_id"] for r in _records(hub, token_id=other_id)] == [other_id]
    assert len(_records(hub, since="2026-11-21T12:30:00Z")) == 1
    response = hub.client.get("/v1/audit/access-log", params={"format": "csv"}, headers=hub.auth("auditor"))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [str(r["id"]) for r in everything]
    assert rows[-1]["label"] == "'=HYPERLINK(evil)"  # a spreadsheet shows it, never runs it


def test_bad_paging_parameters_are_problems(hub: HubUnderTest) -> None:
    for params, mention in (({"since": "yesterday"}, "since"), ({"limit": 0}, "limit"), ({"after": -1}, "after")):
        response = hub.client.get("/v1/audit/access-log", params=params, headers=hub.auth("auditor"))
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert mention in response.json()["detail"]


def test_coordinators_cannot_read_the_access_log(hub: HubUnderTest) -> None:
    response = hub.client.get("/v1/audit/access-log", headers=hub.auth("coordinator"))
    assert_problem(response, 403, "forbidden")


def test_an_answer_is_withheld_when_its_request_cannot_be_recorded(hub: HubUnderTest) -> None:
    hub.enroll("ua-one", "UA")
    hub.submit(hub.release("ua-one", "2026-01"))
    with hub.context.engine.begin() as connection:
        connection.execute(text("DROP TABLE access_log"))
    response = hub.client.get(STATS, headers=hub.auth("coordinator"))
    body = assert_problem(response, 503, "access_log_unavailable", "access log")
    assert "rows" not in body
    assert hub.client.get(STATS, headers=hub.auth("auditor")).status_code == 200  # not recorded, so answered


def test_hsts_is_sent_over_https_only(hub: HubUnderTest) -> None:
    secure = TestClient(hub.client.app, base_url="https://testserver")
    assert secure.get("/v1/hub").headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert "Strict-Transport-Security" not in hub.client.get("/v1/hub").headers


def test_records_outlive_their_token(hub: HubUnderTest) -> None:
    token_id, token = _token(hub, "temporary", expires_in=timedelta(minutes=5))
    hub.client.get(STATS, headers={"Authorization": f"Bearer {token}"})
    hub.clock.advance(minutes=10)
    assert hub.client.get(STATS, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert [r["token_id"] for r in _records(hub)] == [token_id]  # the refused expired token is no principal
