# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit`` as a person runs it: exit statuses, ``receipt`` offline, and errors before any check."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import httpx
import pytest

from auditor import errors, views
from auditor.client import ClientSettings
from auditor.findings import Check, Failure
from auditor.report import VerifyReport
from auditor.state import StateStore
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SigningKey
from protocol.merkle import inclusion_proof, leaf_hash, root_hash
from protocol.note import NoteSigner
from protocol.receipt import make_receipt
from tests.support.auditkit import run_cli

LOG = NoteSigner("hub.example.org/log", SigningKey.generate())
ENTRY = (
    b'{"country":"UA","display_name":"La Strada","effective_at":"2026-01-05T10:00:00Z","hotline_id":"la-strada-ua",'
    b'"key_id":"%s","kind":"key_enrolled","public_key":"%s","type":"log_entry","version":"tipshare/1"}'
)


def _receipt_file(tmp_path: Path, *, signer: NoteSigner = LOG) -> Path:
    key = SigningKey.generate().verify_key
    leaves = [b"an earlier entry", ENTRY % (key.key_id.encode(), key.to_text().encode()), b"a later entry"]
    hashes = [leaf_hash(leaf) for leaf in leaves]
    note = sign_checkpoint(Checkpoint(signer.name, 3, root_hash(hashes)), signer)
    receipt = make_receipt(
        submission_id=7, leaf_index=1, leaf=leaves[1], inclusion_proof=inclusion_proof(1, hashes), checkpoint_note=note
    )
    path = tmp_path / "receipt.json"
    path.write_bytes(receipt.canonical_bytes())
    return path


def test_version_names_the_protocol() -> None:
    run = run_cli(["version"])
    assert run.code == 0
    assert run.out.startswith("tipshare ")
    assert run.out.rstrip().endswith("(tipshare/1)")


def test_a_receipt_verifies_offline_with_the_log_key_alone(tmp_path: Path) -> None:
    path = _receipt_file(tmp_path)
    run = run_cli(["receipt", str(path), "--hub-key", LOG.verifier.vkey])
    assert run.code == 0, run.err
    assert run.out.startswith("VALID  receipt of hub.example.org/log")
    assert "leaf index  1 (submission 7)" in run.out
    assert "kind=key_enrolled hotline_id=la-strada-ua" in run.out

    document = run_cli(["receipt", str(path), "--hub-key", LOG.verifier.vkey, "--json"]).document
    assert (document["leaf_index"], document["checkpoint"]["size"], document["entry"]["kind"]) == (1, 3, "key_enrolled")


def test_a_receipt_signed_by_another_key_fails_and_a_bad_key_is_a_usage_error(tmp_path: Path) -> None:
    path = _receipt_file(tmp_path, signer=NoteSigner("hub.example.org/log", SigningKey.generate()))
    failed = run_cli(["receipt", str(path), "--hub-key", LOG.verifier.vkey])
    assert failed.code == 1
    assert failed.err.startswith("VerificationFailed: the receipt does not verify")

    usage = run_cli(["receipt", str(path), "--hub-key", "not a key"])
    assert usage.code == 2
    assert "UsageError: --hub-key is not a log verifier key" in usage.err
    assert "hint: It looks like origin+keyid+base64" in usage.err

    assert run_cli(["receipt", str(tmp_path / "missing.json"), "--hub-key", LOG.verifier.vkey]).code == 2


def test_a_receipt_checked_against_a_state_dir_that_verified_nothing_is_a_usage_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with StateStore.open(state):
        pass
    run = run_cli(["receipt", str(_receipt_file(tmp_path)), "--hub-key", LOG.verifier.vkey, "--state", str(state)])
    assert run.code == 2
    assert "has not verified any hub yet" in run.err


class _Unreachable:
    def factory(self, settings: ClientSettings) -> httpx.Client:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        return httpx.Client(transport=httpx.MockTransport(refuse), timeout=settings.timeout)


def test_a_hub_that_cannot_be_reached_exits_2_and_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["verify", "--hub", "https://hub.example.org", "--token", "t", "--state", str(state)]
    run = run_cli(args, wire=_Unreachable())  # type: ignore[arg-type]
    assert run.code == 2
    assert run.err.startswith("HubUnreachable: cannot reach the hub at https://hub.example.org")
    with StateStore.open(state) as store:
        assert store.pinned() is None


def test_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIPSHARE_AUDIT_TOKEN", raising=False)
    missing_token = run_cli(["verify", "--hub", "https://hub.example.org", "--state", str(tmp_path)])
    assert missing_token.code == 2
    bad_url = run_cli(["verify", "--hub", "hub.example.org", "--token", "t", "--state", str(tmp_path / "s")])
    assert bad_url.code == 2
    assert "is not a hub URL" in bad_url.err
    with StateStore.open(tmp_path / "busy"):
        busy = run_cli(["verify", "--hub", "https://h.example", "--token", "t", "--state", str(tmp_path / "busy")])
    assert busy.code == 2
    assert "in use by another tipshare-audit run" in busy.err


def test_every_error_maps_to_exit_1_or_2() -> None:
    codes = {
        name: cls.exit_code
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.AuditError)
    }
    assert codes.pop("VerificationFailed") == 1
    assert set(codes.values()) == {2}


@pytest.mark.parametrize(
    "module",
    [
        "auditor.findings",
        "auditor.keys",
        "auditor.releases",
        "auditor.report_files",
        "auditor.stats",
        "auditor.times",
        "auditor.verify",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_text_from_the_hub_reaches_the_terminal_without_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    report = VerifyReport(hub_url="https://hub.example.org", origin="hub.example.org/log")
    report.failures.append(
        Failure(
            Check.STATISTICS,
            "row \x1b[2J\x1b]0;pwned\x07 [bold]differs[/]",
            table="contacts",
            keys={"period": "\x1b[31m"},
        )
    )
    views.show_verify(report)
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "[bold]differs[/]" in out  # markup from the hub is shown, never interpreted


def test_a_receipt_of_a_submission_names_the_unit_of_privacy_its_payload_declares() -> None:
    from auditor.views import _entry_document
    from protocol.messages import SubmissionEntry, b64encode
    from protocol.taxonomy import builtin_taxonomy
    from tests.support.releases import make_release

    key = SigningKey.generate()
    for unit in ("person-month", "record-month"):
        payload = make_release(builtin_taxonomy(), key, hotline_id="la-strada-ua", period="2026-10", unit=unit)
        entry = SubmissionEntry(
            type="log_entry",
            version="tipshare/1",
            kind="submission",
            hotline_id="la-strada-ua",
            key_id=key.verify_key.key_id,
            period="2026-10",
            revision=1,
            payload_hash="sha256:" + "0" * 64,
            payload=b64encode(payload.canonical_bytes()),
            signature=b64encode(bytes(64)),
            received_at="2026-11-02T09:30:00Z",
        )
        assert _entry_document(entry)["privacy_unit"] == unit
