# SPDX-License-Identifier: Apache-2.0
"""The auditor replays hotline policies and backfill approvals from the log, as the hub applied them: a run that
resumes from its state DIR judges new submissions by the policies logged before, exactly as a run from scratch
does; a policy for a hotline nobody enrolled is named; a format 2 state DIR (no spends kept) is checked again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.state import FORMAT, STATE_FILE, StateStore
from protocol.messages import PROTOCOL_VERSION, BudgetCap, HotlinePolicyEntry, format_timestamp
from tests.support.auditkit import (
    TABLES,
    admin,
    append_entry,
    audit,
    cells,
    conclusions,
    populate,
    submission_entry,
)
from tests.support.hubs import HubUnderTest, start_hub

REGION_ONLY = "--region-only"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        populate(started)
        yield started


def test_a_resumed_run_judges_new_submissions_by_the_policies_logged_before(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert audit(hub, state, REGION_ONLY).code == 0
    # ua-a's releases: cells up to 17. A month before the first period, backfilled (a month close to the others:
    # every month between the first and the last with data is verified cell by cell).
    admin(hub, "/v1/admin/hotlines/ua-a/policy", {"max_monthly_volume": 20, "first_period": "2026-08"})
    admin(
        hub, "/v1/admin/hotlines/ua-a/backfills", {"first_period": "2026-07", "last_period": "2026-07", "reason": "x"}
    )
    hub.submit_cells("ua-a", "2026-07", cells(hub.context.taxonomy, 60), tables=TABLES)
    big = hub.release("ua-a", "2026-08", cells=cells(hub.context.taxonomy, 61), tables=TABLES)
    big = big.model_copy(
        update={"tables": tuple(t.model_copy(update={"cells": (500, *t.cells[1:])}) for t in big.tables)}
    )
    append_entry(hub, submission_entry(big, key=hub.hotlines["ua-a"].key, received_at=hub.clock()))

    resumed = audit(hub, state, REGION_ONLY)
    scratch = audit(hub, tmp_path / "scratch", REGION_ONLY)

    assert resumed.checks() == {"plausibility"}
    [failure] = resumed.failures("plausibility")
    assert "ua-a 2026-08 revision 1: cell_bound" in failure["message"]
    assert conclusions(resumed) == conclusions(scratch)
    assert "2026-07" in resumed.document["periods"]


def test_a_policy_for_a_hotline_nobody_enrolled_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    stray = HotlinePolicyEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="hotline_policy",
        hotline_id="nobody",
        caps=(BudgetCap(measure="rho", period="5", year="50"),),
        max_monthly_volume=1_000_000,
        first_period="2000-01",
        effective_at=format_timestamp(hub.clock()),
    )
    index = append_entry(hub, stray)  # type: ignore[arg-type]

    run = audit(hub, tmp_path / "state", REGION_ONLY)

    [failure] = run.failures("policy")
    assert failure["index"] == index
    assert "no earlier entry enrolls" in failure["message"]


def test_a_format_2_state_dir_is_checked_again_and_keeps_the_spends(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = audit(hub, state, REGION_ONLY)
    assert first.code == 0
    db = sqlite3.connect(state / STATE_FILE)
    with db:
        db.execute("ALTER TABLE accepted DROP COLUMN spent")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    db.close()

    again = audit(hub, state, REGION_ONLY)

    assert again.code == 0
    assert any("state format 2" in notice for notice in again.document["notices"])
    assert conclusions(again) == conclusions(first)
    with StateStore.open(state) as store:
        saved = store.conclusions()
        assert saved is not None
        assert {s.spent for s in saved.accepted} != {"0"}
    db = sqlite3.connect(state / STATE_FILE)
    assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0] == str(FORMAT)
    db.close()
