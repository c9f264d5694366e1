# SPDX-License-Identifier: Apache-2.0
"""``/docs`` is served from the hub's own files under the dashboard's CSP, and can be turned off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.dashboard.pages import CONTENT_SECURITY_POLICY
from tests.support.hubs import HubUnderTest, start_hub


def test_attack_docs_load_no_script_from_another_origin(hub: HubUnderTest) -> None:
    page = hub.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "//" not in re.sub(r"<!doctype html>", "", page.text)  # no absolute or protocol-relative address
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    references = re.findall(r'(?:src|href|data-openapi)="([^"]+)"', page.text)
    assert references
    for reference in references:
        assert reference.startswith("/"), reference
        asset = hub.client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content


def test_the_docs_assets_are_swagger_ui(hub: HubUnderTest) -> None:
    bundle = hub.client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    starter = hub.client.get("/docs/start.js")
    assert starter.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle(" in starter.text


@pytest.fixture
def hub_without_docs(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub", docs=False)


def test_docs_can_be_turned_off(hub_without_docs: HubUnderTest) -> None:
    assert hub_without_docs.client.get("/docs").status_code == 404
    assert hub_without_docs.client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
    assert hub_without_docs.client.get("/openapi.json").status_code == 200
