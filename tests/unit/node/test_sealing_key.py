# SPDX-License-Identifier: Apache-2.0
"""The node's share-sealing key (secure rounds): shown by ``init --json`` and by ``rekey --json``, derived from
the signing key the node holds, new with every new signing key."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.keystore import load_signing_key, sealing_key
from protocol.crypto import AgreementPublicKey
from tests.unit.node.fakehub import HUB_URL, FakeHub
from tests.unit.node.nodekit import HOTLINE, Officer


@pytest.fixture
def officer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Officer:
    monkeypatch.setenv("TIPSHARE_NODE_HOME", str(tmp_path / "node-home"))
    return Officer(FakeHub(), capsys)


def test_init_and_rekey_show_the_sealing_key_of_their_signing_key(officer: Officer, tmp_path: Path) -> None:
    identity = officer.json("init", "--hotline-id", HOTLINE, "--hub", HUB_URL)
    held = sealing_key(load_signing_key(tmp_path / "node-home" / "signing-key"))
    assert AgreementPublicKey.from_text(identity["sealing_key"]) == held.public_key
    officer.hub.enroll(*identity["enrollment_line"].split())
    started = officer.json("rekey")
    assert started["sealing_key"] != identity["sealing_key"]
    AgreementPublicKey.from_text(started["sealing_key"])
