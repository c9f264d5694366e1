# SPDX-License-Identifier: Apache-2.0
"""A hotline's month, end to end: the node's commands as a data officer types them, against the real hub app.

``init`` → (operator enrolls the key) → ``synth`` → ``prepare`` → ``approve`` → ``submit`` → ``status``; then the
hub's merged statistics must equal the sum of the signed noisy releases, sit within the declared noise of the
synthetic truth, and the node's stored receipts must verify offline with the hub's log key.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from node.cli import main as node_main
from protocol.accuracy import noise_variance
from protocol.crypto import VerifyKey, verify_submission_signature
from protocol.messages import Receipt, b64decode
from protocol.note import NoteVerifier
from protocol.receipt import verify_receipt
from tests.support.hubs import HubUnderTest, start_hub

PERIODS = ["2026-08", "2026-09", "2026-10"]
HOTLINE = "la-strada-md"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


class Officer:
    """Runs ``tipshare-node`` as a person would, with the hub reachable over an in-process HTTP transport."""

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

    def ok(self, *argv: str) -> str:
        code, out, err = self.run(*argv)
        assert code == 0, f"tipshare-node {' '.join(argv)} failed ({code}):\n{out}\n{err}"
        return out


def test_a_hotline_delivers_three_months_and_the_hub_merges_them(hub: HubUnderTest, tmp_path: Path) -> None:
    officer = Officer(hub, tmp_path / "node")

    identity = json.loads(officer.ok("init", "--hotline-id", HOTLINE, "--hub", "https://testserver", "--json"))
    assert identity["hub"]["log_vkey"] == hub.client.get("/v1/hub").json()["log_vkey"]
    # The operator enrolls the printed key (the enrollment line is "<id> ed25519:...").
    line_id, public_key = identity["enrollment_line"].split()
    assert line_id == HOTLINE
    enrolled = hub.client.post(
        "/v1/admin/hotlines",
        json={"id": HOTLINE, "display_name": "La Strada Moldova", "country": "MD", "public_key": public_key},
        headers=hub.auth("admin"),
    )
    assert enrolled.status_code == 201, enrolled.text

    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "11", "--profile", "md", "--months", "3", "--start", "2026-08")
    truth = json.loads((export / "truth.json").read_text())["periods"]

    for period in PERIODS:
        preview = officer.ok(
            "prepare", "--period", period, str(export / "cases.csv"), "--contacts", str(export / "contacts.csv")
        )
        assert "persons_corridor" in preview
        officer.ok("approve", "--period", period)
        officer.ok("submit", "--period", period)
    status = json.loads(officer.ok("status", "--json"))
    assert status, "status prints the node's releases"

    # The hub logged three submissions and merged them; statistics equal the sums of the signed payloads.
    auditor = hub.auth("auditor")
    checkpoint_size = int(hub.client.get("/v1/log/checkpoint", headers=auditor).text.split("\n")[1])
    assert checkpoint_size == 1 + len(PERIODS)  # the enrolment, then one entry per month
    payloads = {}
    key = VerifyKey.from_text(public_key)
    for submission_id in range(1, len(PERIODS) + 1):
        stored = hub.client.get(f"/v1/submissions/{submission_id}", headers=auditor).json()
        payload = verify_submission_signature(b64decode(stored["payload"]), b64decode(stored["signature"]), key)
        payloads[payload.period] = payload
    assert sorted(payloads) == PERIODS

    table = "persons_corridor"
    stats = hub.client.get(
        f"/v1/stats/{table}",
        params={"group_by": "period", "period_from": PERIODS[0], "period_to": PERIODS[-1]},
        headers=hub.auth("coordinator"),
    ).json()
    for row in stats["rows"]:
        payload = payloads[row["keys"]["period"]]
        released = next(t for t in payload.tables if t.name == table)
        assert row["estimate"] == sum(released.cells)
        assert row["hotlines_reporting"] == 1
        # The noisy total lies within a generous band of the synthetic truth (6 sigma: a false failure is
        # far less likely than one in a hundred million).
        noise = next(t for t in payload.privacy.tables if t.table == table)
        sigma = math.sqrt(noise_variance(payload.privacy.mechanism, noise.scale) * len(released.cells))
        true_total = sum(truth[row["keys"]["period"]][table])
        assert abs(row["estimate"] - true_total) <= 6 * sigma
        assert row["ci95_low"] <= row["estimate"] <= row["ci95_high"]

    # Every receipt the node stored verifies offline with the hub's log key alone.
    log_key = NoteVerifier.from_vkey(identity["hub"]["log_vkey"])
    receipts = sorted((officer.home / "receipts").glob("*.json"))
    assert len(receipts) == len(PERIODS)
    for path in receipts:
        receipt = Receipt.from_json(path.read_bytes())
        verified = verify_receipt(receipt, log_key=log_key)
        assert verified.entry.kind == "submission"

    # Submitting again is a no-op: everything is delivered, nothing is sent twice.
    officer.ok("submit")
    assert int(hub.client.get("/v1/log/checkpoint", headers=auditor).text.split("\n")[1]) == checkpoint_size
