# SPDX-License-Identifier: Apache-2.0
"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from protocol.crypto import EncryptionKey, SigningKey
from protocol.messages import (
    PrivacyBlock,
    SubmissionPayload,
    TableNoise,
    TableRelease,
    TaxonomyRef,
    b64encode,
)
from tests.support.backends import BACKEND
from tests.support.markers import uses_database
from tools.postgres_cluster import running_cluster

if TYPE_CHECKING:
    from tests.support.hubs import HubUnderTest

# The node's and the auditor's messages follow the locale (LANGUAGE first); the suite asserts the English ones,
# whatever the developer's terminal speaks. Tests of the translations set the language they test.
os.environ["LANGUAGE"] = "en"

# Property tests: quick while developing (`make check`), thorough where the whole suite runs (`make test`, CI, which
# set TIPSHARE_HYPOTHESIS=ci). A test that states its own max_examples keeps it in both.
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("TIPSHARE_HYPOTHESIS", "dev"))

PayloadFactory = Callable[..., SubmissionPayload]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="database of the hub tests: sqlite (default) or postgresql (a throwaway cluster the run starts itself)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"tipshare hub backend: {config.getoption('--backend')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every database test ``db`` (what ``make unit-postgresql`` reruns), so no test has to remember to; and
    put the tests marked ``slow_start`` first.

    Under ``--dist worksteal`` each worker starts on its share of the collection from the front, and a worker that
    runs out takes tests from the back of another's queue: a test of minutes (the demo) started first runs while the
    other workers share out the rest, instead of alone at the end of the pass. The order is otherwise kept.
    """
    for item in items:
        if uses_database(item):
            item.add_marker(pytest.mark.db)
    items.sort(key=lambda item: item.get_closest_marker("slow_start") is None)


@pytest.fixture(scope="session", autouse=True)
def database_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Start the PostgreSQL cluster for ``--backend postgresql``; a failure to start fails the run."""
    name = request.config.getoption("--backend")
    if name != "postgresql":
        try:
            yield name
        finally:
            BACKEND.reset()  # (the migrated template file, if a test made one)
        return
    with running_cluster() as cluster:
        BACKEND.name, BACKEND.cluster = name, cluster
        try:
            yield name
        finally:
            BACKEND.reset()


@pytest.fixture(scope="session")
def dashboard_demo(tmp_path_factory: pytest.TempPathFactory, database_backend: str) -> Iterator[HubUnderTest]:
    """The dashboard's demo hub (:mod:`tests.support.dashboard_demo`), built once per session (per xdist worker) on
    the run's backend and shared by the dashboard's test modules, which only read it: a token or a dashboard session
    they add changes no answer. A test that changes what the hub answers builds a hub of its own.

    Its rate limits are off: every module's requests come from one address with one coordinator token, and the
    per-address and per-token limits would count them all together (the limits have tests of their own).
    """
    from tests.support.dashboard_demo import demo_hub  # here: only the sessions that use it import the hub's app

    yield from demo_hub(tmp_path_factory.mktemp("dashboard-demo") / "hub", rate_limits=False)


@pytest.fixture
def hotline_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def hub_key() -> EncryptionKey:
    return EncryptionKey.generate()


@pytest.fixture
def make_payload(hotline_key: SigningKey) -> PayloadFactory:
    """Build a small valid payload; keyword arguments override fields."""

    def build(**overrides: Any) -> SubmissionPayload:
        fields: dict[str, Any] = {
            "type": "submission",
            "version": "tipshare/1",
            "taxonomy": TaxonomyRef(id="tipshare-taxonomy/1", hash="sha256:" + "ab" * 32),
            "hotline_id": "la-strada-ua",
            "key_id": hotline_key.verify_key.key_id,
            "period": "2026-10",
            "revision": 1,
            "created_at": "2026-11-02T09:30:00Z",
            "nonce": b64encode(secrets.token_bytes(16)),
            "privacy": PrivacyBlock(
                mode="local",
                mechanism="discrete_gaussian",
                measure="rho",
                unit="person-month",
                spent="0.02",
                tables=(
                    TableNoise(
                        table="contacts", scale="12.5", l1_sensitivity=3, l2_sensitivity_squared=9, spent="0.01"
                    ),
                    TableNoise(
                        table="persons_corridor",
                        scale="7.0710678118654755",
                        l1_sensitivity=1,
                        l2_sensitivity_squared=1,
                        spent="0.01",
                    ),
                ),
            ),
            "tables": (
                TableRelease(name="contacts", cells=(5, 0, -2, 17)),
                TableRelease(name="persons_corridor", cells=(3, -1, 0, 0, 12, 4)),
            ),
        }
        fields.update(overrides)
        return SubmissionPayload(**fields)

    return build
