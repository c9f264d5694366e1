# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit verify`` re-adds a secure round from the log alone: a sound round of 8 with drop-outs, driven
over the hub's HTTP API, verifies (in one run, or across two while it runs); the hub's round answer is compared with
the logged result."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hub.db import read_session
from hub.models import RollupCell, RollupNoise
from protocol.messages import SecaggStepEntry, b64decode, format_timestamp, parse_log_entry
from protocol.secagg.release import rounded_cell
from protocol.secagg.signed import step_entry, step_message
from tests.support.auditkit import Run, Wire, audit, conclusions
from tests.support.export_files import check, download
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.round_members import (
    Member,
    create_group,
    enroll_members,
    mask,
    member_values,
    open_round,
    read_round,
    reveal,
    share,
)

DROP_BEFORE_SHARES = ("hotline-07",)
DROP_BEFORE_MASKED = ("hotline-06",)
DROP_BEFORE_UNMASK = ("hotline-05",)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _rounds(run: Run) -> dict[str, int]:
    value: dict[str, int] = run.document["rounds"]
    return value


def _start(hub: HubUnderTest) -> dict[str, Member]:
    members = enroll_members(hub, 8)
    create_group(hub, list(members), threshold=5)
    open_round(hub)
    return members


def _shares(hub: HubUnderTest, members: dict[str, Member]) -> None:
    roster = read_round(hub).roster
    for m in roster.member_ids:
        if m not in DROP_BEFORE_SHARES:
            share(hub, members[m], roster)
    hub.clock.advance(days=3, seconds=1)


def _finish(hub: HubUnderTest, members: dict[str, Member]) -> list[int]:
    """The masked and reveal steps; the true sum plus the survivors' noise."""
    read = read_round(hub)
    assert read.committed is not None
    for m in read.committed.members:
        if m not in DROP_BEFORE_MASKED:
            mask(hub, members[m], read)
    hub.clock.advance(days=3)
    read = read_round(hub)
    assert read.survivors is not None
    for m in read.survivors.member_ids:
        if m not in DROP_BEFORE_UNMASK:
            reveal(hub, members[m], read)
    hub.clock.advance(days=3)
    done = read_round(hub)
    assert done.document["step"] == "done"
    length, factor = done.roster.vector_length, done.roster.factor
    expected = [0] * length
    for m in read.survivors.member_ids:
        counts, noise = member_values(m, length)
        expected = [e + factor * c + z for e, c, z in zip(expected, counts, noise, strict=True)]
    return expected


def test_a_sound_round_of_8_with_drop_outs_is_re_added_exactly(hub: HubUnderTest, tmp_path: Path) -> None:
    members = _start(hub)
    _shares(hub, members)
    expected = _finish(hub, members)
    assert list(read_round(hub).result.sum) == expected  # type: ignore[union-attr]

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)

    assert run.code == 0, run.out + run.err
    assert run.document["failures"] == []
    assert _rounds(run) == {
        "checked": 1,
        "re_added": 1,
        "failed": 0,
        "running": 0,
        "findings": 0,
        "published": 1,
        "totals_checked": 0,
        "totals_flagged": 0,
        "totals_unchecked": 1,  # these members declare their noise but no totals
    }
    # The hub answers from the round's sum (no hotline sent a local release), and the auditor recomputes the same
    # answers from the log: the sum with the noise each survivor declared.
    assert run.document["estimates"]["answers"] > 0
    assert run.document["estimates"]["scopes"] == ["country MD", "region"]
    text = audit(hub, tmp_path / "state", as_json=False)
    assert "1 checked, 1 results re-added exactly, 0 failed, 0 running; 0 findings" in text.out
    assert "table totals: 0 rounds checked against their members' totals, 0 flagged, 1 not checkable" in text.out
    # The survivors reported the month with their masked vectors: the completeness grid says so, from the log too.
    period = read_round(hub).roster.period
    response = hub.client.get(
        "/v1/completeness", params={"period_from": period, "period_to": period}, headers=hub.auth("auditor")
    )
    content, name = response.content, "completeness.json"
    statuses = {line["hotline_id"]: line["status"] for line in json.loads(content)["rows"]}
    survivors = read_round(hub).survivors
    assert survivors is not None
    assert {statuses[m] for m in survivors.member_ids} <= {"on_time", "late"}
    assert statuses[DROP_BEFORE_MASKED[0]] not in ("on_time", "late")  # it sent no vector, and released nothing
    _verified(hub, tmp_path, content, name)
    # A downloaded answer drawn from the round's sum is recomputed from the log alone, with the round counted.
    for route, params in (
        ("/v1/estimates/case", {"period_from": period, "period_to": period, "format": "csv"}),
        ("/v1/stats/cases_opened", {"period_from": period, "period_to": period, "format": "csv"}),
    ):
        _verified(hub, tmp_path, *download(hub, route, params))


