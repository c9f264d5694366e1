# SPDX-License-Identifier: Apache-2.0
"""Attacks on keys (issue 15, point 8), against a real hub, node and auditor.

* Keys off the Ed25519 curve, with a non-canonical encoding, or of small order are refused by the operator's CLI and
  by ``POST /v1/admin/hotlines`` (422 ``invalid_public_key`` naming the rule); one written into the log anyway
  fails ``tipshare-audit verify``.
* The hub's keys are rotated in place by a logged handover signed by the previous log key: nodes and auditors
  follow it on their own and ``verify`` stays VERIFIED. A handover forged without the previous key is refused by
  both, and nothing is re-pinned.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from auditor.state import StateStore
from hub.app import create_app
from hub.cli import main as hub_main
from hub.context import HubContext
from hub.db import write_session
from hub.keys import LOG_KEY_FILE
from hub.models import HubMeta
from hub.services.handover import META_ENCRYPTION_KEY, META_HANDOVERS, META_LOG_VKEY, rotate_hub_keys
from hub.services.log import TransparencyLog
from node.cli import main as node_main
from protocol.crypto import EncryptionKey, SigningKey
from protocol.handover import sign_handover
from protocol.messages import (
    PROTOCOL_VERSION,
    KeyEventEntry,
    Receipt,
    SubmissionEntry,
    b64decode,
    b64encode,
    parse_log_entry,
)
from protocol.note import NoteSigner
from protocol.receipt import verify_receipt
from tests.support.auditkit import append_entry, audit, populate
from tests.support.hubs import ORIGIN, HubUnderTest, start_hub

_P = 2**255 - 19
#: Each breaks one rule: the message must name it.
BAD_KEYS = {
    "off the curve": (bytes([2]) + bytes(31), "not a point on the Ed25519 curve"),
    "non-canonical y": ((_P + 3).to_bytes(32, "little"), "non-canonical encoding"),
    "x = 0 with the sign bit": (bytes.fromhex("01" + "00" * 30 + "80"), "non-canonical encoding: x = 0"),
    "small order": (bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "small order"),
    "torsion component": (bytes([3]) + bytes(31), "prime-order subgroup"),
}


def _text(raw: bytes) -> str:
    return "ed25519:" + b64encode(raw)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


@contextlib.contextmanager
def restarted(hub: HubUnderTest) -> Iterator[HubUnderTest]:
    """The hub process started again (as the operator must after a rotation): new context, keys read anew."""
    old_context, old_client = hub.context, hub.client
    context = HubContext.open(old_context.settings, clock=hub.clock)
    with TestClient(create_app(context=context)) as client:
        hub.context, hub.client = context, client
        try:
            yield hub
        finally:
            hub.context, hub.client = old_context, old_client
            context.engine.dispose()


def _hub_cli(hub: HubUnderTest, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    settings = hub.context.settings
    location = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = hub_main([*argv, *location], clock=hub.clock)
    return code, out.getvalue(), err.getvalue()


class Officer:
    """``tipshare-node`` as a data officer types it, against whatever app the hub serves now."""

    def __init__(self, hub: HubUnderTest, home: Path) -> None:
        self.hub, self.home = hub, home

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = node_main(
                ["--home", str(self.home), *argv],
                http_client_factory=lambda _s: TestClient(self.hub.client.app, base_url="https://testserver"),
                clock=self.hub.clock,
                sleep=lambda _seconds: None,
            )
        return code, out.getvalue(), err.getvalue()

    def ok(self, *argv: str) -> str:
        code, out, err = self.run(*argv)
        assert code == 0, f"tipshare-node {' '.join(argv)} failed ({code}):\n{out}\n{err}"
        return out

    def pinned(self) -> tuple[str, str]:
        document = json.loads(self.ok("repin", "--json"))
        return document["log_vkey"], document["encryption_key"]


# ------------------------------------------------------------------------------------------- invalid keys


@pytest.mark.parametrize("rule", sorted(BAD_KEYS))
def test_attack_invalid_key_is_refused_by_the_cli(hub: HubUnderTest, rule: str) -> None:
    raw, mention = BAD_KEYS[rule]
    code, out, err = _hub_cli(
        hub, "hotline", "add", "--id", "la-strada-md", "--key", _text(raw), "--name", "LS", "--country", "MD"
    )

    assert code == 1, out + err
    assert mention in err
    assert "Traceback" not in err
    assert hub.client.get("/v1/log/checkpoint", headers=hub.auth("auditor")).status_code == 404  # nothing logged


@pytest.mark.parametrize("rule", sorted(BAD_KEYS))
def test_attack_invalid_key_is_refused_by_the_api(hub: HubUnderTest, rule: str) -> None:
    raw, mention = BAD_KEYS[rule]
    body = {"id": "la-strada-md", "display_name": "LS", "country": "MD", "public_key": _text(raw)}

    response = hub.client.post("/v1/admin/hotlines", json=body, headers=hub.auth("admin"))

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_public_key"
    assert mention in problem["detail"]
    # Rotation to an invalid key is refused the same way.
    hub.enroll("la-strada-ua", "UA")
    rotated = hub.client.post(
        "/v1/admin/hotlines/la-strada-ua/keys", json={"public_key": _text(raw)}, headers=hub.auth("admin")
    )
    assert rotated.status_code == 422, rotated.text
    assert rotated.json()["code"] == "invalid_public_key"


def test_attack_a_logged_invalid_key_fails_the_audit(hub: HubUnderTest, tmp_path: Path) -> None:
    populate(hub)
    raw, _ = BAD_KEYS["small order"]
    from protocol.crypto import _key_id  # the id the hub would have computed

    append_entry(
        hub,
        KeyEventEntry(
            type="log_entry",
            version=PROTOCOL_VERSION,
            kind="key_enrolled",
            hotline_id="impostor",
            key_id=_key_id("ed25519", raw),
            public_key=_text(raw),
            display_name="Impostor",
            country="MD",
            effective_at="2026-11-21T12:00:00Z",
        ),
    )

    run = audit(hub, tmp_path / "state")

    assert run.code == 1, run.out
    [failure] = run.failures("key-history")
    assert "small order" in failure["message"]


# ------------------------------------------------------------------------------------------- hub key handover


def test_receipts_signed_before_a_log_key_handover_still_verify_on_the_node(hub: HubUnderTest, tmp_path: Path) -> None:
    """A node holding receipts from before the hub rotated its log key is not alarmed by them after following the
    handover: it remembers the keys it pinned before (config ``previous_log_vkeys``) for its old receipts."""
    populate(hub)
    officer = Officer(hub, tmp_path / "node")
    identity = json.loads(officer.ok("init", "--hotline-id", "la-strada-md", "--hub", "https://testserver", "--json"))
    _, public_key = identity["enrollment_line"].split()
    enrolled = hub.client.post(
        "/v1/admin/hotlines",
        json={"id": "la-strada-md", "display_name": "LS", "country": "MD", "public_key": public_key},
        headers=hub.auth("admin"),
    )
    assert enrolled.status_code == 201, enrolled.text
    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "4", "--profile", "md", "--months", "2", "--start", "2026-09")
    cases, contacts = str(export / "cases.csv"), str(export / "contacts.csv")
    officer.ok("prepare", "--period", "2026-09", cases, "--contacts", contacts)
    officer.ok("approve", "--period", "2026-09")
    officer.ok("submit")  # a receipt signed by the log key of today
    old_vkey = hub.log_key.vkey

    code, out, err = _hub_cli(hub, "keys", "rotate", "--log", "--json")
    assert code == 0, out + err

    with restarted(hub):
        status = json.loads(officer.ok("status", "--json"))  # follows the handover, then checks the old receipt
        assert status["receipt_watch"]["receipts_checked"] == 1, status["receipt_watch"]
        config = (tmp_path / "node" / "config.toml").read_text(encoding="utf-8")
        assert f'previous_log_vkeys = ["{old_vkey}"]' in config
        officer.ok("prepare", "--period", "2026-10", cases, "--contacts", contacts)
        officer.ok("approve", "--period", "2026-10")
        code, out, err = officer.run("sync")  # a receipt of each key, both watched
        assert code == 0, out + err
        assert "Receipts: 2 still in the hub's log" in err


def test_attack_honest_rotation_is_followed_by_node_and_auditor(hub: HubUnderTest, tmp_path: Path) -> None:
    populate(hub)
    officer = Officer(hub, tmp_path / "node")
    identity = json.loads(officer.ok("init", "--hotline-id", "la-strada-md", "--hub", "https://testserver", "--json"))
    _, public_key = identity["enrollment_line"].split()
    enrolled = hub.client.post(
        "/v1/admin/hotlines",
        json={"id": "la-strada-md", "display_name": "LS", "country": "MD", "public_key": public_key},
        headers=hub.auth("admin"),
    )
    assert enrolled.status_code == 201, enrolled.text
    bystander = Officer(hub, tmp_path / "other-node")  # set up, not yet enrolled: it only re-pins
    bystander.ok("init", "--hotline-id", "la-strada-ro", "--hub", "https://testserver")
    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "3", "--profile", "md", "--months", "1", "--start", "2026-10")
    officer.ok("prepare", "--period", "2026-10", str(export / "cases.csv"), "--contacts", str(export / "contacts.csv"))
    officer.ok("approve", "--period", "2026-10")  # approved before the rotation, sent after it
    first = audit(hub, tmp_path / "state")
    assert first.document["verdict"] == "VERIFIED", first.out
    old_vkey = hub.log_key.vkey

    code, out, err = _hub_cli(hub, "keys", "rotate", "--log", "--envelope", "--json")
    assert code == 0, out + err
    rotation = json.loads(out)
    assert rotation["log_vkey"]["previous"] == old_vkey != rotation["log_vkey"]["current"]

    # A hub process still holding the old log key refuses to append anything.
    stale = hub.client.post(
        "/v1/admin/hotlines/la-strada-md/keys",
        json={"public_key": SigningKey.generate().verify_key.to_text()},
        headers=hub.auth("admin"),
    )
    assert stale.status_code == 500

    with restarted(hub):
        assert hub.log_key.vkey == rotation["log_vkey"]["current"]
        # `sync` follows the handover on its own before delivering; the receipt, signed by the new key, verifies.
        code, out, err = officer.run("sync")
        assert code == 0, out + err
        assert "re-pinned" in err
        assert rotation["log_key_fingerprint"]["current"] in err
        assert officer.pinned() == (rotation["log_vkey"]["current"], rotation["encryption_key"]["current"])
        assert json.loads(officer.ok("status", "--json"))
        # `repin` does it on demand and shows the fingerprints before and after.
        repinned = bystander.ok("repin")
        assert rotation["log_key_fingerprint"]["previous"] in repinned
        assert rotation["log_key_fingerprint"]["current"] in repinned
        assert rotation["encryption_key_fingerprint"]["current"] in repinned
        assert "are the pinned ones" in bystander.ok("repin")
        # The auditor re-pins by following the handover from its pinned key, and everything still verifies.
        second = audit(hub, tmp_path / "state")
        assert second.document["verdict"] == "VERIFIED", second.out
        assert any("followed the hub's key handover" in notice for notice in second.document["notices"])
        with StateStore.open(tmp_path / "state") as store:
            pinned = store.pinned()
            history = store.key_history()
        assert pinned is not None
        assert pinned.vkey == rotation["log_vkey"]["current"]
        assert [item["vkey"] for item in history] == [old_vkey]
        # And again, now that the new key is pinned; the operator's own checks pass across the handover too.
        assert audit(hub, tmp_path / "state").document["verdict"] == "VERIFIED"
        for check in (("log", "verify"), ("rollups", "check")):
            code, out, err = _hub_cli(hub, *check)
            assert code == 0, out + err


def test_releases_sealed_to_the_old_envelope_key_are_accepted_during_the_grace_period(hub: HubUnderTest) -> None:
    populate(hub)
    # Two releases sealed to the envelope key of today, as they wait in a node's outbox.
    queued = hub.envelope_bytes(hub.release("ua-b", "2026-10", revision=2, tables=("contacts",)))
    too_late = hub.envelope_bytes(hub.release("ua-b", "2026-10", revision=3, tables=("contacts",)))
    rotate_hub_keys(hub.context, log=False, envelope=True, grace=timedelta(days=30))
    with restarted(hub):
        assert hub.log_key.vkey == hub.context.log_signer.verifier.vkey  # an envelope-only handover
        assert hub.post_envelope(queued).status_code == 201
        hub.clock.advance(days=31)
        response = hub.post_envelope(too_late)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "decryption_failed"
        sealed_now = hub.envelope_bytes(hub.release("ua-b", "2026-10", revision=3, tables=("contacts",)))
        assert hub.post_envelope(sealed_now).status_code == 201


_SEEDS: dict[str, bytes] = {}


def test_attack_forged_handover_is_refused_by_node_and_auditor(hub: HubUnderTest, tmp_path: Path) -> None:
    populate(hub)
    officer = Officer(hub, tmp_path / "node")
    officer.ok("init", "--hotline-id", "la-strada-md", "--hub", "https://testserver")
    pinned_before = officer.pinned()
    assert audit(hub, tmp_path / "state").document["verdict"] == "VERIFIED"

    _forge(hub)
    with restarted(hub):
        assert hub.log_key.vkey != pinned_before[0]
        code, _, err = officer.run("repin")
        assert code != 0
        assert "not signed by the trusted log key" in err
        assert "HubKeysNotHandedOver" in err
        code, _, err = officer.run("sync")
        assert code != 0
        assert "HubKeysNotHandedOver" in err
        run = audit(hub, tmp_path / "state")
        assert run.code == 1, run.out
        assert run.document["verdict"] != "VERIFIED"
        [failure] = run.failures("identity")
        assert "not signed by the trusted log key" in failure["message"]
    assert officer.pinned() == pinned_before
    with StateStore.open(tmp_path / "state") as store:
        assert store.key_history() == []


def test_a_repeat_after_a_log_key_handover_gets_a_receipt_the_new_key_verifies(hub: HubUnderTest) -> None:
    populate(hub)
    envelope = hub.envelope_bytes(hub.release("ua-b", "2026-10", revision=2, tables=("contacts",)))
    first = hub.post_envelope(envelope)
    assert first.status_code == 201, first.text
    rotate_hub_keys(hub.context, log=True, envelope=False, grace=timedelta(days=30))
    with restarted(hub):
        repeat = hub.post_envelope(envelope)  # the node never got the first answer, and re-pinned meanwhile
        assert repeat.status_code == 200, repeat.text
        verified = verify_receipt(Receipt.from_json(repeat.content), log_key=hub.log_key)
        assert verified.leaf_index == Receipt.from_json(first.content).leaf_index
        assert verified.checkpoint.size > verified.leaf_index + 1  # proven in the tree after the handover


def _forge(hub: HubUnderTest) -> None:
    seed = SigningKey.generate().seed()
    impostor = NoteSigner(ORIGIN, SigningKey(seed))
    _SEEDS[impostor.verifier.vkey] = seed
    _forge_with(hub, impostor)


def _forge_with(hub: HubUnderTest, impostor: NoteSigner) -> None:
    fake_old = NoteSigner(ORIGIN, SigningKey.generate())
    box = EncryptionKey.generate()
    forged = sign_handover(
        old=fake_old,
        new=impostor,
        previous_encryption_key=hub.context.keys.envelope.public_key,
        encryption_key=box.public_key,
        effective_at="2026-11-21T12:00:00Z",
        previous_encryption_key_until="2026-11-21T12:00:00Z",
    )
    # It claims to come from the genuine key, but the genuine key never signed it.
    forged = forged.model_copy(update={"previous_log_vkey": hub.log_key.vkey})
    with write_session(hub.context.sessions) as session:
        appended = TransparencyLog(session, signer=hub.context.log_signer).append(
            forged.canonical_bytes(), kind=forged.kind, now=hub.clock(), cosigners=(impostor,)
        )
        for key, value in (
            (META_LOG_VKEY, impostor.verifier.vkey),
            (META_ENCRYPTION_KEY, box.public_key.to_text()),
            (META_HANDOVERS, json.dumps([appended.index])),
        ):
            session.merge(HubMeta(key=key, value=value))
    keys_dir = hub.context.settings.keys_dir
    for name, secret in ((LOG_KEY_FILE, _SEEDS[impostor.verifier.vkey]), ("envelope.x25519", box.secret())):
        (keys_dir / name).unlink()
        (keys_dir / name).write_bytes(b64encode(secret).encode() + b"\n")
        (keys_dir / name).chmod(0o600)


# ------------------------------------------------------------------------------------------- hotline rekey


def test_rekey_waits_for_the_operator_and_the_node_keeps_signing_with_the_current_key(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    officer = Officer(hub, tmp_path / "node")
    identity = json.loads(officer.ok("init", "--hotline-id", "la-strada-md", "--hub", "https://testserver", "--json"))
    old_line = identity["enrollment_line"]
    enrolled = hub.client.post(
        "/v1/admin/hotlines",
        json={"id": "la-strada-md", "display_name": "LS", "country": "MD", "public_key": old_line.split()[1]},
        headers=hub.auth("admin"),
    )
    assert enrolled.status_code == 201, enrolled.text

    started = json.loads(officer.ok("rekey", "--json"))
    assert started["new"] is True
    assert started["enrollment_line"].split()[0] == "la-strada-md"
    assert started["enrollment_line"] != old_line
    again = json.loads(officer.ok("rekey", "--json"))  # asking again shows the key that waits
    assert (again["new"], again["enrollment_line"]) == (False, started["enrollment_line"])

    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "5", "--profile", "md", "--months", "1", "--start", "2026-10")
    officer.ok("prepare", "--period", "2026-10", str(export / "cases.csv"), "--contacts", str(export / "contacts.csv"))
    officer.ok("approve", "--period", "2026-10")
    officer.ok("submit", "--period", "2026-10")
    response = hub.client.get("/v1/submissions/1", headers=hub.auth("auditor"))
    assert response.json()["key_id"] == identity["key_id"]  # still the current key


def test_rekey_after_the_operator_rotated_resends_refused_releases_with_the_new_key(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    officer = Officer(hub, tmp_path / "node")
    identity = json.loads(officer.ok("init", "--hotline-id", "la-strada-md", "--hub", "https://testserver", "--json"))
    enrolled = hub.client.post(
        "/v1/admin/hotlines",
        json={
            "id": "la-strada-md",
            "display_name": "LS",
            "country": "MD",
            "public_key": identity["enrollment_line"].split()[1],
        },
        headers=hub.auth("admin"),
    )
    assert enrolled.status_code == 201, enrolled.text
    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "5", "--profile", "md", "--months", "2", "--start", "2026-09")
    inputs = (str(export / "cases.csv"), "--contacts", str(export / "contacts.csv"))
    officer.ok("prepare", "--period", "2026-09", *inputs)
    officer.ok("approve", "--period", "2026-09")
    officer.ok("submit", "--period", "2026-09")
    officer.ok("prepare", "--period", "2026-10", *inputs)
    officer.ok("approve", "--period", "2026-10")
    spent_before = json.loads(officer.ok("budget", "--json"))

    started = json.loads(officer.ok("rekey", "--json"))
    # The operator rotates before the node sent October: the hub now refuses the old key.
    code, out, err = _hub_cli(hub, "hotline", "rotate-key", "--line", started["enrollment_line"])
    assert code == 0, out + err
    code, _, err = officer.run("sync")
    assert code != 0
    assert "key_not_valid" in err or "replaced by a newer key" in err

    confirmed = json.loads(officer.ok("rekey", "--confirm", "--json"))
    assert confirmed["key_id"] == started["key_id"]
    assert confirmed["rewritten"] == [{"period": "2026-10", "revision": 1}]
    officer.ok("sync")

    status = json.loads(officer.ok("status", "--json"))
    assert json.loads(officer.ok("budget", "--json")) == spent_before  # the ledger is kept: nothing spent again
    assert status, "status still lists the releases"
    auditor = hub.auth("auditor")
    entries = hub.client.get("/v1/log/entries", headers=auditor).json()["entries"]
    submissions = [
        e for e in (parse_log_entry(b64decode(x["data"])) for x in entries) if isinstance(e, SubmissionEntry)
    ]
    assert [(s.period, s.key_id) for s in submissions] == [
        ("2026-09", identity["key_id"]),
        ("2026-10", started["key_id"]),
    ]
    assert (tmp_path / "node" / f"signing-key.retired-{identity['key_id']}").exists()


def test_attack_a_node_refuses_to_pin_a_hub_log_key_that_is_not_a_valid_point(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    raw, _ = BAD_KEYS["small order"]
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4].hex()
    encoded = b64encode(bytes([1]) + raw)
    published = hub.client.get("/v1/hub").json() | {"log_vkey": f"{ORIGIN}+{key_id}+{encoded}"}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/hub":
            return httpx.Response(200, json=published)
        upstream = hub.client.send(request)
        return httpx.Response(upstream.status_code, headers=upstream.headers, content=upstream.content)

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = node_main(
            ["--home", str(tmp_path / "node"), "init", "--hotline-id", "la-strada-md", "--hub", "https://testserver"],
            http_client_factory=lambda _s: httpx.Client(transport=httpx.MockTransport(handle)),
            clock=hub.clock,
        )

    assert code != 0
    assert "small order" in err.getvalue()
    assert not (tmp_path / "node" / "config.toml").exists()
