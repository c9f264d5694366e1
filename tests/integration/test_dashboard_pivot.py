# SPDX-License-Identifier: Apache-2.0
"""The coordinator's custom table and the views' finer points, in headless Chromium (see test_dashboard_browser).

The custom table builds from its form, shows the API's cells, intervals, flags and totals, and its CSV download
holds the cells shown; the trends chart shows the values under the pointer; the filters are searchable by
keyboard; no choice of a drop-down is cut off; the completeness grid never widens the page at 1,400 or 1,024
pixels. :func:`test_screenshots` writes the README's screenshots (``docs/screenshots/``) from the seeded hub.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.dashboard.labels import format_number
from tests.integration import test_dashboard_browser as shared
from tests.integration.test_dashboard_browser import (
    V2_MONTHS,
    Served,
    Watched,
    _chart,
    _fits,
    _open,
    _sign_in,
    _url,
)

# the browser tests' fixtures: a seeded hub served by uvicorn, Chromium, a signed-in page
served = shared.served
browser = shared.browser
signed_in = shared.signed_in

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
Numbers = tuple[float | None, float | None, float | None, str]


def _pivot_cells(page: Page) -> dict[tuple[str, str], Numbers]:
    """(kind, key) → (estimate, low, high, obs_status) of every number in the custom table."""
    found = page.eval_on_selector_all(
        "#pivot-table td[data-kind][data-estimate]",
        "cells => cells.map(c => [c.dataset.kind, c.dataset.key, c.dataset.estimate, c.dataset.low, c.dataset.high,"
        " c.dataset.status])",
    )
    return {
        (kind, key): (*(float(v) if v else None for v in (est, low, high)), status)  # type: ignore[misc]
        for kind, key, est, low, high, status in found
    }


def _api_numbers(rows: list[dict[str, object]], kind: str, group_by: tuple[str, ...]) -> dict[tuple[str, str], Numbers]:
    return {
        (kind, ",".join(str(row["keys"][name]) for name in group_by)): (  # type: ignore[index]
            row["estimate"],
            row["ci95_low"],
            row["ci95_high"],
            row["obs_status"],
        )  # type: ignore[misc]
        for row in rows
    }


def test_the_custom_table_builds_from_its_form(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(served.url + "/pivot")
    expect(page.get_by_role("heading", level=1)).to_have_text("Custom table")
    page.get_by_label("Rows, level 1").select_option("exploitation_group")
    page.get_by_label("Columns, level 1").select_option("gender")
    page.get_by_label("From month").fill(V2_MONTHS["period_from"])
    page.get_by_label("To month").fill(V2_MONTHS["period_to"])
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/pivot?**columns=gender**")
    query = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
    assert query["unit"] == ["person"]
    assert query["rows"] == ["exploitation_group", "", ""]  # every level of the form: a bookmarkable question
    assert query["columns"] == ["gender", ""]

    shown = _pivot_cells(page)
    api = served.api("/v1/estimates/person", group_by="exploitation_group,gender", **V2_MONTHS).json()
    by_row = served.api("/v1/estimates/person", group_by="exploitation_group", **V2_MONTHS).json()
    by_column = served.api("/v1/estimates/person", group_by="gender", **V2_MONTHS).json()
    overall = served.api("/v1/estimates/person", **V2_MONTHS).json()
    expected = (
        _api_numbers(api["rows"], "cell", ("exploitation_group", "gender"))
        | _api_numbers(by_row["rows"], "row-total", ("exploitation_group",))
        | _api_numbers(by_column["rows"], "column-total", ("gender",))
        | _api_numbers(overall["rows"], "total", ())
    )
    assert shown == expected

    # every cell shows its interval; noise-dominated cells (status U) carry a visible flag
    intervals = page.eval_on_selector_all("#pivot-table td[data-kind] .interval", "spans => spans.length")
    assert intervals == len(expected)
    noisy = page.eval_on_selector_all(
        "#pivot-table td[data-status='U']", "cells => cells.map(c => c.querySelector('.flag')?.textContent)"
    )
    assert noisy
    assert set(noisy) <= {"wide interval", "negative"}
    _fits(page)

    # "export exactly what is shown": the CSV download holds the cells of the table
    with page.expect_download() as info:
        page.locator("a[data-format='csv']").click()
    exported = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert {
        ("cell", f"{r['exploitation_group']},{r['gender']}"): (
            float(r["estimate"]),
            float(r["ci95_low"]),
            float(r["ci95_high"]),
            r["obs_status"],
        )
        for r in exported
    } == {key: value for key, value in shown.items() if key[0] == "cell"}
    signed_in.check_clean()


def test_trends_hover_shows_the_value_and_interval(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(_url(served, "/trends", unit="person", split="exploitation_group", **V2_MONTHS))
    island = _chart(page, "#trends-chart")["island"]
    over = page.locator("#trends-chart .u-over")
    box = over.bounding_box()
    assert box is not None
    months = island["x"]
    tip = page.locator("#trends-chart .chart-tip")
    expect(tip).to_be_hidden()
    for i, month in enumerate(months):
        over.hover(position={"x": box["width"] * (i + 0.5) / len(months), "y": box["height"] / 2})
        expect(tip).to_be_visible()
        expect(tip.locator("strong")).to_have_text(month)
        first = island["series"][0]
        line = tip.locator(".chart-tip-line").first
        expect(line).to_contain_text(f"{first['label']} {format_number(first['est'][i])}")
        expect(line).to_contain_text(f"95% interval {format_number(first['lo'][i])} to {format_number(first['hi'][i])}")
        assert tip.locator(".chart-tip-line").count() == len(island["series"])
    page.get_by_role("heading", level=1).hover()
    expect(tip).to_be_hidden()
    signed_in.check_clean()


def test_filters_are_searchable_by_keyboard(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    page.goto(_url(served, "/trends", unit="person", **V2_MONTHS))
    expect(page.locator("#filter-citizenship")).to_be_hidden()  # enhanced: the select stays in the form, hidden
    search = page.get_by_role("combobox", name="Citizenship", exact=True)
    search.focus()
    page.keyboard.type("moldo")
    listbox = page.locator("#filter-citizenship-options")
    expect(listbox).to_be_visible()
    expect(listbox.get_by_role("option")).to_have_text(["Moldova"])
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.type("ukr")
    expect(listbox.get_by_role("option")).to_have_text(["Ukraine"])
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")  # an empty box: Backspace removes the last code chosen (Ukraine)
    page.keyboard.type("rom")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator(".choice-chosen li")).to_have_text(["Moldova×", "Romania×"])
    expect(page.get_by_role("button", name="Remove Moldova")).to_be_visible()
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # with the list closed, Enter submits the form
    query = parse_qsl(urlsplit(page.url).query)
    assert [value for name, value in query if name == "citizenship"] == ["MD", "RO"]
    expect(page.locator(".choice-chosen li")).to_have_text(["Moldova×", "Romania×"])
    expect(page.locator("#trends-table-caption")).to_be_visible()
    signed_in.check_clean()


def test_no_drop_down_choice_is_cut_off(signed_in: Watched, served: Served) -> None:
    page = signed_in.page
    for path in ("/trends", "/corridors", "/pivot"):
        page.goto(_url(served, path, **V2_MONTHS))
        cut = page.evaluate(
            """() => Array.from(document.querySelectorAll('form.query select:not([multiple])')).filter(select => {
                const natural = select.cloneNode(true);
                natural.style.width = 'auto';
                natural.style.minWidth = '0';
                natural.style.maxWidth = 'none';
                natural.style.position = 'absolute';
                document.body.appendChild(natural);
                const wanted = natural.offsetWidth;
                natural.remove();
                return select.offsetWidth + 1 < wanted;
            }).map(select => select.id)"""
        )
        assert cut == [], f"{path}: these drop-downs are narrower than their longest choice: {cut}"
    signed_in.check_clean()


@pytest.mark.parametrize("width", [1400, 1024])
def test_the_completeness_grid_fits(browser: Browser, served: Served, width: int) -> None:
    watched = _open(browser, served, width=width, height=900)
    page = _sign_in(watched, served, "/completeness")
    expect(page.locator("#completeness-grid")).to_be_visible()
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sizes[0] <= sizes[1], f"the page scrolls sideways at {width}px: {sizes}"
    # the grid scrolls inside its own region, the hotline names staying in view
    region = page.locator("#completeness-grid").locator("xpath=..")
    inside = region.evaluate("r => [r.scrollWidth, r.clientWidth, getComputedStyle(r).overflowX]")
    assert inside[2] == "auto"
    if width >= 1400:
        assert inside[0] <= inside[1], f"the grid needs a scroll bar at {width}px: {inside}"
    first = page.locator("#completeness-grid tbody th").first
    assert first.evaluate("th => getComputedStyle(th).position") == "sticky"
    if inside[0] > inside[1]:
        region.evaluate("r => { r.scrollLeft = r.scrollWidth; }")
        left = first.evaluate(
            "th => th.getBoundingClientRect().left - th.closest('.table-wrap').getBoundingClientRect().left"
        )
        assert abs(left) <= 2
    watched.check_clean()
    page.context.close()


def test_the_custom_table_on_a_phone(browser: Browser, served: Served) -> None:
    watched = _open(browser, served, width=390, height=844)
    page = _sign_in(
        watched, served, "/pivot?rows=exploitation_group&columns=period&period_from=2026-08&period_to=2026-10"
    )
    expect(page.locator("#pivot-table")).to_be_visible()
    _fits(page)  # the table scrolls inside its region, the row labels kept in view
    first = page.locator("#pivot-table tbody th").first
    assert first.evaluate("th => getComputedStyle(th).position") == "sticky"
    page.get_by_role("combobox", name="Gender", exact=True).click()
    expect(page.locator("#filter-gender-options")).to_be_visible()  # a click opens the list, like a select
    page.locator("#filter-gender-options").get_by_role("option", name="Female").click()
    expect(page.locator(".choice-chosen li")).to_have_text(["Female×"])
    assert page.evaluate(
        "() => Array.from(document.querySelector('#filter-gender').selectedOptions, o => o.value)"
    ) == ["F"]
    _fits(page)
    watched.check_clean()
    page.context.close()


# ---------------------------------------------------------------------------------------------- screenshots


@pytest.fixture
def wide(browser: Browser, served: Served) -> Iterator[Page]:
    watched = _open(browser, served, width=1400, height=900)
    yield _sign_in(watched, served, "/trends")
    watched.check_clean()
    watched.page.context.close()


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000, f"{target} is not a screenshot"


def test_screenshots(wide: Page, served: Served) -> None:
    """The README's screenshots, from the seeded hub (regenerated on every run; fails if one cannot be made)."""
    page = wide
    page.goto(
        _url(
            served,
            "/pivot",
            unit="person",
            rows="exploitation_group",
            columns="gender",
            **V2_MONTHS,
        )
    )
    expect(page.locator("#pivot-table")).to_be_visible()
    _screenshot(page, "pivot")

    page.goto(_url(served, "/trends", unit="person", split="exploitation_group", **V2_MONTHS))
    _chart(page, "#trends-chart")
    box = page.locator("#trends-chart .u-over").bounding_box()
    assert box is not None
    page.locator("#trends-chart .u-over").hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.4})
    expect(page.locator("#trends-chart .chart-tip")).to_be_visible()
    _screenshot(page, "trends")

    page.goto(_url(served, "/corridors", exploitation_group="labour", **V2_MONTHS))
    expect(page.locator("#corridor-matrix")).to_be_visible()
    _screenshot(page, "corridors")
    page.goto(_url(served, "/demography", **V2_MONTHS))
    _chart(page, "#demography-chart")
    _screenshot(page, "demography")
    page.goto(served.url + "/completeness")
    _chart(page, "#completeness-chart")
    _screenshot(page, "completeness")
    names = sorted(path.name for path in SCREENSHOTS.glob("*.png"))
    assert {"pivot.png", "trends.png", "corridors.png", "demography.png", "completeness.png"} <= set(names)
    assert re.search(r"docs/screenshots/pivot\.png", (SCREENSHOTS.parents[1] / "README.md").read_text())
