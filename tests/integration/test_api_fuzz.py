# SPDX-License-Identifier: Apache-2.0
"""Property-based fuzzing of the hub's HTTP API from its own OpenAPI document (issue #9, "Hostile and broken input").

Schemathesis turns every operation of ``/openapi.json`` into a Hypothesis strategy of requests: data that fits the
schema, data that breaks it, and fitting data steered to this hub's real tables, hotlines, keys, tokens, periods,
log sizes and sealed envelopes (:class:`~tests.support.apifuzz.Pools`), so that requests get past validation into
the services. Every operation is fuzzed as every kind of caller (:data:`~tests.support.apifuzz.CALLERS`: no
credentials, coordinator, country-limited coordinator, auditor, admin, expired token, revoked token, garbage
bearer), and every answer must:

* not be a server error: status below 500, and no exception escaping the app;
* when it is a 4xx, be an RFC 9457 problem detail: ``application/problem+json`` with ``type``, ``title``,
  ``detail`` and ``status`` equal to the HTTP status;
* give nothing away: no Python traceback, no path of the hub's data directory, no token the hub issued to these
  callers, no byte of the hub's private keys (as stored, base64, base64url or hex), no database URL, and for the
  country-limited coordinator no hotline of another country that the request did not name itself;
* respect the roles the schema declares (each route's ``HubToken`` security requirement lists the roles it
  accepts): a caller without a valid token gets 401 and a valid token of another role 403, never a 2xx;
* conform to the schema: schemathesis's status code, content type, response header and response schema
  conformance checks, and ``negative_data_rejection`` (data that breaks the schema is refused with a 4xx).

Routes outside the OpenAPI document (the dashboard's HTML pages and exports, its sign-in forms, static files and
the API docs) get a hand-written list of hostile query strings and forms instead: no 5xx, no leak, and the
dashboard's security headers on every page.

Reproducible: every (operation, caller) pair has its own fixed Hypothesis seed. ``TIPSHARE_FUZZ_EXAMPLES`` sets
the cases per operation for each caller it accepts (default 10; the callers it refuses get a quarter of that),
``TIPSHARE_FUZZ_SEED`` picks other seeds. The PostgreSQL run sends half as many. The counts are printed at the
end of the module (and with ``-s`` as each caller finishes). For a longer local run::

    TIPSHARE_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/integration/test_api_fuzz.py
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup

from hub.dashboard.pages import SECURITY_HEADERS
from tests.support.apifuzz import (
    CALLERS,
    UNAUTHENTICATED,
    VALID_ROLE,
    FuzzedHub,
    fuzzed_hub,
    problem_violations,
    sign_in,
)
from tests.support.backends import BACKEND
from tests.support.fuzzcases import GARBAGE_BEARER, CaseSource, client_request, operation_roles, request_text
from tests.support.hubkit import route_paths

pytestmark = pytest.mark.slow

EXAMPLES: Final = int(os.environ.get("TIPSHARE_FUZZ_EXAMPLES", "10"))
BASE_SEED: Final = int(os.environ.get("TIPSHARE_FUZZ_SEED", "0"))
#: schemathesis's own checks that hold for this API (``max_response_time`` is a timing, so it is left out).
CHECKS: Final = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
]
DOCUMENTATION_ROUTES: Final = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/start.js")}
#: What a refused caller may get besides its 401 or 403, as (status, problem code): the request missed every route,
#: its body could not be parsed (FastAPI reads the body before any dependency runs), it was rate limited, or its
#: query string was over the access log's cap (refused at the edge, before any route).
ALSO_REFUSED: Final = frozenset(
    {
        (404, "not_found"),
        (400, "malformed_body"),
        (422, "invalid_request"),
        (429, "rate_limited"),
        (414, "query_too_long"),
    }
)


@dataclass
class Fuzzer:
    """Runs the generated cases of one operation as one caller and checks every answer."""

    target: FuzzedHub
    schema: Any
    source: CaseSource
    failures: list[str] = field(default_factory=list)

    def operations(self) -> list[Any]:
        return [result.ok() for result in self.schema.get_all_operations()]

    def roles(self, operation: Any) -> set[str] | None:
        return operation_roles(self.target.raw_schema, operation)

    def accepts(self, operation: Any, caller: str) -> bool:
        roles = self.roles(operation)
        return roles is None or VALID_ROLE.get(caller) in roles

    def examples(self, operation: Any, caller: str) -> int:
        count = EXAMPLES if self.accepts(operation, caller) else max(2, EXAMPLES // 4)
        return max(2, count // 2) if BACKEND.name == "postgresql" else count

    def run(self, operation: Any, caller: str) -> None:
        authorization = GARBAGE_BEARER if caller == "garbage bearer" else st.just(self.target.authorization(caller))

        @settings(
            max_examples=self.examples(operation, caller),
            database=None,
            deadline=None,
            derandomize=False,
            phases=(Phase.generate, Phase.shrink),
            report_multiple_bugs=False,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        )
        @seed(zlib.crc32(f"{BASE_SEED} {operation.label} {caller}".encode()))
        @given(drawn=self.source.cases(operation), header=authorization)
        def fuzz(drawn: tuple[Any, bytes | None], header: str | None) -> None:
            case, raw = drawn
            self.exercise(operation, caller, case, raw, header)

        try:
            fuzz()
        except Exception as e:  # the shrunk failure, or Hypothesis saying it would not reproduce (Flaky)
            self.failures.append(f"{operation.label} as {caller}: {type(e).__name__}:\n{e}")

    def exercise(self, operation: Any, caller: str, case: Any, raw: bytes | None, header: str | None) -> None:
        request = client_request(case, raw, header)
        sent = json.dumps({key: request.get(key) for key in ("url", "params")}, default=str) + request_text(request)
        label = f"{request['method']} {request['url']} params={request.get('params')!r} as {caller}"
        if request_text(request):
            label += f" body={request_text(request)[:300]!r}"
        if caller == "garbage bearer":
            label += f" (Authorization: {header!r})"
        hub = self.target.hub
        try:
            response = hub.client.request(**request)
        except httpx.InvalidURL:
            raise  # the test's own mistake: the request never left the client
        except Exception as e:
            raise AssertionError(f"{label}: the app raised {type(e).__name__}: {e} (a 500 for a real client)") from e
        finally:
            if request["method"] == "POST":
                self.target.restore_tokens()
        self.target.sent[caller] += 1
        self.target.statuses[(caller, operation.label, response.status_code)] += 1
        problems = _properties(self, operation, caller, response, sent)
        if problems:
            raise AssertionError(f"{label} -> {response.status_code}: {'; '.join(problems)}\n{response.text[:800]}")
        # schemathesis copies the request into a `requests` request, which refuses some hostile header values; the
        # checks below never look at the credentials, and reports should not show them.
        if "authorization" in response.request.headers:
            response.request.headers["Authorization"] = "Bearer [redacted]"
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as e:
            raise AssertionError(f"{label} -> {response.status_code}: {e}") from None


def _properties(fuzzer: Fuzzer, operation: Any, caller: str, response: httpx.Response, sent: str) -> list[str]:
    status = response.status_code
    problems = [f"server error {status}"] if status >= 500 else []
    if 400 <= status < 500:
        problems += [f"not a problem detail: {p}" for p in problem_violations(response)]
    problems += [f"leaks {leak}" for leak in fuzzer.target.leaks(response.text, sent=sent, caller=caller)]
    if not fuzzer.accepts(operation, caller):
        expected = (401, "unauthorized") if caller in UNAUTHENTICATED else (403, "forbidden")
        code = response.json().get("code") if status >= 400 and not problems else None
        if (status, code) not in {expected, *ALSO_REFUSED}:
            problems.append(f"a caller this route refuses got {status} {code}, not {expected[0]} {expected[1]}")
    return problems


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[FuzzedHub]:
    with fuzzed_hub(Path(tmp_path_factory.mktemp("fuzz")) / "hub") as fuzzed:
        yield fuzzed
        _summarise(request.config, fuzzed)


@pytest.fixture(scope="module")
def fuzzer(target: FuzzedHub) -> Fuzzer:
    schema = schemathesis.openapi.from_dict(target.raw_schema)
    # Each caller brings its own Authorization header: schemathesis must not generate (or negate) one itself.
    schema.config.generation.update(with_security_parameters=False)
    # A long enough hostile query is refused at the edge (414, the access log's cap) before its values are read.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "414"]
    return Fuzzer(target=target, schema=schema, source=CaseSource(target.pools, target.raw_schema))


def _summarise(config: pytest.Config, fuzzed: FuzzedHub) -> None:
    """Write the case counts to the terminal (outside capture, so that they show without ``-s``)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not fuzzed.sent:
        return
    per_caller = ", ".join(f"{caller} {count}" for caller, count in fuzzed.sent.items())
    statuses: dict[int, int] = {}
    for (_caller, _label, status), count in fuzzed.statuses.items():
        statuses[status] = statuses.get(status, 0) + count
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(f"API fuzz ({BACKEND.name}): {sum(fuzzed.sent.values())} requests; {per_caller}")
        reporter.write_line(f"API fuzz statuses: {dict(sorted(statuses.items()))}")


