# SPDX-License-Identifier: Apache-2.0
"""HubClient: the hub's HTTP contract mapped onto typed results and transient/permanent errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from node.client import MAX_RESPONSE_BYTES, HubClient, normalise_hub_url, pinned_identity
from node.errors import (
    ConfigError,
    HubResponseInvalid,
    HubUnreachable,
    SubmissionConflict,
    SubmissionRejected,
)
from protocol.crypto import SigningKey
from protocol.note import NoteSigner
from protocol.taxonomy import builtin_taxonomy
from tests.unit.node.fakehub import HUB_URL, FakeHub

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, url: str = HUB_URL) -> HubClient:
    return HubClient(httpx.Client(transport=httpx.MockTransport(handler)), url)


def _answer(status: int, body: bytes = b"", **headers: str) -> Handler:
    return lambda request: httpx.Response(status, content=body, headers=headers)


def test_identity_and_taxonomy_from_a_hub() -> None:
    hub = FakeHub()
    client = _client(hub.handle, HUB_URL + "/")
    identity = client.identity()
    assert identity.log_origin == "hub.test/log"
    assert identity.log_verifier.vkey == hub.log.verifier.vkey
    assert identity.sealing_key == hub.encryption_key.public_key
    taxonomy = client.taxonomy(identity.taxonomy_id, expected_hash=identity.taxonomy_hash)
    assert taxonomy.content_hash == builtin_taxonomy().content_hash
    assert hub.requests[-1].url.path == "/v1/taxonomy/tipshare-taxonomy/1"  # the slash in the id is kept


def test_taxonomy_with_another_hash_is_refused() -> None:
    hub = FakeHub()
    with pytest.raises(HubResponseInvalid, match="sent taxonomy"):
        _client(hub.handle).taxonomy("tipshare-taxonomy/1", expected_hash="sha256:" + "0" * 64)


def _identity(**changes: object) -> bytes:
    document = FakeHub().identity()
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_identity(protocol_version="tipshare/2"), "speaks protocol"),
        (_identity(log_origin="another.example/log"), "not 'another.example/log'"),
        (_identity(encryption_key="x25519:AAAA"), "invalid key"),
        (_identity(taxonomy={"id": "t/1", "hash": "md5:00"}), "taxonomy"),
        (b"<html>hello</html>", "not the tipshare/1 JSON"),
        (json.dumps({"protocol_version": "tipshare/1"}).encode(), "not the tipshare/1 JSON"),
    ],
)
def test_an_identity_outside_the_contract_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(HubResponseInvalid, match=message):
        _client(_answer(200, body)).identity()


def test_a_wrong_url_says_so() -> None:
    with pytest.raises(HubResponseInvalid, match="HTTP 404") as raised:
        _client(_answer(404, b"")).identity()
    assert "Check the hub URL" in raised.value.diagnostics()


@pytest.mark.parametrize("url", ["ftp://hub.example.org", "hub.example.org", "https://", "https://h.org/?x=1", ""])
def test_bad_hub_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="not a hub URL"):
        normalise_hub_url(url)


@pytest.mark.parametrize("url", ["http://hub.example.org", "http://10.0.0.5:8750", "http://[2001:db8::1]"])
def test_plain_http_is_refused_for_a_hub_elsewhere(url: str) -> None:
    with pytest.raises(ConfigError, match="not encrypted"):
        normalise_hub_url(url)


@pytest.mark.parametrize("url", ["http://localhost:8750", "http://127.0.0.1:8750", "http://[::1]:8750"])
def test_plain_http_is_allowed_for_a_hub_on_this_machine(url: str) -> None:
    assert normalise_hub_url(url) == url


def test_hub_url_keeps_a_path_prefix() -> None:
    assert normalise_hub_url(" https://example.org/tipshare/ ") == "https://example.org/tipshare"


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_transient_statuses(status: int) -> None:
    with pytest.raises(HubUnreachable, match=f"HTTP {status}"):
        _client(_answer(status)).submit(b"{}")


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")],
)
def test_network_failures_are_transient(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(HubUnreachable):
        _client(handler).submit(b"{}")


def test_retry_after_in_seconds_and_as_a_date() -> None:
    with pytest.raises(HubUnreachable) as raised:
        _client(_answer(429, **{"Retry-After": "120"})).submit(b"{}")
    assert raised.value.retry_after == 120.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=300), usegmt=True)
    with pytest.raises(HubUnreachable) as raised:
        _client(_answer(503, **{"Retry-After": later})).submit(b"{}")
    assert raised.value.retry_after is not None
    assert 290 <= raised.value.retry_after <= 300
    with pytest.raises(HubUnreachable) as raised:
        _client(_answer(503, **{"Retry-After": "whenever"})).submit(b"{}")
    assert raised.value.retry_after is None


def _problem(status: int, code: str, detail: str) -> Handler:
    body = json.dumps(
        {
            "type": f"https://tipshare.org/problems/{code}",
            "title": code,
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    return _answer(status, body, **{"content-type": "application/problem+json"})


def test_conflict_and_other_refusals_carry_the_problem_detail() -> None:
    with pytest.raises(SubmissionConflict) as conflict:
        _client(_problem(409, "conflict", "2025-03 revision 1 holds another payload")).submit(b"{}")
    assert conflict.value.status == 409
    assert "another payload" in conflict.value.detail
    with pytest.raises(SubmissionRejected) as rejected:
        _client(_problem(403, "unknown_key", "key 12ab is not enrolled\x1b[31m")).submit(b"{}")
    assert not isinstance(rejected.value, SubmissionConflict)
    assert (rejected.value.status, rejected.value.code) == (403, "unknown_key")
    assert "\x1b" not in rejected.value.detail  # terminal control characters from the hub are removed
    with pytest.raises(SubmissionRejected, match=r"HTTP 400$"):
        _client(_answer(400, b"plain text")).submit(b"{}")


def test_a_malformed_receipt_is_not_a_success() -> None:
    with pytest.raises(HubResponseInvalid, match="receipt is malformed"):
        _client(_answer(201, b'{"type": "receipt"}')).submit(b"{}")


def test_redirects_are_not_followed() -> None:
    with pytest.raises(HubResponseInvalid, match="HTTP 307"):
        _client(_answer(307, Location="https://elsewhere.example")).submit(b"{}")


def test_oversized_answers_are_cut_off() -> None:
    with pytest.raises(HubResponseInvalid, match="larger than"):
        _client(_answer(200, b"x" * (MAX_RESPONSE_BYTES + 1))).identity()


def test_identity_checks_the_log_key_name() -> None:
    other = NoteSigner("elsewhere/log", SigningKey.generate())
    with pytest.raises(HubResponseInvalid, match="named"):
        pinned_identity(
            protocol_version="tipshare/1",
            log_origin="hub.test/log",
            log_vkey=other.verifier.vkey,
            encryption_key=FakeHub().identity()["encryption_key"],
            taxonomy_id="tipshare-taxonomy/1",
            taxonomy_hash="sha256:" + "0" * 64,
        )
