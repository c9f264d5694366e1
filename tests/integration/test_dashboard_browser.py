# SPDX-License-Identifier: Apache-2.0
"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` package) driven by Playwright.

A hub holding the demo data (:mod:`tests.unit.hub.test_dashboard_views`: taxonomy v1 and v2 releases, sent
through the real ingest) is served by uvicorn on 127.0.0.1; the browser signs in, opens every view, checks that
each chart is drawn with the expected series and that its table holds the numbers of ``GET /v1/estimates`` (the
corridors not distinguishable from zero hatched and never ranked), downloads exports and compares their rows with
the API's, and writes a screenshot of every view to ``test-artifacts/dashboard/``. Every page must load nothing
from another origin and break no rule of its Content-Security-Policy.

The browser is never downloaded: ``/usr/bin/chromium`` must exist (``apt-get install -y chromium``, which
``make browser`` does); without it these tests fail, they do not skip.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect, sync_playwright

from tests.support.hubs import HubUnderTest, served_in_thread

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
MONTHS = {"period_from": "2026-05", "period_to": "2026-10"}
V2_MONTHS = {"period_from": "2026-08", "period_to": "2026-10"}
Triple = tuple[float | None, float | None, float | None]


@dataclass
class Served:
    hub: HubUnderTest
    url: str

    def api(self, path: str, **params: str) -> httpx.Response:
        response = httpx.get(self.url + path, params=params, headers=self.hub.auth("coordinator"), timeout=30)
        assert response.status_code == 200, response.text
        return response


@dataclass
class Watched:
    """A signed-in page, and what it did that it must not: other origins contacted, console errors."""

    page: Page
    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check_clean(self) -> None:
        assert self.foreign == [], f"requests to other origins: {self.foreign}"
        assert self.errors == [], f"console errors (CSP violations included): {self.errors}"


@pytest.fixture(scope="module")
def served(dashboard_demo: HubUnderTest) -> Iterator[Served]:
    """The session's demo hub (``tests/conftest.py``), served on 127.0.0.1; the tests only read it."""
    with served_in_thread(dashboard_demo) as url:
        yield Served(dashboard_demo, url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "(`apt-get install -y chromium`, or `make browser`); Playwright's own browser download is not used"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def _open(browser: Browser, served: Served, *, width: int = 1280, height: int = 900) -> Watched:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Watched(page, served.url)

    def on_request(request: Request) -> None:
        if not request.url.startswith((served.url + "/", "data:", "blob:")):
            watched.foreign.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    return watched


def _sign_in(watched: Watched, served: Served, path: str = "/trends") -> Page:
    page = watched.page
    page.goto(served.url + path)
    expect(page).to_have_url(f"{served.url}/login?next={quote(path, safe='')}")
    page.get_by_label("Token").fill(served.hub.tokens["coordinator"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(served.url + path)
    return page


@pytest.fixture
def signed_in(browser: Browser, served: Served) -> Iterator[Watched]:
    watched = _open(browser, served)
    _sign_in(watched, served)
    yield watched
    watched.page.context.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _chart(page: Page, selector: str) -> dict[str, Any]:
    """Wait until the chart is drawn; its series names, its data island, and how many of its pixels are inked."""
    chart = page.locator(selector)
    expect(chart).to_have_attribute("data-rendered", "true")
    island = json.loads(page.locator(f"#{chart.get_attribute('data-chart')}").text_content() or "null")
    inked = page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector + ' canvas');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] > 0 && !(data[i] > 235 && data[i + 1] > 235 && data[i + 2] > 235)) inked++;
            }
            return inked;
        }""",
        selector,
    )
    return {"series": (chart.get_attribute("data-series") or "").split("|"), "island": island, "inked": inked}


def _fits(page: Page) -> None:
    """The page never scrolls sideways (wide tables scroll inside their own region)."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


def _cells(page: Page, selector: str) -> list[Triple]:
    """(estimate, low, high) of every estimate cell of a table, in document order."""
    found = page.eval_on_selector_all(
        f"{selector} td[data-estimate]", "cells => cells.map(c => [c.dataset.estimate, c.dataset.low, c.dataset.high])"
    )
    return [tuple(float(v) if v else None for v in cell) for cell in found]  # type: ignore[misc]


