# SPDX-License-Identifier: Apache-2.0
"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` package) driven by Playwright.

A hub holding the demo data (:mod:`tests.unit.hub.test_dashboard_views`, sent through the real ingest) is served
by uvicorn on 127.0.0.1; the browser signs in, opens every view, checks that each chart is drawn with the
expected series and that its table holds the API's numbers, downloads exports and compares their rows with the
API's, and writes a screenshot of every view to ``test-artifacts/dashboard/``. Every page must load nothing from
another origin and break no rule of its Content-Security-Policy.

The browser is never downloaded: ``/usr/bin/chromium`` must exist (``apt-get install -y chromium``, which
``make browser`` does); without it these tests fail, they do not skip.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect, sync_playwright

from tests.support.hubs import HubUnderTest
from tests.unit.hub.test_dashboard_views import demo_hub

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
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    for hub in demo_hub(tmp_path_factory.mktemp("browser") / "hub"):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        config = uvicorn.Config(hub.client.app, log_level="warning", lifespan="off", ws="none", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        try:
            yield Served(hub, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            listener.close()


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


def _cells(page: Page, selector: str) -> list[tuple[int | None, int | None, int | None]]:
    """(estimate, low, high) of every estimate cell of a table, in document order."""
    found = page.eval_on_selector_all(
        f"{selector} td[data-estimate]", "cells => cells.map(c => [c.dataset.estimate, c.dataset.low, c.dataset.high])"
    )
    return [tuple(int(v) if v else None for v in cell) for cell in found]  # type: ignore[misc]


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
    params = {"table": "persons_recruitment", "split": "exploitation_group", **MONTHS}
    page.goto(served.url + "/trends?" + "&".join(f"{k}={v}" for k, v in params.items()))
    drawn = _chart(page, "#trends-chart")
    labels = list(page.locator("#filter-exploitation_group option").all_text_contents())
    assert drawn["series"] == labels  # one line per exploitation group, in code-list order
    assert drawn["inked"] > 2000

    api = served.api("/v1/stats/persons_recruitment", group_by="period,exploitation_group", **MONTHS).json()
    expected = {(row["keys"]["period"], row["keys"]["exploitation_group"]): row for row in api["rows"]}
    codes = ["sexual", "labour", "other", "multiple", "unknown"]
    months = [row["keys"]["period"] for row in api["rows"]][:: len(codes)]
    table = _cells(page, "#trends-table")
    assert table == [
        (expected[m, c]["estimate"], expected[m, c]["ci95_low"], expected[m, c]["ci95_high"])
        for m in months
        for c in codes
    ]
    island = drawn["island"]
    assert island["x"] == months
    assert island["series"][1]["est"] == [expected[m, "labour"]["estimate"] for m in months]
    _fits(page)
    _shot(page, "trends")

    sdmx = _rows(_download(page, "sdmx-csv"))
    assert len(sdmx) == len(api["rows"])
    assert {(r["TIME_PERIOD"], r["EXPLOITATION_GROUP"]): int(r["OBS_VALUE"]) for r in sdmx} == {
        key: row["estimate"] for key, row in expected.items()
    }
    assert {r["CHECKPOINT_SIZE"] for r in sdmx} == {str(api["checkpoint"]["size"])}
    signed_in.check_clean()


def test_trends_form_and_clipping(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.get_by_label("Table", exact=True).select_option("contacts")
    page.get_by_label("From month").fill("2026-05")
    page.get_by_label("To month").fill("2026-10")
    page.get_by_label("Draw negative estimates as 0").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/trends?**table=contacts**")
    drawn = _chart(page, "#trends-chart")
    assert drawn["series"] == ["All"]
    expect(page.locator(".display-choice")).to_contain_text("Display choice")
    api = served.api("/v1/stats/contacts", group_by="period", **MONTHS).json()
    assert [cell[0] for cell in _cells(page, "#trends-table")] == [row["estimate"] for row in api["rows"]]
    csv_rows = _rows(_download(page, "csv"))
    assert [int(row["estimate"]) for row in csv_rows] == [row["estimate"] for row in api["rows"]]
    signed_in.check_clean()


def test_corridors(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(served.url + "/corridors?exploitation_group=labour&period_from=2026-05&period_to=2026-10")
    matrix = page.locator("#corridor-matrix")
    expect(matrix).to_be_visible()
    api = served.api(
        "/v1/stats/persons_corridor",
        group_by="citizenship,country_of_exploitation",
        exploitation_group="labour",
        **MONTHS,
    ).json()
    by_key = {(r["keys"]["citizenship"], r["keys"]["country_of_exploitation"]): r for r in api["rows"]}
    rows = page.eval_on_selector_all("#corridor-matrix tbody tr", "rows => rows.map(r => r.dataset.code)")
    columns = page.eval_on_selector_all(
        "#corridor-matrix thead th[data-code]", "cells => cells.map(c => c.dataset.code)"
    )
    assert len(rows) == len(columns) == 10
    shown = _cells(page, "#corridor-matrix")
    assert shown == [
        (by_key[r, c]["estimate"], by_key[r, c]["ci95_low"], by_key[r, c]["ci95_high"]) for r in rows for c in columns
    ]
    largest = max(api["rows"], key=lambda row: row["estimate"])
    first = page.locator("#largest-corridors tbody tr").first
    expect(first.locator("td[data-estimate]")).to_have_attribute("data-estimate", str(largest["estimate"]))
    expect(matrix.locator("thead")).to_contain_text("Poland")  # an English name from ISO 3166, not the code

    peak = max(range(len(shown)), key=lambda i: shown[i][0] or 0)
    source, target = rows[peak // len(columns)], columns[peak % len(columns)]
    cell = matrix.locator(f"tbody tr[data-code='{source}'] td").nth(peak % len(columns))
    cell.hover()
    tip = cell.evaluate("cell => getComputedStyle(cell, '::after').content")
    row = by_key[source, target]
    assert f"95% interval {row['ci95_low']} to {row['ci95_high']}" in tip.replace(",", "")
    _fits(page)
    _shot(page, "corridors")

    exported = _rows(_download(page, "csv"))
    assert len(exported) == len(api["rows"])
    assert {(r["citizenship"], r["country_of_exploitation"]): int(r["estimate"]) for r in exported} == {
        key: row["estimate"] for key, row in by_key.items()
    }
    signed_in.check_clean()


def test_demography(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(served.url + "/demography?period_from=2026-05&period_to=2026-10")
    drawn = _chart(page, "#demography-chart")
    assert drawn["series"] == ["Female", "Male", "Transgender or gender non-conforming", "Not specified or unknown"]
    assert drawn["inked"] > 2000
    api = served.api("/v1/stats/persons_demography", group_by="age_band,gender", **MONTHS).json()
    assert _cells(page, "#demography-table") == [(r["estimate"], r["ci95_low"], r["ci95_high"]) for r in api["rows"]]
    _fits(page)
    _shot(page, "demography")
    exported = json.loads(_download(page, "json"))
    assert exported["rows"] == api["rows"]
    assert exported["checkpoint"] == api["checkpoint"]
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