def _verified(hub: HubUnderTest, tmp_path: Path, content: bytes, name: str) -> None:
    """``tipshare-audit check`` of a downloaded answer says VERIFIED."""
    path = tmp_path / name
    path.write_bytes(content)
    checked = check(hub, tmp_path / "state", path)
    assert checked.code == 0, checked.out + checked.err
    assert checked.document["verdict"] == "VERIFIED", checked.document["failures"]


def test_a_round_spanning_two_runs_is_checked_once_it_is_over(hub: HubUnderTest, tmp_path: Path) -> None:
    members = _start(hub)
    _shares(hub, members)
    state = tmp_path / "state"
    first = audit(hub, state, "--log-key", hub.log_key.vkey)
    assert first.code == 0, first.out + first.err
    assert _rounds(first)["running"] == 1
    assert _rounds(first)["checked"] == 0

    _finish(hub, members)
    resumed = audit(hub, state)
    fresh = audit(hub, tmp_path / "fresh", "--log-key", hub.log_key.vkey)

    assert resumed.code == 0, resumed.out + resumed.err
    assert resumed.document["entry_checks"]["resumed"] > 0  # the first run's entries were not checked again
    assert (
        _rounds(resumed)
        == _rounds(fresh)
        == {
            "checked": 1,
            "re_added": 1,
            "failed": 0,
            "running": 0,
            "findings": 0,
            "published": 1,
            "totals_checked": 0,
            "totals_flagged": 0,
            "totals_unchecked": 1,
        }
    )
    assert conclusions(resumed) == conclusions(fresh)


def test_a_hub_answering_from_another_sum_than_the_logged_one_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    members = _start(hub)
    _shares(hub, members)
    _finish(hub, members)
    logged = read_round(hub).result
    assert logged is not None
    forged = step_entry(
        logged.model_copy(update={"sum": (logged.sum[0] + 5, *logged.sum[1:])}),
        effective_at=format_timestamp(hub.clock()),
    )

    def answer_from_another_sum(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not request.url.path.startswith("/v1/rounds/"):
            return response
        document = response.json()
        document["steps"]["result"]["entry"] = base64.b64encode(forged.canonical_bytes()).decode()
        return httpx.Response(200, headers={"content-type": "application/json"}, content=json.dumps(document))

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey, wire=Wire(hub, rewrite=answer_from_another_sum))

    assert run.code == 1, run.out + run.err
    [found] = run.failures("rounds")
    assert found["keys"] == {"group": "region-eu-east", "period": "2026-10", "round": "0", "rule": "published-differs"}
    assert "the hub answers from another result than the logged one (1 cells differ)" in found["message"]
    # The log itself re-adds exactly: only the answer is wrong.
    assert _rounds(run)["re_added"] == 1
    entry = parse_log_entry(b64decode(read_round(hub).document["steps"]["result"]["entry"]))
    assert isinstance(entry, SecaggStepEntry)
    assert step_message(entry) == logged


def test_a_hub_hiding_the_logged_result_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    members = _start(hub)
    _shares(hub, members)
    _finish(hub, members)

    def no_result(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not request.url.path.startswith("/v1/rounds/"):
            return response
        document = response.json()
        del document["steps"]["result"]
        return httpx.Response(200, headers={"content-type": "application/json"}, content=json.dumps(document))

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey, wire=Wire(hub, rewrite=no_result))

    assert run.code == 1, run.out + run.err
    [found] = run.failures("rounds")
    assert found["keys"]["rule"] == "published-differs"
    assert found["message"].endswith("(the hub shows no result)")


