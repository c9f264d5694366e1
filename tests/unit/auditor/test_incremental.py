# SPDX-License-Identifier: Apache-2.0
"""Incremental ``verify``: a run resumes the entry checks where the runs before it left them, and concludes
exactly what a run from scratch concludes, whatever the hub did meanwhile.

Each test audits the honest log of :func:`tests.support.auditkit.populate` once, lets the hub (or a dishonest
operator) add to it, and audits again with the same state DIR. The second run must check only the new entries,
and its conclusions (verdict, every failure, counts, statistics) must equal those of a run with a new state DIR.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from auditor.entries import EntryChecker
from auditor.state import FORMAT, STATE_FILE, StateStore
from hub.db import read_session, write_session
from hub.models import LogCheckpoint, LogLeaf
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SigningKey
from protocol.merkle import leaf_hash, root_hash
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, SubmissionEntry, b64encode, parse_log_entry
from tests.support.auditkit import (
    TABLES,
    Run,
    append_entry,
    audit,
    cells,
    conclusions,
    populate,
    submission_entry,
    utc,
)
from tests.support.hubs import ORIGIN, HubUnderTest, start_hub

REGION_ONLY = "--region-only"
#: Entries in the populated log.
POPULATED = 13


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        populate(started)
        yield started


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The index of every entry the entry checker is handed, in every run of the test."""
    indices: list[int] = []
    original = EntryChecker.check

    def check(self: EntryChecker, index: int, data: bytes) -> None:
        indices.append(index)
        original(self, index, data)

    monkeypatch.setattr(EntryChecker, "check", check)
    return indices


def _audit(hub: HubUnderTest, state: Path, *argv: str) -> Run:
    run = audit(hub, state, REGION_ONLY, *argv)
    assert run.code in (0, 1), run.out + run.err
    return run


def _from_scratch(hub: HubUnderTest, tmp_path: Path) -> Run:
    state = tmp_path / "scratch"
    assert not state.exists()
    return _audit(hub, state)


def test_a_later_run_checks_only_the_new_entries_and_concludes_what_a_full_run_does(
    hub: HubUnderTest, tmp_path: Path, checked: list[int]
) -> None:
    state = tmp_path / "state"
    first = _audit(hub, state, "--log-key", hub.log_key.vkey)
    assert first.code == 0, first.out
    assert first.document["entry_checks"] == {"this_run": POPULATED, "resumed": 0}
    taxonomy = hub.context.taxonomy
    hub.clock.now = utc(2026, 11, 22, 9)
    hub.submit_cells("ro-a", "2026-09", cells(taxonomy, 8, ("persons_recruitment",)), tables=("persons_recruitment",))
    hub.enroll("pl-a", "PL")
    hub.submit_cells("pl-a", "2026-10", cells(taxonomy, 9), tables=TABLES)
    hub.submit_cells("ua-a", "2026-10", cells(taxonomy, 10), tables=TABLES, revision=2)
    checked.clear()

    second = _audit(hub, state)

    assert second.code == 0, second.out
    assert checked == [13, 14, 15, 16]
    assert second.document["entry_checks"] == {"this_run": 4, "resumed": POPULATED}
    assert second.document["submissions"] == {"total": 10, "valid": 10, "current": 8}
    assert second.document["key_events"]["enrolments"] == 5
    assert second.document["notices"] == []
    assert conclusions(second) == conclusions(_from_scratch(hub, tmp_path))
    checked.clear()
    third = _audit(hub, state)
    assert checked == []
    assert third.document["entry_checks"] == {"this_run": 0, "resumed": 17}
    assert conclusions(third) == conclusions(second)


def _revoked_key(hub: HubUnderTest) -> tuple[int, str]:
    md = hub.hotlines["md-a"]  # its only key was revoked on 2026-11-10
    entry = submission_entry(hub.release("md-a", "2026-10", tables=TABLES), key=md.key, received_at=hub.clock())
    return append_entry(hub, entry), "key"


def _forged_signature(hub: HubUnderTest) -> tuple[int, str]:
    return append_entry(hub, _forged(hub)), "signature"


def _backdated_revocation(hub: HubUnderTest) -> tuple[int, str]:
    """ua-b's key revoked as of 2026-11-01, although entry 11 (received 2026-11-06) was accepted with it."""
    key = hub.hotlines["ua-b"].key.verify_key
    event = KeyEventEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="key_revoked",
        hotline_id="ua-b",
        key_id=key.key_id,
        public_key=key.to_text(),
        display_name="ua-b",
        country="UA",
        reason="backdated",
        effective_at="2026-11-01T00:00:00Z",
    )
    return append_entry(hub, event), "key-history"


