# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit witness``: the C2SP tlog-witness HTTP answers, persistence, and the CLI's init."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from auditor.errors import StateError
from auditor.witness import STATE_FILE, WitnessHome, create_witness, witness_app
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.cosignature import AddCheckpoint, CosignatureVerifier, WitnessPolicy
from protocol.crypto import SigningKey
from protocol.merkle import consistency_proof, leaf_hash, root_hash
from protocol.note import NoteSigner
from tests.support.auditkit import run_cli

ORIGIN = "hub.example.org/log"
LOG = NoteSigner(ORIGIN, SigningKey(bytes(range(32))))
LEAVES = [leaf_hash(bytes([i])) for i in range(8)]


def _note(size: int, leaves: list[bytes] = LEAVES) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(leaves[:size])), LOG)


@pytest.fixture
def witness(tmp_path: Path) -> Path:
    create_witness(tmp_path / "w", name="witness.example.org/w1", logs=[LOG.verifier.vkey])
    return tmp_path / "w"


def _client(directory: Path) -> TestClient:
    return TestClient(witness_app(WitnessHome.open(directory), clock=lambda: 1_800_000_000))


def test_add_checkpoint_answers_as_tlog_witness_says_and_persists_before_answering(witness: Path) -> None:
    client = _client(witness)
    first = client.post("/add-checkpoint", content=AddCheckpoint(0, (), _note(3)).to_bytes())
    assert first.status_code == 200
    assert first.text.startswith("\u2014 witness.example.org/w1 ")
    verifier = CosignatureVerifier.from_vkey(WitnessHome.open(witness).cosigner.verifier.vkey)
    assert WitnessPolicy((verifier,), 1).check(_note(3) + first.text).ok
    assert json.loads((witness / STATE_FILE).read_text())["logs"][ORIGIN]["size"] == 3

    stale = client.post("/add-checkpoint", content=AddCheckpoint(0, (), _note(5)).to_bytes())
    assert (stale.status_code, stale.text, stale.headers["content-type"]) == (409, "3\n", "text/x.tlog.size")
    forked = [LEAVES[0], leaf_hash(b"x"), *LEAVES[2:]]
    fork = client.post(
        "/add-checkpoint", content=AddCheckpoint(3, tuple(consistency_proof(3, forked)), _note(5, forked)).to_bytes()
    )
    assert fork.status_code == 422
    assert client.post("/add-checkpoint", content=b"garbage").status_code == 400
    assert client.post("/add-checkpoint", content=AddCheckpoint(5, (), _note(3)).to_bytes()).status_code == 400

    # A restarted witness remembers what it cosigned, and serves it.
    again = _client(witness)
    grown = AddCheckpoint(3, tuple(consistency_proof(3, LEAVES[:5])), _note(5))
    assert again.post("/add-checkpoint", content=grown.to_bytes()).status_code == 200
    served = again.get(f"/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint")
    assert served.status_code == 200
    assert served.text.startswith(_note(5))
    assert again.get(f"/{'0' * 64}/checkpoint").status_code == 404


def test_witness_init_from_the_command_line(tmp_path: Path) -> None:
    argv = ["witness", "init", "--dir", str(tmp_path / "w"), "--name", "witness.example.org/w1"]
    run = run_cli([*argv, "--log", LOG.verifier.vkey, "--json"])
    assert run.code == 0, run.err
    vkey = json.loads(run.out)["vkey"]
    assert CosignatureVerifier.from_vkey(vkey).name == "witness.example.org/w1"
    assert (tmp_path / "w" / "witness.key").stat().st_mode & 0o777 == 0o600
    again = run_cli([*argv, "--log", LOG.verifier.vkey])
    assert again.code == 2
    assert "never replaced" in again.err
    assert run_cli([*argv[:3], str(tmp_path / "x"), *argv[4:], "--log", "not-a-vkey"]).code == 2


def test_a_witness_key_readable_by_others_is_refused(witness: Path) -> None:
    (witness / "witness.key").chmod(0o644)
    with pytest.raises(StateError, match="readable by other users"):
        WitnessHome.open(witness)
