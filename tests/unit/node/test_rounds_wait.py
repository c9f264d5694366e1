# SPDX-License-Identifier: Apache-2.0
"""A month whose round the hub never opens (:func:`node.rounds.take_part`): ``sync`` waits ``round_wait_days``
after the month, then sends the local release, unless it may have sent a share submission; ``status`` and
``budget`` show each month's round and both guarantees from the node's ``rounds`` table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.db import write_session
from hub.services.secure_rounds import SecureRounds
from node.errors import ConfigError
from node.secure_group import ROUND_WAIT_DAYS, SecureGroupConfig, round_gives_up_at
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.round_nodes import GROUP, PERIOD, TABLE, RoundNode, set_up_node

N, THRESHOLD = 3, 2
#: The first instant ``sync`` gives up on PERIOD's round by default (22 days after October).
GIVES_UP = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _nodes(hub: HubUnderTest, tmp_path: Path, *, wait_days: int | None = None) -> list[RoundNode]:
    """Members of a group whose round for PERIOD the hub has not opened."""

    def http(_settings: Any) -> TestClient:
        return TestClient(hub.client.app, base_url="https://testserver")

    def enroll(body: dict[str, Any]) -> None:
        response = hub.client.post("/v1/admin/hotlines", json=body, headers=hub.auth("admin"))
        assert response.status_code == 201, response.text

    nodes = []
    for i in range(N):
        node = RoundNode(f"hotline-{i:02d}", tmp_path / f"node-{i}", http, hub.clock)
        set_up_node(
            node,
            hub_url="https://testserver",
            enroll=enroll,
            export_dir=tmp_path / f"export-{i}",
            seed=200 + i,
            members=N,
            threshold=THRESHOLD,
        )
        if wait_days is not None:
            with (node.home / "config.toml").open("a", encoding="utf-8") as config:
                config.write(f"round_wait_days = {wait_days}\n")  # the [secure_group] section is the file's last
        nodes.append(node)
    with write_session(hub.context.sessions) as session:
        SecureRounds(hub.context, session).create_group(
            group_id=GROUP, members=[n.hotline_id for n in nodes], threshold=THRESHOLD, tables=(TABLE,), now=hub.clock()
        )
    return nodes


def test_the_wait_ends_a_week_after_the_hubs_default_reporting_deadline() -> None:
    assert ROUND_WAIT_DAYS == 22
    assert round_gives_up_at(PERIOD) == GIVES_UP
    assert round_gives_up_at("2026-12", 3) == datetime(2027, 1, 4, tzinfo=UTC)
    config = SecureGroupConfig.from_mapping(
        {"group_id": GROUP, "members": 3, "threshold": 2, "collusion_cap": "100", "round_wait_days": 5}
    )
    assert config.gives_up_at(PERIOD) == datetime(2026, 11, 6, tzinfo=UTC)
    assert config.to_mapping()["round_wait_days"] == 5
    assert SecureGroupConfig.from_mapping(config.to_mapping()) == config
    default = SecureGroupConfig.from_mapping({**config.to_mapping(), "round_wait_days": 22})
    assert "round_wait_days" not in default.to_mapping()


@pytest.mark.parametrize("days", [0, 367, "7", True])
def test_a_wait_that_is_not_a_number_of_days_is_refused(days: object) -> None:
    with pytest.raises(ConfigError, match="round_wait_days"):
        SecureGroupConfig.from_mapping(
            {"group_id": GROUP, "members": 3, "threshold": 2, "collusion_cap": "100", "round_wait_days": days}
        )


def test_a_round_the_hub_never_opens_holds_the_release_only_until_the_wait_ends(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    hub.clock.now = GIVES_UP - timedelta(minutes=1)
    (node, *_) = _nodes(hub, tmp_path)
    report = node.sync()[PERIOD]
    assert (report["status"], report["action"]) == ("waiting", "none"), report
    assert node.release_status() == "approved"  # held, not queued

    hub.clock.now = GIVES_UP
    report = node.sync()[PERIOD]
    assert (report["status"], report["action"]) == ("missed", "missed"), report
    assert "did not open the round within 22 days" in report["detail"]
    assert node.release_status() == "delivered"  # the local release, with full noise, went out instead
    assert PERIOD not in node.sync(), "the round is over for the node: sync does not ask again"

    # The hub opens the round after all: the node is no longer in it, and its vector reaches the hub only once.
    with write_session(hub.context.sessions) as session:
        SecureRounds(hub.context, session).open_round(group_id=GROUP, period=PERIOD, now=hub.clock())
    assert PERIOD not in node.sync()
    assert node.round_row()[1] == "missed"


def test_round_wait_days_sets_the_wait(hub: HubUnderTest, tmp_path: Path) -> None:
    hub.clock.now = datetime(2026, 11, 4, 0, 1, tzinfo=UTC)  # 3 days and a minute after October
    (node, *_) = _nodes(hub, tmp_path, wait_days=3)
    report = node.sync()[PERIOD]
    assert (report["status"], report["action"], node.release_status()) == ("missed", "missed", "delivered")
    assert "within 3 days" in report["detail"]


def test_a_node_that_may_have_sent_its_share_submission_keeps_waiting(hub: HubUnderTest, tmp_path: Path) -> None:
    """Its secrets are written before the share submission is posted: a node that stopped between the two may
    have reached the hub, so it never also sends the local release on a timeout (the existing rules apply)."""
    hub.clock.now = GIVES_UP + timedelta(days=30)
    (node, *_) = _nodes(hub, tmp_path)
    secrets = node.home / "rounds" / f"{GROUP}-{PERIOD}-0.json"
    secrets.parent.mkdir(mode=0o700)
    secrets.write_text("{}", encoding="utf-8")
    report = node.sync()[PERIOD]
    assert (report["status"], report["action"]) == ("waiting", "none"), report
    assert node.release_status() == "approved"


def test_status_and_budget_show_the_rounds_status_and_both_guarantees(hub: HubUnderTest, tmp_path: Path) -> None:
    hub.clock.now = GIVES_UP - timedelta(days=1)
    (node, *_) = _nodes(hub, tmp_path)
    node.sync()
    status = json.loads(node.ok("status", "--json"))
    (shown,) = status["rounds"]
    assert shown | {"detail": None} == {
        "period": PERIOD,
        "group": GROUP,
        "round": None,
        "status": "waiting",
        "detail": None,
        "members": N,
        "threshold": THRESHOLD,
        "against_hub": shown["against_hub"],
        "against_all_others": shown["against_all_others"],
    }
    release = status["releases"][0]
    assert 0 < float(shown["against_hub"]) <= float(release["spent"])  # never above the local release it replaces
    assert float(shown["against_all_others"]) > float(shown["against_hub"])
    assert json.loads(node.ok("budget", "--json"))["rounds"] == status["rounds"]
    assert json.loads(node.ok("budget", "--year", "2025", "--json"))["rounds"] == []

    text = node.ok("status")
    assert "Secure rounds" in text
    assert "waiting for the hub" in text
    assert "ρ vs. hub + all others" in text
    assert f"{float(shown['against_all_others']):.6g}" in text
    hub.clock.now = GIVES_UP
    node.sync()
    text = node.ok("budget")
    assert "missed" in text
    assert "a missed or refused round sends it instead" in text
    assert "did not open the round within 22 days" in text
