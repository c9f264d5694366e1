# SPDX-License-Identifier: Apache-2.0
"""A served hub answers a huge or unauthenticated body to an admin route before the body is sent at all.

The client sends only the request head and the first bytes of a 32 MiB body, then waits: the hub must answer
from what it has (401 or 413), so the rest of the body never needs to travel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.db import write_session
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from tests.support.backends import fresh_database_url
from tests.support.rawhttp import chunked, exchange, request_head
from tools.served_hub import ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN = "hub.test.tipshare/edge-limits"
MIB = 1024 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServedHub, str]]:
    data_dir = tmp_path / "hub"
    with fresh_database_url() as database_url:
        context = initialise_hub(Settings(data_dir=data_dir, database_url=database_url), origin=ORIGIN)
        with write_session(context.sessions) as session:
            admin = TokenService(session).create(role="admin", label="ops", now=context.clock()).token
        context.engine.dispose()
        with served_hub(data_dir, database_url=database_url, workers=1) as hub:
            yield hub, admin


def test_attack_unauthenticated_chunked_body_to_an_admin_route_is_answered_before_it_is_sent(
    served: tuple[ServedHub, str],
) -> None:
    hub, _ = served
    head = request_head(
        "POST", "/v1/admin/hotlines", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    )
    answer = exchange(hub.url, head + chunked([b"x" * 1024], finished=False), timeout=20)
    assert answer.status == 401, hub.log_tail()
    assert answer.json()["code"] == "unauthorized"


def test_attack_a_declared_32_mib_body_is_answered_413_before_it_is_sent(served: tuple[ServedHub, str]) -> None:
    hub, admin = served
    for path, headers in (
        ("/v1/admin/hotlines", [("Authorization", f"Bearer {admin}")]),
        ("/v1/admin/hotlines", []),
        ("/v1/submissions", []),
    ):
        head = request_head(
            "POST", path, [("Content-Type", "application/json"), ("Content-Length", str(32 * MIB)), *headers]
        )
        answer = exchange(hub.url, head + b"{", timeout=20)
        assert answer.status == 413, (path, hub.log_tail())
        assert answer.json()["code"] == "payload_too_large"