# ---------------------------------------------------------------------------------------------- tests


def test_every_api_route_is_in_the_schema_or_hand_fuzzed(fuzzer: Fuzzer) -> None:
    """The fuzz below covers the OpenAPI document; the routes left out of it are the ones ``HIDDEN`` lists."""
    routes = route_paths(fuzzer.target.hub.client.app)  # type: ignore[arg-type]
    documented = {(op.method.upper(), op.path) for op in fuzzer.operations()}
    assert documented == {route for route, shown in routes.items() if shown}
    hidden = {route for route, shown in routes.items() if not shown} - DOCUMENTATION_ROUTES
    assert hidden == {(method, path) for method, path, _ in HIDDEN}, "add the new route to HIDDEN"


def test_every_secured_route_names_its_roles(fuzzer: Fuzzer) -> None:
    """Only the hub's identity and its key handovers, taxonomies (and the SDMX structures made of them), health,
    submissions and a secure round's messages and reads (signed by members' logged keys) and the latest checkpoint
    with its consistency proofs (what nodes check their receipts with) are public."""
    public = {op.label for op in fuzzer.operations() if fuzzer.roles(op) is None}
    assert public == {
        "GET /healthz",
        "GET /v1/checkpoint",
        "GET /v1/checkpoint/consistency",
        "GET /v1/hub",
        "GET /v1/hub/handovers",
        "GET /v1/taxonomy",
        "GET /v1/taxonomy/{taxonomy_id}",
        "GET /v1/sdmx/structure",
        "GET /v1/sdmx/{kind}",
        "GET /v1/sdmx/{kind}/{agency}/{resource}/{version}",
        "POST /v1/submissions",
        # A secure round's members authenticate with signatures by their logged keys, as submissions do.
        "POST /v1/rounds/messages",
        "POST /v1/rounds/state",
    }
    for op in fuzzer.operations():
        assert fuzzer.roles(op) is None or fuzzer.roles(op) <= {"coordinator", "auditor", "admin", "metrics"}, op.label


