# SPDX-License-Identifier: Apache-2.0
"""The role matrix: every route × every kind of caller → the status the hub must answer.

Callers: no token, a well-formed token the hub never issued, an expired and a revoked token (both admin, so only
their expiry or revocation can be what refuses them), a coordinator, an auditor, an admin, a metrics scraper (whose
token opens ``/metrics`` and nothing else), and a hotline presenting its own key (a hotline authenticates submissions
by signature and holds no role). Refused calls are problem details
(401 with ``WWW-Authenticate``, 403 naming the role needed) and change nothing in the database.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.db import write_session
from hub.services.tokens import TokenService
from protocol.crypto import SigningKey
from protocol.secagg.signed import sign_member_message
from tests.support.hubkit import assert_problem, dump_database, route_paths
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.round_members import (
    GROUP,
    PERIOD,
    create_group,
    enroll_members,
    open_round,
    read_round,
    share,
    signed_read,
)

DOCUMENTATION_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/start.js")}
CALLERS = (
    "no token",
    "bad token",
    "expired token",
    "revoked token",
    "coordinator",
    "auditor",
    "admin",
    "metrics",
    "hotline key",
)
ROLES = ("coordinator", "auditor", "admin", "metrics")
PUBLIC = frozenset(CALLERS)


@dataclass
class Served:
    """A hub with a little of everything, and a fresh valid request for any route on every call."""

    hub: HubUnderTest
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    revision: int = 0
    counter: int = 0
    #: A member's signed share submission, already logged: sent again, it is answered 200 (idempotent).
    round_message: bytes = b""
    #: A member's signed request to read its round (dated now: the fixture's clock stands still).
    round_read: bytes = b""

    def next_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter:03d}"

    def submission(self) -> dict[str, Any]:
        self.revision += 1
        payload = self.hub.release("ua-kyiv", "2026-09", tables=("contacts",), revision=self.revision)
        return {"content": self.hub.envelope_bytes(payload), "headers": {"Content-Type": "application/json"}}

    def enrolment(self) -> dict[str, Any]:
        key = SigningKey.generate()
        hotline_id = self.next_name("hotline")
        return {
            "json": {
                "id": hotline_id,
                "display_name": hotline_id,
                "country": "MD",
                "public_key": key.verify_key.to_text(),
            }
        }

    def fresh_key_id(self) -> str:
        return self.hub.enroll(self.next_name("revocable"), "RO").key.verify_key.key_id

    def fresh_submission_id(self) -> int:
        self.revision += 1
        payload = self.hub.release("ua-kyiv", "2026-09", tables=("contacts",), revision=self.revision)
        return self.hub.submit(payload).submission_id

    def fresh_token_id(self) -> int:
        with write_session(self.hub.context.sessions) as session:
            created = TokenService(session).create(role="auditor", label="to revoke", now=self.hub.clock())
            return created.record.id


Request = Callable[[Served], tuple[str, str, dict[str, Any]]]


def _get(path: str, **params: Any) -> Request:
    return lambda served: ("GET", path, {"params": params})


ROUTES: dict[tuple[str, str], tuple[frozenset[str], int, Request]] = {
    # (method, path as in OpenAPI): (callers allowed, success status, a fresh valid request)
    ("GET", "/healthz"): (PUBLIC, 200, _get("/healthz")),
    ("GET", "/v1/hub"): (PUBLIC, 200, _get("/v1/hub")),
    ("GET", "/v1/hub/handovers"): (PUBLIC, 200, _get("/v1/hub/handovers")),
    ("GET", "/v1/taxonomy"): (PUBLIC, 200, _get("/v1/taxonomy")),
    ("GET", "/v1/taxonomy/{taxonomy_id}"): (PUBLIC, 200, _get("/v1/taxonomy/tipshare-taxonomy/1")),
    ("GET", "/v1/sdmx/structure"): (PUBLIC, 200, _get("/v1/sdmx/structure")),
    ("GET", "/v1/sdmx/{kind}"): (PUBLIC, 200, _get("/v1/sdmx/dataflow")),
    ("GET", "/v1/sdmx/{kind}/{agency}/{resource}/{version}"): (
        PUBLIC,
        200,
        _get("/v1/sdmx/datastructure/TIPSHARE/DSD_CONTACTS/latest", references="children"),
    ),
    ("GET", "/openapi.json"): (PUBLIC, 200, _get("/openapi.json")),
    ("GET", "/docs"): (PUBLIC, 200, _get("/docs")),
    ("GET", "/docs/start.js"): (PUBLIC, 200, _get("/docs/start.js")),
    # Authenticated by the envelope's signature: a bearer token neither helps nor hurts.
    ("POST", "/v1/submissions"): (PUBLIC, 201, lambda s: ("POST", "/v1/submissions", s.submission())),
    # A secure round's messages, and a member's request to read its round, are authenticated by their signature.
    ("POST", "/v1/rounds/messages"): (
        PUBLIC,
        200,
        lambda s: ("POST", "/v1/rounds/messages", {"content": s.round_message}),
    ),
    ("POST", "/v1/rounds/state"): (PUBLIC, 200, lambda s: ("POST", "/v1/rounds/state", {"content": s.round_read})),
    # The round holds the group's statistics: members read it with a signed request, token holders here.
    ("GET", "/v1/rounds/{group}/{period}"): (
        frozenset({"auditor"}),
        200,
        _get(f"/v1/rounds/{GROUP}/{PERIOD}"),
    ),
    ("GET", "/v1/rounds/{group}/{period}/{number}"): (
        frozenset({"auditor"}),
        200,
        _get(f"/v1/rounds/{GROUP}/{PERIOD}/0"),
    ),
    ("GET", "/v1/stats/{table}"): (
        frozenset({"coordinator", "auditor"}),
        200,
        _get("/v1/stats/contacts", period_from="2026-09", period_to="2026-09"),
    ),
    ("GET", "/v1/estimates/{unit}"): (
        frozenset({"coordinator", "auditor"}),
        200,
        _get("/v1/estimates/contact", group_by="channel", period_from="2026-08", period_to="2026-09"),
    ),
    ("GET", "/v1/completeness"): (frozenset({"coordinator", "auditor"}), 200, _get("/v1/completeness")),
    ("GET", "/v1/exports/stats/{table}.sdmx.csv"): (
        frozenset({"coordinator", "auditor"}),
        200,
        _get("/v1/exports/stats/contacts.sdmx.csv", group_by="channel,contact_type,period"),
    ),
    ("GET", "/v1/exports/estimates/{unit}.sdmx.csv"): (
        frozenset({"coordinator", "auditor"}),
        200,
        _get("/v1/exports/estimates/contact.sdmx.csv", group_by="channel", period_from="2026-08", period_to="2026-09"),
    ),
    ("GET", "/v1/exports/completeness.sdmx.csv"): (
        frozenset({"coordinator", "auditor"}),
        200,
        _get("/v1/exports/completeness.sdmx.csv"),
    ),
    ("GET", "/v1/audit/access-log"): (frozenset({"auditor"}), 200, _get("/v1/audit/access-log")),
    ("GET", "/v1/audit/access-log/checkpoints"): (
        frozenset({"auditor"}),
        200,
        _get("/v1/audit/access-log/checkpoints"),
    ),
    ("GET", "/v1/checkpoint"): (PUBLIC, 200, _get("/v1/checkpoint")),
    ("GET", "/v1/checkpoint/consistency"): (PUBLIC, 200, _get("/v1/checkpoint/consistency", first=1, second=2)),
    ("GET", "/v1/log/checkpoint"): (frozenset({"auditor"}), 200, _get("/v1/log/checkpoint")),
    ("GET", "/v1/log/entries"): (frozenset({"auditor"}), 200, _get("/v1/log/entries")),
    ("GET", "/v1/log/proof/inclusion"): (
        frozenset({"auditor"}),
        200,
        _get("/v1/log/proof/inclusion", index=0, tree_size=2),
    ),
    ("GET", "/v1/log/proof/consistency"): (
        frozenset({"auditor"}),
        200,
        _get("/v1/log/proof/consistency", first=1, second=2),
    ),
    ("GET", "/v1/submissions/{submission_id}"): (frozenset({"auditor"}), 200, _get("/v1/submissions/1")),
    ("GET", "/metrics"): (frozenset({"admin", "metrics"}), 200, _get("/metrics")),
    ("GET", "/v1/admin/hotlines"): (frozenset({"admin"}), 200, _get("/v1/admin/hotlines")),
    ("POST", "/v1/admin/hotlines"): (
        frozenset({"admin"}),
        201,
        lambda s: ("POST", "/v1/admin/hotlines", s.enrolment()),
    ),
    ("POST", "/v1/admin/hotlines/{hotline_id}/keys"): (
        frozenset({"admin"}),
        201,
        lambda s: (
            "POST",
            "/v1/admin/hotlines/md-chisinau/keys",
            {"json": {"public_key": SigningKey.generate().verify_key.to_text()}},
        ),
    ),
    ("GET", "/v1/admin/hotlines/{hotline_id}/policy"): (
        frozenset({"admin"}),
        200,
        _get("/v1/admin/hotlines/md-chisinau/policy"),
    ),
    ("POST", "/v1/admin/hotlines/{hotline_id}/policy"): (
        frozenset({"admin"}),
        201,
        lambda s: ("POST", "/v1/admin/hotlines/md-chisinau/policy", {"json": {"max_monthly_volume": 500}}),
    ),
    ("POST", "/v1/admin/hotlines/{hotline_id}/backfills"): (
        frozenset({"admin"}),
        201,
        lambda s: (
            "POST",
            "/v1/admin/hotlines/md-chisinau/backfills",
            {"json": {"first_period": "2020-01", "last_period": "2020-12", "reason": "archive"}},
        ),
    ),
    ("POST", "/v1/admin/keys/{key_id}/revoke"): (
        frozenset({"admin"}),
        200,
        lambda s: ("POST", f"/v1/admin/keys/{s.fresh_key_id()}/revoke", {"json": {"reason": "test"}}),
    ),
    ("POST", "/v1/admin/submissions/{submission_id}/withdraw"): (
        frozenset({"admin"}),
        200,
        lambda s: ("POST", f"/v1/admin/submissions/{s.fresh_submission_id()}/withdraw", {"json": {"reason": "test"}}),
    ),
    ("GET", "/v1/admin/tokens"): (frozenset({"admin"}), 200, _get("/v1/admin/tokens")),
    ("POST", "/v1/admin/tokens"): (
        frozenset({"admin"}),
        201,
        lambda s: ("POST", "/v1/admin/tokens", {"json": {"role": "coordinator", "label": "new"}}),
    ),
    ("POST", "/v1/admin/tokens/{token_id}/revoke"): (
        frozenset({"admin"}),
        200,
        lambda s: ("POST", f"/v1/admin/tokens/{s.fresh_token_id()}/revoke", {}),
    ),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    for hub in start_hub(Path(tmp_path_factory.mktemp("roles")) / "hub"):
        hub.enroll("ua-kyiv", "UA")
        kyiv = hub.hotlines["ua-kyiv"]
        hub.enroll("md-chisinau", "MD")
        hub.submit(hub.release("ua-kyiv", "2026-08", tables=("contacts",)))  # submission 1
        members = enroll_members(hub, 3)
        create_group(hub, list(members), threshold=2)
        open_round(hub)
        first = share(hub, members["hotline-00"], read_round(hub).roster)
        round_message = sign_member_message(first, key=members["hotline-00"].key).canonical_bytes()
        round_read = signed_read(hub, members["hotline-01"])
        now = hub.clock()
        with write_session(hub.context.sessions) as session:
            tokens = TokenService(session)
            expired = tokens.create(
                role="admin", label="expired", now=now - timedelta(days=3), expires_in=timedelta(days=1)
            )
            revoked = tokens.create(role="admin", label="revoked", now=now)
            tokens.revoke(revoked.record.id, now=now)
            scraper = tokens.create(role="metrics", label="prometheus", now=now)
        bearer = {
            "bad token": "tsh_" + secrets.token_urlsafe(32),
            "expired token": expired.token,
            "revoked token": revoked.token,
            "hotline key": kyiv.key.verify_key.to_text(),
            "metrics": scraper.token,
            **{role: hub.tokens[role] for role in ROLES if role != "metrics"},
        }
        headers = {"no token": {}, **{name: {"Authorization": f"Bearer {token}"} for name, token in bearer.items()}}
        yield Served(hub=hub, headers=headers, round_message=round_message, round_read=round_read)


def test_the_matrix_covers_every_api_route(served: Served) -> None:
    """Every route in the OpenAPI document, and the documentation itself. The only other routes are the
    dashboard's HTML pages, which authenticate with a session cookie and have their own tests."""
    routes = route_paths(served.hub.client.app)  # type: ignore[arg-type]
    api = {route for route, shown in routes.items() if shown}
    assert api | DOCUMENTATION_ROUTES == set(ROUTES), "add the new route to the role matrix"


