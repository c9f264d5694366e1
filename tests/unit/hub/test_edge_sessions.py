# SPDX-License-Identifier: Apache-2.0
"""Sign-out ends the dashboard session on the server, for every worker: a replayed cookie is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub.app import create_app
from hub.context import HubContext
from hub.db import read_session
from hub.models import EndedSession
from tests.support.hubs import HubUnderTest
from tests.unit.hub.test_dashboard_auth import _client, _csrf, sign_in

COOKIE = "tipshare_session"


@pytest.fixture
def other_worker(hub: HubUnderTest) -> Iterator[TestClient]:
    """A second app on the same database and keys, as another uvicorn worker process would build it."""
    context = HubContext.open(hub.context.settings, clock=hub.clock)
    try:
        yield TestClient(create_app(context=context), follow_redirects=False)
    finally:
        context.engine.dispose()


def _sign_out(client: TestClient) -> None:
    page = client.get("/completeness")
    assert page.status_code == 200
    assert client.post("/logout", data={"csrf": _csrf(page.text)}).status_code == 303


def _with_cookie(client: TestClient, value: str) -> TestClient:
    client.cookies.clear()
    client.cookies.set(COOKIE, value)
    return client


def _ended_rows(hub: HubUnderTest) -> int:
    with read_session(hub.context.sessions) as session:
        return session.scalar(select(func.count()).select_from(EndedSession)) or 0


def test_attack_a_cookie_copied_before_sign_out_is_refused_by_every_worker(
    hub: HubUnderTest, other_worker: TestClient
) -> None:
    browser = _client(hub)
    assert sign_in(browser, hub.tokens["coordinator"]).status_code == 303
    stolen = browser.cookies[COOKIE]
    assert _with_cookie(other_worker, stolen).get("/completeness").status_code == 200  # one session, any worker

    _sign_out(browser)

    for worker in (_client(hub), other_worker):
        replay = _with_cookie(worker, stolen).get("/completeness")
        assert replay.status_code == 303
        assert replay.headers["location"].startswith("/login")
    hub.clock.advance(hours=7)  # still refused until it would have expired
    assert _with_cookie(_client(hub), stolen).get("/trends").status_code == 303


def test_signing_out_ends_only_that_session(hub: HubUnderTest) -> None:
    first, second = _client(hub), _client(hub)
    sign_in(first, hub.tokens["coordinator"])
    sign_in(second, hub.tokens["coordinator"])
    _sign_out(first)
    assert second.get("/completeness").status_code == 200
    assert first.get("/completeness").status_code == 303


def test_a_replayed_sign_out_is_harmless(hub: HubUnderTest) -> None:
    browser = _client(hub)
    sign_in(browser, hub.tokens["auditor"])
    stolen = browser.cookies[COOKIE]
    page = browser.get("/completeness")
    _sign_out(browser)
    replay = _with_cookie(_client(hub), stolen).post("/logout", data={"csrf": _csrf(page.text)})
    assert replay.status_code == 303
    assert _ended_rows(hub) == 1


def test_ended_sessions_are_forgotten_once_their_cookie_has_expired(hub: HubUnderTest) -> None:
    old = _client(hub)
    sign_in(old, hub.tokens["coordinator"])
    _sign_out(old)
    assert _ended_rows(hub) == 1
    hub.clock.advance(hours=9)  # past the 8-hour lifetime: the cookie is refused by its expiry anyway
    new = _client(hub)
    sign_in(new, hub.tokens["coordinator"])
    _sign_out(new)
    assert _ended_rows(hub) == 1  # the old row was pruned, the new one recorded