@pytest.mark.parametrize("caller", CALLERS)
def test_fuzz_every_operation(fuzzer: Fuzzer, caller: str) -> None:
    operations = fuzzer.operations()
    for operation in operations:
        fuzzer.run(operation, caller)
    failures, fuzzer.failures = fuzzer.failures, []
    assert not failures, "\n\n".join(failures)
    succeeded = {label for (who, label, status) in fuzzer.target.statuses if who == caller and status < 300}
    accepted = {op.label for op in operations if fuzzer.accepts(op, caller)}
    print(f"{caller}: {fuzzer.target.sent[caller]} requests; never a 2xx: {sorted(accepted - succeeded) or 'none'}")
    # The fuzz reached the services: the public routes answered, and so did some secured route the token opens.
    public = {op.label for op in operations if fuzzer.roles(op) is None}
    assert succeeded & public, f"no public route ever answered the {caller} with a 2xx"
    if caller in VALID_ROLE:
        assert succeeded & (accepted - public), f"no secured route ever answered the {caller} with a 2xx"


# ---------------------------------------------------------------------------------------------- hidden routes

#: (method, path as the app declares it, paths to request): the routes outside the OpenAPI document.
HIDDEN: Final = (
    ("GET", "/", ("/",)),
    ("GET", "/login", ("/login",)),
    ("POST", "/login", ()),
    ("POST", "/logout", ()),
    ("GET", "/trends", ("/trends",)),
    ("GET", "/corridors", ("/corridors",)),
    ("GET", "/demography", ("/demography",)),
    ("GET", "/completeness", ("/completeness",)),
    ("GET", "/pivot", ("/pivot",)),
    (
        "GET",
        "/{view}/export",
        ("/trends/export", "/corridors/export", "/completeness/export", "/pivot/export", "/nothing/export"),
    ),
)
HOSTILE_QUERIES: Final = (
    "",
    "period_from=9999-99&period_to=0000-00",
    "period_from=2026-10&period_to=2026-01",
    "period_from=1900-01&period_to=2026-10",
    "table=../../keys/log.ed25519",
    "table=persons_corridor&split=citizenship&citizenship=UA,UA,MD",
    "country=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "country=RO",
    "hotline=ro-bucuresti",
    "hotline=%27%20OR%20%271%27%3D%271",
    "group_by=" + ",".join(["period"] * 50),
    "x=" + "A" * 8000,
    "top=-1&top=99999999999999999999",
    "format=sdmx-csv&format=csv",
    "format=%00",
    "exploitation_type=%F0%9F%92%A3&gender=%FF",
    "next=%2F%2Fevil.example%2F&next=https%3A%2F%2Fevil.example",
    "%E2%80%AE=1&;;;&&&===&%",
)
HOSTILE_FORMS: Final = (
    ("application/x-www-form-urlencoded", b"token=tsh_x&csrf=&next=%2F%2Fevil.example"),
    ("application/x-www-form-urlencoded", b"token=" + b"A" * 5000),
    ("application/x-www-form-urlencoded", b"%FF%FE=%00&" * 20),
    ("application/json", b'{"token": "tsh_x"}'),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=token\r\n\r\ntsh_x\r\n--x--"),
    ("text/plain", b"\x00\xff" * 100),
)
#: What the hub's middleware adds to every answer.
HUB_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
STATIC_PATHS: Final = ("/static/dashboard.css", "/static/%2e%2e/keys/log.ed25519", "/static/..%2f..%2fapp.py")


