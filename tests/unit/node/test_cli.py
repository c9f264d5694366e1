# SPDX-License-Identifier: Apache-2.0
"""``tipshare-node`` as the data officer types it, against a fake hub that speaks the real protocol."""

from __future__ import annotations

import json
import logging
import re
import stat
import struct
from pathlib import Path
from typing import Any

import pytest

import node.aggregate
from node.aggregate import TrueTables
from protocol.messages import Receipt, SubmissionPayload
from protocol.note import NoteVerifier
from protocol.receipt import verify_receipt
from protocol.taxonomy import builtin_taxonomy, load_taxonomy
from tests.unit.node.fakehub import HUB_URL, FakeHub
from tests.unit.node.nodekit import HOTLINE, Officer, init_and_enroll, planted_counts, planted_run

NO_SUCH_RELEASE_HINT = "Prepare it first: `tipshare-node prepare --period YYYY-MM <case export>`."


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "node-home"
    monkeypatch.setenv("TIPSHARE_NODE_HOME", str(root))
    monkeypatch.setenv("TIPSHARE_NODE_RETRY_BASE_DELAY", "0")
    return root


@pytest.fixture
def officer(hub: FakeHub, capsys: pytest.CaptureFixture[str], home: Path) -> Officer:
    return Officer(hub, capsys)


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Make the input half return planted, unmistakable true counts for any export."""
    counts = planted_counts()

    def fake_prepare_tables(**kwargs: Any) -> TrueTables:
        return TrueTables(period=kwargs["period"], counts={name: list(v) for name, v in counts.items()})

    monkeypatch.setattr(node.aggregate, "prepare_tables", fake_prepare_tables)
    return counts


def _export(tmp_path: Path) -> Path:
    cases = tmp_path / "cases.csv"
    cases.write_text("placeholder: the input half is replaced by planted counts\n", encoding="utf-8")
    return cases


def test_version(officer: Officer) -> None:
    code, out, _ = officer("version")
    assert code == 0
    assert "(tipshare/1)" in out


def test_a_month_from_init_to_receipt(officer: Officer, hub: FakeHub, home: Path, tmp_path: Path) -> None:
    """init, synth, prepare, submit, status as typed; the hub's merged statistics and the stored receipt."""
    code, out, err = officer("init", "--hotline-id", HOTLINE, "--hub", HUB_URL)
    assert code == 0, err
    assert hub.log.verifier.key is not None
    for fingerprint_line in ("log key (hub.test/log):", "encryption key:"):
        assert fingerprint_line in out
    assert stat.S_IMODE((home / "signing-key").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "config.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    line = re.search(rf"^\s+({HOTLINE} ed25519:\S+)$", out, flags=re.MULTILINE)
    assert line is not None
    hub.enroll(*line.group(1).split())

    export = tmp_path / "export"
    code, out, err = officer("synth", "--out", str(export), "--months", "2", "--seed", "7", "--profile", "md")
    assert code == 0, err
    assert "cases.csv" in out

    periods = ["2025-01", "2025-02"]
    for period in periods:
        code, out, err = officer(
            "prepare", "--period", period, str(export / "cases.csv"), "--contacts", str(export / "contacts.csv")
        )
        assert code == 0, err
        assert f"Prepared {period} revision 1" in out
        assert "persons_corridor: 19,220 cells, noise σ = 4.03, ±8 at 95%" in out
        assert "Nothing has been sent; the release waits for your approval" in out
        assert f"Summary of the export for {period} (for you only: never stored, never sent):" in err
    assert "2025 has spent 0.2 of 1.5 (1.3 left)" in out

    code, out, err = officer("submit")  # nothing is sent before the officer approves it
    assert code == 0, err
    assert out == "Nothing to submit: no release is approved.\n"
    assert "2025-01 revision 1 waits for approval and was not sent" in err
    code, out, err = officer("submit", "--json")  # a machine reading stdout gets JSON here too
    assert code == 0, err
    assert json.loads(out) == {
        "outcomes": [],
        "nothing_to_submit": "none-approved",
        "detail": "Nothing to submit: no release is approved.",
    }
    assert not hub.accepted
    for period in periods:
        code, out, err = officer("approve", "--period", period)
        assert code == 0, err
        assert f"Approved {period} revision 1" in out
    code, out, err = officer("submit")
    assert code == 0, err
    assert "2025-01 revision 1: delivered; receipt verified: log entry 1 of 2" in out
    assert "2025-02 revision 1: delivered; receipt verified: log entry 2 of 3" in out

    code, out, err = officer("status")
    assert code == 0, err
    assert re.search(r"2025-02\s.*delivered\s.*ρ = 0\.1\s.*log entry 2 of 3", out)
    assert "Outbox: empty." in out
    assert "Budget 2025: ρ = 0.2 spent of 1.5 (1.3 left)." in out

    status = officer.json("status")
    assert [(r["period"], r["status"], r["receipt"]["leaf_index"]) for r in status["releases"]] == [
        ("2025-01", "delivered", 1),
        ("2025-02", "delivered", 2),
    ]

    # The hub's merged statistics are the sums of exactly what the node stored and signed.
    import sqlite3

    db = sqlite3.connect(home / "node.sqlite3")
    payloads = [SubmissionPayload.from_canonical(bytes(row[0])) for row in db.execute("SELECT payload FROM releases")]
    for table in ("persons_corridor", "contacts"):
        expected = [
            sum(cells) for cells in zip(*({t.name: t.cells for t in p.tables}[table] for p in payloads), strict=True)
        ]
        assert hub.sums(table) == expected
    # The node's stored receipt verifies offline against the pinned key, as an auditor would check it.
    vkey = re.search(r'^log_vkey = "(.+)"$', (home / "config.toml").read_text(), flags=re.MULTILINE)
    assert vkey is not None
    for period, payload in zip(periods, payloads, strict=True):
        receipt = Receipt.from_json((home / "receipts" / f"{period}-r1.json").read_bytes())
        checked = verify_receipt(
            receipt, log_key=NoteVerifier.from_vkey(vkey.group(1)), payload_bytes=payload.canonical_bytes()
        )
        assert checked.checkpoint.origin == "hub.test/log"
    db.close()


def test_prepare_twice_returns_the_stored_release(
    officer: Officer, planted: dict[str, list[int]], tmp_path: Path, home: Path
) -> None:
    init_and_enroll(officer)
    cases = _export(tmp_path)
    first = officer.json("prepare", "--period", "2025-03", str(cases))
    assert first["new"] is True
    stored = (home / "node.sqlite3").read_bytes()
    second = officer.json("prepare", "--period", "2025-03", str(cases))
    assert second["new"] is False
    assert {**first, "new": None} == {**second, "new": None}  # every noisy value, unchanged
    code, out, _ = officer("prepare", "--period", "2025-03", str(cases))
    assert code == 0
    assert "is shown unchanged" in out
    assert "tipshare-node correct" in out
    budget = officer.json("budget")
    assert budget["years"][0]["spent"] == "0.1"  # spent once
    assert len(stored) > 0


def _forbidden_patterns(counts: dict[str, list[int]]) -> list[bytes]:
    """Ways a true count could be written: JSON, Python reprs, CSV, and packed 32/64-bit integers."""
    patterns = []
    for position, (name, vector) in enumerate(counts.items()):
        run = vector[:10]
        assert run == planted_run(position), name
        patterns += [
            json.dumps(vector, separators=(",", ":")).encode(),
            ",".join(map(str, run)).encode(),
            ", ".join(map(str, run)).encode(),
            " ".join(map(str, run)).encode(),
            struct.pack("<10i", *run),
            struct.pack(">10i", *run),
            struct.pack("<10q", *run),
            struct.pack(">10q", *run),
        ]
    return patterns


def test_true_counts_never_leave_memory(
    officer: Officer,
    hub: FakeHub,
    planted: dict[str, list[int]],
    tmp_path: Path,
    home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plant distinctive true counts; search every file of the node home, the output, logs and wire bytes.

    The budget is lowered (ρ = 0.001 a release) so the noise is wide: a run of ten noisy cells equals the true run
    with probability below 1e-16, so a match can only be a leak.
    """
    caplog.set_level(logging.DEBUG)
    init_and_enroll(officer)
    config = home / "config.toml"
    text = config.read_text().replace('release = "0.1"', 'release = "0.001"')
    config.write_text(text.replace('period_cap = "0.2"', 'period_cap = "0.002"'))
    config.chmod(0o600)
    cases = _export(tmp_path)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("placeholder\n")
    assert officer("-vv", "prepare", "--period", "2025-03", str(cases), "--contacts", str(contacts))[0] == 0
    assert officer("-vv", "prepare", "--period", "2025-03", str(cases), "--json")[0] == 0
    assert officer("-vv", "approve", "--period", "2025-03")[0] == 0
    hub.faults = ["500", "drop-after-commit"]
    assert officer("-vv", "submit")[0] == 0
    assert officer("-vv", "correct", "--period", "2025-03", str(cases), "--yes")[0] == 0
    assert officer("-vv", "approve", "--period", "2025-03", "--json")[0] == 0
    assert officer("-vv", "submit", "--json")[0] == 0
    for command in ("status", "budget"):
        assert officer("-vv", command)[0] == 0
        assert officer(command, "--json")[0] == 0

    haystacks: dict[str, bytes] = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            haystacks[str(path.relative_to(home))] = path.read_bytes()
    assert {"config.toml", "signing-key", "node.sqlite3", "receipts/2025-03-r1.json"} <= set(haystacks)
    haystacks["stdout+stderr"] = "\n".join(officer.transcript).encode()
    haystacks["logs"] = "\n".join(r.getMessage() for r in caplog.records).encode()
    haystacks["wire"] = b"\n".join(r.content for r in hub.requests)
    haystacks["hub, decrypted"] = b"\n".join(s.payload_bytes for s in hub.accepted)
    assert len(hub.accepted) == 2
    assert haystacks["logs"]
    for pattern in _forbidden_patterns(planted):
        for where, data in haystacks.items():
            assert pattern not in data, f"a true count leaked into {where}"


def test_submit_while_offline_then_sync(
    officer: Officer, hub: FakeHub, planted: dict[str, list[int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_and_enroll(officer)
    assert officer("prepare", "--period", "2025-03", str(_export(tmp_path)))[0] == 0
    assert officer("approve", "--period", "2025-03")[0] == 0
    monkeypatch.setenv("TIPSHARE_NODE_RETRY_ATTEMPTS", "2")
    hub.faults = ["connect", "connect"]
    code, out, err = officer("submit")
    assert code == 1
    assert "2025-03 revision 1: still queued" in out
    assert "HubUnreachable: 1 release(s) could not be delivered yet" in err
    assert "goes out with the next `tipshare-node submit` or `tipshare-node sync`" in err
    code, out, _ = officer("status")
    assert re.search(r"2025-03\s.*queued\s.*2\s", out)  # the outbox shows 2 attempts
    assert "connection refused" in out
    code, out, err = officer("sync")
    assert code == 0, err
    assert "2025-03 revision 1: delivered" in out
    code, out, _ = officer("sync")
    assert code == 0
    assert "Nothing to send" in out
    code, out, _ = officer("submit")
    assert code == 0
    assert "Nothing to submit" in out
    code, out, _ = officer("submit", "--period", "2025-03", "--json")
    assert code == 0
    assert json.loads(out)["nothing_to_submit"] == "already-delivered"


def test_correction_asks_spends_and_respects_the_period_cap(
    officer: Officer, planted: dict[str, list[int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_and_enroll(officer)
    cases = str(_export(tmp_path))
    code, _, err = officer("correct", "--period", "2025-03", cases, "--yes")
    assert code == 1
    assert "NoSuchRelease" in err
    assert officer("prepare", "--period", "2025-03", cases)[0] == 0
    # A correction of a revision never sent replaces it and spends nothing more.
    code, out, err = officer("correct", "--period", "2025-03", cases, stdin="y\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert (
        "2025-03 revision 1 was never sent (prepared): the correction replaces it as revision 1, with fresh noise, "
        "and spends nothing more: the ρ = 0.1 it spent is given back. The new release waits for your approval."
    ) in err
    assert "Prepared 2025-03 revision 1" in out
    assert officer.json("budget")["years"][0]["spent"] == "0.1"
    assert officer("approve", "--period", "2025-03")[0] == 0
    assert officer("submit")[0] == 0
    # A correction of a delivered revision is a new one and spends more: asked first.
    code, _, err = officer("correct", "--period", "2025-03", cases, stdin="n\n", monkeypatch=monkeypatch)
    assert code == 1
    assert "spends ρ = 0.1 MORE" in err
    assert "Nothing was spent." in err
    assert officer.json("budget")["years"][0]["spent"] == "0.1"
    code, out, err = officer("correct", "--period", "2025-03", cases, stdin="y\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert "Prepared 2025-03 revision 2" in out
    code, _, err = officer("correct", "--period", "2025-03", cases, "--yes")  # revision 2 is unsent: replaced
    assert code == 0, err
    assert "2025-03 revision 2 was never sent (prepared): the correction replaces it as revision 2" in err  # said
    assert officer("approve", "--period", "2025-03")[0] == 0
    assert officer("submit")[0] == 0
    code, _, err = officer("correct", "--period", "2025-03", cases, "--yes")
    assert code == 1
    assert "BudgetExceeded: a release spending ρ = 0.1 would bring period 2025-03 to 0.3" in err
    assert "Nothing was spent and no noise was drawn" in err
    status = officer.json("status")
    assert [(r["revision"], r["status"]) for r in status["releases"]] == [(1, "delivered"), (2, "delivered")]
    assert officer.json("budget")["years"][0]["spent"] == "0.2"


def test_approve_then_submit_and_discard_what_was_never_sent(
    officer: Officer, hub: FakeHub, planted: dict[str, list[int]], tmp_path: Path, home: Path
) -> None:
    init_and_enroll(officer)
    cases = str(_export(tmp_path))
    code, _, err = officer("approve", "--period", "2025-03")
    assert (code, err) == (1, "NoSuchRelease: nothing was prepared for 2025-03\n" + NO_SUCH_RELEASE_HINT + "\n")
    assert officer("prepare", "--period", "2025-03", cases)[0] == 0
    code, _, err = officer("submit", "--period", "2025-03")
    assert code == 1
    assert "NotApproved: 2025-03 revision 1 was prepared but not approved; nothing was sent" in err
    assert "If it is right: `tipshare-node approve --period 2025-03`, then submit again." in err
    code, out, err = officer("sync")  # the daily timer sends approved releases only
    assert code == 0, err
    assert "Nothing to send" in out
    assert "2025-03 revision 1 waits for approval and was not sent" in err
    assert not hub.accepted
    # Discarding a release never sent gives its budget back; the ledger records it.
    code, _, err = officer("discard", "--period", "2025-03", "--yes")
    assert code == 0, err
    assert officer.json("budget")["years"][0]["spent"] == "0"
    assert officer.json("status")["releases"] == []
    assert officer.json("status")["discards"][0]["revision"] == 1
    # Prepared again, approved, and sent by the daily sync.
    assert officer("prepare", "--period", "2025-03", cases)[0] == 0
    document = officer.json("approve", "--period", "2025-03")
    assert (document["status"], document["approved_now"]) == ("approved", True)
    assert officer.json("approve", "--period", "2025-03")["approved_now"] is False
    code, out, err = officer("sync")
    assert code == 0, err
    assert "2025-03 revision 1: delivered" in out
    assert len(hub.accepted) == 1
    code, _, err = officer("discard", "--period", "2025-03", "--yes")
    assert code == 1
    assert "ReleaseSent: 2025-03 revision 1 cannot be discarded: it is delivered, so it was handed to the outbox" in err
    code, _, err = officer("approve", "--period", "2025-03")
    assert code == 1
    assert "ReleaseError: 2025-03 revision 1 is delivered: it was approved and handed to the outbox already" in err
    assert officer.json("budget")["years"][0]["spent"] == "0.1"


def test_discard_asks_first_and_warns_against_redrawing(
    officer: Officer, planted: dict[str, list[int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_and_enroll(officer)
    assert officer("prepare", "--period", "2025-03", str(_export(tmp_path)))[0] == 0
    code, _, err = officer("discard", "--period", "2025-03", stdin="n\n", monkeypatch=monkeypatch)
    assert code == 1
    assert "2025-03 revision 1 (prepared) will be deleted, and the ρ = 0.1 it spent given back" in err
    assert "never to draw the noise again until the numbers look closer to what you know" in err
    assert "Nothing was discarded." in err
    assert officer.json("budget")["years"][0]["spent"] == "0.1"
    code, out, err = officer("discard", "--period", "2025-03", stdin="y\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert "Discarded 2025-03 revision 1 (prepared, never sent); the ρ = 0.1 it spent was given back." in out
    assert "Budget: 2025-03 has spent ρ = 0 of its cap 0.2" in out


def test_budget_shows_tables_and_the_ledger(officer: Officer, planted: dict[str, list[int]], tmp_path: Path) -> None:
    init_and_enroll(officer)
    document = officer.json("budget")
    assert (document["mechanism"], document["release"], document["period_cap"], document["year_cap"]) == (
        "discrete_gaussian",
        "0.1",
        "0.2",
        "1.5",
    )
    corridor = next(t for t in document["tables"] if t["table"] == "persons_corridor")
    assert (corridor["weight"], corridor["ci95_halfwidth"], round(corridor["std"], 2)) == (4, 8, 4.03)
    assert document["years"] == [{"year": "2026", "spent": "0", "cap": "1.5", "left": "1.5", "periods": []}]
    assert officer("prepare", "--period", "2025-11", str(_export(tmp_path)))[0] == 0
    code, out, _ = officer("budget")
    assert code == 0
    assert "2025: ρ = 0.1 spent of 1.5 (1.4 left)" in out
    assert re.search(r"2025-11\s.*1\s.*0\.1\s.*0\.2\s.*0\.1", out)
    assert officer.json("budget", "--year", "2024")["years"][0]["periods"] == []


def test_laplace_nodes_account_in_epsilon(
    officer: Officer, hub: FakeHub, planted: dict[str, list[int]], tmp_path: Path
) -> None:
    code, _, err = officer("init", "--hotline-id", HOTLINE, "--hub", HUB_URL, "--mechanism", "discrete_laplace")
    assert code == 0, err
    document = officer.json(
        "prepare", "--period", "2025-03", str(_export(tmp_path)), "--contacts", str(_export(tmp_path))
    )
    assert (document["mechanism"], document["measure"], document["spent"]) == ("discrete_laplace", "epsilon", "1")


def test_a_rejected_submission_is_explained(officer: Officer, planted: dict[str, list[int]], tmp_path: Path) -> None:
    code, _, _ = officer("init", "--hotline-id", HOTLINE, "--hub", HUB_URL)  # never enrolled at the hub
    assert code == 0
    assert officer("prepare", "--period", "2025-03", str(_export(tmp_path)))[0] == 0
    assert officer("approve", "--period", "2025-03")[0] == 0
    code, out, err = officer("submit")
    assert code == 1
    assert "2025-03 revision 1: refused by the hub" in out
    assert "not enrolled at this hub" in err
    assert "SubmissionRejected" in err
    assert "run `tipshare-node submit` again" in err
    assert officer.json("status")["releases"][0]["status"] == "failed"


def test_an_invalid_receipt_is_not_accepted(
    officer: Officer, hub: FakeHub, planted: dict[str, list[int]], tmp_path: Path, home: Path
) -> None:
    init_and_enroll(officer)
    assert officer("prepare", "--period", "2025-03", str(_export(tmp_path)))[0] == 0
    assert officer("approve", "--period", "2025-03")[0] == 0
    hub.faults = ["bad-receipt-key"]
    code, _, err = officer("submit")
    assert code == 1
    assert "ReceiptInvalid" in err
    assert "does not verify against the pinned log key" in err
    assert officer.json("status")["releases"][0]["status"] == "queued"
    assert not (home / "receipts").exists()


def test_errors_a_person_can_act_on(
    officer: Officer, planted: dict[str, list[int]], tmp_path: Path, home: Path
) -> None:
    cases = str(_export(tmp_path))
    code, _, err = officer("prepare", "--period", "2025-03", cases)
    assert code == 1
    assert "NotInitialised" in err
    assert "tipshare-node init --hotline-id" in err
    init_and_enroll(officer)
    code, _, err = officer("prepare", "--period", "2026-03", cases)
    assert code == 1
    assert "PeriodNotOver: 2026-03 is not over yet" in err
    code, _, err = officer("prepare", "--period", "March", cases)
    assert code == 2
    assert "YYYY-MM" in err
    code, _, err = officer("submit", "--period", "2025-04")
    assert code == 1
    assert "NoSuchRelease" in err
    (home / "signing-key").chmod(0o644)
    code, _, err = officer("prepare", "--period", "2025-03", cases)
    assert code == 1
    assert "can be read by other users" in err
    assert "chmod 600" in err
    assert officer.json("status")["releases"] == []  # nothing was drawn or stored


def test_init_is_safe_to_repeat_and_refuses_another_hotline(officer: Officer, hub: FakeHub, home: Path) -> None:
    key = init_and_enroll(officer)
    code, out, _ = officer("init", "--hotline-id", HOTLINE, "--hub", HUB_URL + "/")
    assert code == 0
    assert "already set up" in out
    assert key in out
    code, _, err = officer("init", "--hotline-id", "another-hotline", "--hub", HUB_URL)
    assert code == 1
    assert "AlreadyInitialised" in err
    document = officer.json("init", "--hotline-id", HOTLINE, "--hub", HUB_URL)
    assert document["already_initialised"] is True
    assert document["hub"]["log_vkey"] == hub.log.verifier.vkey


def test_init_with_an_unreachable_hub_leaves_nothing(officer: Officer, hub: FakeHub, home: Path) -> None:
    def down(request: Any) -> Any:
        import httpx

        raise httpx.ConnectError("no route to host", request=request)

    hub.handle = down  # type: ignore[method-assign]
    code, _, err = officer("init", "--hotline-id", HOTLINE, "--hub", HUB_URL)
    assert code == 1
    assert "HubUnreachable" in err
    assert not home.exists()


def test_verbose_debugging_shows_the_traceback(officer: Officer) -> None:
    from node.errors import NotInitialised

    with pytest.raises(NotInitialised):
        officer("-vv", "status")


def test_input_errors_from_the_export_are_shown(officer: Officer, tmp_path: Path) -> None:
    init_and_enroll(officer)
    cases = tmp_path / "cases.csv"
    cases.write_text("not,an,htcds\nexport,at,all\n", encoding="utf-8")
    code, _, err = officer("prepare", "--period", "2025-03", str(cases))
    assert code == 1
    assert "Error" in err
    assert officer.json("status")["releases"] == []


def test_synth_lists_profiles_when_one_is_unknown(officer: Officer, tmp_path: Path) -> None:
    code, _, err = officer("synth", "--out", str(tmp_path / "x"), "--seed", "1", "--profile", "nowhere")
    assert code == 2
    assert "unknown profile" in err
    assert "md" in err


def test_a_missing_ledger_is_never_silently_recreated(officer: Officer, home: Path) -> None:
    init_and_enroll(officer)
    for path in home.glob("node.sqlite3*"):
        path.unlink()
    code, _, err = officer("status")
    assert code == 1
    assert "privacy-budget ledger) is missing" in err
    assert "Do not re-initialise" in err
    assert not (home / "node.sqlite3").exists()


def test_a_hub_taxonomy_that_is_not_built_in_is_pinned_in_the_home(
    hub: FakeHub, capsys: pytest.CaptureFixture[str], home: Path, planted: dict[str, list[int]], tmp_path: Path
) -> None:
    document = builtin_taxonomy().document
    document["title"] += " (regional edition)"
    hub.taxonomy = load_taxonomy(document)
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    stored = home / "taxonomy.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stored.read_bytes() == hub.taxonomy.canonical_bytes()
    assert officer("prepare", "--period", "2025-03", str(_export(tmp_path)))[0] == 0
    assert officer("approve", "--period", "2025-03")[0] == 0
    assert officer("submit")[0] == 0
    assert hub.accepted[0].payload.taxonomy.hash == hub.taxonomy.content_hash != builtin_taxonomy().content_hash
    stored.write_bytes(builtin_taxonomy().canonical_bytes())  # tampered with: no longer the pinned taxonomy
    code, _, err = officer("status")
    assert code == 1
    assert "is not the taxonomy pinned in config.toml" in err
