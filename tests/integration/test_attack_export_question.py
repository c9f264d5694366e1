# SPDX-License-Identifier: Apache-2.0
"""Issue 17: a downloaded file relabelled to answer another question is caught by ``tipshare-audit check``.

A file passed on (to a ministry, into a report) is read by its columns: someone who edits the filter or the period
columns so that the labour corridor reads as the sexual-exploitation one, numbers untouched, must not get a
``VERIFIED``. The columns that say the question in words (``filters``/``FILTERS``, ``period_from``/``PERIOD_FROM``,
…) are new in the statistics CSV and in SDMX-CSV: ``check`` compares each with the question it recomputes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.support.export_files import QUESTION, check, download, edit_column, populated_hub
from tests.support.hubs import HubUnderTest

pytestmark = pytest.mark.slow

#: (what, route, extra parameters, the column edited, its honest value, the forged value)
ATTACKS: Final = [
    (
        "stats-csv-filters",
        "/v1/stats/persons_corridor",
        {"format": "csv"},
        "filters",
        "exploitation_group=labour",
        "exploitation_group=sexual",
    ),
    ("stats-csv-period", "/v1/stats/persons_corridor", {"format": "csv"}, "period_from", "2026-09", "2026-06"),
    (
        "stats-sdmx-filters",
        "/v1/exports/stats/persons_corridor.sdmx.csv",
        {},
        "FILTERS",
        "exploitation_group=labour",
        "exploitation_group=sexual",
    ),
    (
        "estimates-sdmx-filters",
        "/v1/exports/estimates/person.sdmx.csv",
        {},
        "FILTERS",
        "exploitation_group=labour",
        "exploitation_group=sexual",
    ),
    ("estimates-sdmx-period", "/v1/exports/estimates/person.sdmx.csv", {}, "PERIOD_TO", "2026-10", "2026-12"),
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    yield from populated_hub(tmp_path_factory.mktemp("hub"))


@pytest.mark.parametrize(("what", "route", "extra", "column", "honest", "forged"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_a_file_relabelled_to_another_question_is_caught_by_check(
    hub: HubUnderTest,
    tmp_path: Path,
    what: str,
    route: str,
    extra: dict[str, str],
    column: str,
    honest: str,
    forged: str,
) -> None:
    content, name = download(hub, route, {**QUESTION, **extra})
    relabelled = edit_column(content, column, lambda line: forged if line[column] == honest else None)
    assert relabelled != content
    path = tmp_path / name.replace("labour", "sexual")
    path.write_bytes(relabelled)

    caught = check(hub, tmp_path / "state", path)

    assert caught.code == 1, caught.out + caught.err
    assert caught.document["verdict"] == "FAILED"
    messages = [failure["message"] for failure in caught.document["failures"]]
    named = [message for message in messages if f"{column} in the file {forged!r}, recomputed {honest!r}" in message]
    assert named, messages[:3]  # every line differs (the report keeps the first ones and counts the rest)
