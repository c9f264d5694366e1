# SPDX-License-Identifier: Apache-2.0
"""Issue 15, points 4 and 5: a dishonest operator erases a receipted submission, or shows parties different logs.

The hotline's node (its commands as typed) watches its receipts on ``sync`` and ``status``; ``tipshare-audit
receipt`` and ``receipts`` treat a receipt larger than a log the auditor verified later as signed proof of a
rollback; two real witness processes (``tipshare-audit witness serve``), one of them offline, cosign only a log
that extends what they saw, and nodes and auditors that require their cosignatures refuse a checkpoint without.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, tuple_, update

from hub.cli import main as hub_main
from hub.db import write_session
from hub.models import (
    LogCheckpoint,
    LogLeaf,
    LogNode,
    ReleaseNoise,
    Submission,
    SubmissionSpend,
    WitnessCosignature,
)
from hub.services.log import TransparencyLog
from hub.services.rebuild import expected_rollups, replace_rollups
from node.cli import main as node_main
from protocol.cosignature import WitnessPolicy
from protocol.messages import Receipt
from tests.support.auditkit import audit, run_cli
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.witnesses import init_witness, served_witness

HOTLINE = "la-strada-md"
PERIOD = "2026-08"
REGION_ONLY = "--region-only"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


class Officer:
    """Runs ``tipshare-node`` as a data officer would, against the hub app over an in-process transport."""

    def __init__(self, hub: HubUnderTest, home: Path) -> None:
        self.hub = hub
        self.home = home

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = node_main(
                ["--home", str(self.home), *argv],
                http_client_factory=lambda _settings: TestClient(self.hub.client.app, base_url="https://testserver"),
                clock=self.hub.clock,
                sleep=lambda _seconds: None,
            )
        return code, out.getvalue(), err.getvalue()

    def ok(self, *argv: str) -> tuple[str, str]:
        code, out, err = self.run(*argv)
        assert code == 0, f"tipshare-node {' '.join(argv)} failed ({code}):\n{out}\n{err}"
        return out, err

    @property
    def receipt_file(self) -> Path:
        return self.home / "receipts" / f"{PERIOD}-r1.json"


def _delivered_month(hub: HubUnderTest, tmp_path: Path) -> Officer:
    """A node set up, enrolled, and one month prepared, approved and submitted: it holds one receipt."""
    officer = Officer(hub, tmp_path / "node")
    identity = json.loads(officer.ok("init", "--hotline-id", HOTLINE, "--hub", "https://testserver", "--json")[0])
    _, public_key = identity["enrollment_line"].split()
    enrolled = hub.client.post(
        "/v1/admin/hotlines",
        json={"id": HOTLINE, "display_name": "La Strada Moldova", "country": "MD", "public_key": public_key},
        headers=hub.auth("admin"),
    )
    assert enrolled.status_code == 201, enrolled.text
    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "5", "--profile", "md", "--months", "1", "--start", PERIOD)
    officer.ok("prepare", "--period", PERIOD, str(export / "cases.csv"), "--contacts", str(export / "contacts.csv"))
    officer.ok("approve", "--period", PERIOD)
    officer.ok("submit", "--period", PERIOD)
    assert officer.receipt_file.exists()
    return officer


def _erase_last_entry(hub: HubUnderTest) -> int:
    """What a dishonest operator with the database and the log key does: drop the last entry and its submission,
    its checkpoints and subtree hashes, and rebuild the rollups. Every remaining checkpoint still verifies."""
    with write_session(hub.context.sessions) as session:
        last = session.scalar(select(func.max(LogLeaf.index)))
        assert last is not None
        erased = session.scalars(select(Submission.id).where(Submission.leaf_index == last)).all()
        session.execute(delete(ReleaseNoise).where(ReleaseNoise.submission_id.in_(erased)))
        session.execute(delete(SubmissionSpend).where(SubmissionSpend.submission_id.in_(erased)))
        session.execute(delete(Submission).where(Submission.id.in_(erased)))
        session.execute(delete(WitnessCosignature).where(WitnessCosignature.size > last))
        session.execute(delete(LogCheckpoint).where(LogCheckpoint.size > last))
        covering = [(level, last >> level) for level in range(last.bit_length() + 1)]
        session.execute(delete(LogNode).where(tuple_(LogNode.level, LogNode.index).in_(covering)))
        session.execute(delete(LogLeaf).where(LogLeaf.index == last))
        session.flush()
        leaves = list(session.scalars(select(LogLeaf.data).order_by(LogLeaf.index)))
        replace_rollups(session, expected_rollups(leaves, hub.context.taxonomies))
    return last


def _erase_entry_and_resign(hub: HubUnderTest, index: int) -> None:
    """Erase entry ``index`` from the middle of the log: the later entries are appended again in its place, and
    every checkpoint from there on is signed anew with the hub's key (as the issue's operator did)."""
    with write_session(hub.context.sessions) as session:
        later = list(session.scalars(select(LogLeaf).where(LogLeaf.index > index).order_by(LogLeaf.index)))
        moved = [(leaf.index, leaf.data, leaf.kind) for leaf in later]
        erased = session.scalars(select(Submission.id).where(Submission.leaf_index == index)).all()
        session.execute(delete(ReleaseNoise).where(ReleaseNoise.submission_id.in_(erased)))
        session.execute(delete(SubmissionSpend).where(SubmissionSpend.submission_id.in_(erased)))
        session.execute(delete(Submission).where(Submission.id.in_(erased)))
        session.execute(delete(WitnessCosignature).where(WitnessCosignature.size > index))
        session.execute(delete(LogCheckpoint).where(LogCheckpoint.size > index))
        session.execute(delete(LogLeaf).where(LogLeaf.index >= index))
        for level in range(32):  # every stored subtree that reaches entry ``index`` or beyond
            session.execute(delete(LogNode).where(LogNode.level == level, (LogNode.index + 1) * 2**level > index))
        session.flush()
        log = TransparencyLog(session, signer=hub.context.log_signer)
        for old_index, data, kind in moved:
            appended = log.append(data, kind=kind, now=hub.clock())
            session.execute(
                update(Submission).where(Submission.leaf_index == old_index).values(leaf_index=appended.index)
            )
        leaves = list(session.scalars(select(LogLeaf.data).order_by(LogLeaf.index)))
        replace_rollups(session, expected_rollups(leaves, hub.context.taxonomies))


def _hub_cli(hub: HubUnderTest, *argv: str) -> tuple[int, str, str]:
    settings = hub.context.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url is not None:
        where += ["--database-url", settings.database_url]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = hub_main([*argv, *where], clock=hub.clock)
    return code, out.getvalue(), err.getvalue()


def _other_hotline_submits(hub: HubUnderTest, period: str = "2026-09") -> Receipt:
    if "ua-other" not in hub.hotlines:
        hub.enroll("ua-other", "UA")
    return hub.submit_cells("ua-other", period, {"contacts": [1] * hub.context.taxonomy.table("contacts").cell_count})


# ------------------------------------------------------------------------------------------- rollback


def test_attack_erase_and_resign_is_caught_by_node_status_and_sync(hub: HubUnderTest, tmp_path: Path) -> None:
    officer = _delivered_month(hub, tmp_path)
    _code, _out, err = officer.run("status")
    assert _code == 0, err
    assert "Receipts: 1 still in the hub's log" in err
    receipt = Receipt.from_json(officer.receipt_file.read_bytes())
    receipt_size = receipt.leaf_index + 1

    erased = _erase_last_entry(hub)
    assert erased == receipt.leaf_index

    code, _out, err = officer.run("status")
    assert code == 1
    assert "ReceiptAlarm" in err
    assert f"{PERIOD} revision 1" in err
    assert f"receipt checkpoint size {receipt_size}" in err
    assert f"now has only {receipt_size - 1} entries" in err
    assert "keep this receipt" in err
    assert "contact your auditor" in err

    # The operator lets the log grow again, past the receipt's tree: it does not extend that tree.
    _other_hotline_submits(hub)
    code, _out, err = officer.run("sync")
    assert code == 1
    assert "ReceiptAlarm" in err
    assert "does not extend the receipt's checkpoint" in err
    assert f"{PERIOD} revision 1" in err


def test_attack_erase_from_the_middle_and_resign_every_later_checkpoint_is_caught(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    officer = _delivered_month(hub, tmp_path)
    receipt = Receipt.from_json(officer.receipt_file.read_bytes())
    _other_hotline_submits(hub)  # entries after the hotline's: the erased one is not the last
    officer.ok("status")

    _erase_entry_and_resign(hub, receipt.leaf_index)
    log_verify = _hub_cli(hub, "log", "verify")
    assert log_verify[0] == 0, log_verify  # the operator's own check passes: every checkpoint is signed anew

    code, _out, err = officer.run("status")
    assert code == 1
    assert "ReceiptAlarm" in err
    assert f"{PERIOD} revision 1" in err
    assert "does not extend the receipt's checkpoint" in err

    # An auditor who never saw the first log verifies the rewritten one; the hotline's receipt contradicts it.
    state = tmp_path / "audit"
    hub.clock.advance(hours=2)
    assert audit(hub, state, "--log-key", hub.log_key.vkey, REGION_ONLY).code == 0
    run = run_cli(["receipt", str(officer.receipt_file), "--hub-key", hub.log_key.vkey, "--state", str(state)])
    assert run.code == 1
    assert "the hub showed two logs" in run.err


def test_a_hub_that_is_merely_unreachable_is_not_an_alarm(hub: HubUnderTest, tmp_path: Path) -> None:
    officer = _delivered_month(hub, tmp_path)

    def offline(_settings: object) -> httpx.Client:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        return httpx.Client(transport=httpx.MockTransport(refuse))

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = node_main(
            ["--home", str(officer.home), "status", "--json"], http_client_factory=offline, clock=hub.clock
        )
    assert code == 0, err.getvalue()
    watch = json.loads(out.getvalue())["receipt_watch"]
    assert watch["receipts_checked"] == 0
    assert "could not be checked" in watch["skipped"]


def test_attack_erase_and_resign_is_proven_by_tipshare_audit_receipt(hub: HubUnderTest, tmp_path: Path) -> None:
    officer = _delivered_month(hub, tmp_path)
    receipt = Receipt.from_json(officer.receipt_file.read_bytes())
    vkey = hub.log_key.vkey
    _erase_last_entry(hub)
    hub.clock.advance(hours=2)  # the auditor verifies after the receipt was issued

    state = tmp_path / "audit"
    verified = audit(hub, state, "--log-key", vkey, REGION_ONLY)
    assert verified.code == 0, verified.out + verified.err  # the erased log verifies on its own

    run = run_cli(["receipt", str(officer.receipt_file), "--hub-key", vkey, "--state", str(state)])
    assert run.code == 1, run.out + run.err
    assert "rolled its log back" in run.err
    assert f"tree size {receipt.leaf_index + 1}" in run.err
    assert f"only {receipt.leaf_index} entries" in run.err
    assert receipt.checkpoint.split("\n\n")[0] in run.err  # the receipt's signed note is quoted
    assert "The checkpoint the auditor verified" in run.err

    # A directory of receipts handed over by hotlines: every one checked, one verdict each, JSON too.
    handed = tmp_path / "handed-over"
    handed.mkdir()
    (handed / "md-2026-08-r1.json").write_bytes(officer.receipt_file.read_bytes())
    (handed / "ua-2026-09-r1.json").write_bytes(_other_hotline_submits(hub).canonical_bytes())
    run = run_cli(["receipts", str(handed), "--hub-key", vkey, "--state", str(state), "--json"])
    assert run.code == 1
    document = json.loads(run.out)
    assert (document["verdict"], document["receipts"], document["failed"]) == ("FAILED", 2, 1)
    by_file = {r["file"]: r for r in document["results"]}
    assert by_file["md-2026-08-r1.json"]["verdict"] == "failed"
    assert "rolled its log back" in by_file["md-2026-08-r1.json"]["message"]
    assert by_file["ua-2026-09-r1.json"]["verdict"] == "valid"


def test_a_receipt_newer_than_the_auditor_s_last_run_is_not_a_rollback(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "audit"
    vkey = hub.log_key.vkey
    hub.enroll("ua-other", "UA")
    assert audit(hub, state, "--log-key", vkey, REGION_ONLY).code == 0
    hub.clock.advance(hours=1)
    later = tmp_path / "later.json"
    later.write_bytes(_other_hotline_submits(hub).canonical_bytes())

    run = run_cli(["receipt", str(later), "--hub-key", vkey, "--state", str(state)])

    assert run.code == 0, run.err
    assert "run verify" in run.out


# ------------------------------------------------------------------------------------------- witnesses


def test_attack_split_view_is_refused_by_witnesses_and_quorums(hub: HubUnderTest, tmp_path: Path) -> None:
    vkey = hub.log_key.vkey
    w1 = init_witness(tmp_path / "w1", name="witness.test/w1", log_vkey=vkey)
    w2 = init_witness(tmp_path / "w2", name="witness.test/w2", log_vkey=vkey)
    with served_witness(w1.directory) as one, served_witness(w2.directory) as two:
        for witness, served in ((w1, one), (w2, two)):
            code, out, err = _hub_cli(hub, "witness", "add", witness.name, witness.vkey, served.url)
            assert code == 0, out + err
        two.stop()  # the second witness is offline from now on
        officer = _delivered_month(hub, tmp_path)

        # The hub asked both witnesses right after signing the checkpoint; the timer's collect has nothing new.
        code, out, err = _hub_cli(hub, "witness", "collect", "--json")
        assert code == 0, out + err
        results = {o["witness"]: o["result"] for o in json.loads(out)}
        assert results == {w1.name: "already", w2.name: "offline"}
        code, out, _err = _hub_cli(hub, "witness", "list", "--json")
        listed = {w["name"]: w for w in json.loads(out)}
        assert listed[w2.name]["cosigned_size"] == 0
        assert "cannot reach" in listed[w2.name]["last_error"]
        note = hub.client.get("/v1/checkpoint").text
        assert WitnessPolicy.from_vkeys([w1.vkey, w2.vkey], 1).check(note).signed == (w1.name,)
        assert hub.client.get("/v1/log/checkpoint", headers=hub.auth("auditor")).text == note

        # A node that requires 1 of the 2 witnesses relies on the checkpoint; one that requires both refuses it.
        officer.ok("witnesses", "--witness", w1.vkey, "--witness", w2.vkey, "--witness-quorum", "1")
        _out, err = officer.ok("status")
        assert f"cosigned by {w1.name} (1 of 2; 1 required); not by {w2.name}" in err
        officer.ok("witnesses", "--witness", w1.vkey, "--witness", w2.vkey)
        code, _out, err = officer.run("status")
        assert code == 1
        assert "CheckpointNotWitnessed" in err
        assert f"cosigned by {w1.name}" in err
        assert f"not by {w2.name}" in err
        officer.ok("witnesses", "--witness", w1.vkey, "--witness", w2.vkey, "--witness-quorum", "1")

        # An auditor that requires the online witness verifies the honest log (and remembers the policy).
        honest = tmp_path / "audit-honest"
        run = audit(hub, honest, "--log-key", vkey, "--witness", w1.vkey, REGION_ONLY)
        assert run.code == 0, run.out + run.err
        again = audit(hub, honest, REGION_ONLY)  # the policy is remembered in the state DIR
        assert again.code == 0
        assert any(f"cosigned by {w1.name} (1 of 1" in n for n in again.document["notices"])
        witnessed_size = int(note.split("\n")[1])

        # The split view: the operator erases the hotline's month and logs something else in its place, to show
        # that log to parties who never saw the first one. The witness refuses to cosign it.
        _erase_last_entry(hub)
        _other_hotline_submits(hub)
        code, out, err = _hub_cli(hub, "witness", "collect", "--json")
        assert code == 1
        assert {o["witness"]: o["result"] for o in json.loads(out)}[w1.name] == "refused"
        assert "refused checkpoint" in err
        forked = hub.client.get("/v1/checkpoint").text
        assert WitnessPolicy.from_vkeys([w1.vkey], 1).check(forked).signed == ()
        state = json.loads((w1.directory / "state.json").read_text())
        assert state["logs"][hub.context.origin]["size"] == witnessed_size  # it kept the honest view

        # An auditor who never saw the honest log, but requires the witness, refuses the forked one.
        fresh = tmp_path / "audit-fresh"
        run = audit(hub, fresh, "--log-key", vkey, "--witness", w1.vkey, "--witness-quorum", "1", REGION_ONLY)
        assert run.code == 1
        assert run.checks() == {"witnesses"}
        assert "cosigned by no witness" in run.failures("witnesses")[0]["message"]
        # And the hotline is alarmed (its receipt is gone) and refuses the unwitnessed checkpoint.
        code, _out, err = officer.run("status")
        assert code == 1
        assert "ReceiptAlarm" in err
