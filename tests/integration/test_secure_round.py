# SPDX-License-Identifier: Apache-2.0
"""A secure round of 20 real node homes against a served hub, over real HTTP: the nodes take part through
``tipshare-node sync`` alone (the timer), the hub's deadlines pass through ``tipshare-hub round tick`` run with a
later clock. 4 nodes drop out before the masked step and 1 before unmasking; the published sum is the survivors'
true counts plus the noise shares they drew, exactly; the 4 send their local releases instead.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hub.cli import main as hub_main
from hub.db import make_engine, write_session
from hub.services.taxonomies import TaxonomyRegistry
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from node.client import make_http_client
from protocol.messages import SecaggMemberEntry, SecaggStepEntry, b64decode, parse_log_entry
from protocol.secagg.messages import RoundResult, UnmaskReveal
from protocol.secagg.signed import member_message, step_message
from protocol.taxonomy import TAXONOMY_V1_ID
from tests.support.backends import fresh_database_url
from tests.support.round_nodes import GROUP, PERIOD, TABLE, RoundNode, set_up_node
from tools.served_hub import ServedHub, served_hub

N, THRESHOLD = 20, 14
DROP_BEFORE_MASKED = {"hotline-03", "hotline-08", "hotline-11", "hotline-17"}
DROP_BEFORE_UNMASK = {"hotline-05"}
NODE_ENV = {
    "TIPSHARE_NODE_CONNECT_TIMEOUT": "5",
    "TIPSHARE_NODE_TIMEOUT": "30",
    "TIPSHARE_NODE_RETRY_ATTEMPTS": "2",
    "TIPSHARE_NODE_RETRY_BASE_DELAY": "0.05",
    "TIPSHARE_NODE_RETRY_MAX_DELAY": "0.2",
    "TIPSHARE_NODE_RETRY_MAX_WAIT": "5",
}


@dataclass
class Stage:
    hub: ServedHub
    data_dir: Path
    database_url: str | None
    admin: str
    auditor: str

    def hub_cli(self, *argv: str, now: datetime | None = None) -> str:
        """``tipshare-hub`` as the operator (or its timer) runs it, with ``now`` as the hub's clock."""
        options = ["--data-dir", str(self.data_dir)]
        if self.database_url is not None:
            options += ["--database-url", self.database_url]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = hub_main([*argv, *options], clock=None if now is None else (lambda: now))
        assert code == 0, out.getvalue()
        return out.getvalue()

    def round(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.hub.url}/v1/rounds/{GROUP}/{PERIOD}",
            headers={"Authorization": f"Bearer {self.auditor}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document


@pytest.fixture
def stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    for name, value in NODE_ENV.items():
        monkeypatch.setenv(name, value)
    with fresh_database_url() as database_url:
        data_dir = tmp_path / "hub"
        context = initialise_hub(Settings(data_dir=data_dir, database_url=database_url), origin="hub.test.tipshare/log")
        try:
            with write_session(context.sessions) as session:
                TaxonomyRegistry(session).make_current(TAXONOMY_V1_ID)  # small tables keep 20 prepares fast
                tokens = TokenService(session)
                admin = tokens.create(role="admin", label="round admin", now=context.clock()).token
                auditor = tokens.create(role="auditor", label="round auditor", now=context.clock()).token
        finally:
            context.engine.dispose()
        with served_hub(data_dir, database_url=database_url, workers=1) as hub:
            yield Stage(hub, data_dir, database_url, admin, auditor)
            assert hub.process.poll() is None, f"the hub stopped:\n{hub.log_tail()}"
            assert "Traceback" not in hub.log(), hub.log_tail()


def _result(stage: Stage) -> RoundResult:
    entry = parse_log_entry(b64decode(stage.round()["steps"]["result"]["entry"]))
    assert isinstance(entry, SecaggStepEntry)
    result = step_message(entry)
    assert isinstance(result, RoundResult)
    return result


@pytest.mark.slow
def _join(stage: Stage, tmp_path: Path, n: int, threshold: int) -> tuple[dict[str, RoundNode], dict[str, list[int]]]:
    """``n`` node homes set up, enrolled and in the group; the round of :data:`PERIOD` opened."""

    def enroll(body: dict[str, Any]) -> None:
        response = httpx.post(
            f"{stage.hub.url}/v1/admin/hotlines",
            json=body,
            headers={"Authorization": f"Bearer {stage.admin}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text

    nodes: dict[str, RoundNode] = {}
    truth: dict[str, list[int]] = {}
    for i in range(n):
        node = RoundNode(f"hotline-{i:02d}", tmp_path / f"node-{i:02d}", make_http_client)
        truth[node.hotline_id] = set_up_node(
            node,
            hub_url=stage.hub.url,
            enroll=enroll,
            export_dir=tmp_path / f"export-{i:02d}",
            seed=300 + i,
            members=n,
            threshold=threshold,
        )
        nodes[node.hotline_id] = node
    stage.hub_cli(
        "group", "create", GROUP, "--members", ",".join(nodes), "--threshold", str(threshold), "--tables", TABLE
    )
    stage.hub_cli("round", "open", GROUP, PERIOD)
    return nodes, truth


@pytest.mark.slow
def test_twenty_nodes_run_a_round_with_dropouts_and_the_sum_is_exact(stage: Stage, tmp_path: Path) -> None:
    nodes, truth = _join(stage, tmp_path, N, THRESHOLD)

    for node in nodes.values():  # the timer's first run after the round opened
        assert node.sync()[PERIOD]["action"] == "shares-sent"
    assert stage.round()["step"] == "masked"  # all 20 answered
    for name, node in nodes.items():
        if name not in DROP_BEFORE_MASKED:
            assert node.sync()[PERIOD]["action"] == "masked-sent"
    masked_due = datetime.fromisoformat(stage.round()["masked_due"]).astimezone(UTC)
    stage.hub_cli("round", "tick", now=masked_due + timedelta(minutes=1))
    assert stage.round()["step"] == "reveal"
    survivors = [n for n in nodes if n not in DROP_BEFORE_MASKED]
    for name in survivors:
        if name not in DROP_BEFORE_UNMASK:
            assert nodes[name].sync()[PERIOD]["action"] == "reveal-sent"
    reveal_due = datetime.fromisoformat(stage.round()["reveal_due"]).astimezone(UTC)
    stage.hub_cli("round", "tick", now=reveal_due + timedelta(minutes=1))
    assert stage.round()["step"] == "done"

    for name, node in nodes.items():  # the next run: the survivors are in the sum, the others release locally
        report = node.sync()[PERIOD]
        if name in DROP_BEFORE_MASKED:
            assert report["status"] == "missed", report
            assert node.release_status() == "delivered"
        else:
            assert report["status"] == "done", report
            assert node.release_status() == "superseded"

    # The published sum is the survivors' true counts plus the noise shares they drew, exactly.
    stored = {name: nodes[name].round_row()[0][TABLE] for name in survivors}
    noise = {name: [v - t for v, t in zip(stored[name], truth[name], strict=True)] for name in survivors}
    assert all(any(z) for z in noise.values()), "every survivor drew a noise share"
    expected = [
        sum(truth[name][cell] + noise[name][cell] for name in survivors) for cell in range(len(truth[survivors[0]]))
    ]
    assert list(_result(stage).sum) == expected
    # The dropped nodes' local releases reached the hub as ordinary submissions (full noise).
    delivered = json.loads(nodes["hotline-03"].ok("status", "--json"))
    assert any(r["period"] == PERIOD and r["status"] == "delivered" for r in delivered["releases"]), delivered


def test_a_member_the_hub_claims_dropped_refuses_and_the_hub_cannot_unmask_it(stage: Stage, tmp_path: Path) -> None:
    nodes, _ = _join(stage, tmp_path, 5, 3)
    victim = nodes["hotline-01"]
    for node in nodes.values():
        assert node.sync()[PERIOD]["action"] == "shares-sent"
    assert victim.sync()[PERIOD]["action"] == "masked-sent"
    # The hostile hub forgets the victim's masked vector (a direct edit of its database), so the survivor set it
    # logs claims the victim dropped: the others will reveal the victim's agreement secret.
    engine = make_engine(Settings(data_dir=stage.data_dir, database_url=stage.database_url).resolved_database_url)
    try:
        with engine.begin() as connection:
            deleted = connection.execute(
                text("DELETE FROM secagg_messages WHERE member = :member AND step = 'masked'"),
                {"member": victim.hotline_id},
            )
            assert deleted.rowcount == 1
    finally:
        engine.dispose()
    for name, node in nodes.items():
        if node is not victim:
            assert node.sync()[PERIOD]["action"] == "masked-sent", name
    masked_due = datetime.fromisoformat(stage.round()["masked_due"]).astimezone(UTC)
    stage.hub_cli("round", "tick", now=masked_due + timedelta(minutes=1))
    code, out, err = victim.run("sync")
    assert code == 0, err
    assert "REFUSED" in out, out + err
    assert "own-vector-missing" in out + err, out + err
    assert victim.release_status() == "delivered"  # its local release went out instead, in the same run
    for node in nodes.values():
        if node is not victim:
            assert node.sync()[PERIOD]["action"] == "reveal-sent"
    assert stage.round()["step"] == "done"
    # The others revealed the victim's agreement secret, no one its self-mask seed, and the victim nothing: the
    # masked vector the hub holds stays covered by the self-mask, which the hub can never reconstruct.
    revealed = []
    for leaf in stage.round()["reveals"]:
        entry = parse_log_entry(b64decode(leaf["entry"]))
        assert isinstance(entry, SecaggMemberEntry)
        message = member_message(entry)
        assert isinstance(message, UnmaskReveal)
        revealed.append(message)
    assert victim.hotline_id not in {r.member for r in revealed}
    owned = {(share.owner, share.kind) for r in revealed for share in r.shares}
    assert (victim.hotline_id, "agreement") in owned
    assert (victim.hotline_id, "self_mask") not in owned
