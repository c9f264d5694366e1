# SPDX-License-Identifier: Apache-2.0
"""The state DIR: one pinned key, checkpoints and entries, written only when a run commits, one run at a time."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.errors import StateError
from auditor.state import STATE_FILE, SeenCheckpoint, StateStore

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
