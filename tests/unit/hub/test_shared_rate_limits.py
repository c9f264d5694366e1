# SPDX-License-Identifier: Apache-2.0
"""Rate limits shared through the database: two workers (two apps on one database) spend from one allowance,
on SQLite and on PostgreSQL (``--backend postgresql``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub import rate_buckets
from hub.app import create_app
from hub.context import HubContext
from hub.db import make_engine, read_session
from hub.models import RateBucket
from hub.rate_buckets import DatabaseRateLimiter, bucket_key
from hub.ratelimit import Rate
from tests.support.hubkit import assert_problem
from tests.support.hubs import HubUnderTest, start_hub


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub", rate_queries=3, rate_submissions=4, rate_hotline=2)


@pytest.fixture
def second_worker(limited: HubUnderTest) -> Iterator[TestClient]:
    """Another worker of the same hub: its own app and connections, the same database."""
    context = HubContext.open(limited.context.settings, clock=limited.clock)
    with TestClient(create_app(context=context)) as client:
        yield client
    context.engine.dispose()


def _stats(client: TestClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get("/v1/stats/persons_recruitment", headers=headers).status_code


def test_attack_two_workers_do_not_allow_twice_the_rate(limited: HubUnderTest, second_worker: TestClient) -> None:
    """A client whose requests land on both workers in turn gets the rate once, not once per worker."""
    token = limited.tokens["coordinator"]
    statuses = [_stats(client, token) for client in (limited.client, second_worker) * 3]
    assert statuses == [200, 200, 200, 429, 429, 429]
    headers = {"Authorization": f"Bearer {token}"}
    refused = second_worker.get("/v1/stats/persons_recruitment", headers=headers)
    assert_problem(refused, 429, "rate_limited", "try again in")
    assert 1 <= int(refused.headers["Retry-After"]) <= 20


def test_attack_a_hotline_cannot_double_its_submissions_over_two_workers(
    limited: HubUnderTest, second_worker: TestClient
) -> None:
    limited.enroll("ua-one", "UA")
    bodies = [limited.envelope_bytes(limited.release("ua-one", f"2026-0{month}")) for month in (1, 2, 3)]
    headers = {"Content-Type": "application/json"}
    answers = [
        client.post("/v1/submissions", content=body, headers=headers)
        for client, body in zip((limited.client, second_worker, second_worker), bodies, strict=True)
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 429]  # two a minute for the hotline
    assert_problem(answers[2], 429, "rate_limited", "hotline ua-one")


def test_database_buckets_follow_the_token_bucket(limited: HubUnderTest) -> None:
    time = FakeTime()
    limiter = DatabaseRateLimiter(limited.context.engine, clock=time)
    rate = Rate(per_minute=6)  # a burst of 6, then one every 10 s
    assert [limiter.take("k", rate) for _ in range(6)] == [None] * 6
    assert limiter.take("k", rate) == 10
    time.now += 9.5
    assert limiter.take("k", rate) == 1  # half a second short: rounded up, never 0
    time.now += 0.5
    assert limiter.take("k", rate) is None
    assert limiter.take("k", rate) == 10
    time.now += 3600  # refills to its burst and no further
    assert [limiter.take("k", rate) for _ in range(7)] == [None] * 6 + [10]
    assert limiter.take(("other", "key"), rate) is None  # keys are independent
    limiter.dispose()


def test_take_many_stops_at_the_first_empty_bucket(limited: HubUnderTest) -> None:
    time = FakeTime()
    limiter = DatabaseRateLimiter(limited.context.engine, clock=time)
    one = Rate(per_minute=1)
    assert limiter.take_many([("a", one), ("b", one)]) is None
    assert limiter.take_many([("a", one), ("c", one)]) == 60
    assert limiter.take("c", one) is None  # not spent: "a" refused first
    limiter.dispose()


def test_expired_buckets_are_deleted(limited: HubUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_buckets, "PRUNE_EVERY", 3)
    time = FakeTime()
    limiter = DatabaseRateLimiter(limited.context.engine, clock=time)
    rate = Rate(per_minute=60)
    limiter.take("old-1", rate)
    limiter.take("old-2", rate)
    time.now += 120  # both are full again: the same as no row
    limiter.take("new", rate)  # the third request: prunes
    with read_session(limited.context.sessions) as session:
        assert session.scalars(select(RateBucket.key)).all() == ["new"]
        assert session.scalar(select(func.count()).select_from(RateBucket)) == 1
    limiter.dispose()


def test_long_keys_are_digested() -> None:
    assert bucket_key(("query", "source", "192.0.2.1")) == "query|source|192.0.2.1"
    assert bucket_key("x" * 300).startswith("sha256:")
    assert len(bucket_key("x" * 300)) <= 200


def test_a_database_that_does_not_answer_lets_the_request_through(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # no rate_limit_buckets table
    limiter = DatabaseRateLimiter(engine)
    with caplog.at_level(logging.WARNING, logger="tipshare.hub.ratelimit"):
        assert limiter.take("k", Rate(per_minute=1)) is None
    assert "rate limits not applied" in caplog.text
    limiter.dispose()
    engine.dispose()


def test_memory_buckets_are_each_workers_own(tmp_path: Path) -> None:
    """``TIPSHARE_HUB_RATE_LIMIT_STORE=memory``: what the hub did before, as documented (N workers, N times)."""
    for hub in start_hub(tmp_path / "hub", rate_queries=1, rate_limit_store="memory"):
        context = HubContext.open(hub.context.settings, clock=hub.clock)
        with TestClient(create_app(context=context)) as other:
            token = hub.tokens["coordinator"]
            assert [_stats(client, token) for client in (hub.client, other, hub.client)] == [200, 200, 429]
        context.engine.dispose()
