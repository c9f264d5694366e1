# SPDX-License-Identifier: Apache-2.0
"""The node takes part in its group's round (:mod:`node.rounds`): ``prepare`` keeps the round's vectors, each
``sync`` does the open step, against the real hub app (in process); a missed round sends the local release."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.db import write_session
from hub.models import RollupCell, SecaggMessage
from hub.services.rebuild import check_rollups
from hub.services.secure_rounds import SecureRounds
from protocol.distributed_noise import TOTALS_SHARE, SecureGroup, TableShare
from protocol.messages import SecaggMemberEntry, SecaggStepEntry, b64decode, b64encode, parse_log_entry
from protocol.secagg.messages import MaskedSubmission, RoundResult
from protocol.secagg.signed import member_message, step_message
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.round_nodes import GROUP, PERIOD, TABLE, RoundNode, set_up_node

N, THRESHOLD = 5, 3


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _nodes(
    hub: HubUnderTest,
    tmp_path: Path,
    *,
    scaling: int = 1,
    group_scaling: int | None = None,
    group_threshold: int = THRESHOLD,
) -> tuple[list[RoundNode], dict[str, list[int]]]:
    """Five nodes configured for a group of threshold 3 scaled by ``scaling``, and the hub's group (by default the
    same; ``group_scaling`` and ``group_threshold`` make the hub's differ)."""

    def http(_settings: Any) -> TestClient:
        return TestClient(hub.client.app, base_url="https://testserver")

    def enroll(body: dict[str, Any]) -> None:
        response = hub.client.post("/v1/admin/hotlines", json=body, headers=hub.auth("admin"))
        assert response.status_code == 201, response.text

    nodes, truth = [], {}
    for i in range(N):
        node = RoundNode(f"hotline-{i:02d}", tmp_path / f"node-{i}", http, hub.clock)
        truth[node.hotline_id] = set_up_node(
            node,
            hub_url="https://testserver",
            enroll=enroll,
            export_dir=tmp_path / f"export-{i}",
            seed=100 + i,
            members=N,
            threshold=THRESHOLD,
            scaling=scaling,
        )
        nodes.append(node)
    with write_session(hub.context.sessions) as session:
        rounds = SecureRounds(hub.context, session)
        rounds.create_group(
            group_id=GROUP,
            members=[n.hotline_id for n in nodes],
            threshold=group_threshold,
            tables=(TABLE,),
            now=hub.clock(),
            scaling=scaling if group_scaling is None else group_scaling,
        )
        rounds.open_round(group_id=GROUP, period=PERIOD, now=hub.clock())
    return nodes, truth


