# SPDX-License-Identifier: Apache-2.0
"""``/docs`` works in a real browser under the dashboard's CSP, with nothing loaded from another origin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Request, expect, sync_playwright

from tests.integration.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.hubs import served_in_thread, start_hub

pytestmark = pytest.mark.slow


@pytest.fixture
def docs_url(tmp_path: Path) -> Iterator[str]:
    for hub in start_hub(tmp_path / "hub"):
        with served_in_thread(hub) as url:
            yield url


def test_attack_docs_run_only_the_hubs_own_script(docs_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    foreign: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)

            def on_request(request: Request) -> None:
                if not request.url.startswith((docs_url + "/", "data:", "blob:")):
                    foreign.append(request.url)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(message.text)

            page.on("request", on_request)
            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(docs_url + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("tipshare hub")
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
        finally:
            browser.close()
    assert foreign == [], f"requests to other origins: {foreign}"
    assert errors == [], f"console errors (CSP violations included): {errors}"