@pytest.mark.parametrize("route", list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_role_matrix(served: Served, route: tuple[str, str]) -> None:
    allowed, success, request = ROUTES[route]
    hub = served.hub
    expected, observed = {}, {}
    for caller in CALLERS:
        method, path, options = request(served)
        headers = {**options.pop("headers", {}), **served.headers[caller]}
        before = None if caller in allowed else dump_database(hub.context.engine)

        response = hub.client.request(method, path, headers=headers, **options)

        observed[caller] = response.status_code
        if caller in allowed:
            expected[caller] = success
            continue
        authenticated = caller in ROLES
        expected[caller] = 403 if authenticated else 401
        if response.status_code == expected[caller]:
            if authenticated:
                needed = ", ".join(sorted(r for r in allowed if r in ROLES))
                assert_problem(response, 403, "forbidden", f"a {caller} token cannot use this route")
                assert sorted(
                    response.json()["detail"].rsplit("needs: ", 1)[1].rstrip(")").split(", ")
                ) == needed.split(", ")
            else:
                assert_problem(response, 401, "unauthorized", "token")
                assert response.headers["www-authenticate"].startswith("Bearer")
            after = dump_database(hub.context.engine)
            if authenticated:  # a refused probe by a principal is recorded in the access log, and nothing else
                assert before is not None
                [probe] = after.pop("access_log")[len(before.pop("access_log")) :]
                assert caller in probe
                assert 403 in probe
            assert after == before, f"a refused {method} {path} changed the database"
    assert observed == expected


def test_a_hotline_envelope_opens_no_other_route(served: Served) -> None:
    """A signed envelope authenticates one thing, a submission; posted anywhere else it is just a refused request."""
    hub = served.hub
    body = served.submission()
    before = dump_database(hub.context.engine)
    for path in ("/v1/admin/hotlines", "/v1/admin/tokens", "/v1/admin/hotlines/ua-kyiv/keys"):
        response = hub.client.post(path, **body)
        assert_problem(response, 401, "unauthorized")
    assert dump_database(hub.context.engine) == before


@pytest.mark.parametrize(
    "authorization",
    ["tsh_abc", "Basic dXNlcjpwYXNz", "Bearer", "Bearer " + "tsh_" + "a" * 200, "bearer  tsh_unknown  "],
)
def test_malformed_authorization_is_unauthorized(served: Served, authorization: str) -> None:
    response = served.hub.client.get("/v1/log/entries", headers={"Authorization": authorization})
    assert_problem(response, 401, "unauthorized")
