# SPDX-License-Identifier: Apache-2.0
"""Completeness shows gaps: a hotline is expected from the ``reporting_from`` its logged policy declares, so a
month it skips is ``missing`` (counted in the rates), never ``not_enrolled``; through the HTTP API as a client calls
it, the CSV export and the dashboard's grid, on the run's backend (``--backend postgresql`` too).

The two ``test_attack_...`` tests are the reported bugs: a hotline that skipped June (across a key gap) showed
"not enrolled", 0/0 for June; and a hotline enrolled on 6 December read ``not_enrolled`` for November, whose
deadline (15 days after the month) had not passed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.db import read_session
from hub.models import LogLeaf
from protocol.crypto import SigningKey
from protocol.messages import HotlinePolicyEntry, parse_log_entry
from tests.support.hubs import EnrolledHotline, HubUnderTest, start_hub
from tests.support.releases import make_release


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _admin(hub: HubUnderTest, path: str, body: dict[str, Any], status: int = 201) -> Any:
    response = hub.client.post(path, json=body, headers=hub.auth("admin"))
    assert response.status_code == status, response.text
    return response.json()


def enroll(hub: HubUnderTest, hotline_id: str, when: datetime, **policy: object) -> str:
    """Enroll ``hotline_id`` at ``when`` with a logged policy (``policy`` as the admin API takes it); its key id."""
    hub.clock.now = when
    key = SigningKey.generate()
    body = {"id": hotline_id, "display_name": hotline_id, "country": "UA", "public_key": key.verify_key.to_text()}
    event = _admin(hub, "/v1/admin/hotlines", {**body, "policy": policy})
    hub.hotlines[hotline_id] = EnrolledHotline(hotline_id, "UA", key)
    return str(event["key_id"])


def submit(hub: HubUnderTest, hotline_id: str, period: str, when: datetime, revision: int = 1) -> int:
    """Submit a release of ``period`` received at ``when``; its submission id."""
    hub.clock.now = when
    payload = make_release(
        hub.context.taxonomy,
        hub.hotlines[hotline_id].key,
        hotline_id=hotline_id,
        period=period,
        revision=revision,
        created_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return hub.submit(payload).submission_id


def completeness(hub: HubUnderTest, now: datetime, **params: str) -> Any:
    hub.clock.now = now
    response = hub.client.get("/v1/completeness", params=params, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    return response.json()


def _leaf(hub: HubUnderTest, index: int) -> bytes:
    with read_session(hub.context.sessions) as session:
        return session.scalars(select(LogLeaf.data).where(LogLeaf.index == index)).one()


def statuses(grid: Any) -> dict[str, str]:
    return {row["period"]: row["status"] for row in grid["rows"]}


def policy(hub: HubUnderTest, hotline_id: str) -> Any:
    response = hub.client.get(f"/v1/admin/hotlines/{hotline_id}/policy", headers=hub.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


def skipped_june(hub: HubUnderTest) -> None:
    """``ua-gap`` enrolled on 3 May (so expected from April), reported April, lost its key on 25 May and got a new
    one on 1 July, then reported May (late) and July; June never came."""
    key_id = enroll(hub, "ua-gap", at(2026, 5, 3, 9))
    submit(hub, "ua-gap", "2026-04", at(2026, 5, 5, 9))
    hub.clock.now = at(2026, 5, 25, 9)
    _admin(hub, f"/v1/admin/keys/{key_id}/revoke", {"reason": "laptop lost"}, status=200)
    hub.clock.now = at(2026, 7, 1, 9)
    key = SigningKey.generate()
    _admin(hub, "/v1/admin/hotlines/ua-gap/keys", {"public_key": key.verify_key.to_text()})
    hub.hotlines["ua-gap"] = EnrolledHotline("ua-gap", "UA", key)
    submit(hub, "ua-gap", "2026-05", at(2026, 7, 2, 9))
    submit(hub, "ua-gap", "2026-07", at(2026, 8, 5, 9))


def test_attack_a_skipped_month_across_a_key_gap_is_a_gap_counted_in_the_rate(hub: HubUnderTest) -> None:
    skipped_june(hub)

    grid = completeness(hub, at(2026, 8, 20), period_from="2026-03", period_to="2026-08")

    assert statuses(grid) == {
        "2026-03": "not_enrolled",  # before reporting_from
        "2026-04": "on_time",
        "2026-05": "late",
        "2026-06": "missing",  # no key was valid in June: still expected, and the deadline has passed
        "2026-07": "on_time",
        "2026-08": "not_due",
    }
    june = next(p for p in grid["periods"] if p["period"] == "2026-06")
    assert (june["expected"], june["reported"], june["missing"], june["reporting_rate"]) == (1, 0, 1, 0.0)
    assert [p["expected"] for p in grid["periods"]] == [0, 1, 1, 1, 1, 1]


def test_attack_a_hotline_enrolled_before_the_deadline_is_expected_for_the_month_before(hub: HubUnderTest) -> None:
    enroll(hub, "ua-new", at(2026, 12, 6, 10))

    before = completeness(hub, at(2026, 12, 7), period_from="2026-10", period_to="2026-11")
    assert statuses(before) == {"2026-10": "not_enrolled", "2026-11": "not_due"}
    assert policy(hub, "ua-new")["reporting_from"] == "2026-11"  # declared at enrolment, and logged:
    logged = parse_log_entry(_leaf(hub, policy(hub, "ua-new")["log_index"]))
    assert isinstance(logged, HotlinePolicyEntry)
    assert logged.reporting_from == "2026-11"
    november = before["rows"][1]
    assert november["deadline"] == "2026-12-16T00:00:00Z"  # the month's own deadline, not one from enrolment

    after = completeness(hub, at(2026, 12, 16, 0, 0, 1), period_from="2026-10", period_to="2026-11")
    assert statuses(after) == {"2026-10": "not_enrolled", "2026-11": "missing"}
    assert after["periods"][1]["expected"] == 1


def test_a_hotline_enrolled_after_the_deadline_is_expected_from_its_enrolment_month(hub: HubUnderTest) -> None:
    enroll(hub, "ua-late", at(2026, 12, 16, 0, 0, 1))
    assert policy(hub, "ua-late")["reporting_from"] == "2026-12"
    grid = completeness(hub, at(2027, 1, 10), period_from="2026-11", period_to="2026-12")
    assert statuses(grid) == {"2026-11": "not_enrolled", "2026-12": "not_due"}


def test_a_declared_earlier_start_gives_months_past_their_deadline_a_clock_from_enrolment(hub: HubUnderTest) -> None:
    enroll(hub, "ua-hist", at(2026, 12, 6, 10), reporting_from="2026-09")
    submit(hub, "ua-hist", "2026-10", at(2026, 12, 10))

    grid = completeness(hub, at(2026, 12, 21, 10, 0, 1), period_from="2026-08", period_to="2026-11")

    assert statuses(grid) == {
        "2026-08": "not_enrolled",
        "2026-09": "missing",  # deadline: enrolment + 15 days, passed
        "2026-10": "on_time",
        "2026-11": "missing",  # its own deadline, 2026-12-16
    }
    deadlines = {row["period"]: row["deadline"] for row in grid["rows"]}
    assert (deadlines["2026-09"], deadlines["2026-11"]) == ("2026-12-21T10:00:00Z", "2026-12-16T00:00:00Z")


def test_reporting_from_is_kept_and_changed_by_later_policies(hub: HubUnderTest) -> None:
    enroll(hub, "ua-a", at(2026, 12, 6, 10))
    _admin(hub, "/v1/admin/hotlines/ua-a/policy", {"max_monthly_volume": 900})
    assert policy(hub, "ua-a")["reporting_from"] == "2026-11"  # a change that does not name it keeps it

    _admin(hub, "/v1/admin/hotlines/ua-a/policy", {"reporting_from": "2027-01", "reason": "opens in January"})
    assert policy(hub, "ua-a")["reporting_from"] == "2027-01"
    grid = completeness(hub, at(2027, 3, 1), period_from="2026-11", period_to="2027-01")
    assert statuses(grid) == {"2026-11": "not_enrolled", "2026-12": "not_enrolled", "2027-01": "missing"}


def test_a_start_before_the_first_period_is_refused_naming_both(hub: HubUnderTest) -> None:
    hub.clock.now = at(2026, 12, 6, 10)
    key = SigningKey.generate().verify_key.to_text()
    body = {"id": "ua-b", "display_name": "B", "country": "UA", "public_key": key}
    response = hub.client.post(
        "/v1/admin/hotlines",
        json={**body, "policy": {"first_period": "2026-06", "reporting_from": "2026-05"}},
        headers=hub.auth("admin"),
    )
    assert response.status_code == 400, response.text
    assert "reporting_from 2026-05 is before first_period 2026-06" in response.json()["detail"]


def test_a_hotline_enrolled_without_a_policy_keeps_the_key_rule(hub: HubUnderTest) -> None:
    hub.clock.now = at(2026, 12, 6, 10)
    hub.enroll("ua-old", "UA")  # no policy logged: nothing declares reporting_from
    assert policy(hub, "ua-old")["reporting_from"] is None
    grid = completeness(hub, at(2026, 12, 7), period_from="2026-11", period_to="2026-12")
    assert statuses(grid) == {"2026-11": "not_enrolled", "2026-12": "not_due"}


def test_a_month_whose_only_release_was_withdrawn_is_a_gap_until_a_new_revision(hub: HubUnderTest) -> None:
    enroll(hub, "ua-w", at(2026, 12, 6, 10))
    submission = submit(hub, "ua-w", "2026-11", at(2026, 12, 10))
    hub.clock.now = at(2026, 12, 12)
    _admin(hub, f"/v1/admin/submissions/{submission}/withdraw", {"reason": "sent with a stolen key"}, status=200)

    assert statuses(completeness(hub, at(2026, 12, 15), period_to="2026-11"))["2026-11"] == "not_due"
    withdrawn = completeness(hub, at(2026, 12, 17), period_to="2026-11")
    assert statuses(withdrawn)["2026-11"] == "missing"  # a withdrawn release was never a real one
    assert withdrawn["periods"][-1]["reporting_rate"] == 0.0

    submit(hub, "ua-w", "2026-11", at(2026, 12, 18), revision=2)  # revision 1 stays taken
    resent = completeness(hub, at(2026, 12, 19), period_to="2026-11")
    assert statuses(resent)["2026-11"] == "late"  # the new revision's receive time decides


def test_the_csv_export_carries_the_gap(hub: HubUnderTest) -> None:
    skipped_june(hub)
    hub.clock.now = at(2026, 8, 20)
    response = hub.client.get(
        "/v1/completeness",
        params={"period_from": "2026-05", "period_to": "2026-07", "format": "csv"},
        headers=hub.auth("coordinator"),
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["period"], r["status"], r["expected"]) for r in rows] == [
        ("2026-05", "late", "true"),
        ("2026-06", "missing", "true"),
        ("2026-07", "on_time", "true"),
    ]


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _browser(hub: HubUnderTest) -> TestClient:
    client = TestClient(hub.client.app, follow_redirects=False)
    csrf = _CSRF.search(client.get("/login").text)
    assert csrf is not None
    response = client.post("/login", data={"token": hub.tokens["coordinator"], "csrf": csrf.group(1)})
    assert response.status_code == 303, response.text
    return client


def test_the_dashboard_shows_the_gap_in_its_own_colour_and_counts_it(hub: HubUnderTest) -> None:
    skipped_june(hub)
    hub.clock.now = at(2026, 8, 20)

    response = _browser(hub).get("/completeness", params={"period_from": "2026-05", "period_to": "2026-07"})

    assert response.status_code == 200, response.text
    html = response.text
    cells = re.findall(r'data-period="([0-9-]+)" data-status="([a-z_]+)"', html)
    assert cells == [("2026-05", "late"), ("2026-06", "missing"), ("2026-07", "on_time")]
    assert '<td class="status-cell missing" data-period="2026-06"' in html
    assert '<span class="status missing">missing</span> expected, deadline passed, nothing received' in html
    missing_row = re.search(r"<th scope=\"row\">Missing</th>(.*?)</tr>", html, re.S)
    assert missing_row is not None
    assert re.findall(r">([0-9]+)</td>", missing_row.group(1)) == ["0", "1", "0"]
    reported = re.findall(r'<td class="num" data-period="([0-9-]+)">([0-9]+ / [0-9]+)</td>', html)
    assert reported == [("2026-05", "1 / 1"), ("2026-06", "0 / 1"), ("2026-07", "1 / 1")]  # June: expected, missed
