# SPDX-License-Identifier: Apache-2.0
"""Issue 15, points 6 and 7: a dishonest operator forges cells no one-dimensional total shows, or backdates an entry.

The log: a hub publishing taxonomy version 1; two hotlines (UA, MD) release the three-way corridor and both
demography tables for 2026-09 and 2026-10. The operator then edits the region's corridor rollups so that every
one-dimensional total (and the corridor over the whole range) stays the same: 400 persons move from UA→DE and
MD→PL to UA→PL and MD→DE in September, and back in October. Coordinators looking at September's corridor see
400 more UA→PL victims than were reported; only a comparison of every cell, month by month, catches it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from hub.db import write_session
from hub.models import RollupCell
from hub.services.tokens import TokenService
from protocol.crypto import SigningKey
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, b64decode
from protocol.taxonomy import builtin_taxonomy
from tests.support.auditkit import HUB_URL, Run, Wire, append_entry, audit, run_cli, utc, vector
from tests.support.hubs import HubUnderTest, start_hub

pytestmark = pytest.mark.slow

V1 = builtin_taxonomy(1)
TABLES = ("persons_corridor", "persons_destination_demo", "persons_origin_demo")
CORRIDOR = V1.table("persons_corridor")
#: (citizenship, country of exploitation, exploitation group) -> persons moved into the cell in September.
MOVED = {
    ("UA", "PL", "labour"): 400,
    ("UA", "DE", "labour"): -400,
    ("MD", "PL", "labour"): -400,
    ("MD", "DE", "labour"): 400,
}


def _submit(hub: HubUnderTest, hotline_id: str, period: str, seed: int, revision: int = 1) -> None:
    cells = {t: vector(V1, t, seed + i) for i, t in enumerate(TABLES)}
    hub.submit_cells(hotline_id, period, cells, tables=TABLES, revision=revision)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from _populated(tmp_path / "hub")


@pytest.fixture(scope="module")
def unchanged_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    """The same log, for the tests that do not change the hub."""
    yield from _populated(tmp_path_factory.mktemp("hub"))


def _populated(data_dir: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(data_dir):
        started.clock.now = utc(2026, 8, 20, 10)
        started.enroll("ua-a", "UA")
        started.enroll("md-a", "MD")
        for hotline_id in ("ua-a", "md-a"):  # made-up counts: 115,000 persons in a month's corridor
            started.log_loose_policy(hotline_id)
        started.clock.now = utc(2026, 10, 5, 10)
        _submit(started, "ua-a", "2026-09", 1)
        _submit(started, "md-a", "2026-09", 2)
        started.clock.now = utc(2026, 11, 5, 10)
        _submit(started, "ua-a", "2026-10", 3)
        _submit(started, "md-a", "2026-10", 4)
        started.clock.now = utc(2026, 11, 21, 12)
        yield started


def _forge_corridor(hub: HubUnderTest) -> None:
    """Move persons between four corridor cells of the region's rollups, margins (and range totals) unchanged."""
    with write_session(hub.context.sessions) as session:
        for period, sign in (("2026-09", 1), ("2026-10", -1)):
            for codes, moved in MOVED.items():
                session.execute(
                    update(RollupCell)
                    .where(
                        RollupCell.table_name == CORRIDOR.name,
                        RollupCell.scope == "region",
                        RollupCell.period == period,
                        RollupCell.cell == CORRIDOR.cell_index(codes),
                    )
                    .values(value=RollupCell.value + sign * moved)
                )


def _corridor_estimate(hub: HubUnderTest, citizenship: str, country: str) -> float:
    answer = hub.client.get(
        "/v1/estimates/person",
        params={
            "group_by": "period,citizenship,country_of_exploitation",
            "period_from": "2026-09",
            "period_to": "2026-09",
            "citizenship": citizenship,
            "country_of_exploitation": country,
        },
        headers=hub.auth("coordinator"),
    ).json()
    (row,) = answer["rows"]
    estimate: float = row["estimate"]
    return estimate