def _round(hub: HubUnderTest) -> dict[str, Any]:
    response = hub.client.get(f"/v1/rounds/{GROUP}/{PERIOD}", headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _result(hub: HubUnderTest) -> RoundResult:
    entry = parse_log_entry(b64decode(_round(hub)["steps"]["result"]["entry"]))
    assert isinstance(entry, SecaggStepEntry)
    result = step_message(entry)
    assert isinstance(result, RoundResult)
    return result


def _member_entry(leaf: dict[str, Any]) -> SecaggMemberEntry:
    entry = parse_log_entry(b64decode(leaf["entry"]))
    assert isinstance(entry, SecaggMemberEntry)
    return entry


def _past(hub: HubUnderTest, deadline: str) -> None:
    hub.clock.now = max(hub.clock.now, _due(hub, deadline) + timedelta(minutes=1))


def _due(hub: HubUnderTest, deadline: str) -> datetime:
    return datetime.fromisoformat(_round(hub)[deadline])


def test_sync_takes_part_one_step_per_run_and_a_missed_node_sends_its_local_release(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    nodes, truth = _nodes(hub, tmp_path)
    late = nodes[4]  # takes no part after the shares: its local release goes out instead
    for node in nodes:
        assert node.round_row()[1] == "waiting"
        assert node.sync()[PERIOD]["action"] == "shares-sent"
        assert node.release_status() == "approved"  # held, not queued, while the round runs
        if node is nodes[0]:  # a re-run re-sends the same bytes (the hub answers 200, nothing new is logged)
            assert node.sync()[PERIOD]["action"] == "shares-sent"
            assert len(_round(hub)["shares"]) == 1
    assert _round(hub)["step"] == "masked"  # every member answered: the hub moved on
    for node in nodes[:4]:
        assert node.sync()[PERIOD]["action"] == "masked-sent"
    _past(hub, "masked_due")
    for node in nodes[:4]:
        assert node.sync()[PERIOD]["action"] == "reveal-sent"
    assert _round(hub)["step"] == "done"
    for node in nodes[:4]:
        report = node.sync()[PERIOD]
        assert (report["status"], report["action"]) == ("done", "done")
        assert node.release_status() == "superseded"  # the round's sum holds the month: never sent
    missed = late.sync()[PERIOD]
    assert (missed["status"], missed["action"]) == ("missed", "missed"), missed
    assert late.release_status() == "delivered"
    # The published sum is the survivors' true counts plus the noise shares they drew, exactly.
    stored = {n.hotline_id: n.round_row()[0][TABLE] for n in nodes[:4]}
    assert list(_result(hub).sum) == [sum(cells) for cells in zip(*stored.values(), strict=True)]
    noise = {m: [v - t for v, t in zip(stored[m], truth[m], strict=True)] for m in stored}
    assert any(any(cells) for cells in noise.values()), "each member drew a noise share"
    expected = [sum(col) for col in zip(*(truth[m] for m in stored), strict=True)]
    assert list(_result(hub).sum) == [
        e + sum(z) for e, z in zip(expected, zip(*noise.values(), strict=True), strict=True)
    ]
    # Each masked vector declares the share σ the node drew, for each of the roster's tables.
    for leaf in _round(hub)["masked"]:
        masked = member_message(_member_entry(leaf))
        assert isinstance(masked, MaskedSubmission)
        assert masked.noise is not None
        node = next(n for n in nodes if n.hotline_id == masked.member)
        assert {n.table: n.scale for n in masked.noise} == {TABLE: node.round_noise()[TABLE]}
        # ... and releases the one-cell total it drew and kept at prepare.
        assert masked.totals is not None
        assert {t.table: (t.value, t.scale) for t in masked.totals} == {TABLE: node.round_totals()[TABLE]}
    # The round's table total agrees with the survivors' totals (the check the auditor makes).
    released = {n.hotline_id: n.round_totals()[TABLE][0] for n in nodes[:4]}
    total_noise = sum(released[m] - sum(truth[m]) for m in released)
    difference = sum(_result(hub).sum) - sum(released.values())
    assert difference == sum(sum(z) for z in noise.values()) - total_noise  # noise alone: the true counts cancel
    # The secrets were kept 0600 in the node home.
    secrets = next((nodes[0].home / "rounds").iterdir())
    assert secrets.stat().st_mode & 0o777 == 0o600


def test_the_stored_spend_adds_the_one_cell_totals_to_the_shares(hub: HubUnderTest, tmp_path: Path) -> None:
    nodes, _ = _nodes(hub, tmp_path)
    node = nodes[0]
    group = SecureGroup(members=N, threshold=THRESHOLD)
    shares, totals = Fraction(0), Fraction(0)
    tables = node.round_noise()
    assert set(node.round_totals()) == set(tables)  # every table the node prepared has its total
    for name, scale in tables.items():
        table = hub.context.taxonomy.table(name)
        share = TableShare(
            name,
            float(scale),
            table.l1_bound,
            table.l2_sensitivity_squared,
            table.cell_count,
            table.per_cell_bound,
            Fraction(1),
        )
        shares += share.guarantee(group, colluders=0)
        total_scale = Fraction(float(node.round_totals()[name][1]))
        totals += Fraction(table.l1_bound**2) / (2 * total_scale**2)
    against_hub, _ = node.round_spend()
    assert Fraction(against_hub) >= shares + totals > Fraction(against_hub) - Fraction(1, 10**18)
    assert totals <= Fraction("0.1") * TOTALS_SHARE  # 2 % of the default release
    assert totals >= Fraction("0.1") * TOTALS_SHARE * Fraction(999_999, 1_000_000)
    assert Fraction(against_hub) <= Fraction("0.1")  # the local release's spend bounds the round's, totals and all


def test_a_member_the_hub_claims_dropped_refuses_and_names_the_rule(hub: HubUnderTest, tmp_path: Path) -> None:
    nodes, _ = _nodes(hub, tmp_path)
    victim = nodes[1]
    for node in nodes:
        node.sync()
    assert victim.sync()[PERIOD]["action"] == "masked-sent"
    # The hostile hub forgets the victim's masked vector, so its survivor set will claim the victim dropped.
    with write_session(hub.context.sessions) as session:
        row = session.query(SecaggMessage).filter_by(member=victim.hotline_id, step="masked").one()
        session.delete(row)
    for node in nodes:
        if node is not victim:
            assert node.sync()[PERIOD]["action"] == "masked-sent"
    _past(hub, "masked_due")
    _code, out, err = victim.run("sync")
    assert "own-vector-missing" in out + err, out + err
    for node in nodes:
        if node is not victim:
            assert node.sync()[PERIOD]["action"] == "reveal-sent"
    assert _round(hub)["step"] == "done"
    assert victim.release_status() == "delivered"  # its local release went out instead, in the same run
    assert PERIOD not in victim.sync()  # and it takes no further part
    # The others revealed the victim's agreement secret (the hub said it dropped) but no one its self-mask seed,
    # and the victim revealed nothing: its masked vector, which the hub holds, stays covered by the self-mask.
    revealed = [member_message(_member_entry(leaf)) for leaf in _round(hub)["reveals"]]
    assert revealed
    assert victim.hotline_id not in {r.member for r in revealed}
    owned = {(s.owner, s.kind) for r in revealed for s in r.shares}  # type: ignore[union-attr]
    assert (victim.hotline_id, "agreement") in owned
    assert (victim.hotline_id, "self_mask") not in owned
    with contextlib.closing(sqlite3.connect(victim.home / "node.sqlite3")) as db:
        assert db.execute("SELECT detail FROM rounds").fetchone()[0].startswith("own-vector-missing")


def test_a_round_below_the_threshold_fails_and_every_member_then_releases_locally(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    nodes, _ = _nodes(hub, tmp_path)
    for node in nodes:
        assert node.sync()[PERIOD]["action"] == "shares-sent"
    for node in nodes[:2]:  # fewer than the threshold (3) send their masked vectors
        assert node.sync()[PERIOD]["action"] == "masked-sent"
        assert node.release_status() == "approved"  # held: the hub holds its masked vector
    _past(hub, "masked_due")
    assert _round(hub)["step"] == "failed"
    for node in nodes:
        report = node.sync()[PERIOD]
        assert (report["status"], report["action"]) == ("missed", "missed"), report
        assert node.release_status() == "delivered"  # nothing was published: the local release goes instead


def test_a_roster_whose_keys_the_log_does_not_prove_is_refused_before_anything_is_sent(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    nodes, _ = _nodes(hub, tmp_path)
    node = nodes[2]

    def tampering(request: httpx.Request) -> httpx.Response:
        """The hub as a liar: a key event's inclusion proof that leads nowhere."""
        response = hub.client.request(
            request.method, request.url.path, content=request.read(), headers=dict(request.headers)
        )
        body = response.content
        if request.url.path == "/v1/rounds/state" and response.status_code == 200:
            document = response.json()
            proof = document["key_events"][0]["inclusion_proof"]
            proof[0] = b64encode(bytes(32))
            body = json.dumps(document).encode()
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(response.status_code, headers=headers, content=body)

    node.http = lambda _settings: httpx.Client(transport=httpx.MockTransport(tampering), base_url="https://testserver")
    code, out, err = node.run("sync")
    assert code == 0, err
    assert "REFUSED" in out, out
    assert "key-event-not-in-log" in out + err, out + err
    assert _round(hub)["shares"] == []  # nothing was sent to the round
    assert node.release_status() == "delivered"  # the local release went instead


def _stats(hub: HubUnderTest, **scope: str) -> dict[str, Any]:
    params = {"period_from": PERIOD, "period_to": PERIOD, **scope}
    response = hub.client.get(f"/v1/stats/{TABLE}", params=params, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]
    found: dict[str, Any] = row
    return found


def test_the_statistics_answer_from_the_round_s_sum_beside_a_late_local_release(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    nodes, _ = _nodes(hub, tmp_path)
    survivors, late = nodes[:4], nodes[4]
    for node in nodes:
        node.sync()
    for node in survivors:
        node.sync()
    _past(hub, "masked_due")
    for node in survivors:
        assert node.sync()[PERIOD]["action"] == "reveal-sent"
    assert late.sync()[PERIOD]["action"] == "missed"  # its local release goes out: a late release beside the sum
    result = _result(hub)
    region, late_only = _stats(hub), _stats(hub, hotline=late.hotline_id)
    # The region is the round's sum plus the late local release; all five hotlines reported.
    assert region["estimate"] == sum(result.sum) + late_only["estimate"]
    assert region["hotlines_reporting"] == 5
    # Every hotline is of one country: the round's sum is that country's too.
    assert _stats(hub, country="MD")["estimate"] == region["estimate"]
    # Its noise is the four survivors' declared shares (σ/√t each) plus the late hotline's full noise: narrower
    # than five local releases would give, wider than the late release alone.
    assert late_only["ci95_high"] - late_only["ci95_low"] < region["ci95_high"] - region["ci95_low"]
    assert region["ci95_high"] - region["ci95_low"] < 5**0.5 * (late_only["ci95_high"] - late_only["ci95_low"])
    # A survivor's own view holds nothing: the sum belongs to no hotline.
    alone = hub.client.get(
        f"/v1/stats/{TABLE}",
        params={"period_from": PERIOD, "period_to": PERIOD, "hotline": survivors[0].hotline_id},
        headers=hub.auth("coordinator"),
    )
    assert alone.json()["rows"] == []
    # The least-squares answers use it too.
    response = hub.client.get(
        "/v1/estimates/case",
        params={"period_from": PERIOD, "period_to": PERIOD},
        headers=hub.auth("coordinator"),
    )
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]
    assert row["hotlines_reporting"] == 5
    # Every survivor reported the month, with its masked vector; the late hotline with its local release.
    grid = hub.client.get(
        "/v1/completeness", params={"period_from": PERIOD, "period_to": PERIOD}, headers=hub.auth("coordinator")
    )
    assert grid.status_code == 200, grid.text
    assert {row["hotline_id"]: row["revisions"] for row in grid.json()["rows"]} == {n.hotline_id: 1 for n in nodes}
    assert {row["status"] for row in grid.json()["rows"]} <= {"on_time", "late"}
    # The rollups rebuilt from the log alone are the ones the hub holds.
    with write_session(hub.context.sessions) as session:
        assert check_rollups(session, hub.context.taxonomies) == []
    # A survivor's local release of the month would count it twice: the hub refuses it.
    with contextlib.closing(sqlite3.connect(survivors[0].home / "node.sqlite3")) as db:
        db.execute("UPDATE releases SET status = 'approved' WHERE period = ?", (PERIOD,))
        db.execute("UPDATE rounds SET status = 'missed' WHERE period = ?", (PERIOD,))
        db.commit()
    _code, out, err = survivors[0].run("submit")
    assert "counted in the sum of secure round 0" in out + err, out + err


def test_a_scaled_round_sends_scaled_counts_and_publishes_the_sum_divided_and_rounded(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    nodes, truth = _nodes(hub, tmp_path, scaling=15)
    survivors, late = nodes[:4], nodes[4]
    # Each node drew 15 × its counts plus a share on the finer lattice: the share's σ is about 15 times an
    # unscaled one, and what it adds to a cell is small beside 15 × the count.
    for node in nodes:
        vectors, _status = node.round_row()
        noise = [v - 15 * t for v, t in zip(vectors[TABLE], truth[node.hotline_id], strict=True)]
        assert any(noise), "a share was drawn"
        assert all(abs(z) < 20 * float(node.round_noise()[TABLE]) for z in noise)
    for node in nodes:
        assert node.sync()[PERIOD]["action"] == "shares-sent"
    for node in survivors:
        assert node.sync()[PERIOD]["action"] == "masked-sent"
    _past(hub, "masked_due")
    for node in survivors:
        assert node.sync()[PERIOD]["action"] == "reveal-sent"
    assert late.sync()[PERIOD]["action"] == "missed"
    stored = {n.hotline_id: n.round_row()[0][TABLE] for n in survivors}
    fine = list(_result(hub).sum)
    assert fine == [sum(cells) for cells in zip(*stored.values(), strict=True)]
    # The round's published cells: the true sum plus round(Σ shares / 15), which is the fine sum rounded.
    with write_session(hub.context.sessions) as session:
        rollup = dict(
            session.execute(
                select(RollupCell.cell, RollupCell.value).where(
                    RollupCell.scope == f"secure:{GROUP}", RollupCell.table_name == TABLE
                )
            ).all()
        )
        assert check_rollups(session, hub.context.taxonomies) == []  # rebuilt from the log alone: the same
    assert [rollup[i] for i in range(len(fine))] == [(s + 7) // 15 for s in fine]
    true_sum = [sum(col) for col in zip(*(truth[n.hotline_id] for n in survivors), strict=True)]
    spread = sum(float(n.round_noise()[TABLE]) ** 2 for n in survivors) ** 0.5 / 15  # σ of Σ shares / 15
    published = [rollup[i] for i in range(len(fine))]
    assert all(abs(p - t) <= 6 * spread + 1 for p, t in zip(published, true_sum, strict=True))
    assert published != true_sum  # ... and noise it carries
    # The statistics answer from it: the region is the round's cells plus the late local release.
    region, late_only = _stats(hub), _stats(hub, hotline=late.hotline_id)
    assert region["estimate"] == sum(rollup.values()) + late_only["estimate"]
    assert region["ci95_high"] - region["ci95_low"] < 5**0.5 * (late_only["ci95_high"] - late_only["ci95_low"])


def test_a_node_refuses_a_roster_of_another_scaling_or_a_lower_threshold_and_releases_locally(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    nodes, _ = _nodes(hub, tmp_path / "scaling", scaling=1, group_scaling=15)
    code, out, err = nodes[0].run("sync")
    assert code == 0, err
    assert "REFUSED" in out, out + err
    assert "scaling" in out + err, out + err
    assert _round(hub)["shares"] == []  # nothing was sent to the round
    assert nodes[0].release_status() == "delivered"


@pytest.mark.parametrize(
    ("column", "agreed", "rule"),
    [
        # The node drew its shares for at least 4 in the sum; a roster of threshold 3 would publish a sum of 3.
        ("threshold", 4, "threshold"),
        # The hotline agreed to a group of 4; a fifth member could be the hub's own, adding no noise.
        ("members", 4, "members"),
    ],
)
def test_a_roster_beyond_what_the_shares_were_drawn_for_is_refused(
    hub: HubUnderTest, tmp_path: Path, column: str, agreed: int, rule: str
) -> None:
    nodes, _ = _nodes(hub, tmp_path)
    with contextlib.closing(sqlite3.connect(nodes[0].home / "node.sqlite3")) as db:
        db.execute(f"UPDATE rounds SET {column} = ? WHERE period = ?", (agreed, PERIOD))  # noqa: S608
        db.commit()
    code, out, err = nodes[0].run("sync")
    assert code == 0, err
    assert "REFUSED" in out, out + err
    assert f"{rule}:" in out + err, out + err
    assert _round(hub)["shares"] == []  # nothing was sent to the round
    assert nodes[0].release_status() == "delivered"
