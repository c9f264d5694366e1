# SPDX-License-Identifier: Apache-2.0
"""The ``metrics`` role: a token for Prometheus that opens ``GET /metrics`` and nothing else.

Before it, scraping needed an admin token, so the monitoring system held the power to enroll hotlines, revoke keys,
withdraw submissions and issue tokens. The full route × role matrix is in ``test_roles.py``; these tests issue the
token as an operator does (``tipshare-hub token create --role metrics`` and ``POST /v1/admin/tokens``) and try it
where a scraper's stolen token would be tried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.cli import main
from hub.models import AccessRecord
from tests.support.hubkit import assert_problem, dump_database
from tests.support.hubs import HubUnderTest, start_hub

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _cli(hub: HubUnderTest, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``tipshare-hub ARGV`` against the hub's own data directory and database, as its operator types it."""
    settings = hub.context.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url is not None:
        where += ["--database-url", settings.database_url]
    code = main([*argv, *where], clock=hub.clock)
    out, err = capsys.readouterr()
    return code, out, err


def _scraper_token(hub: HubUnderTest, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = _cli(hub, capsys, "token", "create", "--role", "metrics", "--label", "prometheus", "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["role"] == "metrics"
    token: str = created["token"]
    return token


def test_token_create_role_metrics_scrapes_metrics(hub: HubUnderTest, capsys: pytest.CaptureFixture[str]) -> None:
    token = _scraper_token(hub, capsys)

    response = hub.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "tipshare_" in response.text
    code, out, _ = _cli(hub, capsys, "token", "list")
    assert code == 0
    assert "metrics" in out
    assert "prometheus" in out


def test_admins_keep_metrics(hub: HubUnderTest) -> None:
    assert hub.client.get("/metrics", headers=hub.auth("admin")).status_code == 200


def test_the_admin_api_issues_metrics_tokens(hub: HubUnderTest) -> None:
    response = hub.client.post(
        "/v1/admin/tokens", json={"role": "metrics", "label": "prometheus"}, headers=hub.auth("admin")
    )

    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert hub.client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = hub.client.get("/v1/admin/tokens", headers=hub.auth("admin")).json()
    assert [t["role"] for t in listed if t["label"] == "prometheus"] == ["metrics"]


def test_metrics_tokens_are_not_limited_to_countries(hub: HubUnderTest, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(hub, capsys, "token", "create", "--role", "metrics", "--label", "x", "--countries", "MD")
    assert code == 2
    assert "only coordinator tokens" in err
    response = hub.client.post(
        "/v1/admin/tokens", json={"role": "metrics", "label": "x", "countries": ["MD"]}, headers=hub.auth("admin")
    )
    assert_problem(response, 400, "bad_request", "only coordinator tokens")


def test_attack_a_scrapers_token_administers_nothing(hub: HubUnderTest, capsys: pytest.CaptureFixture[str]) -> None:
    """Prometheus's token leaks (it sits in a file on the monitoring host): it must not open the operator's routes,
    the statistics, the audit routes or the dashboard."""
    hub.enroll("ua-kyiv", "UA")
    token = _scraper_token(hub, capsys)
    bearer = {"Authorization": f"Bearer {token}"}
    before = dump_database(hub.context.engine)

    attempts = [
        ("POST", "/v1/admin/tokens", {"json": {"role": "admin", "label": "mine"}}),
        ("POST", "/v1/admin/hotlines/ua-kyiv/keys", {"json": {"public_key": "ed25519:AAAA"}}),
        ("GET", "/v1/admin/hotlines", {}),
        ("GET", "/v1/admin/tokens", {}),
        ("GET", "/v1/stats/contacts", {}),
        ("GET", "/v1/completeness", {}),
        ("GET", "/v1/log/entries", {}),
        ("GET", "/v1/audit/access-log", {}),
    ]
    for method, path, options in attempts:
        response = hub.client.request(method, path, headers=bearer, **options)
        assert_problem(response, 403, "forbidden", "a metrics token cannot use this route")
    after = dump_database(hub.context.engine)
    probes = after.pop("access_log")[len(before.pop("access_log")) :]  # each refused probe is recorded, and only that
    after.pop("access_log_checkpoints")
    before.pop("access_log_checkpoints")
    assert after == before
    with hub.context.sessions() as session:
        recorded = session.scalars(select(AccessRecord).order_by(AccessRecord.id)).all()[-len(probes) :]
    assert [(r.role, r.method, r.path, r.status) for r in recorded] == [
        ("metrics", method, path, 403) for method, path, _ in attempts
    ]

    dashboard = TestClient(hub.client.app, follow_redirects=False)
    form = dashboard.get("/login", params={"next": "/trends"})
    csrf = _CSRF.search(form.text)
    assert csrf is not None
    signed_in = dashboard.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/trends"})
    assert signed_in.status_code != 303
    assert "cannot use the dashboard" in signed_in.text
    assert dashboard.get("/trends").status_code == 303  # still signed out: back to the sign-in page
