# SPDX-License-Identifier: Apache-2.0
"""The ledger: noise drawn once per (period, revision), caps enforced exactly, everything kept across restarts."""

from __future__ import annotations

import doctest
import importlib
import os
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from node.budget import BudgetConfig
from node.errors import BudgetExceeded, ConfigError, NoiseError, NoSuchRelease, ReleaseError, ReleaseSent
from node.ledger import Ledger
from node.noise import calibrate
from node.release import noisy_payload
from node.round_store import RoundStore
from node.store import SCHEMA_VERSION, open_database
from protocol.crypto import SigningKey
from protocol.messages import SubmissionPayload
from protocol.taxonomy import builtin_taxonomy
from tests.unit.node.nodekit import NOW, budget, planted_counts

TAXONOMY = builtin_taxonomy()
KEY_ID = SigningKey.generate().verify_key.key_id
SMALL = ["cases_opened", "persons_recruitment"]  # two small tables keep these tests fast


def _counts() -> dict[str, list[int]]:
    counts = planted_counts(TAXONOMY)
    return {name: counts[name] for name in SMALL}


def _builder(config: BudgetConfig, period: str, calls: list[int] | None = None) -> Callable[[int], SubmissionPayload]:
    plan = calibrate(TAXONOMY, SMALL, config)
    counts = _counts()

    def build(revision: int) -> SubmissionPayload:
        if calls is not None:
            calls.append(revision)
        return noisy_payload(
            counts=counts,
            plan=plan,
            taxonomy=TAXONOMY,
            hotline_id="la-strada-md",
            key_id=KEY_ID,
            period=period,
            revision=revision,
            now=NOW,
        )

    return build


def _record(ledger: Ledger, config: BudgetConfig, period: str, *, correction: bool = False) -> tuple[object, bool]:
    spend = calibrate(TAXONOMY, SMALL, config).spent
    return ledger.record(
        period=period, budget=config, spend=spend, build=_builder(config, period), correction=correction, now=NOW
    )


def _open(path: Path) -> Ledger:
    return Ledger(open_database(path, create=True))


