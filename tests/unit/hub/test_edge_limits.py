# SPDX-License-Identifier: Apache-2.0
"""Body caps and authentication before any body is read (hub.limits, hub.auth_gate).

The attacks are driven against the hub's ASGI app with a ``receive`` that counts the bytes the server asked for:
what is asserted is how much of a hostile body the hub read, never time or memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hub.auth_gate import token_operations
from hub.limits import body_cap
from tests.support.hubkit import assert_problem
from tests.support.hubs import HubUnderTest

MIB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Answer:
    status: int
    body: bytes
    consumed: int

    def problem(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


def _chunks(total: int) -> Iterator[bytes]:
    block = b"x" * CHUNK
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        sent += len(piece)
        yield piece


def call(
    hub: HubUnderTest, method: str, path: str, *, total: int, headers: Mapping[str, str], declare: bool = False
) -> Answer:
    """Send ``total`` body bytes (chunked, or with a Content-Length if ``declare``), counting what the app reads."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(total).encode()) if declare else (b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"hub.test"), *raw_headers],
        "client": ("192.0.2.10", 40000),
        "server": ("hub.test", 80),
    }
    pieces = _chunks(total)
    consumed = 0
    status = 0
    body = b""

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        piece = next(pieces, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        consumed += len(piece)
        return {"type": "http.request", "body": piece, "more_body": consumed < total}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    asyncio.run(hub.client.app(scope, receive, send))
    return Answer(status, body, consumed)


JSON = {"Content-Type": "application/json"}


def test_attack_unauthenticated_32_mib_body_to_an_admin_route_is_refused_unread(hub: HubUnderTest) -> None:
    for headers in (JSON, {**JSON, "Authorization": "Bearer tsh_not-a-real-token"}):
        answer = call(hub, "POST", "/v1/admin/hotlines", total=32 * MIB, headers=headers)
        assert answer.status == 401
        assert answer.consumed == 0
        assert answer.problem()["code"] == "unauthorized"


def test_attack_declared_32_mib_body_is_refused_by_its_length_unread(hub: HubUnderTest) -> None:
    for path in ("/v1/admin/hotlines", "/v1/submissions", "/login"):
        answer = call(hub, "POST", path, total=32 * MIB, headers={**JSON, **hub.auth("admin")}, declare=True)
        assert answer.status == 413, path
        assert answer.consumed == 0
        assert "at most" in answer.problem()["detail"]


def test_attack_streamed_body_stops_at_the_cap_even_with_a_valid_token(hub: HubUnderTest) -> None:
    cap = hub.context.settings.max_request_bytes
    answer = call(hub, "POST", "/v1/admin/hotlines", total=32 * MIB, headers={**JSON, **hub.auth("admin")})
    assert answer.status == 413
    assert answer.problem()["code"] == "payload_too_large"
    assert answer.consumed <= cap + CHUNK


def test_a_streamed_submission_stops_at_the_submission_cap(hub: HubUnderTest) -> None:
    cap = hub.context.settings.max_body_bytes
    answer = call(hub, "POST", "/v1/submissions", total=32 * MIB, headers=JSON)
    assert answer.status == 413
    assert answer.consumed <= cap + CHUNK


def test_a_small_body_to_a_public_form_is_not_gated(hub: HubUnderTest) -> None:
    # The sign-in form needs no token (the token is what it carries): it gets its own answer, not a 401.
    answer = call(hub, "POST", "/login", total=10, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 400  # no sign-in cookie: the form has expired


def test_ordinary_requests_pass_the_gate_and_the_caps(hub: HubUnderTest) -> None:
    hub.enroll("hot-edge", "DE")  # an admin POST with a body and a valid token
    receipt = hub.submit_cells("hot-edge", "2026-09", {})
    assert receipt.submission_id
    coordinator = hub.client.post("/v1/admin/hotlines", json={}, headers=hub.auth("coordinator"))
    assert_problem(coordinator, 403, "forbidden")  # the gate authenticates; the route still checks the role
    no_token = hub.client.get("/v1/admin/hotlines")
    assert_problem(no_token, 401, "unauthorized")


def test_the_gate_protects_what_the_openapi_document_says_needs_a_token(hub: HubUnderTest) -> None:
    protected = token_operations(hub.client.get("/openapi.json").json())
    methods_paths = {(method, pattern.pattern) for method, pattern in protected}
    assert ("POST", "/v1/admin/hotlines") in methods_paths
    assert any(m == "POST" and p.fullmatch("/v1/admin/hotlines/hot-x/keys") for m, p in protected)
    assert not any(p.fullmatch("/v1/submissions") for _, p in protected)
    assert not any(p.fullmatch("/login") for _, p in protected)


def test_body_caps_by_route() -> None:
    assert body_cap("POST", "/v1/submissions", submission=10, other=5) == 10
    assert body_cap("GET", "/v1/submissions", submission=10, other=5) == 5
    assert body_cap("POST", "/v1/admin/tokens", submission=10, other=5) == 5
