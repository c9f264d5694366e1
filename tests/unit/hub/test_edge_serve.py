# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub serve`` at the edge: forwarded headers believed from the proxy only, a port in use in one
sentence, idle connections closed."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from hub.cli.server import uvicorn_options
from hub.settings import Settings
from tests.support.hubs import Clock, HubUnderTest, start_hub
from tests.unit.hub.test_cli import ORIGIN, Operator

CLIENT = ("203.0.113.7", 50000)  # a client on the internet
PROXY = ("127.0.0.1", 50001)  # the proxy on the hub's machine (the default TIPSHARE_HUB_FORWARDED_ALLOW_IPS)


@pytest.fixture
def limited_hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub", rate_queries=1)  # a source address gets 2 queries a minute


def _as_served(hub: HubUnderTest, client: tuple[str, int]) -> TestClient:
    """The app wrapped in uvicorn's proxy-header handling exactly as ``serve`` configures it, seen from ``client``."""
    options = uvicorn_options(hub.context.settings)
    assert options["proxy_headers"] is True
    app = ProxyHeadersMiddleware(hub.client.app, trusted_hosts=options["forwarded_allow_ips"])
    return TestClient(app, client=client)


def test_a_client_cannot_forge_its_address_past_the_rate_limits(limited_hub: HubUnderTest) -> None:
    direct = _as_served(limited_hub, CLIENT)
    statuses = [direct.get("/v1/hub", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(1, 4)]
    assert statuses == [200, 200, 429]  # every request counted against 203.0.113.7, whatever it claimed


def test_through_the_trusted_proxy_the_forwarded_address_counts(limited_hub: HubUnderTest) -> None:
    proxy = _as_served(limited_hub, PROXY)
    distinct = [proxy.get("/v1/hub", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(5)]
    assert distinct == [200] * 5  # five clients behind the proxy, each with its own allowance
    same = [proxy.get("/v1/hub", headers={"X-Forwarded-For": "198.51.100.77"}).status_code for _ in range(3)]
    assert same == [200, 200, 429]


def test_serve_closes_idle_connections_and_believes_only_named_proxies() -> None:
    options = uvicorn_options(Settings(keep_alive_seconds=7, forwarded_allow_ips="10.1.2.0/24"))
    assert options["timeout_keep_alive"] == 7
    assert options["forwarded_allow_ips"] == "10.1.2.0/24"
    assert uvicorn_options(Settings())["forwarded_allow_ips"] == "127.0.0.1"


@pytest.fixture
def operator(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Operator:
    for name in [n for n in os.environ if n.startswith("TIPSHARE_HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    operator = Operator(tmp_path / "hub", capsys, Clock())
    operator.ok("init", "--origin", ORIGIN)
    return operator


def test_serve_on_a_port_in_use_says_so_in_one_sentence(operator: Operator) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = operator("serve", "--port", str(port))
    assert code == 1
    assert "Serving" not in out
    assert f"127.0.0.1:{port}" in err
    assert "already listening there" in err
    assert "--port" in err
    assert "Errno" not in err
    assert len(err.strip().splitlines()) <= 3  # one paragraph, no traceback


def test_serve_on_an_address_not_of_this_machine_says_so(operator: Operator) -> None:
    code, _, err = operator("serve", "--host", "192.0.2.123", "--port", "8750")
    assert code == 1
    assert "no network interface of this machine has that address" in err