def _sent(path: Path, period: str) -> None:
    """What the outbox does once a release is handed to it: the release is no longer the node's alone."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE releases SET status = 'delivered' WHERE period = ?", (period,))
    db.close()


def test_database_is_private_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    with pytest.raises(ConfigError, match=r"ledger\) is missing"):
        open_database(path)
    connection = open_database(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    connection.close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(ConfigError, match="newer tipshare-node"):
        open_database(path)


def test_a_release_is_drawn_once_and_returned_unchanged_after_a_restart(tmp_path: Path) -> None:
    config = budget()
    ledger = _open(tmp_path / "node.sqlite3")
    calls: list[int] = []
    spend = calibrate(TAXONOMY, SMALL, config).spent
    first, created = ledger.record(
        period="2025-03",
        budget=config,
        spend=spend,
        build=_builder(config, "2025-03", calls),
        correction=False,
        now=NOW,
    )
    assert created
    assert calls == [1]
    assert (first.period, first.revision, first.status, first.spent) == ("2025-03", 1, "prepared", Decimal("0.1"))

    restarted = _open(tmp_path / "node.sqlite3")
    again, created = restarted.record(
        period="2025-03",
        budget=config,
        spend=spend,
        build=_builder(config, "2025-03", calls),
        correction=False,
        now=NOW,
    )
    assert not created
    assert calls == [1]  # no second draw
    assert again.payload_bytes == first.payload_bytes
    assert restarted.latest("2025-03") == first
    assert [s.amount for s in restarted.spends()] == [Decimal("0.1")]


def test_the_stored_payload_is_the_noisy_release_with_its_privacy_block(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "node.sqlite3")
    release, _ = _record(ledger, budget(), "2025-03")
    payload = release.payload()
    assert (payload.period, payload.revision, payload.hotline_id) == ("2025-03", 1, "la-strada-md")
    assert [t.name for t in payload.tables] == SMALL
    assert payload.privacy.spent == "0.1"
    assert release.payload_hash.startswith("sha256:")


def test_year_cap_holds_at_the_boundary_and_across_restarts(tmp_path: Path) -> None:
    """Twelve monthly releases at exactly year_cap/12 fit; a thirteenth release or a correction does not."""
    config = budget(release="0.1", period_cap="0.2", year_cap="1.2")
    path = tmp_path / "node.sqlite3"
    for month in range(1, 13):
        ledger = _open(path)  # a new process every month
        _, created = _record(ledger, config, f"2025-{month:02d}")
        assert created
    ledger = _open(path)
    assert ledger.standing(config, "2025-12").year_spent == Fraction("1.2")
    _sent(path, "2025-12")
    with pytest.raises(BudgetExceeded, match=r"yearly cap of 1\.2"):
        _record(ledger, config, "2025-12", correction=True)
    # Another year has its own cap.
    _, created = _record(ledger, config, "2026-01")
    assert created


def test_twelve_fractional_twelfths_fit(tmp_path: Path) -> None:
    config = budget(release="1/24", period_cap="1/24", year_cap="0.5")
    ledger = _open(tmp_path / "node.sqlite3")
    for month in range(1, 13):
        _record(ledger, config, f"2025-{month:02d}")
    _sent(tmp_path / "node.sqlite3", "2025-12")
    standing = ledger.standing(config, "2025-12")
    assert 0 < standing.year_cap - standing.year_spent < Fraction(12, 10**18)  # rounding left a few units unspent
    with pytest.raises(BudgetExceeded):
        _record(ledger, config, "2025-12", correction=True)


def test_a_refused_release_draws_nothing_and_spends_nothing(tmp_path: Path) -> None:
    config = budget(release="0.1", period_cap="0.1", year_cap="1.5")
    ledger = _open(tmp_path / "node.sqlite3")
    _record(ledger, config, "2025-03")
    _sent(tmp_path / "node.sqlite3", "2025-03")
    calls: list[int] = []
    with pytest.raises(BudgetExceeded, match="over its cap"):
        ledger.record(
            period="2025-03",
            budget=config,
            spend=Decimal("0.1"),
            build=_builder(config, "2025-03", calls),
            correction=True,
            now=NOW,
        )
    assert calls == []
    assert len(ledger.spends()) == 1
    assert [r.revision for r in ledger.releases()] == [1]


def test_a_failure_while_building_stores_nothing(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "node.sqlite3")

    def broken(revision: int) -> SubmissionPayload:
        raise NoiseError("sampler failed")

    with pytest.raises(NoiseError):
        ledger.record(period="2025-03", budget=budget(), spend=Decimal("0.1"), build=broken, correction=False, now=NOW)
    assert ledger.latest("2025-03") is None
    assert ledger.spends() == []


def test_a_correction_of_a_sent_revision_adds_one_and_spends_more(tmp_path: Path) -> None:
    config = budget()
    path = tmp_path / "node.sqlite3"
    ledger = _open(path)
    with pytest.raises(NoSuchRelease):
        _record(ledger, config, "2025-03", correction=True)
    _record(ledger, config, "2025-03")
    _sent(path, "2025-03")
    _second, created = _record(ledger, config, "2025-03", correction=True)
    assert created
    assert [(r.revision, r.status) for r in ledger.releases()] == [(1, "delivered"), (2, "prepared")]
    assert ledger.standing(config, "2025-03").period_spent == Fraction("0.2")
    assert ledger.latest("2025-03") == ledger.get("2025-03", 2)


def test_a_correction_of_an_unsent_revision_replaces_it_and_spends_once(tmp_path: Path) -> None:
    config = budget(release="0.1", period_cap="0.1", year_cap="1.5")  # no room for a second spend
    ledger = _open(tmp_path / "node.sqlite3")
    first, _ = _record(ledger, config, "2025-03")
    ledger.approve("2025-03")
    replacement, created = _record(ledger, config, "2025-03", correction=True)
    assert created
    assert [(r.revision, r.status) for r in ledger.releases()] == [(1, "prepared")]
    assert replacement.payload_hash != first.payload_hash  # type: ignore[attr-defined]
    assert ledger.standing(config, "2025-03").period_spent == Fraction("0.1")
    (record,) = ledger.discards()
    assert (record.period, record.revision, record.status, record.reason) == ("2025-03", 1, "approved", "correction")
    assert record.payload_hash == first.payload_hash  # type: ignore[attr-defined]
    assert record.amount == Decimal("0.1")


def test_approve_marks_the_latest_prepared_revision_once(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    ledger = _open(path)
    with pytest.raises(NoSuchRelease, match="nothing was prepared for 2025-03"):
        ledger.approve("2025-03")
    _record(ledger, budget(), "2025-03")
    release, changed = ledger.approve("2025-03")
    assert (release.status, changed) == ("approved", True)
    release, changed = ledger.approve("2025-03")
    assert (release.status, changed) == ("approved", False)
    _sent(path, "2025-03")
    with pytest.raises(ReleaseError, match="2025-03 revision 1 is delivered: it was approved and handed to the outbox"):
        ledger.approve("2025-03")


def test_discard_gives_the_budget_back_and_is_recorded(tmp_path: Path) -> None:
    config = budget(release="0.1", period_cap="0.1", year_cap="1.5")
    path = tmp_path / "node.sqlite3"
    ledger = _open(path)
    with pytest.raises(NoSuchRelease):
        ledger.discard("2025-03", now=NOW)
    first, _ = _record(ledger, config, "2025-03")
    record = ledger.discard("2025-03", now=NOW)
    assert (record.revision, record.status, record.reason, record.discarded_at) == (
        1,
        "prepared",
        "discard",
        "2026-03-01T12:00:00Z",
    )
    assert ledger.latest("2025-03") is None
    assert ledger.spends() == []
    assert ledger.standing(config, "2025-03").period_spent == 0
    again, created = _record(ledger, config, "2025-03")  # the budget is there again: revision 1 anew
    assert created
    assert again.revision == 1  # type: ignore[attr-defined]
    assert again.payload_hash != first.payload_hash  # type: ignore[attr-defined]
    _sent(path, "2025-03")
    with pytest.raises(ReleaseSent, match="2025-03 revision 1 cannot be discarded: it is delivered"):
        ledger.discard("2025-03", now=NOW)
    assert [d.payload_hash for d in ledger.discards(period="2025-03")] == [first.payload_hash]  # type: ignore[attr-defined]


V1_SCHEMA = """
CREATE TABLE releases (
    period TEXT NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    revision INTEGER NOT NULL CHECK (revision BETWEEN 1 AND 999),
    created_at TEXT NOT NULL,
    mechanism TEXT NOT NULL CHECK (mechanism IN ('discrete_gaussian', 'discrete_laplace')),
    measure TEXT NOT NULL CHECK (measure IN ('rho', 'epsilon')),
    spent TEXT NOT NULL,
    payload BLOB NOT NULL,
    payload_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('prepared', 'queued', 'delivered', 'failed', 'superseded')),
    PRIMARY KEY (period, revision)
);
CREATE TABLE spends (
    id INTEGER PRIMARY KEY, period TEXT NOT NULL, revision INTEGER NOT NULL,
    measure TEXT NOT NULL CHECK (measure IN ('rho', 'epsilon')), amount TEXT NOT NULL, recorded_at TEXT NOT NULL,
    UNIQUE (period, revision), FOREIGN KEY (period, revision) REFERENCES releases (period, revision)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, period TEXT NOT NULL, revision INTEGER NOT NULL, payload_hash TEXT NOT NULL,
    envelope BLOB NOT NULL, status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, last_error TEXT, queued_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, UNIQUE (period, revision),
    FOREIGN KEY (period, revision) REFERENCES releases (period, revision)
);
CREATE TABLE receipts (
    period TEXT NOT NULL, revision INTEGER NOT NULL, payload_hash TEXT NOT NULL, submission_id INTEGER NOT NULL,
    leaf_index INTEGER NOT NULL, tree_size INTEGER NOT NULL, receipt BLOB NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (period, revision), FOREIGN KEY (period, revision) REFERENCES releases (period, revision)
);
"""


def test_a_version_1_ledger_is_upgraded_in_place_keeping_every_release(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    old.execute(
        "INSERT INTO releases VALUES ('2025-03', 1, '2026-03-01T12:00:00Z', 'discrete_gaussian', 'rho', '0.1', "
        "x'7b7d', 'sha256:aa', 'delivered')"
    )
    old.execute("INSERT INTO spends VALUES (1, '2025-03', 1, 'rho', '0.1', '2026-03-01T12:00:00Z')")
    old.execute("INSERT INTO outbox VALUES (1, '2025-03', 1, 'sha256:aa', x'00', 'delivered', 1, 't', NULL, 't', 't')")
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    connection = open_database(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert connection.execute("SELECT period, revision, status FROM releases").fetchall() == [
        ("2025-03", 1, "delivered")
    ]
    assert connection.execute("SELECT count(*) FROM spends").fetchone() == (1,)
    assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    connection.execute("UPDATE releases SET status = 'approved'")  # the new status is allowed
    assert connection.execute("SELECT count(*) FROM discards").fetchone() == (0,)
    assert connection.execute("SELECT count(*) FROM rounds").fetchone() == (0,)  # version 3: secure rounds
    columns = {row[1] for row in connection.execute("PRAGMA table_info(rounds)")}
    assert {"noise", "totals"} <= columns  # version 4
    assert "scaling" in columns  # version 5
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("DELETE FROM releases")  # the spends and the outbox still refer to it
    connection.close()
    assert open_database(path).execute("PRAGMA user_version").fetchone()[0] == 5  # opened again: nothing to do


def test_a_version_3_ledger_gains_the_rounds_noise_and_totals_columns_keeping_its_rounds(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    open_database(path, create=True).close()
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE rounds DROP COLUMN scaling")
    old.execute("ALTER TABLE rounds DROP COLUMN totals")
    old.execute("ALTER TABLE rounds DROP COLUMN noise")
    old.execute(
        "INSERT INTO rounds VALUES "
        "('2025-03', 'g-1', 'sha256:aa', x'7b7d', '0.1', '1', 5, 4, 'done', 0, NULL, 't', 't')"
    )
    old.execute("PRAGMA user_version=3")
    old.commit()
    old.close()
    connection = open_database(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 5
    assert connection.execute("SELECT period, status, noise, totals, scaling FROM rounds").fetchall() == [
        ("2025-03", "done", None, None, None)
    ]


def test_a_version_4_ledger_gains_the_rounds_scaling_column_and_its_rounds_read_as_unscaled(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    open_database(path, create=True).close()
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE rounds DROP COLUMN scaling")
    old.execute(
        "INSERT INTO rounds VALUES "
        "('2025-03', 'g-1', 'sha256:aa', x'7b7d', '0.1', '1', 5, 4, 'done', 0, NULL, 't', 't', NULL, NULL)"
    )
    old.execute("PRAGMA user_version=4")
    old.commit()
    old.close()
    connection = open_database(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 5
    (stored,) = RoundStore(connection).all()
    assert (stored.period, stored.status, stored.scaling) == ("2025-03", "done", 1)


def test_spends_in_another_measure_are_not_mixed(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "node.sqlite3")
    _record(ledger, budget(), "2025-03")
    laplace = budget(release="1", period_cap="2", year_cap="15", mechanism="discrete_laplace")
    with pytest.raises(ConfigError, match="cannot be added up"):
        ledger.standing(laplace, "2025-04")


def test_the_ledger_holds_no_true_count(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    ledger = _open(path)
    for month in (1, 2, 3):
        _record(ledger, budget(release="0.001", period_cap="0.002", year_cap="0.015"), f"2025-{month:02d}")
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.is_file())
    for name, vector in _counts().items():
        run = ",".join(str(v) for v in vector[:10]).encode()
        assert run not in raw, name
        assert ", ".join(str(v) for v in vector[:10]).encode() not in raw


def test_concurrent_prepares_draw_once(tmp_path: Path) -> None:
    """Two processes preparing the same month: the second sees the first's release (SQLite write lock)."""
    path = tmp_path / "node.sqlite3"
    config = budget()
    second_process = open_database(path, create=True)
    one, two = _open(path), Ledger(second_process)
    calls: list[int] = []
    spend = calibrate(TAXONOMY, SMALL, config).spent

    def build_and_race(revision: int) -> SubmissionPayload:
        # While the first holds the write transaction, the second cannot even start its own.
        second_process.execute("PRAGMA busy_timeout=0")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            second_process.execute("BEGIN IMMEDIATE")
        return _builder(config, "2025-03", calls)(revision)

    one.record(period="2025-03", budget=config, spend=spend, build=build_and_race, correction=False, now=NOW)
    release, created = two.record(
        period="2025-03",
        budget=config,
        spend=spend,
        build=_builder(config, "2025-03", calls),
        correction=False,
        now=NOW,
    )
    assert not created
    assert calls == [1]
    assert release.revision == 1


def test_spend_times_are_recorded(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "node.sqlite3")
    _record(ledger, budget(), "2025-03")
    (spend,) = ledger.spends(year="2025")
    assert spend.recorded_at == "2026-03-01T12:00:00Z"
    assert datetime.strptime(spend.recorded_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) == NOW
    assert ledger.spends(year="2024") == []
    assert os.path.exists(tmp_path / "node.sqlite3")


@pytest.mark.parametrize("module", ["node.budget", "node.noise", "node.keystore", "node.settings", "node.ledger"])
def test_module_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