def _triples(rows: list[dict[str, Any]]) -> list[Triple]:
    return [(row["estimate"], row["ci95_low"], row["ci95_high"]) for row in rows]


def _url(served: Served, path: str, **params: str) -> str:
    return f"{served.url}{path}?{urlencode(params)}"


def _download(page: Page, fmt: str) -> str:
    with page.expect_download() as info:
        page.locator(f"a[data-format='{fmt}']").click()
    path = info.value.path()
    return Path(path).read_text(encoding="utf-8")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------------------------------------- the views


def test_trends(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    expect(page.get_by_role("heading", level=1)).to_contain_text("potential victims reported to hotlines")
    page.goto(_url(served, "/trends", unit="person", split="exploitation_group", **MONTHS))
    drawn = _chart(page, "#trends-chart")
    labels = list(page.locator("#filter-exploitation_group option").all_text_contents())
    assert drawn["series"] == labels  # one line per exploitation group, in code-list order
    assert drawn["inked"] > 2000
    expect(page.get_by_label("Count", exact=True)).to_have_value("person")

    api = served.api("/v1/estimates/person", group_by="period,exploitation_group", **MONTHS).json()
    expected = {(row["keys"]["period"], row["keys"]["exploitation_group"]): row for row in api["rows"]}
    codes = ["sexual", "labour", "other", "multiple", "unknown"]
    months = [row["keys"]["period"] for row in api["rows"]][:: len(codes)]
    table = _cells(page, "#trends-table")
    assert table == _triples([expected[m, c] for m in months for c in codes])
    muted = page.eval_on_selector_all("#trends-table td.indistinct", "cells => cells.length")
    assert muted == sum(1 for row in api["rows"] if not row["distinguishable"])
    island = drawn["island"]
    assert island["x"] == months
    assert island["series"][1]["est"] == [expected[m, "labour"]["estimate"] for m in months]
    expect(page.locator(".notes")).to_contain_text("Releases combined: tipshare-taxonomy/1, tipshare-taxonomy/2.")
    _fits(page)
    _shot(page, "trends")

    sdmx = _rows(_download(page, "sdmx-csv"))
    assert len(sdmx) == len(api["rows"])
    assert {(r["TIME_PERIOD"], r["EXPLOITATION_GROUP"]): float(r["OBS_VALUE"]) for r in sdmx} == {
        key: row["estimate"] for key, row in expected.items()
    }
    assert {(r["TIME_PERIOD"], r["EXPLOITATION_GROUP"]): (r["DISTINGUISHABLE"], r["RANK"]) for r in sdmx} == {
        key: ("true" if row["distinguishable"] else "false", "" if row["rank"] is None else str(row["rank"]))
        for key, row in expected.items()
    }
    assert {r["CHECKPOINT_SIZE"] for r in sdmx} == {str(api["checkpoint"]["size"])}
    signed_in.check_clean()


def test_trends_unit_picker_and_clipping(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.get_by_label("Count", exact=True).select_option("contact")
    page.get_by_label("From month").fill("2026-05")
    page.get_by_label("To month").fill("2026-10")
    page.get_by_label("Draw negative estimates as 0").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/trends?**unit=contact**")
    drawn = _chart(page, "#trends-chart")
    assert drawn["series"] == ["All"]
    expect(page.locator(".display-choice")).to_contain_text("Display choice")
    expect(page.get_by_role("combobox", name="Channel")).to_be_visible()  # the filters: the contact tables' dimensions
    expect(page.locator("#filter-citizenship")).to_have_count(0)
    api = served.api("/v1/estimates/contact", group_by="period", **MONTHS).json()
    assert [cell[0] for cell in _cells(page, "#trends-table")] == [row["estimate"] for row in api["rows"]]
    csv_rows = _rows(_download(page, "csv"))
    assert [float(row["estimate"]) for row in csv_rows] == [row["estimate"] for row in api["rows"]]
    signed_in.check_clean()


def test_an_old_trends_link_names_its_table(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(_url(served, "/trends", table="persons_recruitment", split="recruitment_channel", **MONTHS))
    expect(page.locator(".notice").first).to_contain_text("This link names the table persons_recruitment.")
    expect(page.get_by_label("Count", exact=True)).to_have_value("person")
    _chart(page, "#trends-chart")
    api = served.api("/v1/estimates/person", group_by="period,recruitment_channel", **MONTHS).json()
    assert _cells(page, "#trends-table") == _triples(api["rows"])
    signed_in.check_clean()


def test_corridors(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(_url(served, "/corridors", exploitation_group="labour", **MONTHS))
    matrix = page.locator("#corridor-matrix")
    expect(matrix).to_be_visible()
    api = served.api(
        "/v1/estimates/person", group_by="citizenship,country_of_exploitation", exploitation_group="labour", **MONTHS
    ).json()
    by_key = {(r["keys"]["citizenship"], r["keys"]["country_of_exploitation"]): r for r in api["rows"]}
    rows = page.eval_on_selector_all("#corridor-matrix tbody tr", "rows => rows.map(r => r.dataset.code)")
    columns = page.eval_on_selector_all(
        "#corridor-matrix thead th[data-code]", "cells => cells.map(c => c.dataset.code)"
    )
    assert len(rows) == len(columns) == 10
    shown = _cells(page, "#corridor-matrix")
    assert shown == _triples([by_key[r, c] for r in rows for c in columns])
    expect(matrix.locator("thead")).to_contain_text("Poland")  # an English name from ISO 3166, not the code

    # not distinguishable from zero: hatched, never shaded; the legend says so
    looks = page.eval_on_selector_all(
        "#corridor-matrix td[data-estimate]",
        "cells => cells.map(c => [c.dataset.distinguishable, getComputedStyle(c).backgroundImage])",
    )
    assert [image.startswith("repeating-linear-gradient") for _, image in looks] == [
        flag == "false" for flag, _ in looks
    ]
    assert {flag for flag, _ in looks} == {"true", "false"}
    expect(page.locator(".legend-indistinct")).to_contain_text("not distinguishable from zero")

    # "Largest corridors": ranked rows only, by rank, each with its interval; how many were compared
    ranked = sorted((r for r in api["rows"] if r["rank"] is not None), key=lambda r: r["rank"])[:10]
    assert ranked
    assert _cells(page, "#largest-corridors") == _triples(ranked)
    assert page.eval_on_selector_all("#largest-corridors tbody tr", "rows => rows.map(r => r.dataset.rank)") == [
        str(r["rank"]) for r in ranked
    ]
    expect(page.locator("#ranking-summary")).to_contain_text(
        f"3,844 corridors compared; {api['ranking']['distinguishable']} distinguishable from zero"
    )

    peak = max(range(len(shown)), key=lambda i: shown[i][0] or 0)
    source, target = rows[peak // len(columns)], columns[peak % len(columns)]
    cell = matrix.locator(f"tbody tr[data-code='{source}'] td").nth(peak % len(columns))
    cell.hover()
    tip = cell.evaluate("cell => getComputedStyle(cell, '::after').content")
    row = by_key[source, target]
    assert f"95% interval {row['ci95_low']:g} to {row['ci95_high']:g}" in tip.replace(",", "")
    _fits(page)
    _shot(page, "corridors")

    exported = _rows(_download(page, "csv"))
    assert len(exported) == len(api["rows"])
    assert {(r["citizenship"], r["country_of_exploitation"]): float(r["estimate"]) for r in exported} == {
        key: row["estimate"] for key, row in by_key.items()
    }
    signed_in.check_clean()


def test_corridors_with_nothing_to_rank(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(_url(served, "/corridors", exploitation_group="unknown", **MONTHS))  # nobody in the demo: true zeros
    expect(page.locator("#no-ranking")).to_contain_text("No corridor is distinguishable from zero")
    expect(page.locator("#largest-corridors")).to_have_count(0)
    expect(page.locator("#corridor-matrix td.heat-1, #corridor-matrix td.heat-6")).to_have_count(0)
    _fits(page)
    _shot(page, "corridors-nothing-ranked")
    signed_in.check_clean()


def test_demography(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(_url(served, "/demography", **MONTHS))
    drawn = _chart(page, "#demography-chart")
    assert drawn["series"] == ["Female", "Male", "Transgender or gender non-conforming", "Not specified or unknown"]
    assert drawn["inked"] > 2000
    api = served.api("/v1/estimates/person", group_by="gender,age_band", **MONTHS).json()
    by_key = {(r["keys"]["age_band"], r["keys"]["gender"]): r for r in api["rows"]}
    ages = page.eval_on_selector_all("#demography-table tbody tr", "rows => rows.map(r => r.dataset.code)")
    genders = ["F", "M", "X", "U"]
    assert len(ages) == 10
    assert _cells(page, "#demography-table") == _triples([by_key[a, g] for a in ages for g in genders])
    _fits(page)
    _shot(page, "demography")
    exported = json.loads(_download(page, "json"))
    assert exported["rows"] == api["rows"]
    assert exported["checkpoint"] == api["checkpoint"]

    # one exploitation group: gender × age group, over months whose releases all carry that cut (v2)
    page.get_by_label("Exploitation").select_option("labour")
    page.get_by_label("From month").fill(V2_MONTHS["period_from"])
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/demography?**exploitation_group=labour**")
    drawn = _chart(page, "#demography-chart")
    assert drawn["island"]["x"] == ["Child (under 18)", "Adult (18 or older)", "Age not known"]
    groups = served.api(
        "/v1/estimates/person", group_by="gender,age_group", exploitation_group="labour", **V2_MONTHS
    ).json()
    by_group = {(r["keys"]["age_group"], r["keys"]["gender"]): r for r in groups["rows"]}
    expected = [by_group[a, g] for a in ("child", "adult", "unknown") for g in genders]
    assert _cells(page, "#demography-table") == _triples(expected)
    _shot(page, "demography-age-group")

    signed_in.check_clean()

    # the same cut over months with v1 releases: the reason (a 400 page), not a crash
    page.get_by_label("From month").fill(MONTHS["period_from"])
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/demography?**period_from=2026-05**")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("2026-05..2026-07")
    expect(alert).to_contain_text("It can be answered for 2026-08..2026-10")
    expect(page.locator("#demography-table")).to_have_count(0)
    _fits(page)
    _shot(page, "demography-not-answerable")
    assert signed_in.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    signed_in.errors.clear()
    signed_in.check_clean()


def test_completeness(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(served.url + "/completeness")
    drawn = _chart(page, "#completeness-chart")
    assert drawn["series"] == ["Reporting rate", "On-time rate"]
    api = served.api("/v1/completeness").json()
    statuses = page.eval_on_selector_all(
        "#completeness-grid tbody td[data-status]",
        "cells => cells.map(c => [c.closest('tr').dataset.hotline, c.dataset.period, c.dataset.status])",
    )
    assert statuses == [[r["hotline_id"], r["period"], r["status"]] for r in api["rows"]]
    expect(page.locator("#completeness-grid tr[data-hotline='la-strada-ua'] .corrected-mark")).to_have_count(1)
    _fits(page)
    _shot(page, "completeness")
    sdmx = _rows(_download(page, "sdmx-csv"))
    assert [(r["HOTLINE"], r["TIME_PERIOD"], r["REPORTING_STATUS"]) for r in sdmx] == [
        (r["hotline_id"], r["period"], r["status"]) for r in api["rows"]
    ]
    signed_in.check_clean()


# ---------------------------------------------------------------------------------------------- access


def test_phone_width_keyboard_and_sign_out(browser: Browser, served: Served) -> None:
    watched = _open(browser, served, width=390, height=844)
    page = _sign_in(watched, served, "/trends?period_from=2026-05&period_to=2026-10")
    _chart(page, "#trends-chart")
    _fits(page)
    _shot(page, "trends-phone")
    for view in ("corridors", "completeness"):  # wide tables scroll inside their region, not the page
        page.goto(f"{served.url}/{view}")
        _fits(page)
        _shot(page, f"{view}-phone")
    page.goto(served.url + "/trends")

    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('main') !== null")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(served.url + "/login")
    page.goto(served.url + "/completeness")
    expect(page).to_have_url(served.url + "/login?next=%2Fcompleteness")
    watched.check_clean()
    page.context.close()
