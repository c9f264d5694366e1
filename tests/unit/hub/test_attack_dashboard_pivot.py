# SPDX-License-Identifier: Apache-2.0
"""Attacks on the custom table (``GET /pivot``): a mistyped or smuggled parameter that would silently widen the
table, markup in a parameter, and a country-limited coordinator reaching other countries through the totals."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from hub.db import write_session
from hub.services.tokens import TokenService
from tests.support.dashboard_demo import V2_MONTHS, get_json, signed_in
from tests.support.hubs import HubUnderTest


@pytest.fixture(scope="module")
def demo(dashboard_demo: HubUnderTest) -> HubUnderTest:
    """The session's demo hub (``tests/conftest.py``), which this module only reads."""
    return dashboard_demo


@pytest.fixture(scope="module")
def browser(demo: HubUnderTest) -> TestClient:
    return signed_in(demo)


@pytest.mark.parametrize(
    "params",
    [
        {"rows": "gender", "citizenshp": "UA"},  # a typo: answered, it would be every citizenship
        {"rows": "gender", "group_by": "citizenship"},  # the API's name for another parameter
        {"rows": "gender", "country": ["MD", "UA"]},  # which one? refused, not the first or the last
        {"rows": "gender", "hotline": "la-strada-md"},  # not a parameter of the view
    ],
)
def test_attack_a_smuggled_parameter_never_widens_the_table(browser: TestClient, params: dict[str, object]) -> None:
    for path in ("/pivot", "/pivot/export"):
        response = browser.get(path, params={"format": "csv", **params} if path.endswith("export") else params)
        assert response.status_code == 400, (path, params)
        assert "text/csv" not in response.headers["content-type"]


def test_attack_markup_in_a_parameter_is_shown_as_text(browser: TestClient) -> None:
    response = browser.get("/pivot", params={"rows": '"><script>alert(1)</script>'})
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_attack_a_country_limited_coordinator_sees_only_its_countries_totals(demo: HubUnderTest) -> None:
    with write_session(demo.context.sessions) as session:
        token = (
            TokenService(session)
            .create(role="coordinator", label="moldova", now=demo.clock(), countries=frozenset({"MD"}))
            .token
        )
    client = signed_in(demo, token)
    params = {"unit": "person", "rows": "exploitation_group", "columns": "gender", **V2_MONTHS}
    html = client.get("/pivot", params=params).text
    overall = get_json(demo, "/v1/estimates/person", country="MD", **V2_MONTHS)["rows"][0]
    region = get_json(demo, "/v1/estimates/person", **V2_MONTHS)["rows"][0]
    assert f'data-kind="total" data-key="" data-estimate="{overall["estimate"]}"' in html
    assert f'data-estimate="{region["estimate"]}"' not in html
    assert client.get("/pivot", params={**params, "country": "UA"}).status_code == 403
    totals = client.get("/pivot/export", params={"format": "sdmx-csv", "rows": "gender", "columns": "", **V2_MONTHS})
    assert {row["REF_AREA"] for row in csv.DictReader(io.StringIO(totals.text))} == {"MD"}
