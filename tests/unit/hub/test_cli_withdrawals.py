# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub submission withdraw`` and ``hotline revoke-key --compromised-since`` as the operator types them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hub.db import write_session
from hub.models import Submission
from hub.services.ingest import IngestService
from hub.services.log import TransparencyLog
from protocol.crypto import SigningKey, seal_envelope
from protocol.note import NoteSigner
from protocol.taxonomy import TAXONOMY_V1_ID
from protocol.withdrawal import sign_withdrawal
from tests.support.hubs import Clock
from tests.support.releases import make_release
from tests.unit.hub.test_cli import ORIGIN, Operator

PERIOD = "2026-09"


@pytest.fixture(autouse=True)
def _no_hub_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("TIPSHARE_HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def operator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Operator:
    operator = Operator(tmp_path / "hub", capsys, Clock())
    operator.ok("init", "--origin", ORIGIN)
    return operator


def _submit(operator: Operator, key: SigningKey, revision: int, value: int) -> int:
    with operator.context() as context:
        taxonomy = context.taxonomy_by_id(TAXONOMY_V1_ID)  # v1 releases may hold one small table
        cells = {"contacts": [value] + [0] * (taxonomy.table("contacts").cell_count - 1)}
        payload = make_release(
            taxonomy, key, hotline_id="ua-a", period=PERIOD, revision=revision, cells=cells, tables=("contacts",)
        )
        body = seal_envelope(payload, signing_key=key, hub_key=context.keys.envelope.public_key).canonical_bytes()
        return IngestService(context).submit(body).receipt.submission_id


def _enroll(operator: Operator) -> SigningKey:
    """Enroll ua-a: log entries 0 (its key) and 1 (its policy)."""
    key = SigningKey.generate()
    operator.ok("hotline", "add", "--line", f"ua-a {key.verify_key.to_text()}", "--name", "A", "--country", "UA")
    return key


def test_withdraw_prints_the_entry_and_the_revision_that_counts_now(operator: Operator) -> None:
    key = _enroll(operator)
    _submit(operator, key, 1, 3)
    poisoned = _submit(operator, key, 2, 900)

    out = operator.ok("submission", "withdraw", str(poisoned), "--reason", "sent with a stolen key")

    assert f"Withdrew submission {poisoned} (ua-a {PERIOD} revision 2): logged as entry 4" in out
    assert f"ua-a {PERIOD} now counts revision 1 in the statistics." in out
    assert "Rollups match" in operator.ok("rollups", "check")
    assert "is consistent" in operator.ok("log", "verify")
    code, _, err = operator("submission", "withdraw", str(poisoned), "--reason", "again")
    assert code == 1
    assert "already withdrawn by log entry 4" in err


def test_revoke_key_compromised_since_withdraws_and_reports_as_json(operator: Operator) -> None:
    key = _enroll(operator)
    genuine = _submit(operator, key, 1, 3)
    operator.clock.advance(hours=2)
    poisoned = _submit(operator, key, 2, 900)

    document = json.loads(
        operator.ok(
            "hotline",
            "revoke-key",
            "--key-id",
            key.verify_key.key_id,
            "--reason",
            "laptop stolen",
            "--compromised-since",
            operator.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--json",
        )
    )

    assert document["withdrawn_submissions"] == [poisoned]
    assert genuine not in document["withdrawn_submissions"]
    assert document["compromised_since"] == operator.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "Rollups match" in operator.ok("rollups", "check")


def test_a_compromise_time_without_a_zone_is_refused(operator: Operator) -> None:
    key = _enroll(operator)

    code, _, err = operator(
        "hotline", "revoke-key", "--key-id", key.verify_key.key_id, "--reason", "stolen",
        "--compromised-since", "2026-11-20T08:00:00",
    )  # fmt: skip

    assert code == 1
    assert "--compromised-since" in err
    assert "no time zone" in err


def test_log_verify_names_a_withdrawal_not_signed_with_the_hub_s_log_key(operator: Operator) -> None:
    key = _enroll(operator)
    submission = _submit(operator, key, 1, 3)
    with operator.context() as context, write_session(context.sessions) as session:
        stored = session.get(Submission, submission)
        assert stored is not None
        forged = sign_withdrawal(
            NoteSigner(ORIGIN, SigningKey.generate()),
            leaf_index=stored.leaf_index,
            hotline_id="ua-a",
            key_id=stored.key_id,
            period=PERIOD,
            revision=1,
            payload_hash=stored.payload_hash,
            reason="quietly dropped",
            withdrawn_at="2026-11-21T12:00:00Z",
        )
        TransparencyLog(session, signer=context.log_signer).append(
            forged.canonical_bytes(), kind=forged.kind, now=context.clock()
        )

    code, _, err = operator("log", "verify")

    assert code == 1
    assert "entry 3: the withdrawal's signature does not verify with this hub's log key" in err