def _repeated_payload(hub: HubUnderTest) -> tuple[int, str]:
    """Entry 9 (ua-b 2026-10) logged a second time, a day later."""
    with read_session(hub.context.sessions) as session:
        leaf = session.get(LogLeaf, 9)
        assert leaf is not None
        entry = parse_log_entry(leaf.data)
    assert isinstance(entry, SubmissionEntry)
    return append_entry(hub, entry.model_copy(update={"received_at": "2026-11-21T12:00:00Z"})), "payload"


def _older_revision(hub: HubUnderTest) -> tuple[int, str]:
    """A revision 1 of ua-b's 2026-09, other content, after its revision 2 (entry 11)."""
    payload = hub.release("ua-b", "2026-09", cells=cells(hub.context.taxonomy, 30), tables=TABLES)
    return append_entry(hub, submission_entry(payload, key=hub.hotlines["ua-b"].key, received_at=hub.clock())), (
        "payload"
    )


def test_what_a_full_run_catches_in_new_entries_an_incremental_run_catches_too(
    hub: HubUnderTest, tmp_path: Path, checked: list[int]
) -> None:
    """The resumed checker knows the key history (with each key's last use), the payloads and the revisions that
    earlier runs accepted: a new entry is judged against all of them, as a run from scratch judges it."""
    state = tmp_path / "state"
    assert _audit(hub, state).code == 0
    tamperings = [_revoked_key, _forged_signature, _repeated_payload, _older_revision, _backdated_revocation]
    expected = [tamper(hub) for tamper in tamperings]
    checked.clear()

    incremental = _audit(hub, state)

    assert checked == [index for index, _ in expected] == list(range(POPULATED, POPULATED + len(tamperings)))
    assert incremental.code == 1
    backdated = expected[-1][0]  # also dated before the entries logged before it
    assert [(f["index"], f["check"]) for f in incremental.document["failures"]] == [
        *expected[:-1],
        (backdated, "entry-time"),
        expected[-1],
    ]
    full = _from_scratch(hub, tmp_path)
    assert conclusions(incremental) == conclusions(full)
    again = _audit(hub, state)  # nothing new: the failures are still named, from the state DIR
    assert again.document["entry_checks"] == {"this_run": 0, "resumed": POPULATED + len(tamperings)}
    assert conclusions(again) == conclusions(full)


def test_a_changed_old_entry_is_caught_by_the_consistency_proof_and_the_rebuilt_root(
    hub: HubUnderTest, tmp_path: Path, checked: list[int]
) -> None:
    """The hub rewrites entry 4 (a submission the first run accepted) and signs a tree over the new history.

    The entry checks are not run again on entry 4, but the log checks see the rewrite: the new checkpoint is not
    consistent with the one seen before, and the root of the leaves held does not match it. Nothing is saved.
    """
    state = tmp_path / "state"
    assert _audit(hub, state, "--log-key", hub.log_key.vkey).code == 0
    hub.clock.now = utc(2026, 11, 22, 9)
    hub.submit_cells("ro-a", "2026-09", cells(hub.context.taxonomy, 8), tables=TABLES)
    with write_session(hub.context.sessions) as session:
        leaves = session.scalars(select(LogLeaf).order_by(LogLeaf.index)).all()
        entry = parse_log_entry(leaves[4].data)
        assert isinstance(entry, SubmissionEntry)
        forged = entry.model_copy(update={"signature": b64encode(bytes(64))}).canonical_bytes()
        session.execute(update(LogLeaf).where(LogLeaf.index == 4).values(data=forged, leaf_hash=leaf_hash(forged)))
        hashes = [leaf_hash(forged) if leaf.index == 4 else leaf.leaf_hash for leaf in leaves]
        note = sign_checkpoint(Checkpoint(ORIGIN, len(hashes), root_hash(hashes)), hub.context.log_signer)
        session.execute(
            update(LogCheckpoint)
            .where(LogCheckpoint.size == len(hashes))
            .values(root_hash=root_hash(hashes), note=note)
        )
    checked.clear()

    incremental = _audit(hub, state)

    assert incremental.code == 1
    assert [f["check"] for f in incremental.document["failures"]] == ["consistency", "root"]
    assert incremental.document["failures"][0]["message"].startswith(
        f"checkpoint 14 is not consistent with checkpoint {POPULATED} seen before"
    )
    assert 4 not in checked
    assert incremental.document["state_saved"] is False
    with StateStore.open(state) as store:
        saved = store.conclusions()
        assert saved is not None
        assert (store.entry_count(), saved.next_index) == (POPULATED, POPULATED)
    # From scratch, the rewritten entry is checked, and its signature fails.
    full = _from_scratch(hub, tmp_path)
    assert full.document["failures"][0] == full.document["failures"][0] | {"check": "signature", "index": 4}
    # The hub published entry 4 in its statistics and estimates.
    assert {f["check"] for f in full.document["failures"][1:]} == {"statistics", "estimates"}


