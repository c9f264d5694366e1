# SPDX-License-Identifier: Apache-2.0
"""Rate limits: per source address, per token or session, per hotline; a 429 problem detail with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.db import read_session, write_session
from hub.errors import RateLimited
from hub.models import Submission
from hub.ratelimit import Rate, RateLimiter, request_class, source_key
from hub.services.ingest import HotlineLimit, IngestService
from hub.services.tokens import TokenService
from tests.support.hubkit import assert_problem, dump_database
from tests.support.hubs import HubUnderTest, start_hub


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------------------------- the buckets


def test_a_bucket_allows_a_burst_then_one_request_per_interval() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time)
    rate = Rate(per_minute=6)  # a burst of 6, then one every 10 s
    assert [limiter.take("k", rate) for _ in range(6)] == [None] * 6
    assert limiter.take("k", rate) == 10
    time.now += 9.5
    assert limiter.take("k", rate) == 1  # half a second short: rounded up, never 0
    time.now += 0.5
    assert limiter.take("k", rate) is None
    assert limiter.take("k", rate) == 10


def test_a_bucket_refills_to_its_burst_and_no_further() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time)
    rate = Rate(per_minute=3)
    for _ in range(3):
        limiter.take("k", rate)
    time.now += 3600
    assert [limiter.take("k", rate) for _ in range(4)] == [None, None, None, 20]


def test_keys_are_independent() -> None:
    limiter = RateLimiter(clock=FakeTime())
    rate = Rate(per_minute=1)
    assert limiter.take("a", rate) is None
    assert limiter.take("a", rate) == 60
    assert limiter.take("b", rate) is None


def test_only_so_many_buckets_are_kept_and_dropping_one_only_forgives() -> None:
    limiter = RateLimiter(clock=FakeTime(), max_keys=2)
    rate = Rate(per_minute=1)
    for key in ("a", "b", "c"):  # "a" is the least recently used when "c" arrives
        assert limiter.take(key, rate) is None
    assert limiter.take("a", rate) is None  # forgotten: a full bucket again
    assert limiter.take("a", rate) == 60


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # same subscriber block, same bucket
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_sources_are_addresses_and_ipv6_blocks(host: str | None, key: str) -> None:
    assert source_key(host) == key


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/v1/submissions", "submit"),
        ("POST", "/v1/rounds/messages", "submit"),
        ("POST", "/v1/rounds/state", "query"),
        ("GET", "/v1/rounds/region-eu-east/2026-11", "query"),
        ("GET", "/v1/submissions/3", "audit"),
        ("GET", "/v1/log/entries", "audit"),
        ("GET", "/v1/audit/access-log", "audit"),
        ("POST", "/v1/admin/tokens", "admin"),
        ("GET", "/v1/stats/persons_corridor", "query"),
        ("GET", "/trends", "query"),
        ("POST", "/login", "query"),
        ("GET", "/v1/hub", "query"),
        ("GET", "/healthz", None),
        ("GET", "/metrics", None),
        ("GET", "/static/app.js", None),
    ],
)
def test_every_route_falls_in_a_class(method: str, path: str, kind: str | None) -> None:
    assert request_class(method, path) == kind


# ---------------------------------------------------------------------------------------------- over HTTP


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub", rate_queries=3, rate_submissions=4, rate_hotline=2)


def _stats(hub: HubUnderTest, token: str):  # type: ignore[no-untyped-def]
    return hub.client.get("/v1/stats/persons_recruitment", headers={"Authorization": f"Bearer {token}"})


def _coordinator(hub: HubUnderTest) -> str:
    with write_session(hub.context.sessions) as session:
        return TokenService(session).create(role="coordinator", label="second desk", now=hub.clock()).token


def test_a_token_over_its_rate_gets_a_429_problem_with_retry_after(limited: HubUnderTest) -> None:
    token = limited.tokens["coordinator"]
    assert [_stats(limited, token).status_code for _ in range(3)] == [200, 200, 200]
    refused = _stats(limited, token)
    assert_problem(refused, 429, "rate_limited", "try again in")
    assert int(refused.headers["Retry-After"]) == 20  # 3 a minute: one every 20 s
    assert (
        'tipshare_http_requests_limited_total{class="query"} 1'
        in limited.client.get("/metrics", headers=limited.auth("admin")).text
    )


def test_another_token_has_its_own_allowance_until_the_address_runs_out(limited: HubUnderTest) -> None:
    first, second = limited.tokens["coordinator"], _coordinator(limited)
    assert [_stats(limited, first).status_code for _ in range(4)] == [200, 200, 200, 429]
    # The address allows twice a token's rate (6 a minute); the first token's four requests, the refused one
    # included, spent four of them.
    assert [_stats(limited, second).status_code for _ in range(3)] == [200, 200, 429]


def test_the_allowance_comes_back_after_retry_after(limited: HubUnderTest) -> None:
    time = FakeTime()
    limited.client.app.state.rate_limiter = RateLimiter(clock=time)  # type: ignore[attr-defined]
    token = limited.tokens["coordinator"]
    for _ in range(3):
        _stats(limited, token)
    wait = int(_stats(limited, token).headers["Retry-After"])
    time.now += wait
    assert _stats(limited, token).status_code == 200


def test_submissions_are_limited_per_source_even_when_garbage(limited: HubUnderTest) -> None:
    statuses = [limited.post_envelope(b"{}").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]


def test_round_messages_share_the_submission_allowance(limited: HubUnderTest) -> None:
    """A round's message writes to the log like a submission: it draws on the same allowance, not the queries'."""

    def post():  # type: ignore[no-untyped-def]
        return limited.client.post("/v1/rounds/messages", content=b"{}")

    assert [post().status_code for _ in range(2)] == [400, 400]
    assert [limited.post_envelope(b"{}").status_code for _ in range(2)] == [400, 400]
    assert_problem(post(), 429, "rate_limited", "try again in")
    metrics = limited.client.get("/metrics", headers=limited.auth("admin")).text
    assert 'tipshare_http_requests_limited_total{class="submit"} 1' in metrics


def test_a_hotline_is_limited_once_its_signature_is_verified(limited: HubUnderTest) -> None:
    limited.client.app.state.rate_limiter = RateLimiter(clock=FakeTime())  # type: ignore[attr-defined]
    limited.enroll("ua-one", "UA")
    limited.enroll("md-one", "MD")
    limited.submit(limited.release("ua-one", "2026-01"))
    limited.submit(limited.release("ua-one", "2026-02"))
    before = dump_database(limited.context.engine)
    refused = limited.post_envelope(limited.envelope_bytes(limited.release("ua-one", "2026-03")))
    assert_problem(refused, 429, "rate_limited", "hotline ua-one")
    assert int(refused.headers["Retry-After"]) == 30
    assert dump_database(limited.context.engine) == before  # nothing stored
    # Another hotline, from the same address, still within the address's allowance (4 a minute).
    limited.submit(limited.release("md-one", "2026-01"))
    with read_session(limited.context.sessions) as session:
        assert session.query(Submission).count() == 3


def test_the_ingest_service_itself_counts_a_hotline_s_allowance(limited: HubUnderTest) -> None:
    """Tests and benchmarks call the sequence the route calls: the per-hotline limit is in it, not in the route."""
    limited.enroll("ua-one", "UA")
    service = IngestService(limited.context, hotline_limit=HotlineLimit(RateLimiter(clock=FakeTime()), Rate(1)))
    assert service.submit(limited.envelope_bytes(limited.release("ua-one", "2026-01"))).created
    with pytest.raises(RateLimited, match="too many submissions from hotline ua-one") as refused:
        service.submit(limited.envelope_bytes(limited.release("ua-one", "2026-02")))
    assert refused.value.retry_after == 60


def test_every_429_is_the_same_problem_detail(limited: HubUnderTest) -> None:
    """The middleware's 429 (address or token) and the ingest's (hotline) are rendered the same way."""
    limited.client.app.state.rate_limiter = RateLimiter(clock=FakeTime())  # type: ignore[attr-defined]
    token = limited.tokens["coordinator"]
    for _ in range(3):
        _stats(limited, token)
    by_token = _stats(limited, token)
    limited.enroll("ua-one", "UA")
    for period in ("2026-01", "2026-02"):
        limited.submit(limited.release("ua-one", period))
    by_hotline = limited.post_envelope(limited.envelope_bytes(limited.release("ua-one", "2026-03")))
    for refused in (by_token, by_hotline):
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0
    shape = {key: value for key, value in by_token.json().items() if key not in ("detail", "request_id")}
    assert shape == {key: value for key, value in by_hotline.json().items() if key not in ("detail", "request_id")}
    assert by_token.json().keys() == by_hotline.json().keys()


def test_limits_can_be_switched_off_for_a_proxy_that_limits(tmp_path: Path) -> None:
    for hub in start_hub(tmp_path / "hub", rate_limits=False, rate_queries=1):
        assert {_stats(hub, hub.tokens["coordinator"]).status_code for _ in range(5)} == {200}


def test_liveness_and_metrics_are_not_limited(limited: HubUnderTest) -> None:
    assert {limited.client.get("/healthz").status_code for _ in range(10)} == {200}
