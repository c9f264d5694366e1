# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub keys rotate`` (:mod:`hub.services.handover`): the handover entry, the key files, an interrupted
rotation, and what ``GET /v1/hub/handovers`` serves."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest

import hub.services.handover as handover_service
from hub.cli import main
from hub.context import HubContext
from hub.errors import BadRequest
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE, RETIRED_DIR
from protocol.handover import HandoverProof, follow_handovers
from protocol.messages import HubKeyHandoverEntry, b64decode, parse_log_entry
from protocol.note import NoteVerifier
from tests.support.hubs import HubUnderTest


def test_a_rotation_logs_a_handover_and_swaps_the_key_files(hub: HubUnderTest) -> None:
    hub.enroll("la-strada-ua", "UA")
    before = hub.log_key
    rotation = handover_service.rotate_hub_keys(hub.context, log=True, envelope=True, grace=timedelta(days=7))

    keys_dir = hub.context.settings.keys_dir
    assert rotation.log_index == 1
    assert rotation.entry.previous_log_vkey == before.vkey
    assert sorted(p.name.split(".")[0] for p in (keys_dir / RETIRED_DIR).iterdir()) == ["envelope", "log"]
    for path in [keys_dir / LOG_KEY_FILE, keys_dir / ENVELOPE_KEY_FILE, *(keys_dir / RETIRED_DIR).iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(keys_dir.glob("*.next"))
    reopened = HubContext.open(hub.context.settings, clock=hub.clock)
    try:
        assert reopened.log_signer.verifier.vkey == rotation.entry.log_vkey
        assert reopened.keys.envelope.public_key.to_text() == rotation.entry.encryption_key
        assert [until - hub.clock() for _, until in reopened.retired_envelopes] == [timedelta(days=7)]
    finally:
        reopened.engine.dispose()

    proofs = [HandoverProof.model_validate_json(p) for p in _served(hub)]
    assert follow_handovers(before, proofs).log_key == NoteVerifier.from_vkey(rotation.entry.log_vkey)
    entry = parse_log_entry(b64decode(proofs[0].leaf))
    assert isinstance(entry, HubKeyHandoverEntry)


def _served(hub: HubUnderTest) -> list[bytes]:
    response = hub.client.get("/v1/hub/handovers")  # public: no token
    assert response.status_code == 200, response.text
    return [json.dumps(item).encode() for item in response.json()]


def test_a_rotation_interrupted_after_logging_is_finished_on_the_next_start(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(handover_service, "promote_staged", crash)
    with pytest.raises(OSError, match="power cut"):
        handover_service.rotate_hub_keys(hub.context, log=True, envelope=False, grace=timedelta(0))
    keys_dir = hub.context.settings.keys_dir
    assert (keys_dir / (LOG_KEY_FILE + ".next")).exists()

    reopened = HubContext.open(hub.context.settings, clock=hub.clock)
    try:
        served = _served(hub)
        logged = parse_log_entry(b64decode(HandoverProof.model_validate_json(served[0]).leaf))
        assert isinstance(logged, HubKeyHandoverEntry)
        assert reopened.log_signer.verifier.vkey == logged.log_vkey
        assert not (keys_dir / (LOG_KEY_FILE + ".next")).exists()
    finally:
        reopened.engine.dispose()


def test_rotate_needs_a_key_to_rotate(hub: HubUnderTest) -> None:
    with pytest.raises(BadRequest, match="--log, --envelope"):
        handover_service.rotate_hub_keys(hub.context, log=False, envelope=False, grace=timedelta(0))


def test_keys_rotate_as_the_operator_types_it(hub: HubUnderTest, capsys: pytest.CaptureFixture[str]) -> None:
    settings = hub.context.settings
    location = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]

    assert main(["keys", "rotate", "--envelope", "--grace-days", "14", *location], clock=hub.clock) == 0
    out = capsys.readouterr().out
    assert "Handed over at log entry 0 (checkpoint 1 is signed by both keys)." in out
    assert "log key: unchanged" in out
    assert "envelope key: " in out
    assert " -> " in out
    assert "the previous envelope key still opens releases until 2026-12-05T12:00:00Z" in out
    assert "Restart every hub process now" in out

    assert main(["keys", "rotate", *location], clock=hub.clock) == 1
    assert "say which key to rotate: --log, --envelope, or both" in capsys.readouterr().err
