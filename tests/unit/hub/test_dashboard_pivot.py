# SPDX-License-Identifier: Apache-2.0
"""The custom table (``GET /pivot``): the cells and totals are the estimates API's answers, its exports are the
same cells, and its parameters are as strict as the API's."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.dashboard_demo import (
    MONTHS_PARAMS,
    V2_MONTHS,
    get_json,
    get_page,
    html_section,
    signed_in,
)
from tests.support.hubs import HubUnderTest

_KIND_CELL = re.compile(
    r'data-kind="([a-z-]+)" data-key="([^"]*)" data-estimate="([^"]*)" data-low="([^"]*)" data-high="([^"]*)" '
    r'data-status="([AUO])"'
)
Cell = tuple[str, str, float | None, float | None, float | None, str]


@pytest.fixture(scope="module")
def demo(dashboard_demo: HubUnderTest) -> HubUnderTest:
    """The session's demo hub (``tests/conftest.py``), which this module only reads."""
    return dashboard_demo


@pytest.fixture(scope="module")
def browser(demo: HubUnderTest) -> TestClient:
    return signed_in(demo)


def _cells(html: str) -> list[Cell]:
    """(kind, key, estimate, low, high, obs_status) of every number of the custom table, in document order."""
    return [
        (kind, key, *(float(v) if v else None for v in (est, low, high)), status)  # type: ignore[misc]
        for kind, key, est, low, high, status in _KIND_CELL.findall(html_section(html, "pivot-table"))
    ]


def _expected(kind: str, rows: list[dict[str, Any]], group_by: tuple[str, ...]) -> list[Cell]:
    return [
        (
            kind,
            ",".join(row["keys"][name] for name in group_by),
            row["estimate"],
            row["ci95_low"],
            row["ci95_high"],
            row["obs_status"],
        )
        for row in rows
    ]