def test_a_round_failed_below_the_threshold_verifies_as_failed(hub: HubUnderTest, tmp_path: Path) -> None:
    members = _start(hub)
    roster = read_round(hub).roster
    for m in roster.member_ids[:4]:  # 4 of 8 share, below the threshold 5
        share(hub, members[m], roster)
    hub.clock.advance(days=3, seconds=1)
    assert read_round(hub).document["step"] == "failed"

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)

    assert run.code == 0, run.out + run.err
    assert _rounds(run) == {
        "checked": 1,
        "re_added": 0,
        "failed": 1,
        "running": 0,
        "findings": 0,
        "published": 1,
        "totals_checked": 0,
        "totals_flagged": 0,
        "totals_unchecked": 0,  # no result: nothing to hold to totals
    }


def test_a_round_whose_survivors_declared_no_noise_is_re_added_but_answers_nothing(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    members = _start(hub)
    _shares(hub, members)
    read = read_round(hub)
    assert read.committed is not None
    for m in read.committed.members:
        if m not in DROP_BEFORE_MASKED:
            mask(hub, members[m], read, declare_noise=False)  # as a node from before the declaration
    hub.clock.advance(days=3)
    read = read_round(hub)
    assert read.survivors is not None
    for m in read.survivors.member_ids:
        reveal(hub, members[m], read)
    assert read_round(hub).document["step"] == "done"
    period = read.roster.period
    stats = hub.client.get(
        "/v1/stats/cases_opened",
        params={"period_from": period, "period_to": period, "group_by": "period"},
        headers=hub.auth("coordinator"),
    )
    assert stats.status_code == 200
    (row,) = stats.json()["rows"]
    assert (row["estimate"], row["obs_status"]) == (None, "O")  # its noise is unknown: no answer

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)

    assert run.code == 0, run.out + run.err
    assert _rounds(run)["re_added"] == 1
    assert run.document["estimates"]["answers"] == 0


def test_a_scaled_round_publishes_its_sum_divided_and_rounded_and_every_answer_is_recomputed(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    members = enroll_members(hub, 8)
    create_group(hub, list(members), threshold=5, scaling=15)
    open_round(hub)
    assert read_round(hub).roster.scaling == 15  # the roster names the factor every member scales by
    _shares(hub, members)
    fine = _finish(hub, members)
    assert list(read_round(hub).result.sum) == fine  # type: ignore[union-attr]
    survivors = read_round(hub).survivors
    assert survivors is not None
    # Each published cell is the true sum plus round(Σ shares / 15): exactly the fine sum divided and rounded.
    length = len(fine)
    truth = [sum(col) for col in zip(*(member_values(m, length)[0] for m in survivors.member_ids), strict=True)]
    shares = [sum(col) for col in zip(*(member_values(m, length)[1] for m in survivors.member_ids), strict=True)]
    published = [rounded_cell(s, 15) for s in fine]
    assert published == [t + rounded_cell(z, 15) for t, z in zip(truth, shares, strict=True)]
    with read_session(hub.context.sessions) as session:
        cells = session.execute(select(RollupCell.cell, RollupCell.value).where(RollupCell.scope == "region")).all()
        terms = session.scalars(select(RollupNoise.terms).where(RollupNoise.scope == "region")).one()
    assert [value for _, value in sorted(cells)] == published
    # One noise term for the round's cell, naming every survivor's fine share: not one per survivor.
    assert json.loads(terms) == [["rounded_gaussian_sum", f"15:1.5x{len(survivors.member_ids)}", 1]]

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey)

    assert run.code == 0, run.out + run.err
    assert run.document["failures"] == []
    assert _rounds(run)["re_added"] == 1
    assert run.document["estimates"]["answers"] > 0
    period = read_round(hub).roster.period
    for route, params in (
        ("/v1/estimates/case", {"period_from": period, "period_to": period, "format": "csv"}),
        ("/v1/stats/cases_opened", {"period_from": period, "period_to": period, "format": "csv"}),
        ("/v1/stats/cases_opened", {"period_from": period, "period_to": period, "format": "csv", "group_by": "period"}),
    ):
        _verified(hub, tmp_path, *download(hub, route, params))
