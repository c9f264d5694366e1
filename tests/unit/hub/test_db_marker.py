# SPDX-License-Identifier: Apache-2.0
"""Database tests are marked ``db`` by themselves (``tests/conftest.py``), so the PostgreSQL pass
(``make unit-postgresql``: ``pytest --backend postgresql -m db``) reruns them and only them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.backends import BACKEND, fresh_database_url
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.markers import uses_database


def _item(function: Any, *fixtures: Any, cls: type | None = None) -> Any:
    """A stand-in for a collected test: its function, its class and the fixtures it requests."""
    definitions = {f"fixture{number}": [SimpleNamespace(func=fixture)] for number, fixture in enumerate(fixtures)}
    return SimpleNamespace(obj=function, cls=cls, _fixtureinfo=SimpleNamespace(name2fixturedefs=definitions))


def test_a_test_using_the_hub_fixture_is_marked(hub: HubUnderTest, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("db") is not None
    assert hub.client.get("/v1/hub").status_code == 200


def test_a_test_using_no_database_is_not_marked(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("db") is None


@settings(max_examples=1)
@given(st.integers())
def test_a_hypothesis_test_is_read_through_its_wrapper(number: int) -> None:
    assert number == number


def test_the_wrapped_hypothesis_test_is_judged_by_its_body() -> None:
    assert not uses_database(_item(test_a_hypothesis_test_is_read_through_its_wrapper))


def _helper_that_starts_a_hub(data_dir: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(data_dir)


def _fixture_through_a_helper(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from _helper_that_starts_a_hub(tmp_path)


def _test_calling_start_hub_in_its_body(tmp_path: Path) -> None:
    for hub in start_hub(tmp_path):
        assert hub


def _test_with_an_empty_database() -> None:
    with fresh_database_url() as url:
        assert url != ""


def _pure_test(tmp_path: Path) -> None:
    assert BACKEND.name in {"sqlite", "postgresql"}  # reading the backend's name is no database use


class _Suite:
    def start(self, tmp_path: Path) -> None:
        _test_calling_start_hub_in_its_body(tmp_path)

    def test_through_a_method(self, tmp_path: Path) -> None:
        self.start(tmp_path)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (_item(_pure_test), False),
        (_item(_test_calling_start_hub_in_its_body), True),
        (_item(_test_with_an_empty_database), True),
        (_item(_pure_test, _fixture_through_a_helper), True),
        (_item(_Suite.test_through_a_method, cls=_Suite), True),
    ],
    ids=["pure", "start_hub in the body", "fresh_database_url", "a fixture through a helper", "a method's helper"],
)
def test_database_use_is_found_through_the_suite_s_calls(item: Any, expected: bool) -> None:
    assert uses_database(item) is expected
