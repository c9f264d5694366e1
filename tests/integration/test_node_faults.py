# SPDX-License-Identifier: Apache-2.0
"""Delivery faults between a node and a real hub: whatever breaks, the outbox ends with one accepted submission.

The hub runs for real (``tipshare-hub serve``, :mod:`tools.served_hub`, on the run's backend), and the node
reaches it only through a fault-injecting proxy on loopback (:mod:`tests.support.faulty_proxy`), the hub URL it
pinned at ``init``. Each case is a hotline of its own (its own node home, enrolled at the one hub), so that a
failure leaves nothing queued for the next.

For each fault (network down, 503 from a failing front end, a hub that never answers, a connection reset in the
middle of the request, and the answer lost after the hub committed) the officer runs ``tipshare-node submit``
in-process with the real httpx client: it retries, gives up and keeps the release queued. Then the network heals
and ``sync`` delivers it. And twice a ``tipshare-node submit`` process is killed with SIGKILL while the proxy holds
its request, once before the hub saw it and once after the hub committed it; running the command again delivers it.

On PostgreSQL (``--backend postgresql``) the two cases in which the hub commits run again; the others never
reach the hub's database.

In every case, at the end: the hub's log (read through its audit API) holds exactly one submission for that hotline
and month, carrying exactly the payload the node prepared; the node's release is delivered; and the receipt the node
stored (database and ``receipts/`` file) verifies offline against the hub's log key and points at that very leaf.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.db import write_session
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from node.cli import main as node_main
from protocol.messages import Receipt, SubmissionEntry, b64decode, parse_log_entry
from protocol.note import NoteVerifier
from protocol.receipt import verify_receipt
from tests.support.backends import BACKEND, fresh_database_url
from tests.support.faulty_proxy import Fault, FaultyProxy
from tools.served_hub import ROOT, ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN = "hub.test.tipshare/node-faults"
#: A month of last year: over for the node, not in the future for the hub, whatever day the suite runs.
PERIOD = f"{datetime.now(UTC).year - 1}-06"
#: The node's patience: two attempts per run, short pauses, and a timeout long enough for a real ingest.
NODE_ENV = {
    "TIPSHARE_NODE_CONNECT_TIMEOUT": "5",
    "TIPSHARE_NODE_TIMEOUT": "30",
    "TIPSHARE_NODE_RETRY_ATTEMPTS": "2",
    "TIPSHARE_NODE_RETRY_BASE_DELAY": "0.05",
    "TIPSHARE_NODE_RETRY_MAX_DELAY": "0.2",
    "TIPSHARE_NODE_RETRY_MAX_WAIT": "5",
}
ATTEMPTS = int(NODE_ENV["TIPSHARE_NODE_RETRY_ATTEMPTS"])
#: A hub that never answers is given up on after this many seconds per attempt.
HANG_TIMEOUT = "1"
#: ``tipshare-node`` as a process of its own.
NODE_COMMAND = (sys.executable, "-c", "from node.cli import main; raise SystemExit(main())")
#: How long a test waits for the killed node's request to reach the proxy (it starts a Python process first).
REQUEST_WAIT = 60.0


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Stage:
    """The served hub, the proxy in front of it, the operator's and the auditor's tokens, and an export."""

    hub: ServedHub
    proxy: FaultyProxy
    admin: str
    auditor: str
    log_key: NoteVerifier
    export: Path

    def submissions(self, hotline: str, period: str) -> list[tuple[int, SubmissionEntry]]:
        """``(leaf index, entry)`` of every submission of ``hotline`` for ``period`` in the hub's log."""
        auditor = {"Authorization": f"Bearer {self.auditor}"}
        with httpx.Client(base_url=self.hub.url, headers=auditor, timeout=30) as audit:
            size = int(audit.get("/v1/log/checkpoint").text.split("\n")[1])
            response = audit.get("/v1/log/entries", params={"start": 0, "end": size})
            assert response.status_code == 200, response.text
            entries = response.json()["entries"]
        assert len(entries) == size
        found = []
        for entry in entries:
            parsed = parse_log_entry(b64decode(entry["data"]))
            if isinstance(parsed, SubmissionEntry) and (parsed.hotline_id, parsed.period) == (hotline, period):
                found.append((int(entry["index"]), parsed))
        return found

    def enroll(self, hotline: str, public_key: str) -> None:
        """The operator enrolls a node's printed key (straight at the hub, not through the proxy)."""
        response = httpx.post(
            f"{self.hub.url}/v1/admin/hotlines",
            json={"id": hotline, "display_name": hotline, "country": "MD", "public_key": public_key},
            headers={"Authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text


@dataclass
class Node:
    """One hotline's node, set up through the proxy and enrolled, with ``PERIOD`` prepared."""

    stage: Stage
    hotline: str
    home: Path

    def run(self, *argv: str, timeout: str | None = None) -> Run:
        """``tipshare-node --home <home> <argv>`` in this process, with the real HTTP client."""
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            if timeout is not None:
                patch.setenv("TIPSHARE_NODE_TIMEOUT", timeout)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = node_main(["--home", str(self.home), *argv])
        return Run(status, out.getvalue(), err.getvalue())

    def ok(self, *argv: str) -> Run:
        run = self.run(*argv)
        assert run.status == 0, f"tipshare-node {' '.join(argv)}: {run.status}\n{run.out}\n{run.err}"
        return run

    def submissions(self) -> list[tuple[int, SubmissionEntry]]:
        return self.stage.submissions(self.hotline, PERIOD)

    def status(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The node's release of ``PERIOD`` and the outbox items still waiting, from ``status --json``."""
        document = self.ok("status", "--json").json()
        (release,) = document["releases"]
        assert release["period"] == PERIOD
        return release, document["outbox"]

    def prepared_payload(self) -> bytes:
        with contextlib.closing(sqlite3.connect(f"file:{self.home / 'node.sqlite3'}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT payload FROM releases WHERE period = ? AND revision = 1", (PERIOD,)).fetchone()
        assert row is not None
        return bytes(row[0])

    def assert_delivered_once(self) -> None:
        """One submission at the hub, the prepared payload, delivered at the node, with a receipt that verifies."""
        ((leaf_index, entry),) = self.submissions()
        assert entry.revision == 1
        assert b64decode(entry.payload) == self.prepared_payload()
        release, waiting = self.status()
        assert release["status"] == "delivered"
        assert waiting == []
        assert release["receipt"]["leaf_index"] == leaf_index
        stored = self.home / "receipts" / f"{PERIOD}-r1.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        receipt = Receipt.from_json(stored.read_bytes())
        verified = verify_receipt(receipt, log_key=self.stage.log_key, payload_bytes=self.prepared_payload())
        assert verified.leaf_index == leaf_index


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    root = tmp_path_factory.mktemp("node-faults")
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        for name, value in NODE_ENV.items():
            patch.setenv(name, value)
        database_url = stack.enter_context(fresh_database_url())
        admin, auditor = _initialise(root / "hub", database_url)
        hub = stack.enter_context(served_hub(root / "hub", database_url=database_url, workers=1))
        proxy = stack.enter_context(FaultyProxy(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), methods=("POST",)))
        identity = httpx.get(f"{hub.url}/v1/hub", timeout=30).json()
        export = root / "export"
        with contextlib.redirect_stdout(io.StringIO()):
            assert node_main(["synth", "--out", str(export), "--seed", "5", "--months", "1", "--start", PERIOD]) == 0
        yield Stage(hub, proxy, admin, auditor, NoteVerifier.from_vkey(identity["log_vkey"]), export)
        assert hub.process.poll() is None, f"the hub stopped:\n{hub.log_tail()}"
        assert "Traceback" not in hub.log(), hub.log_tail()


def _initialise(data_dir: Path, database_url: str | None) -> tuple[str, str]:
    """``tipshare-hub init`` and an admin and an auditor token, before the server starts."""
    context = initialise_hub(Settings(data_dir=data_dir, database_url=database_url), origin=ORIGIN)
    try:
        with write_session(context.sessions) as session:
            tokens = TokenService(session)
            admin = tokens.create(role="admin", label="faults admin", now=context.clock()).token
            auditor = tokens.create(role="auditor", label="faults auditor", now=context.clock()).token
        return admin, auditor
    finally:
        context.engine.dispose()


@pytest.fixture
def proxy(stage: Stage) -> Iterator[FaultyProxy]:
    """The stage's proxy, healed again after the test whatever happened."""
    yield stage.proxy
    stage.proxy.heal()


def _node(stage: Stage, tmp_path: Path, hotline: str, *, committed: bool) -> Node:
    """A node of its own for one test (so that a failure leaves nothing queued for the next), month prepared."""
    if BACKEND.name == "postgresql" and not committed:
        # On PostgreSQL only the cases where the hub commits run again: the others never reach the database.
        pytest.skip("the hub's database is never reached; the SQLite pass covers this fault")
    node = Node(stage, hotline, tmp_path / "node")
    enrollment = node.ok("init", "--hotline-id", hotline, "--hub", stage.proxy.url, "--json").json()
    assert enrollment["hub"]["log_vkey"] == stage.log_key.vkey  # pinned through the proxy
    stage.enroll(hotline, enrollment["public_key"])
    export = stage.export
    node.ok("prepare", "--period", PERIOD, str(export / "cases.csv"), "--contacts", str(export / "contacts.csv"))
    node.ok("approve", "--period", PERIOD)
    return node


FAULTS: list[tuple[Fault, bool, str]] = [
    ("refuse", False, "Connection refused"),
    ("reply_503", False, "the hub is busy or failing (HTTP 503"),
    ("hang", False, "did not answer in time (ReadTimeout)"),
    ("reset_mid_request", False, "cannot reach the hub"),
    ("drop_response", True, "cannot reach the hub"),
]


@pytest.mark.parametrize(("fault", "committed", "error"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_leaves_the_release_queued_and_sync_delivers_it_once(
    stage: Stage, proxy: FaultyProxy, tmp_path: Path, fault: Fault, committed: bool, error: str
) -> None:
    node = _node(stage, tmp_path, f"hotline-{fault.replace('_', '-')}", committed=committed)
    proxy.set(fault)
    run = node.run("submit", "--period", PERIOD, "--json", timeout=HANG_TIMEOUT if fault == "hang" else None)
    assert run.status == 1, f"{run.out}\n{run.err}"
    assert "Traceback" not in run.err
    assert "HubUnreachable: 1 release(s) could not be delivered yet" in run.err
    ((outcome),) = run.json()["outcomes"]
    assert (outcome["period"], outcome["result"]) == (PERIOD, "pending")
    release, (item,) = node.status()
    assert release["status"] == "queued"
    assert (item["status"], item["attempts"]) == ("queued", ATTEMPTS)
    assert error in item["last_error"]
    # What reached the hub: nothing, or (the lost answer) the submission, however often it was sent.
    assert len(node.submissions()) == (1 if committed else 0)
    assert proxy.requests(fault) == ([] if fault == "refuse" else ["POST /v1/submissions HTTP/1.1"] * ATTEMPTS)

    proxy.heal()
    run = node.ok("sync", "--json")
    ((outcome),) = run.json()["outcomes"]
    assert (outcome["period"], outcome["result"]) == (PERIOD, "already_delivered" if committed else "delivered")
    node.assert_delivered_once()
    assert node.ok("sync", "--json").json()["outcomes"] == []  # nothing left to send


KILLS: list[tuple[Fault, bool, tuple[str, ...]]] = [
    ("hold_before_forward", False, ("submit", "--period", PERIOD)),
    ("hold_after_commit", True, ("sync",)),
]


@pytest.mark.parametrize(("hold", "committed", "again"), KILLS, ids=[k[0] for k in KILLS])
def test_a_node_killed_mid_submit_delivers_once_when_run_again(
    stage: Stage, proxy: FaultyProxy, tmp_path: Path, hold: Fault, committed: bool, again: tuple[str, ...]
) -> None:
    node = _node(stage, tmp_path, f"hotline-killed-{hold.replace('_', '-')}", committed=committed)
    proxy.set(hold)
    held = proxy.held
    output = tmp_path / "killed.log"
    with output.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [*NODE_COMMAND, "--home", str(node.home), "submit", "--period", PERIOD],
            cwd=ROOT,
            env={**os.environ, **NODE_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        in_flight = held.wait(REQUEST_WAIT)
        assert in_flight, f"the node's request never reached the proxy:\n{output.read_text(errors='replace')}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    # Killed with its request in flight: queued at the node, and at the hub only if the hub had committed it.
    assert len(node.submissions()) == (1 if committed else 0)
    release, (item,) = node.status()
    assert (release["status"], item["status"], item["attempts"]) == ("queued", "queued", 0)

    proxy.heal()
    run = node.ok(*again, "--json")
    ((outcome),) = run.json()["outcomes"]
    assert (outcome["period"], outcome["result"]) == (PERIOD, "already_delivered" if committed else "delivered")
    node.assert_delivered_once()
