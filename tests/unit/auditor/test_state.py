# SPDX-License-Identifier: Apache-2.0
"""The state DIR: one pinned key, checkpoints, entries and the entry checks' conclusions, written only when a run
commits, one run at a time; a format 1 file is upgraded in place."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from auditor.entries import AcceptedSubmission, Conclusions
from auditor.errors import StateError
from auditor.findings import Check, Failure
from auditor.state import FORMAT, STATE_FILE, SeenCheckpoint, StateStore

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
VKEY = "hub.example.org/log+0123abcd+AQ=="  # not parsed here: the store keeps what the verifier pinned


def test_a_new_state_dir_is_private_and_pins_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    with StateStore.open(directory) as store:
        assert store.pinned() is None
        assert store.checkpoints() == []
        assert store.entry_count() == 0
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / STATE_FILE).stat().st_mode) == 0o600


def test_what_a_run_commits_is_kept_and_the_rest_rolled_back(tmp_path: Path) -> None:
    with StateStore.open(tmp_path) as store:
        pinned = store.pin(vkey=VKEY, origin="hub.example.org/log", how="explicit", now=NOW)
        store.add_entries([(0, b"h0" * 16, b"entry zero"), (1, b"h1" * 16, b"entry one")])
        store.add_checkpoint(SeenCheckpoint(2, b"r" * 32, "note 2"), now=NOW)
        store.commit()
        store.add_entries([(2, b"h2" * 16, b"not committed")])
        store.add_checkpoint(SeenCheckpoint(3, b"s" * 32, "note 3"), now=NOW)
    assert pinned.pinned_at == "2026-11-21T12:00:00Z"
    with StateStore.open(tmp_path) as store:
        assert store.pinned() == pinned
        assert store.entry_count() == 2
        assert store.leaf_hashes() == [b"h0" * 16, b"h1" * 16]
        assert list(store.iter_entries(1)) == [(1, b"entry one")]
        assert store.entry(0) == b"entry zero"
        assert store.entry(2) is None
        assert store.checkpoints() == [SeenCheckpoint(2, b"r" * 32, "note 2")]


def test_a_pinned_key_is_never_replaced_and_a_seen_size_never_gets_another_root(tmp_path: Path) -> None:
    with StateStore.open(tmp_path) as store:
        store.pin(vkey=VKEY, origin="hub.example.org/log", how="first-use", now=NOW)
        with pytest.raises(StateError, match="already pins a log key"):
            store.pin(vkey=VKEY, origin="hub.example.org/log", how="explicit", now=NOW)
        store.add_checkpoint(SeenCheckpoint(5, b"r" * 32, "note"), now=NOW)
        store.add_checkpoint(SeenCheckpoint(5, b"r" * 32, "note"), now=NOW)  # seen again: nothing changes
        with pytest.raises(StateError, match="second root hash for tree size 5"):
            store.add_checkpoint(SeenCheckpoint(5, b"x" * 32, "note"), now=NOW)
        store.add_entries([(0, b"h" * 32, b"data")])
        with pytest.raises(StateError, match="refusing to overwrite a log entry"):
            store.add_entries([(0, b"h" * 32, b"other data")])


def test_two_runs_on_one_state_dir_cannot_overlap(tmp_path: Path) -> None:
    with StateStore.open(tmp_path), pytest.raises(StateError, match="in use by another tipshare-audit run"):
        StateStore.open(tmp_path, busy_timeout=0.05)
    with StateStore.open(tmp_path):  # released
        pass


def test_files_that_are_not_a_state_are_refused(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"these are not the bytes of an SQLite database" * 100)
    with pytest.raises(StateError, match="is not a tipshare-audit state file"):
        StateStore.open(tmp_path)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(StateError, match="is not a directory"):
        StateStore.open(not_a_dir)


def test_another_format_and_a_gap_in_the_entries_are_refused(tmp_path: Path) -> None:
    with StateStore.open(tmp_path) as store:
        store.add_entries([(0, b"h" * 32, b"a"), (2, b"h" * 32, b"c")])
        with pytest.raises(StateError, match="corrupt: it holds 2 log entries, the last with index 2"):
            store.entry_count()
        store.commit()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    with db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    db.close()
    with pytest.raises(StateError, match="has state format 99"):
        StateStore.open(tmp_path)


def _accepted(index: int, *, scale: str = "4.5") -> AcceptedSubmission:
    return AcceptedSubmission(
        index=index,
        hotline_id="ua-a",
        key_id=f"{index:032x}",
        period="2026-09",
        revision=index,
        received_at=datetime(2026, 10, 5, 10, 0, index, tzinfo=UTC),
        mechanism="discrete_laplace",
        payload_hash=f"sha256:{index:064x}",
        scales=MappingProxyType({"contacts": scale, "persons_control": "7"}),
    )


def test_entry_checks_are_saved_in_parts_and_read_back_whole(tmp_path: Path) -> None:
    failure = Failure(Check.SIGNATURE, "ua-a 2026-09 revision 3: does not verify", index=3, hotline_id="ua-a")
    history = Failure(Check.KEY_HISTORY, "enrols a second current key", index=6, hotline_id="ua-b")
    first = Conclusions(0, 4, 4, 1, 3, (0,), (_accepted(1), _accepted(2)), (failure,))
    later = Conclusions(4, 7, 7, 2, 5, (6,), (_accepted(4, scale="12"), _accepted(5)), (history,))
    with StateStore.open(tmp_path) as store:
        assert store.conclusions() is None
        store.add_entries([(i, b"h" * 32, b"entry") for i in range(7)])
        store.save_conclusions(first)
        store.commit()
        store.save_conclusions(later)
        store.commit()
    with StateStore.open(tmp_path) as store:
        saved = store.conclusions()
    assert saved == Conclusions(0, 7, 7, 2, 5, (0, 6), (*first.accepted, *later.accepted), (failure, history))
    assert saved is not None
    assert [dict(s.scales) for s in saved.accepted] == [dict(s.scales) for s in (*first.accepted, *later.accepted)]


def test_saving_from_entry_0_replaces_and_a_gap_is_refused(tmp_path: Path) -> None:
    with StateStore.open(tmp_path) as store:
        store.add_entries([(i, b"h" * 32, b"entry") for i in range(4)])
        store.save_conclusions(Conclusions(0, 2, 2, 0, 2, (), (_accepted(0), _accepted(1)), ()))
        with pytest.raises(StateError, match="would leave a gap before entry 3"):
            store.save_conclusions(Conclusions(3, 4, 4, 0, 3, (), (_accepted(3),), ()))
        store.save_conclusions(Conclusions(0, 1, 1, 1, 0, (0,), (), ()))
        assert store.conclusions() == Conclusions(0, 1, 1, 1, 0, (0,), (), ())


def test_entry_checks_beyond_the_entries_held_are_corrupt(tmp_path: Path) -> None:
    with StateStore.open(tmp_path) as store:
        store.add_entries([(0, b"h" * 32, b"entry")])
        store.save_conclusions(Conclusions(0, 2, 2, 0, 2, (), (_accepted(1),), ()))
        with pytest.raises(StateError, match="saved entry checks reach entry 2, but it holds 1") as raised:
            store.conclusions()
        assert "--recheck" in raised.value.diagnostics()


def test_a_format_1_file_is_upgraded_when_a_run_commits(tmp_path: Path) -> None:
    with StateStore.open(tmp_path) as store:
        store.add_entries([(0, b"h" * 32, b"entry")])
        store.commit()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    with db:
        for table in ("key_events", "accepted", "failures"):
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    db.close()

    def stored_format() -> str:
        db = sqlite3.connect(tmp_path / STATE_FILE)
        try:
            return str(db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0])
        finally:
            db.close()

    with StateStore.open(tmp_path) as store:
        assert store.upgraded_from == 1
        assert store.conclusions() is None
    assert stored_format() == "1"  # not committed: rolled back
    with StateStore.open(tmp_path) as store:
        assert store.upgraded_from == 1
        store.save_conclusions(Conclusions(0, 1, 1, 0, 1, (), (_accepted(0),), ()))
        store.commit()
    assert stored_format() == str(FORMAT)
    with StateStore.open(tmp_path) as store:
        assert store.upgraded_from is None
        assert store.entry_count() == 1
        assert store.conclusions() == Conclusions(0, 1, 1, 0, 1, (), (_accepted(0),), ())
