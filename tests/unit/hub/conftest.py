# SPDX-License-Identifier: Apache-2.0
"""A fresh, initialised hub for each test (SQLite in the test's temporary directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hubs import HubUnderTest, start_hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")
