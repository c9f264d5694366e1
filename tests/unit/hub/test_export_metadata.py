# SPDX-License-Identifier: Apache-2.0
"""Issue 17: every export says its question, checkpoint and interval method in its columns and its file name.

The file names of :mod:`hub.services.export_metadata` (safe, ASCII, capped), and the CSV and SDMX-CSV files of the
API as a client downloads them, for the statistics of :mod:`tests.unit.hub.stats_data`.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.db import write_session
from hub.services.export_metadata import MAX_FILENAME, export_filename
from hub.services.tokens import TokenService
from tests.support.hubs import HubUnderTest
from tests.unit.hub.stats_data import Dataset, populate

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
RECRUITMENT = "persons_recruitment"
_SAFE = re.compile(r"[A-Za-z0-9_=+.-]+")


@pytest.fixture
def data(hub: HubUnderTest) -> Dataset:
    dataset = populate(hub.context.engine)
    hub.clock.now = NOW
    return dataset


def _get(hub: HubUnderTest, path: str, **params: str) -> Any:
    response = hub.client.get(path, params=params, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    return response


def _filename(response: Any) -> str:
    matched = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert matched is not None
    return matched.group(1)


def _lines(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


# ---------------------------------------------------------------------------------------------- file names


def test_a_file_name_says_the_question_period_scope_and_checkpoint() -> None:
    name = export_filename(
        "estimates",
        "persons",
        ("corridor",),
        {"exploitation_group": ("labour",)},
        "2026-01",
        "2026-06",
        "region",
        1234,
        "csv",
    )
    assert name == "tipshare-estimates-persons-by-corridor-exploitation_group=labour-2026-01..2026-06-region-cp1234.csv"


def test_a_file_name_is_ascii_safe_and_capped_whatever_the_codes() -> None:
    hostile = {"citizenship": tuple(f"C{i}" for i in range(80)), 'x"; rm -rf /': ("Жінки", "../../etc", "a\r\nb")}
    name = export_filename(
        "stats", "persons_corridor", ("period",), hostile, "2026-01", "2026-12", "country-UA", 7, "csv"
    )
    assert _SAFE.fullmatch(name), name
    assert len(name) <= MAX_FILENAME
    assert name.endswith("-2026-01..2026-12-country-UA-cp7.csv")  # the period, scope and checkpoint are never cut
    assert ".." not in name.removesuffix("-2026-01..2026-12-country-UA-cp7.csv")
    assert name.startswith("tipshare-stats-persons_corridor-by-period-citizenship=C0+C1+")


# ---------------------------------------------------------------------------------------------- the API's files


def test_the_issues_query_yields_a_file_naming_labour_with_the_question_in_columns(
    hub: HubUnderTest, data: Dataset
) -> None:
    params = {"group_by": "period,recruitment_channel", "period_from": "2026-01", "period_to": "2026-03"}
    response = _get(hub, f"/v1/stats/{RECRUITMENT}", **params, exploitation_group="labour", format="csv")
    name = _filename(response)
    assert name == (
        f"tipshare-stats-{RECRUITMENT}-by-period+recruitment_channel-exploitation_group=labour-2026-01..2026-03"
        "-region-cp23.csv"
    )
    lines = _lines(response)
    assert lines
    for line in lines:
        assert (line["group_by"], line["filters"]) == ("period,recruitment_channel", "exploitation_group=labour")
        assert (line["period_from"], line["period_to"], line["scope"]) == ("2026-01", "2026-03", "region")
        assert line["checkpoint_size"] == "23"
        assert line["checkpoint_root"]
        assert line["interval_method"] in (("exact", "normal") if line["estimate"] else ("",))
        assert line["question"].endswith("&exploitation_group=labour")
    answer = _get(hub, f"/v1/stats/{RECRUITMENT}", **params, exploitation_group="labour").json()
    assert [line["interval_method"] for line in lines] == [row["interval_method"] or "" for row in answer["rows"]]


def test_a_sdmx_csv_message_says_its_question_in_attributes(hub: HubUnderTest, data: Dataset) -> None:
    response = _get(
        hub,
        f"/v1/exports/stats/{RECRUITMENT}.sdmx.csv",
        group_by="period",
        exploitation_group="labour",
        period_from="2026-01",
        period_to="2026-02",
        country="UA",
    )
    assert _filename(response) == (
        f"tipshare-stats-{RECRUITMENT}-by-period-exploitation_group=labour-2026-01..2026-02-country-UA-cp23.sdmx.csv"
    )
    lines = _lines(response)
    assert {
        (line["GROUP_BY"], line["FILTERS"], line["PERIOD_FROM"], line["PERIOD_TO"], line["REF_AREA"]) for line in lines
    } == {("period", "exploitation_group=labour", "2026-01", "2026-02", "UA")}
    assert {line["EXPLOITATION_GROUP"] for line in lines} == {"labour"}
    assert {line["UNIT_MEASURE"] for line in lines} == {"PER"}
    assert {line["INTERVAL_METHOD"] for line in lines} <= {"exact", "normal", "#N/A"}
    total = _get(hub, f"/v1/exports/stats/{RECRUITMENT}.sdmx.csv", period_from="2026-01", period_to="2026-02")
    assert {(line["GROUP_BY"], line["FILTERS"]) for line in _lines(total)} == {("#N/A", "#N/A")}
    assert "-total-2026-01..2026-02-region-cp23.sdmx.csv" in _filename(total)


def test_the_completeness_file_names_its_period_scope_and_checkpoint(hub: HubUnderTest, data: Dataset) -> None:
    response = _get(hub, "/v1/completeness", period_from="2026-01", period_to="2026-04", country="UA", format="csv")
    assert _filename(response) == "tipshare-completeness-2026-01..2026-04-country-UA-cp23.csv"
    sdmx = _get(hub, "/v1/exports/completeness.sdmx.csv", period_from="2026-01", period_to="2026-04")
    assert _filename(sdmx) == "tipshare-completeness-2026-01..2026-04-region-cp23.sdmx.csv"


def test_a_country_limited_tokens_region_is_named_by_its_countries(hub: HubUnderTest, data: Dataset) -> None:
    with write_session(hub.context.sessions) as session:
        token = (
            TokenService(session)
            .create(role="coordinator", label="MD only", now=hub.clock(), countries=frozenset({"MD"}))
            .token
        )
    response = hub.client.get(
        f"/v1/stats/{RECRUITMENT}",
        params={"period_from": "2026-01", "period_to": "2026-02", "format": "csv"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert _filename(response).endswith("-total-2026-01..2026-02-region-of-MD-cp23.csv")
    assert {line["scope"] for line in _lines(response)} == {"region (MD)"}
