# SPDX-License-Identifier: Apache-2.0
"""The auditor's HTTP client: what the hub may answer, and how each answer is classified."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from auditor.client import AuditClient, normalise_hub_url
from auditor.errors import HubResponseInvalid, HubUnreachable, QuestionRefused, UsageError
from protocol.messages import b64encode
from protocol.taxonomy import builtin_taxonomy

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> AuditClient:
    return AuditClient(httpx.Client(transport=httpx.MockTransport(handler)), "https://hub.example.org/", token=" t0k ")  # noqa: S106


def _identity(**changes: object) -> dict[str, object]:
    return {
        "protocol_version": "tipshare/1",
        "log_origin": "hub.example.org/log",
        "log_vkey": "hub.example.org/log+00000000+AQ==",
        "encryption_key": "x25519:AAAA",
        "taxonomy": {"id": "tipshare-taxonomy/1", "hash": "sha256:" + "0" * 64},
    } | changes


def test_urls_are_absolute_tokens_go_only_to_protected_routes_and_requests_are_counted() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/hub":
            return httpx.Response(200, json=_identity())
        return httpx.Response(200, text="a note")

    client = _client(handler)
    assert client.identity().log_origin == "hub.example.org/log"
    assert client.checkpoint() == "a note"
    assert [str(r.url) for r in seen] == ["https://hub.example.org/v1/hub", "https://hub.example.org/v1/log/checkpoint"]
    assert "authorization" not in seen[0].headers
    assert seen[1].headers["authorization"] == "Bearer t0k"
    assert client.requests == {"/v1/hub": 1, "/v1/log/checkpoint": 1}


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (httpx.Response(503), HubUnreachable, "busy or failing: HTTP 503"),
        (httpx.Response(429), HubUnreachable, "busy or failing"),
        (
            httpx.Response(401, json={"code": "unauthorized", "detail": "no token"}),
            HubResponseInvalid,
            "refused the token: HTTP 401 unauthorized: no token",
        ),
        (httpx.Response(302, headers={"Location": "https://evil.example"}), HubResponseInvalid, "answered HTTP 302"),
        (httpx.Response(200, text="{not json"), HubResponseInvalid, "cannot be read: answer: Invalid JSON"),
        (httpx.Response(200, json=[1, 2]), HubResponseInvalid, "cannot be read: answer: Input should be an object"),
        (
            httpx.Response(200, json={"first": 1, "second": 2, "proof": [3]}),
            HubResponseInvalid,
            "cannot be read: proof.0: Input should be a valid string",
        ),
    ],
)
def test_answers_outside_the_contract_are_classified(
    response: httpx.Response, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _client(lambda _request: response).consistency_proof(1, 2)


def test_a_token_refusal_says_which_token_is_needed() -> None:
    with pytest.raises(HubResponseInvalid) as caught:
        _client(lambda _request: httpx.Response(403)).entries(0, 10)
    assert "auditor token" in (caught.value.hint or "")
    assert caught.value.exit_code == 2


def test_transport_failures_are_unreachable_and_a_bad_url_a_usage_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(HubUnreachable, match=r"cannot reach the hub at https://hub\.example\.org: connection refused"):
        _client(refuse).identity()
    with pytest.raises(UsageError, match="is not a hub URL"):
        normalise_hub_url("ftp://hub.example.org")
    assert normalise_hub_url(" https://hub.example.org/ ") == "https://hub.example.org"
    with pytest.raises(UsageError, match="send your token in clear"):
        normalise_hub_url("http://hub.example.org")
    assert normalise_hub_url("http://127.0.0.1:8750") == "http://127.0.0.1:8750"


def test_identity_taxonomy_and_entries_are_checked_as_they_are_parsed() -> None:
    with pytest.raises(HubResponseInvalid, match="speaks protocol 'tipshare/2'"):
        _client(lambda _r: httpx.Response(200, json=_identity(protocol_version="tipshare/2"))).identity()

    taxonomy = builtin_taxonomy()
    serve = _client(lambda _r: httpx.Response(200, content=taxonomy.canonical_bytes()))
    assert serve.taxonomy(taxonomy.id, expected_hash=taxonomy.content_hash).content_hash == taxonomy.content_hash
    with pytest.raises(HubResponseInvalid, match="when asked for"):
        serve.taxonomy(taxonomy.id, expected_hash="sha256:" + "1" * 64)

    def page(_request: httpx.Request) -> httpx.Response:
        entry = {"index": 12, "leaf_hash": b64encode(bytes(32)), "data": b64encode(b"x")}
        return httpx.Response(200, json={"start": 0, "end": 1, "tree_size": 13, "entries": [entry]})

    with pytest.raises(HubResponseInvalid, match=r"with index 12 for 0\.\.9"):
        _client(page).entries(0, 10)
    assert _client(lambda _r: httpx.Response(404)).checkpoint() is None


def test_a_statistics_answer_that_cannot_be_read_names_the_route() -> None:
    with pytest.raises(HubResponseInvalid, match=r"/v1/stats/contacts\?group_by=period cannot be read: .*taxonomy"):
        _client(lambda _r: httpx.Response(200, json={"table": "contacts"})).stats("contacts", {"group_by": "period"})


def _estimates_answer(**changes: object) -> dict[str, object]:
    row = {
        "keys": {"period": "2026-09"},
        "estimate": 41.0,
        "ci95_low": 20.0,
        "ci95_high": 62.0,
        "halfwidth": 21.0,
        "std": 10.7,
        "interval_method": "exact",
        "coverage": 0.95,
        "hotlines_reporting": 2,
        "hotlines_expected": 3,
        "obs_status": "A",
        "conf_status": "F",
        "wide_interval": False,
        "p_zero": 0.0001,
        "distinguishable": True,
        "rank": 1,
    }
    return {
        "type": "estimates",
        "version": 1,
        "question": {
            "unit": "contact",
            "group_by": ["period"],
            "filters": {},
            "period_from": "2026-09",
            "period_to": "2026-09",
            "scope": {"level": "region", "code": None, "countries": None},
        },
        "unit_label": "contacts received by hotlines",
        "taxonomies": [{"id": "tipshare-taxonomy/1", "hash": "sha256:" + "0" * 64}],
        "confidence": 0.95,
        "periods_with_data": ["2026-09"],
        "checkpoint": {"origin": "hub.example.org/log", "size": 13, "root_hash": "AA==", "note": "a note"},
        "generated_at": "2026-11-21T12:00:00Z",
        "notes": [],
        "combination": [
            {
                "periods": ["2026-09"],
                "terms": [
                    {"table": "contacts", "taxonomy": "tipshare-taxonomy/2", "dimensions": [], "coefficient": 1.0}
                ],
            }
        ],
        "ranking": {
            "method": "holm",
            "level": 0.05,
            "compared": 1,
            "distinguishable": 1,
            "threshold": 0.0001,
        },
        "rows": [row],
    } | changes


def test_an_estimates_answer_is_parsed_with_the_shared_contract() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_estimates_answer())

    answer = _client(handler).estimates("contact", {"group_by": "period", "country": "UA"})

    assert (answer.rows[0].estimate, answer.combination[0].terms[0].coefficient) == (41.0, 1.0)
    assert str(seen[0].url) == "https://hub.example.org/v1/estimates/contact?group_by=period&country=UA"
    assert seen[0].headers["authorization"] == "Bearer t0k"


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(200, text="{not json"), "is not an estimates answer: .*Invalid JSON"),
        (httpx.Response(200, json={"rows": []}), "is not an estimates answer: .*question"),
        (httpx.Response(200, json=_estimates_answer(confidence="0.95")), "is not an estimates answer: .*confidence"),
        (httpx.Response(200, json=_estimates_answer(surplus=1)), "is not an estimates answer: .*surplus"),
        (
            httpx.Response(400, json={"code": "invalid_query", "detail": "unknown query parameter(s): sex"}),
            "answered HTTP 400 invalid_query: unknown query parameter",
        ),
    ],
)
def test_an_estimates_answer_outside_the_contract_names_the_question(response: httpx.Response, match: str) -> None:
    with pytest.raises(HubResponseInvalid, match=match) as caught:
        _client(lambda _r: response).estimates("contact", {"group_by": "period"})
    assert not isinstance(caught.value, QuestionRefused)


def test_a_question_refused_as_not_answerable_is_its_own_error() -> None:
    problem = {"code": "not_answerable", "detail": "no person table carries age_group together"}
    refuse = _client(lambda _r: httpx.Response(400, json=problem, headers={"content-type": "application/problem+json"}))

    with pytest.raises(QuestionRefused, match=r"/v1/estimates/person\?group_by=age_group: HTTP 400 not_answerable: no"):
        refuse.estimates("person", {"group_by": "age_group"})