def _downgrade_to_format_1(state: Path) -> None:
    """What a format 1 state file was: no entry checks (tables and progress), format 1."""
    db = sqlite3.connect(state / STATE_FILE)
    with db:
        for table in ("key_events", "accepted", "failures"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM meta WHERE key LIKE 'checked_%'")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    db.close()


def test_a_format_1_state_dir_is_upgraded_and_every_entry_checked_again_once(
    hub: HubUnderTest, tmp_path: Path, checked: list[int]
) -> None:
    state = tmp_path / "state"
    append_entry(hub, _forged(hub))  # a failure to carry across the upgrade: entry 13
    first = _audit(hub, state)
    _downgrade_to_format_1(state)
    hub.clock.now = utc(2026, 11, 22, 9)
    hub.submit_cells("ro-a", "2026-09", cells(hub.context.taxonomy, 8), tables=TABLES)
    checked.clear()

    upgraded = audit(hub, state, REGION_ONLY, as_json=False)

    assert upgraded.code == 1
    assert "Note: the state DIR was written by an older tipshare-audit (state format 1)" in upgraded.err
    assert "all 14 entries it holds are checked again in this run" in upgraded.err
    assert checked == list(range(15))
    with StateStore.open(state) as store:
        assert store.upgraded_from is None
        saved = store.conclusions()
        assert saved is not None
        assert saved.next_index == 15
    db = sqlite3.connect(state / STATE_FILE)
    assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == (str(FORMAT),)
    db.close()
    checked.clear()
    later = _audit(hub, state)
    assert checked == []
    assert later.document["notices"] == []
    assert later.document["entry_checks"] == {"this_run": 0, "resumed": 15}
    assert [f["index"] for f in later.document["failures"]] == [13] == [f["index"] for f in first.document["failures"]]
    assert conclusions(later) == conclusions(_from_scratch(hub, tmp_path))


def _forged(hub: HubUnderTest) -> SubmissionEntry:
    return submission_entry(
        hub.release("ua-a", "2026-11", tables=TABLES), key=SigningKey.generate(), received_at=hub.clock()
    )


def test_recheck_checks_every_entry_again_and_replaces_what_was_saved(
    hub: HubUnderTest, tmp_path: Path, checked: list[int]
) -> None:
    state = tmp_path / "state"
    append_entry(hub, _forged(hub))
    first = _audit(hub, state)
    db = sqlite3.connect(state / STATE_FILE)
    with db:  # damaged: the saved checks claim more entries than the state holds
        db.execute("UPDATE meta SET value = '99' WHERE key = 'checked_next_index'")
    db.close()
    refused = audit(hub, state, REGION_ONLY, as_json=False)
    assert refused.code == 2
    assert "saved entry checks reach entry 99, but it holds 14" in refused.err
    assert "--recheck" in refused.err
    checked.clear()

    rechecked = _audit(hub, state, "--recheck")

    assert checked == list(range(14))
    assert rechecked.document["entry_checks"] == {"this_run": 14, "resumed": 0}
    assert conclusions(rechecked) == conclusions(first)
    resumed = _audit(hub, state)
    assert resumed.document["entry_checks"] == {"this_run": 0, "resumed": 14}
    assert len(resumed.document["failures"]) == 1  # replaced, not saved twice
    assert conclusions(resumed) == conclusions(first)


def test_entry_times_saved_before_they_were_checked_are_read_back_from_the_entries(
    hub: HubUnderTest, tmp_path: Path, checked: list[int]
) -> None:
    """A state DIR whose entry checks were saved by a version that did not check entry times: the latest time is
    read back from the entries it holds, so a backdated new entry is still caught by an incremental run."""
    state = tmp_path / "state"
    assert _audit(hub, state).code == 0
    with sqlite3.connect(state / STATE_FILE) as db:
        assert db.execute("DELETE FROM meta WHERE key = 'checked_latest_time'").rowcount == 1
    index, _ = _backdated_revocation(hub)
    checked.clear()

    incremental = _audit(hub, state)

    assert checked == [index]
    assert [(f["index"], f["check"]) for f in incremental.document["failures"]] == [
        (index, "entry-time"),
        (index, "key-history"),
    ]
    assert "before entry 12 (2026-11-10T10:00:00Z)" in incremental.document["failures"][0]["message"]
