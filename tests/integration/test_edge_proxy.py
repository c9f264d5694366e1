# SPDX-License-Identifier: Apache-2.0
"""Behind the shipped Caddy configuration, a client cannot forge its address past the hub's rate limits.

The hub is served for real (``tipshare-hub serve``) and Caddy runs ``deploy/compose/Caddyfile`` itself, with only
what a test machine needs changed: plain HTTP on a free local port as the site, the hub's local address as the
upstream, and a free port for Caddy's admin API. Needs Debian's ``caddy`` (``make proxy`` installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.settings import Settings
from hub.setup import initialise_hub
from tests.support.backends import fresh_database_url
from tools.served_hub import ServedHub, free_port, served_hub

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "compose" / "Caddyfile"
ORIGIN = "hub.test.tipshare/edge-proxy"


@dataclass(frozen=True, slots=True)
class Proxied:
    hub: ServedHub
    url: str


def _caddyfile(hub_port: int, admin_port: int) -> str:
    text = CADDYFILE.read_text(encoding="utf-8")
    for shipped, local in (
        ("reverse_proxy hub:8750", f"reverse_proxy 127.0.0.1:{hub_port}"),
        ("admin 127.0.0.1:2019", f"admin 127.0.0.1:{admin_port}"),
    ):
        assert shipped in text, f"the shipped Caddyfile no longer has {shipped!r}: update this test"
        text = text.replace(shipped, local)
    return text


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxied]:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("Caddy is not installed (Debian package caddy; `make proxy` installs it)")
    data_dir = tmp_path / "hub"
    with fresh_database_url() as database_url:
        context = initialise_hub(Settings(data_dir=data_dir, database_url=database_url), origin=ORIGIN)
        context.engine.dispose()
        # The proxy runs on this machine: the default TIPSHARE_HUB_FORWARDED_ALLOW_IPS (127.0.0.1) believes it.
        limits = {"TIPSHARE_HUB_RATE_QUERIES": "1"}  # a source address gets 2 queries a minute
        with served_hub(data_dir, database_url=database_url, workers=1, settings=limits) as hub:
            port = free_port()
            config = tmp_path / "Caddyfile"
            config.write_text(_caddyfile(int(hub.url.rsplit(":", 1)[1]), free_port()), encoding="utf-8")
            environment = {
                **os.environ,
                "TIPSHARE_DOMAIN": f"http://127.0.0.1:{port}",
                "ACME_EMAIL": "ops@example.org",
                "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
                "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
            }
            log = (tmp_path / "caddy.log").open("wb")
            process = subprocess.Popen(  # noqa: S603 - Debian's caddy with our own configuration
                [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_for(url, process, tmp_path / "caddy.log")
                yield Proxied(hub=hub, url=url)
            finally:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
                log.close()


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"caddy exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"caddy did not answer in 30 s:\n{log.read_text(errors='replace')[-4000:]}")


def test_forged_forwarded_for_through_the_shipped_proxy_is_ignored(proxied: Proxied) -> None:
    statuses = [
        httpx.get(f"{proxied.url}/v1/hub", headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10).status_code
        for n in range(1, 4)
    ]
    assert statuses == [200, 200, 429], proxied.hub.log_tail()  # all three counted against the real address


def test_the_shipped_proxy_hides_metrics_and_passes_answers_through(proxied: Proxied) -> None:
    assert httpx.get(f"{proxied.url}/metrics", timeout=10).status_code == 404
    answer = httpx.get(f"{proxied.url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert "x-request-id" in answer.headers
