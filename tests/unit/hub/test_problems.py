# SPDX-License-Identifier: Apache-2.0
"""Problem details (RFC 9457) as the hub's handlers write them: every header a status needs, together."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.errors import HubError, RateLimited, Unauthorized
from hub.problems import install_problem_handlers


def _client_raising(error: HubError) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fail")
    def fail() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_a_401_that_also_says_when_to_retry_keeps_its_authentication_scheme() -> None:
    response = _client_raising(Unauthorized("too many failed sign-ins", retry_after=30)).get("/fail")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="tipshare"'
    assert response.headers["Retry-After"] == "30"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "too many failed sign-ins"


@pytest.mark.parametrize(
    ("error", "present", "absent"),
    [
        (Unauthorized("no token"), "WWW-Authenticate", "Retry-After"),
        (RateLimited("slow down", retry_after=7), "Retry-After", "WWW-Authenticate"),
    ],
)
def test_each_header_only_where_its_status_calls_for_it(error: HubError, present: str, absent: str) -> None:
    response = _client_raising(error).get("/fail")
    assert present in response.headers
    assert absent not in response.headers