def test_attack_a_corridor_forged_with_unchanged_margins_is_caught_by_verify(hub: HubUnderTest, tmp_path: Path) -> None:
    honest = _corridor_estimate(hub, "UA", "PL")
    _forge_corridor(hub)
    assert _corridor_estimate(hub, "UA", "PL") == pytest.approx(honest + 400)  # what coordinators now see

    report = tmp_path / "audits" / "2026-11.json"
    run = audit(hub, tmp_path / "state", "--region-only", "--report", str(report))

    assert run.code == 1, run.out
    assert json.loads(report.read_text())["failures"] == run.document["failures"]
    summary = (tmp_path / "audits" / "2026-11.md").read_text()
    assert summary.startswith("# tipshare audit: FAILED\n")
    assert f"## Failures ({len(run.document['failures'])})" in summary
    forged_row = "| statistics | table persons\\_corridor, period=2026-09 citizenship=UA country\\_of\\_exploitation=PL"
    assert forged_row in summary
    statistics = _failed_cells(run, "statistics")
    assert {(f["table"], f["keys"]["period"]) for f in statistics} == {
        (CORRIDOR.name, "2026-09"),
        (CORRIDOR.name, "2026-10"),
    }
    september = {
        (f["keys"]["citizenship"], f["keys"]["country_of_exploitation"], f["keys"]["exploitation_group"])
        for f in statistics
        if f["keys"]["period"] == "2026-09"
    }
    assert september == set(MOVED)
    estimates = _failed_cells(run, "estimates")
    moved = {(f["keys"]["period"], f["keys"]["citizenship"], f["keys"]["country_of_exploitation"]) for f in estimates}
    assert ("2026-09", "UA", "PL") in moved
    assert ("2026-10", "MD", "DE") in moved


def _failed_cells(run: Run, check: str) -> list[dict[str, object]]:
    """The failures of ``check`` that name a row (and so a cell)."""
    failures = run.failures(check)
    assert failures, f"no {check} failure: {run.checks()}"
    return [f for f in failures if f["keys"]]


# ---------------------------------------------------------------------------------------------- entry times


def _logged(hub: HubUnderTest) -> list[dict[str, object]]:
    answer = hub.client.get("/v1/log/entries", params={"start": 0}, headers=hub.auth("auditor")).json()
    entries = answer["entries"]
    return [json.loads(b64decode(entry["data"])) for entry in entries]


def test_attack_a_backdated_entry_is_caught_by_verify(hub: HubUnderTest, tmp_path: Path) -> None:
    key = SigningKey.generate().verify_key
    backdated = KeyEventEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="key_enrolled",
        hotline_id="pl-a",
        key_id=key.key_id,
        public_key=key.to_text(),
        display_name="pl-a",
        country="PL",
        effective_at="2026-11-01T09:00:00Z",  # before the October releases, logged on 2026-11-05
    )
    index = append_entry(hub, backdated)

    run = audit(hub, tmp_path / "state", "--region-only")

    assert run.code == 1, run.out
    (failure,) = run.document["failures"]
    assert (failure["check"], failure["index"], failure["hotline_id"]) == ("entry-time", index, "pl-a")
    assert failure["message"] == (
        f"dated 2026-11-01T09:00:00Z, before entry {index - 1} (2026-11-05T10:00:00Z): entry times along the log "
        "never go back, so this entry was backdated"
    )


def test_attack_a_clock_set_back_does_not_backdate_the_log(hub: HubUnderTest, tmp_path: Path) -> None:
    """A worker that read its clock before another appended, or a clock set back, dates the entry no earlier than
    the last one: an honest hub never trips the auditor's check."""
    hub.clock.now = utc(2026, 11, 6, 10)
    _submit(hub, "ua-a", "2026-09", 5, revision=2)  # a correction, received 2026-11-06 10:00
    hub.clock.now = utc(2026, 11, 6, 9, 59, 30)  # the next request's clock was read 30 s earlier
    hub.enroll("pl-a", "PL")
    _submit(hub, "md-a", "2026-10", 6, revision=2)
    hub.clock.now = utc(2026, 11, 21, 12)

    times = [entry.get("received_at") or entry.get("effective_at") for entry in _logged(hub)]
    assert times[-3:] == ["2026-11-06T10:00:00Z"] * 3
    run = audit(hub, tmp_path / "state", "--region-only")
    assert run.code == 0, run.document["failures"]


# ---------------------------------------------------------------------------------------------- check FILE

