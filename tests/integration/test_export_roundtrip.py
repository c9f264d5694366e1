# SPDX-License-Identifier: Apache-2.0
"""Issue 17: every export carries its question, and ``tipshare-audit check FILE`` recomputes it from that alone.

The question of the issue (persons by corridor, ``exploitation_group=labour``) is downloaded as each kind of export
the hub serves (the statistics and estimates CSV of the API and their SDMX-CSV; the dashboard's exports are the
same files, see ``test_dashboard_views``) over the hub's HTTP API. Each file names the filter, the period range,
the scope and the checkpoint in its file name, carries its question, checkpoint and interval method as constant
columns, and is verified by ``check`` from the file and the hub's URL alone; a file with one number changed is
not. The last test does the same against ``tipshare-hub serve`` in its own process, over real HTTP.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest

from auditor.cli import main
from tests.support.export_files import QUESTION, check, download, edit_column, populated_hub, rows
from tests.support.hubs import HubUnderTest
from tools.served_hub import served_hub

pytestmark = pytest.mark.slow

#: (kind, route, extra parameters, column of the number, columns that must be constant: name -> value)
_PERIODS: Final = {"period_from": "2026-09", "period_to": "2026-10"}
EXPORTS: Final = [
    (
        "stats-csv",
        "/v1/stats/persons_corridor",
        {"format": "csv"},
        "estimate",
        {
            "group_by": QUESTION["group_by"],
            "filters": "exploitation_group=labour",
            "scope": "region",
            **_PERIODS,
        },
    ),
    (
        "stats-sdmx",
        "/v1/exports/stats/persons_corridor.sdmx.csv",
        {},
        "OBS_VALUE",
        {
            "GROUP_BY": QUESTION["group_by"],
            "FILTERS": "exploitation_group=labour",
            "REF_AREA": "_T",
            "EXPLOITATION_GROUP": "labour",
            "PERIOD_FROM": "2026-09",
            "PERIOD_TO": "2026-10",
        },
    ),
    (
        "estimates-csv",
        "/v1/estimates/person",
        {"format": "csv"},
        "estimate",
        {
            "group_by": QUESTION["group_by"],
            "filters": "exploitation_group=labour",
            "scope": "region",
            "unit": "person",
            **_PERIODS,
        },
    ),
    (
        "estimates-sdmx",
        "/v1/exports/estimates/person.sdmx.csv",
        {},
        "OBS_VALUE",
        {
            "GROUP_BY": QUESTION["group_by"],
            "FILTERS": "exploitation_group=labour",
            "UNIT_MEASURE": "PER",
            "PERIOD_FROM": "2026-09",
            "PERIOD_TO": "2026-10",
        },
    ),
]
_KIND_IN_NAME: Final = {"stats": "tipshare-stats-persons_corridor-", "estimates": "tipshare-estimates-person-"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    yield from populated_hub(tmp_path_factory.mktemp("hub"))


@pytest.mark.parametrize(("kind", "route", "extra", "number", "constant"), EXPORTS, ids=[e[0] for e in EXPORTS])
def test_an_export_names_its_question_and_check_recomputes_it_from_the_file_alone(
    hub: HubUnderTest,
    tmp_path: Path,
    kind: str,
    route: str,
    extra: dict[str, str],
    number: str,
    constant: dict[str, str],
) -> None:
    content, name = download(hub, route, {**QUESTION, **extra})
    size = int(hub.client.get("/v1/checkpoint").text.splitlines()[1])  # the signed note's tree size
    # the file name: the question, the period range, the scope and the checkpoint, in ASCII
    assert name.startswith(_KIND_IN_NAME[kind.partition("-")[0]] + "by-period+citizenship+country_of_exploitation-")
    assert "-exploitation_group=labour-2026-09..2026-10-region-" in name
    assert name.endswith(f"-cp{size}." + ("sdmx.csv" if "sdmx" in kind else "csv"))
    assert name.isascii()
    assert len(name) <= 180
    # the columns: the same question, checkpoint and interval method on every line
    lines = rows(content)
    assert len(lines) == 2 * 62 * 62
    for column, value in constant.items():
        assert {line[column] for line in lines} == {value}, column
    upper = "sdmx" in kind
    checkpoint = {(line["CHECKPOINT_SIZE" if upper else "checkpoint_size"]) for line in lines}
    assert checkpoint == {str(size)}
    methods = {line["INTERVAL_METHOD" if upper else "interval_method"] for line in lines}
    assert methods
    assert methods <= {"exact", "normal", "conservative"}
    # check FILE: from the file and the hub's URL alone
    path = tmp_path / name
    path.write_bytes(content)
    verified = check(hub, tmp_path / "state", path)
    assert verified.code == 0, verified.out + verified.err
    assert verified.document["verdict"] == "VERIFIED"
    assert verified.document["rows"] == len(lines)
    # a number changed is caught, on that line
    target = lines[0]

    def raised(line: dict[str, str]) -> str | None:
        return str(float(line[number]) + 5) if line == target else None

    edited = tmp_path / f"edited-{name}"
    edited.write_bytes(edit_column(content, number, raised))
    caught = check(hub, tmp_path / "state", edited)
    assert caught.code == 1, caught.out + caught.err
    (failure,) = caught.document["failures"]
    assert number in failure["message"]


def test_a_file_downloaded_from_a_served_hub_is_recomputed_over_real_http(tmp_path: Path) -> None:
    """``tipshare-hub serve`` in its own process; the coordinator downloads with httpx, and ``tipshare-audit check``
    is given the file and the hub's URL, over real HTTP with the real clock."""
    for prepared in populated_hub(tmp_path / "hub"):  # kept open: a PostgreSQL test database lives as long
        _check_served(prepared, tmp_path)


def _check_served(prepared: HubUnderTest, tmp_path: Path) -> None:
    tokens, database_url = prepared.tokens, prepared.context.settings.database_url
    data_dir = prepared.context.settings.data_dir
    with (
        served_hub(data_dir, database_url=database_url, workers=1) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        for route, extra in (
            ("/v1/stats/persons_corridor", {"format": "csv"}),
            ("/v1/exports/estimates/person.sdmx.csv", {}),
        ):
            response = client.get(
                route, params={**QUESTION, **extra}, headers={"Authorization": f"Bearer {tokens['coordinator']}"}
            )
            assert response.status_code == 200, response.text + served.log_tail()
            name = response.headers["content-disposition"].removeprefix('attachment; filename="').removesuffix('"')
            assert "exploitation_group=labour" in name
            path = tmp_path / name
            path.write_bytes(response.content)
            args = ["check", str(path), "--hub", served.url, "--token", tokens["auditor"], "--state"]
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([*args, str(tmp_path / "state"), "--json"])
            assert code == 0, out.getvalue() + err.getvalue() + served.log_tail()
            assert json.loads(out.getvalue())["verdict"] == "VERIFIED"