def test_cells_and_totals_are_the_apis_answers(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/pivot", unit="person", rows="exploitation_group", columns="gender", **V2_MONTHS)
    cells = _cells(html)
    api = get_json(demo, "/v1/estimates/person", group_by="exploitation_group,gender", **V2_MONTHS)
    by_row = get_json(demo, "/v1/estimates/person", group_by="exploitation_group", **V2_MONTHS)
    by_column = get_json(demo, "/v1/estimates/person", group_by="gender", **V2_MONTHS)
    overall = get_json(demo, "/v1/estimates/person", **V2_MONTHS)
    genders = [row["keys"]["gender"] for row in by_column["rows"]]
    groups = [row["keys"]["exploitation_group"] for row in by_row["rows"]]
    assert len(genders) == 4
    assert len(groups) == 5
    found = {(c[0], c[1]): c for c in cells}
    for row in _expected("cell", api["rows"], ("exploitation_group", "gender")):
        assert found["cell", row[1]] == row
    for row in _expected("row-total", by_row["rows"], ("exploitation_group",)):
        assert found["row-total", row[1]] == row
    for row in _expected("column-total", by_column["rows"], ("gender",)):
        assert found["column-total", row[1]] == row
    assert found["total", ""] == _expected("total", overall["rows"], ())[0]
    # row by row, as the screen reads: the cells of a group in gender order, then the group's own total
    assert [c[:2] for c in cells[:5]] == [("cell", f"{groups[0]},{g}") for g in genders] + [("row-total", groups[0])]
    assert len(cells) == 5 * 4 + 5 + 4 + 1
    # noise-dominated cells (SDMX status U) carry the API's flag
    noisy = [row for row in api["rows"] if row["obs_status"] == "U"]
    assert noisy, "the demo has noise-dominated cells"
    assert html.count('class="num cell flagged') >= len(noisy)
    assert "Row totals cannot be answered" not in html


def test_the_csv_export_has_exactly_the_cells_shown(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(
        browser, "/pivot", unit="person", rows="citizenship", columns="period", citizenship="UA,MD,RO", **V2_MONTHS
    )
    shown = {c[1]: c[2:] for c in _cells(html) if c[0] == "cell"}
    assert len(shown) == 3 * 3
    links = re.findall(r'href="(/pivot/export\?[^"]+)"', html)
    csv_link = next(link.replace("&amp;", "&") for link in links if "format=csv" in link and "rows=citizenship" in link)
    response = browser.get(csv_link)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    exported = {
        f"{r['citizenship']},{r['period']}": (
            float(r["estimate"]),
            float(r["ci95_low"]),
            float(r["ci95_high"]),
            r["obs_status"],
        )
        for r in rows
    }
    assert exported == shown
    # the totals' downloads are questions of their own: per citizenship, per month, overall
    totals = [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)" download data-totals', html)]
    assert len(totals) == 3
    by_citizenship = list(csv.DictReader(io.StringIO(browser.get(totals[0]).text)))
    api = get_json(demo, "/v1/estimates/person", group_by="citizenship", citizenship="UA,MD,RO", **V2_MONTHS)
    assert [float(r["estimate"]) for r in by_citizenship] == [r["estimate"] for r in api["rows"]]


def test_rows_only_and_the_total_only(demo: HubUnderTest, browser: TestClient) -> None:
    html = get_page(browser, "/pivot", unit="contact", rows="channel", columns="", **MONTHS_PARAMS)
    api = get_json(demo, "/v1/estimates/contact", group_by="channel", **MONTHS_PARAMS)
    overall = get_json(demo, "/v1/estimates/contact", **MONTHS_PARAMS)
    assert _cells(html) == [
        *(("cell", *c[1:]) for c in _expected("cell", api["rows"], ("channel",))),
        *_expected("total", overall["rows"], ()),
    ]
    html = get_page(browser, "/pivot", unit="person", rows="", columns="", **MONTHS_PARAMS)
    [(kind, key, *numbers)] = _cells(html)
    assert (kind, key) == ("cell", "")
    assert (
        tuple(numbers) == _expected("cell", get_json(demo, "/v1/estimates/person", **MONTHS_PARAMS)["rows"], ())[0][2:]
    )


def test_a_bookmarkable_default(browser: TestClient) -> None:
    html = get_page(browser, "/pivot")
    assert 'data-rows="exploitation_group" data-columns="period"' in html
    assert 'aria-current="page">Custom table<' in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rows": "citizenship", "colums": "gender"}, "unknown query parameter(s): colums"),
        ({"rows": "citizenship", "unit": ["person", "case"]}, "unit is given 2 times"),
        ({"rows": "citizenship,gender", "columns": "period,age_band"}, "at most 3 dimensions"),
        ({"rows": "gender", "columns": "gender"}, "gender is chosen more than once"),
        ({"unit": "contact", "rows": "citizenship"}, "no contact table has the dimension"),
        ({"unit": "contact", "rows": "channel", "gender": "F"}, "filter gender: no contact table"),
        ({"rows": "gender", "citizenship": "Atlantis"}, "citizenship 'Atlantis' is not a code"),
        ({"rows": "", "columns": "gender"}, "columns need rows"),
    ],
)
def test_strict_parameters(browser: TestClient, params: dict[str, Any], message: str) -> None:
    response = browser.get("/pivot", params=params)
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    export = browser.get("/pivot/export", params={"format": "csv", **params})
    assert export.status_code == 400


def test_a_question_the_releases_cannot_answer_shows_the_reason(browser: TestClient) -> None:
    """Forms of exploitation × gender is a v2 cut: over months with v1 releases the table is refused, with why."""
    html = get_page(browser, "/pivot", 400, rows="exploitation_group", columns="gender", **MONTHS_PARAMS)
    assert "This question cannot be answered" in html
    assert "It can be answered for 2026-08..2026-10" in html
    assert 'id="pivot-table"' not in html


def test_signing_in_comes_back_to_a_custom_table_link(demo: HubUnderTest) -> None:
    client = TestClient(demo.client.app, follow_redirects=False)
    bookmark = "/pivot?unit=person&rows=gender&columns=period"
    sent = client.get(bookmark)
    assert sent.status_code == 303
    form = client.get(sent.headers["location"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    assert f'name="next" value="{bookmark.replace("&", "&amp;")}"' in form.text
    signed_in = client.post(
        "/login", data={"token": demo.tokens["coordinator"], "csrf": csrf.group(1), "next": bookmark}
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == bookmark