_STATS = "/v1/stats/persons_corridor"
_ESTIMATES = "/v1/estimates/person"
#: (what, route, format, the column of the estimate, the columns that key a line)
FILES = [
    ("stats-json", _STATS, "json", "estimate", ()),
    ("stats-csv", _STATS, "csv", "estimate", ("period", "citizenship", "country_of_exploitation")),
    (
        "stats-sdmx",
        "/v1/exports/stats/persons_corridor.sdmx.csv",
        "sdmx",
        "OBS_VALUE",
        ("TIME_PERIOD", "CITIZENSHIP", "COUNTRY_OF_EXPLOITATION"),
    ),
    ("estimates-json", _ESTIMATES, "json", "estimate", ()),
    ("estimates-csv", _ESTIMATES, "csv", "estimate", ("period", "citizenship", "country_of_exploitation")),
    (
        "estimates-sdmx",
        "/v1/exports/estimates/person.sdmx.csv",
        "sdmx",
        "OBS_VALUE",
        ("TIME_PERIOD", "CITIZENSHIP", "COUNTRY_OF_EXPLOITATION"),
    ),
]
_QUESTION = {
    "group_by": "period,citizenship,country_of_exploitation",
    "period_from": "2026-09",
    "period_to": "2026-10",
    "citizenship": "UA,MD",
    "exploitation_group": "labour",
}
_EDITED = ("2026-09", "UA", "PL")


def _download(hub: HubUnderTest, route: str, fmt: str, country: str | None = None) -> bytes:
    params = dict(_QUESTION) | ({"format": "csv"} if fmt == "csv" else {}) | ({"country": country} if country else {})
    if route == _ESTIMATES or route.startswith("/v1/exports/estimates"):
        del params["exploitation_group"]  # the person corridor by citizenship and country, of UA and MD
    response = hub.client.get(route, params=params, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    return response.content


def _edit(content: bytes, fmt: str, column: str, keys: tuple[str, ...]) -> bytes:
    """The file with the estimate of the UA→PL line of September raised by 400."""
    if fmt == "json":
        answer = json.loads(content)
        row = next(
            r
            for r in answer["rows"]
            if tuple(r["keys"][k] for k in ("period", "citizenship", "country_of_exploitation")) == _EDITED
        )
        row[column] += 400
        return json.dumps(answer).encode()
    lines = list(csv.reader(io.StringIO(content.decode())))
    header = lines[0]
    for line in lines[1:]:
        if tuple(line[header.index(k)] for k in keys) == _EDITED:
            line[header.index(column)] = str(int(float(line[header.index(column)])) + 400)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(lines)
    return out.getvalue().encode()


def _check(hub: HubUnderTest, state: Path, path: Path) -> Run:
    args = ["check", str(path), "--hub", HUB_URL, "--token", hub.tokens["auditor"], "--state", str(state), "--json"]
    return run_cli(args, wire=Wire(hub), clock=hub.clock)


@pytest.mark.parametrize(("what", "route", "fmt", "column", "keys"), FILES, ids=[f[0] for f in FILES])
def test_attack_an_edited_download_is_caught_by_check(
    unchanged_hub: HubUnderTest, tmp_path: Path, what: str, route: str, fmt: str, column: str, keys: tuple[str, ...]
) -> None:
    hub = unchanged_hub
    content = _download(hub, route, fmt)
    honest, edited = tmp_path / f"honest.{fmt}", tmp_path / f"edited.{fmt}"
    honest.write_bytes(content)
    edited.write_bytes(_edit(content, fmt, column, keys))
    state = tmp_path / "state"

    passed = _check(hub, state, honest)
    assert passed.code == 0, passed.out + passed.err
    assert passed.document["verdict"] == "VERIFIED"
    assert passed.document["rows"] >= 2 * 2 * 62

    caught = _check(hub, state, edited)
    assert caught.code == 1, caught.out + caught.err
    (failure,) = caught.document["failures"]
    assert failure["check"] == ("statistics" if "stats" in what else "estimates")
    assert set(failure["keys"].values()) == set(_EDITED)


@pytest.mark.parametrize("route", [_STATS, "/v1/exports/stats/persons_corridor.sdmx.csv", _ESTIMATES])
def test_a_download_of_a_country_limited_token_is_recomputed_for_its_countries(
    unchanged_hub: HubUnderTest, tmp_path: Path, route: str
) -> None:
    hub = unchanged_hub
    with write_session(hub.context.sessions) as session:
        token = (
            TokenService(session)
            .create(role="coordinator", label="UA only", now=hub.clock(), countries=frozenset({"UA"}))
            .token
        )
    params = dict(_QUESTION) | {"format": "csv"}
    if route == _ESTIMATES:
        del params["exploitation_group"]
    if "exports" in route:
        del params["format"]
    response = hub.client.get(route, params=params, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    path = tmp_path / "ua.csv"
    path.write_bytes(response.content)

    run = _check(hub, tmp_path / "state", path)

    assert run.code == 0, run.out + run.err
    assert run.document["question"].startswith(route.replace("/exports", "").removesuffix(".sdmx.csv") + "?")
