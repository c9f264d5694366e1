# SPDX-License-Identifier: Apache-2.0
"""Every answer carries a request id; a client's well-formed id is kept, anything else is replaced."""

from __future__ import annotations

from hub.request_id import valid_request_id
from tests.support.hubs import HubUnderTest


def test_every_answer_has_a_fresh_request_id(hub: HubUnderTest) -> None:
    first = hub.client.get("/v1/hub").headers["x-request-id"]
    second = hub.client.get("/v1/no-such-route").headers["x-request-id"]
    assert valid_request_id(first)
    assert valid_request_id(second)
    assert first != second


def test_a_well_formed_client_id_is_kept(hub: HubUnderTest) -> None:
    answer = hub.client.get("/v1/hub", headers={"X-Request-ID": "proxy-1234abcd"})
    assert answer.headers["x-request-id"] == "proxy-1234abcd"


def test_a_malformed_client_id_is_replaced(hub: HubUnderTest) -> None:
    for bad in ("short", "has space in it", "x" * 65, "semi;colon-0000", "\u00e9t\u00e9-0000000"):
        answer = hub.client.get("/v1/hub", headers={"X-Request-ID": bad.encode("utf-8")})
        assert answer.headers["x-request-id"] != bad
        assert valid_request_id(answer.headers["x-request-id"])