#: Who asks, and which of the hostile queries: all of them signed out and as the country-limited coordinator (the
#: more interesting viewer); a few as an auditor, whose pages take the unlimited code paths.
VIEWERS: Final = {
    "signed out": HOSTILE_QUERIES,
    "country coordinator": HOSTILE_QUERIES,
    "auditor": HOSTILE_QUERIES[:4],
}


def _dashboard_client(target: FuzzedHub, viewer: str) -> TestClient:
    client = TestClient(target.hub.client.app, follow_redirects=False)
    if viewer in target.bearer:
        sign_in(client, target.bearer[viewer])
    return client


def test_hidden_routes_survive_hostile_requests(target: FuzzedHub) -> None:
    """The dashboard's pages, exports and forms, the static files and the docs: hand-written hostile requests,
    signed out and signed in (as a country-limited coordinator and as an auditor). No 5xx, no leak, the hub's
    headers on every answer and the dashboard's security headers (CSP and the rest) on every page."""
    failures: list[str] = []

    def check(client: TestClient, who: str, method: str, url: str, **options: Any) -> None:
        response = client.request(method, url, **options)
        target.sent[f"dashboard {who}"] += 1
        problems = [f"server error {response.status_code}"] if response.status_code >= 500 else []
        problems += [f"leaks {leak}" for leak in target.leaks(response.text, sent=url, caller=who)]
        expected = dict(HUB_HEADERS)
        if response.headers.get("content-type", "").startswith("text/html") and not url.startswith("/docs"):
            expected |= SECURITY_HEADERS
        problems += [f"no {name}: {value}" for name, value in expected.items() if response.headers.get(name) != value]
        if problems:
            failures.append(f"{method} {url[:200]} as {who} -> {response.status_code}: {'; '.join(problems)}")

    for who, queries in VIEWERS.items():
        client = _dashboard_client(target, who)
        queries = queries[:: 2 if BACKEND.name == "postgresql" else 1]  # (the same pages, on a slower database)
        for _method, _route, paths in HIDDEN:
            for path in paths:
                for query in queries:
                    check(client, who, "GET", f"{path}?{query}" if query else path)
        for path in ("/login", "/logout"):
            for content_type, body in HOSTILE_FORMS:
                headers = {"Content-Type": content_type, "Origin": "http://testserver"}
                check(client, who, "POST", path, content=body, headers=headers)
            check(client, who, "POST", path, content=b"token=x", headers={"Origin": "https://evil.example"})
        for path in (*STATIC_PATHS, "/docs", "/docs/start.js", "/docs/assets/swagger-ui.css", "/openapi.json"):
            check(client, who, "GET", path)
    assert not failures, "\n".join(failures)
