# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub`` as the operator types it: ``main([...])`` on a hub in the test's temporary directory."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update

import hub.cli.server
from hub.app import create_app
from hub.cli import main
from hub.context import HubContext
from hub.db import read_session, write_session
from hub.errors import NotInitialised, Unauthorized
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE, load_keys
from hub.migrate import head_revision
from hub.models import LogCheckpoint, LogLeaf
from hub.services.log import TransparencyLog
from hub.services.tokens import Principal, TokenService
from hub.settings import Settings
from protocol.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from protocol.crypto import SigningKey, VerifyKey, fingerprint
from protocol.merkle import leaf_hash
from protocol.messages import KeyEventEntry, parse_log_entry
from protocol.note import NoteSigner, NoteVerifier
from protocol.taxonomy import builtin_taxonomy, latest_taxonomy
from tests.support.hubs import Clock

ORIGIN = "hub.example.org/tipshare"
ROOT = Path(__file__).resolve().parents[3]


class Operator:
    """Types ``tipshare-hub`` commands against one data directory and keeps what they print."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str], clock: Clock) -> None:
        self.data_dir = data_dir
        self.capsys = capsys
        self.clock = clock

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """Run a command with ``--data-dir`` appended, as an operator without the environment variable would."""
        return self.raw(*argv, "--data-dir", str(self.data_dir))

    def raw(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv), clock=self.clock)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self(*argv)
        assert code == 0, err
        return out

    def json(self, *argv: str) -> Any:
        return json.loads(self.ok(*argv, "--json"))

    @contextlib.contextmanager
    def context(self) -> Iterator[HubContext]:
        context = HubContext.open(Settings(data_dir=self.data_dir), clock=self.clock)
        try:
            yield context
        finally:
            context.engine.dispose()

    def log_size(self) -> int:
        with self.context() as context, read_session(context.sessions) as session:
            return TransparencyLog(session, signer=context.log_signer).size()


@pytest.fixture(autouse=True)
def _no_hub_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the options the tests type count: no TIPSHARE_HUB_* from the developer's shell, no real home."""
    for name in [n for n in os.environ if n.startswith("TIPSHARE_HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def operator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Operator:
    return Operator(tmp_path / "hub", capsys, Clock())


@pytest.fixture
def initialised(operator: Operator) -> Operator:
    operator.ok("init", "--origin", ORIGIN)
    return operator


def _key() -> str:
    return SigningKey.generate().verify_key.to_text()


def _entries_and_size(out: str) -> tuple[int, int]:
    found = re.search(r"logged as entry (\d+); the log now holds (\d+) entries", out)
    assert found is not None, out
    return int(found.group(1)), int(found.group(2))


# ---------------------------------------------------------------------------- init, identity


def test_init_prints_the_identity_and_creates_private_key_files(operator: Operator) -> None:
    out = operator.ok("init", "--origin", ORIGIN)

    keys_dir = operator.data_dir / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for name in (ENVELOPE_KEY_FILE, LOG_KEY_FILE):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
    keys = load_keys(keys_dir)
    log_key = keys.log.verify_key
    sealing_key = keys.envelope.public_key
    taxonomy = latest_taxonomy()  # a new hub publishes the newest taxonomy
    for expected in (
        f"Hub initialised in {operator.data_dir}",
        f"log origin:      {ORIGIN}",
        f"log vkey:        {NoteSigner(ORIGIN, keys.log).verifier.vkey}",
        f"encryption key:  {sealing_key.to_text()}",
        f"log key ({ORIGIN}):  {fingerprint(bytes(log_key))}",
        f"encryption key:  {fingerprint(bytes(sealing_key))}",
        f"{taxonomy.id} ({taxonomy.content_hash})",
        str(keys_dir),
        f"sqlite:///{operator.data_dir / 'hub.sqlite'}",
    ):
        assert expected in out
    assert keys.log.seed().hex() not in out


def test_init_where_nothing_can_be_written_says_so_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _out, err = Operator(blocker / "hub", capsys, Clock()).raw(
        "init", "--origin", ORIGIN, "--data-dir", str(blocker / "hub"), "--database-url", "sqlite://"
    )
    assert code == 1
    assert "Traceback" not in err
    assert f"Cannot write or read {blocker / 'hub'}" in err or f"Cannot write or read {blocker}" in err, err
    assert "may write its data directory" in err


def test_init_json_is_what_the_hub_publishes(operator: Operator) -> None:
    document = operator.json("init", "--origin", ORIGIN)

    with operator.context() as context, TestClient(create_app(context=context)) as client:
        published = client.get("/v1/hub").json()
    assert document["log_origin"] == published["log_origin"] == ORIGIN
    assert document["log_vkey"] == published["log_vkey"]
    assert document["encryption_key"] == published["encryption_key"]
    assert (document["taxonomy_id"], document["taxonomy_hash"]) == (
        published["taxonomy"]["id"],
        published["taxonomy"]["hash"],
    )
    verifier = NoteVerifier.from_vkey(document["log_vkey"])
    assert document["log_key_fingerprint"] == fingerprint(bytes(verifier.key))
    assert document["keys_dir"] == str(operator.data_dir / "keys")


def test_identity_shows_what_init_printed(initialised: Operator) -> None:
    first = initialised.json("identity")
    assert initialised.json("identity") == first
    assert "Hub initialised" not in initialised.ok("identity")


def test_init_twice_is_refused_and_changes_nothing(initialised: Operator) -> None:
    keys_dir = initialised.data_dir / "keys"
    before = {name: (keys_dir / name).read_bytes() for name in (ENVELOPE_KEY_FILE, LOG_KEY_FILE)}

    code, out, err = initialised("init", "--origin", "another.example.org/log")

    assert code == 1
    assert out == ""
    assert "AlreadyInitialised" in err
    assert "already holds a hub's keys" in err
    assert "nothing was changed" in err
    assert {name: (keys_dir / name).read_bytes() for name in before} == before
    assert initialised.json("identity")["log_origin"] == ORIGIN


def test_init_refuses_a_database_that_belongs_to_a_hub_whose_keys_are_elsewhere(initialised: Operator) -> None:
    (initialised.data_dir / "keys").rename(initialised.data_dir.parent / "keys-backup")

    code, _, err = initialised("init", "--origin", ORIGIN)

    assert code == 1
    assert f"already belongs to hub {ORIGIN}" in err
    assert "restore them from your backup" in err
    assert not (initialised.data_dir / "keys").exists()


def test_init_refuses_an_invalid_origin_and_creates_nothing(operator: Operator) -> None:
    code, _, err = operator("init", "--origin", "not a log name")

    assert code == 1
    assert "BadRequest: log origin 'not a log name' is not a valid log name" in err
    assert not operator.data_dir.exists()


# ---------------------------------------------------------------------------- db


def test_db_current_shows_the_head_revision(initialised: Operator) -> None:
    with initialised.context() as context:
        head = head_revision(context.engine)

    out = initialised.ok("db", "current")
    assert f"current:   {head}" in out
    assert f"head:      {head}" in out
    assert "up to date" in out
    assert initialised.json("db", "current") == {
        "database_url": f"sqlite:///{initialised.data_dir / 'hub.sqlite'}",
        "current": head,
        "head": head,
        "up_to_date": True,
    }
    assert "already at the head revision" in initialised.ok("db", "upgrade")


def test_db_downgrade_asks_first_and_upgrade_restores_the_schema(
    initialised: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, err = initialised("db", "downgrade", "base")
    assert code == 1
    assert "drop tables" in err
    assert "Nothing was changed" in err
    assert initialised.json("db", "current")["up_to_date"] is True

    assert "to base (no schema)" in initialised.ok("db", "downgrade", "base", "--yes")
    assert initialised.json("db", "current")["current"] is None
    code, _, err = initialised("hotline", "list")
    assert code == 1
    assert "NotInitialised" in err

    assert "upgraded from an empty schema" in initialised.ok("db", "upgrade")
    assert initialised.json("db", "current")["up_to_date"] is True


def test_db_downgrade_to_an_unknown_revision_is_a_clear_error(initialised: Operator) -> None:
    code, _, err = initialised("db", "downgrade", "nosuchrevision", "--yes")
    assert code == 1
    assert "cannot downgrade to 'nosuchrevision'" in err


def test_commands_refuse_a_data_dir_without_a_hub_and_create_nothing(operator: Operator) -> None:
    for command in (["db", "current"], ["db", "upgrade"], ["hotline", "list"], ["token", "list"], ["log", "verify"]):
        code, out, err = operator(*command)
        assert (code, out) == (1, ""), command
        assert "NotInitialised: there is no hub database at" in err
        assert "tipshare-hub init" in err
    assert not operator.data_dir.exists()


def test_an_unusable_database_is_reported_as_such(operator: Operator) -> None:
    (operator.data_dir / "hub.sqlite").mkdir(parents=True)  # a directory where the SQLite file should be
    code, _, err = operator("db", "current")
    assert code == 1
    assert "DatabaseUnavailable: the database at sqlite:///" in err


def test_invalid_settings_from_the_environment_are_a_clear_error(
    initialised: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIPSHARE_HUB_PORT", "eighty")
    code, _, err = initialised("serve")
    assert code == 1
    assert "InvalidSettings" in err
    assert "TIPSHARE_HUB_PORT" in err


def test_very_verbose_raises_instead_of_printing(operator: Operator) -> None:
    with pytest.raises(NotInitialised, match="no hub database"):
        operator.raw("-vv", "hotline", "list", "--data-dir", str(operator.data_dir))


def test_version_still_prints_the_protocol(operator: Operator) -> None:
    code, out, _ = operator.raw("version")
    assert code == 0
    assert out.startswith("tipshare ")
    assert "(tipshare/1)" in out


# ---------------------------------------------------------------------------- hotlines and keys


def test_hotline_key_events_are_logged_and_listed(initialised: Operator) -> None:
    op = initialised
    md_key, ua_key, md_new_key = _key(), _key(), _key()

    # The enrollment line exactly as `tipshare-node init` prints it (indented).
    out = op.ok(
        "hotline", "add", "--line", f"  la-strada-md {md_key}", "--name", "La Strada Moldova", "--country", "md"
    )
    assert "Enrolled hotline la-strada-md (La Strada Moldova, MD)" in out
    assert _entries_and_size(out) == (0, 2)  # its key, then its policy (which says when it reports from)
    out = op.ok(
        "hotline", "add", "--id", "la-strada-ua", "--key", ua_key, "--name", "La Strada Ukraine", "--country", "UA"
    )
    assert _entries_and_size(out) == (2, 4)
    enrolled = op.json("hotline", "list")
    md_old_id = enrolled[0]["keys"][0]["key_id"]
    ua_id = enrolled[1]["keys"][0]["key_id"]

    out = op.ok("hotline", "rotate-key", "--id", "la-strada-md", "--key", md_new_key)
    assert f"It replaces key {md_old_id}" in out
    assert _entries_and_size(out) == (4, 5)
    code, out, err = op("hotline", "revoke-key", "--key-id", ua_id, "--reason", "laptop stolen")
    assert code == 0, err
    assert f"Revoked key {ua_id} of hotline la-strada-ua" in out
    assert _entries_and_size(out) == (5, 6)
    assert "la-strada-ua has no valid key now" in err

    assert op.log_size() == 6
    assert "is consistent: 6 entries" in op.ok("log", "verify")
    with op.context() as context, read_session(context.sessions) as session:
        leaves = TransparencyLog(session, signer=context.log_signer).entries(0, 6)
        kinds = [(entry.kind, entry.hotline_id) for entry in (parse_log_entry(leaf.data) for leaf in leaves)]
    assert kinds == [
        ("key_enrolled", "la-strada-md"),
        ("hotline_policy", "la-strada-md"),
        ("key_enrolled", "la-strada-ua"),
        ("hotline_policy", "la-strada-ua"),
        ("key_rotated", "la-strada-md"),
        ("key_revoked", "la-strada-ua"),
    ]

    hotlines = {h["id"]: h for h in op.json("hotline", "list")}
    md, ua = hotlines["la-strada-md"], hotlines["la-strada-ua"]
    assert (md["display_name"], md["country"]) == ("La Strada Moldova", "MD")
    assert [(k["status"], k["log_index"]) for k in md["keys"]] == [("rotated", 0), ("current", 4)]
    assert md["current_key_id"] == md["keys"][1]["key_id"]
    assert md["keys"][1]["public_key"] == md_new_key
    assert md["keys"][1]["fingerprint"] == fingerprint(bytes(VerifyKey.from_text(md_new_key)))
    assert ua["current_key_id"] is None
    assert (ua["keys"][0]["status"], ua["keys"][0]["revoke_reason"]) == ("revoked", "laptop stolen")

    table = op.ok("hotline", "list")
    for expected in ("la-strada-md", "La Strada Moldova", md["current_key_id"], md["keys"][1]["fingerprint"]):
        assert expected in table
    assert "none: cannot submit" in table
    assert "Key history" in table
    assert "laptop" in table  # the reason column wraps at 120 columns


def test_a_revoked_hotline_gets_a_new_key_with_rotate_key(initialised: Operator) -> None:
    key = _key()
    initialised.ok("hotline", "add", "--id", "la-strada-md", "--key", key, "--name", "LS", "--country", "MD")
    key_id = initialised.json("hotline", "list")[0]["current_key_id"]
    initialised.ok("hotline", "revoke-key", "--key-id", key_id, "--reason", "compromised")

    event = initialised.json("hotline", "rotate-key", "--id", "la-strada-md", "--key", _key())

    assert event["previous_key_id"] is None
    assert (event["log_index"], event["tree_size"]) == (3, 4)  # after its key, its policy and the revocation
    assert initialised.json("hotline", "list")[0]["current_key_id"] == event["key_id"]


@pytest.mark.parametrize(
    "bad_key",
    [
        "ed25519:abc",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8",
        "x25519:" + "A" * 43 + "=",
        "ed25519:" + "A" * 200,
    ],
)
def test_a_bad_key_is_a_clear_error_and_nothing_is_stored(initialised: Operator, bad_key: str) -> None:
    code, out, err = initialised(
        "hotline", "add", "--id", "la-strada-md", "--key", bad_key, "--name", "La Strada", "--country", "MD"
    )

    assert (code, out) == (1, "")
    assert "not a hotline public key" in err
    assert "ed25519:<base64>" in err
    assert "Traceback" not in err
    assert initialised.json("hotline", "list") == []
    assert initialised.log_size() == 0


def test_bad_hotline_fields_name_the_option_to_fix(initialised: Operator) -> None:
    code, _, err = initialised(
        "hotline", "add", "--id", "LaStrada_MD", "--key", _key(), "--name", "x", "--country", "Moldova"
    )
    assert code == 1
    assert "--id: a hotline id is 3 to 64 lowercase letters" in err
    assert "--country: a country is an ISO 3166-1 alpha-2 code" in err
    assert initialised.json("hotline", "list") == []


def test_line_and_id_are_alternatives(initialised: Operator) -> None:
    code, _, err = initialised(
        "hotline", "add", "--line", f"la-strada-md {_key()}", "--id", "x", "--name", "n", "--country", "MD"
    )
    assert code == 2
    assert "--line" in err
    code, _, err = initialised("hotline", "add", "--name", "n", "--country", "MD")
    assert code == 2
    code, _, err = initialised("hotline", "add", "--line", "la-strada-md", "--name", "n", "--country", "MD")
    assert code == 2
    assert "enrollment line" in err


def test_conflicts_and_unknown_keys_are_refused(initialised: Operator) -> None:
    key = _key()
    initialised.ok("hotline", "add", "--id", "la-strada-md", "--key", key, "--name", "LS", "--country", "MD")

    code, _, err = initialised(
        "hotline", "add", "--id", "la-strada-md", "--key", _key(), "--name", "LS", "--country", "MD"
    )
    assert code == 1
    assert "already enrolled; use rotate-key" in err
    code, _, err = initialised(
        "hotline", "add", "--id", "other-hotline", "--key", key, "--name", "O", "--country", "UA"
    )
    assert code == 1
    assert "every hotline key must be new" in err
    code, _, err = initialised("hotline", "rotate-key", "--id", "nobody-here", "--key", _key())
    assert code == 1
    assert "NotFound: hotline nobody-here is not enrolled" in err
    code, _, err = initialised("hotline", "revoke-key", "--key-id", "0" * 32, "--reason", "lost")
    assert code == 1
    assert "no enrolled key has id" in err
    code, _, err = initialised("hotline", "revoke-key", "--key-id", "0" * 32, "--reason", "  ")
    assert code == 1
    assert "--reason" in err
    assert initialised.log_size() == 2  # la-strada-md's key and policy


# ---------------------------------------------------------------------------- tokens


def _authenticate(op: Operator, token: str) -> Principal:
    with op.context() as context, read_session(context.sessions) as session:
        return TokenService(session).authenticate(token, now=op.clock())


def test_token_create_prints_the_token_once_and_it_authenticates(initialised: Operator) -> None:
    code, out, err = initialised(
        "token", "create", "--role", "coordinator", "--label", "IOM Chisinau", "--countries", "md, ua"
    )

    assert code == 0, err
    token = re.search(r"^\s+(tsh_\S+)$", out, flags=re.MULTILINE)
    assert token is not None, out
    assert "shown only this once and cannot be shown again" in err
    principal = _authenticate(initialised, token.group(1))
    assert (principal.role, principal.label, principal.countries) == (
        "coordinator",
        "IOM Chisinau",
        frozenset({"MD", "UA"}),
    )

    listed = initialised.ok("token", "list")
    assert "IOM Chisinau" in listed
    assert "active" in listed
    assert token.group(1) not in listed
    assert token.group(1) not in json.dumps(initialised.json("token", "list"))


def test_token_revoke_makes_it_fail(initialised: Operator) -> None:
    created = initialised.json("token", "create", "--role", "auditor", "--label", "Donor audit")
    assert _authenticate(initialised, created["token"]).role == "auditor"

    assert f"Token {created['id']} (auditor, Donor audit) revoked." in initialised.ok(
        "token", "revoke", str(created["id"])
    )

    with pytest.raises(Unauthorized):
        _authenticate(initialised, created["token"])
    assert initialised.json("token", "list")[0]["status"] == "revoked"
    assert "was already revoked" in initialised.ok("token", "revoke", str(created["id"]))
    code, _, err = initialised("token", "revoke", "999")
    assert code == 1
    assert "no token has id 999" in err


def test_token_expiry(initialised: Operator) -> None:
    created = initialised.json("token", "create", "--role", "admin", "--label", "ops", "--expires-in-days", "30")
    assert created["expires_at"] is not None

    initialised.clock.advance(days=31)

    with pytest.raises(Unauthorized):
        _authenticate(initialised, created["token"])
    assert initialised.json("token", "list")[0]["status"] == "expired"


def test_token_options_are_checked(initialised: Operator) -> None:
    code, _, err = initialised("token", "create", "--role", "auditor", "--label", "x", "--countries", "MD")
    assert code == 2
    assert "only coordinator tokens" in err
    code, _, _ = initialised("token", "create", "--role", "superuser", "--label", "x")
    assert code == 2
    code, _, err = initialised("token", "create", "--role", "coordinator", "--label", "x", "--countries", "Moldova")
    assert code == 1
    assert "ISO 3166-1 alpha-2" in err
    assert initialised.json("token", "list") == []


# ---------------------------------------------------------------------------- log


def _enroll_three(op: Operator) -> None:
    for n, country in enumerate(("MD", "UA", "RO")):
        op.ok("hotline", "add", "--id", f"hotline-{n}", "--key", _key(), "--name", f"Hotline {n}", "--country", country)


def test_log_checkpoint_prints_the_signed_note(initialised: Operator) -> None:
    code, _, err = initialised("log", "checkpoint")
    assert code == 1
    assert "the log is empty" in err

    _enroll_three(initialised)
    note = initialised.ok("log", "checkpoint")

    verifier = NoteVerifier.from_vkey(initialised.json("identity")["log_vkey"])
    checkpoint = open_checkpoint(note, verifier, origin=ORIGIN)
    assert checkpoint.size == 6  # each hotline's key and policy
    document = initialised.json("log", "checkpoint")
    assert (document["size"], document["note"]) == (6, note)


def test_log_verify_passes_on_an_intact_log(initialised: Operator) -> None:
    assert "0 entries" in initialised.ok("log", "verify")
    _enroll_three(initialised)
    result = initialised.json("log", "verify")
    assert (result["ok"], result["size"], result["checkpoints_checked"], result["problems"]) == (True, 6, 6, [])


def _forged_entry(data: bytes) -> bytes:
    entry = parse_log_entry(data)
    assert isinstance(entry, KeyEventEntry)
    return entry.model_copy(update={"display_name": "Someone else"}).canonical_bytes()


def _tamper(op: Operator, how: str) -> None:
    with op.context() as context, write_session(context.sessions) as session:
        if how == "leaf data":
            session.execute(update(LogLeaf).where(LogLeaf.index == 1).values(data=b'{"kind":"key_enrolled"}'))
        elif how == "leaf data and hash":
            forged = _forged_entry(session.get_one(LogLeaf, 2).data)  # hotline-1's key_enrolled
            session.execute(update(LogLeaf).where(LogLeaf.index == 2).values(data=forged, leaf_hash=leaf_hash(forged)))
        elif how == "last leaf deleted":
            session.execute(delete(LogLeaf).where(LogLeaf.index == 5))
        elif how == "checkpoint signed by another key":
            row = session.get_one(LogCheckpoint, 3)
            other = NoteSigner(ORIGIN, SigningKey.generate())
            note = sign_checkpoint(Checkpoint(ORIGIN, 3, row.root_hash), other)
            session.execute(update(LogCheckpoint).where(LogCheckpoint.size == 3).values(note=note))
        else:  # pragma: no cover
            raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "found"),
    [
        ("leaf data", "entry 1: its data does not hash to its stored leaf hash"),
        ("leaf data and hash", "checkpoint 3: it signs a root other than the root of the first 3 stored entries"),
        ("last leaf deleted", "the checkpoint of size 6 covers entries the database does not hold"),
        ("checkpoint signed by another key", "checkpoint 3: its signature does not verify with this hub's log key"),
    ],
)
def test_log_verify_detects_tampering(initialised: Operator, how: str, found: str) -> None:
    _enroll_three(initialised)
    _tamper(initialised, how)

    code, out, err = initialised("log", "verify")

    assert (code, out) == (1, "")
    assert "LogIntegrityError" in err
    assert "FAILED its self-check" in err
    assert found in err
    code, out, _ = initialised("log", "verify", "--json")
    assert code == 1
    assert json.loads(out)["ok"] is False


# ---------------------------------------------------------------------------- serve


def _no_server(settings: Settings, **kwargs: object) -> None:  # pragma: no cover - must not be reached
    raise AssertionError("uvicorn was started")


def test_serve_refuses_an_uninitialised_data_dir_before_starting_uvicorn(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.cli.server, "run", _no_server)
    code, out, err = operator("serve")
    assert (code, out) == (1, "")
    assert "NotInitialised" in err
    assert "tipshare-hub init" in err

    (operator.data_dir / "keys").mkdir(parents=True)  # a directory without keys, database or identity
    code, _, err = operator("serve")
    assert code == 1
    assert "NotInitialised" in err


def test_serve_refuses_a_schema_this_build_does_not_expect(
    initialised: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.cli.server, "run", _no_server)
    with initialised.context() as context, context.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))

    code, _, err = initialised("serve")

    assert code == 1
    assert "SchemaOutOfDate: the database is at schema revision 0000" in err
    assert "tipshare-hub db upgrade" in err


def test_serve_hands_the_options_to_uvicorn(initialised: Operator, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Settings] = []
    monkeypatch.setattr(hub.cli.server, "run", lambda settings, **kwargs: started.append(settings))

    code, out, err = initialised("serve", "--host", "0.0.0.0", "--port", "9999", "--workers", "3")  # noqa: S104

    assert code == 0, err
    assert f"Serving hub {ORIGIN} on http://0.0.0.0:9999 (3 workers)" in out
    assert "plain HTTP" in err
    (settings,) = started
    assert (settings.host, settings.port, settings.workers, settings.data_dir) == (
        "0.0.0.0",  # noqa: S104
        9999,
        3,
        initialised.data_dir,
    )
    code, _, _ = initialised("serve", "--port", "70000")
    assert code == 2


def test_workers_build_the_app_from_the_environment(initialised: Operator, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=initialised.data_dir)
    for name, value in hub.cli.server.worker_environment(settings).items():
        monkeypatch.setenv(name, value)

    app = hub.cli.server.app_from_environment()

    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/v1/hub").json()["log_origin"] == ORIGIN
    app.state.hub.engine.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_a_real_server(initialised: Operator, workers: int, tmp_path: Path) -> None:
    port = _free_port()
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", str(initialised.data_dir)]
    command += ["--port", str(port), "--workers", str(workers)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)  # noqa: S603 - our own CLI
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None, stderr.read_text()
        assert response.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/v1/hub", timeout=5).json()["log_origin"] == ORIGIN
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            server.kill()
            server.wait(timeout=5)
    assert f"on http://127.0.0.1:{port} ({workers} worker" in stdout.read_text()
    assert "GET /healthz" in stderr.read_text()


def test_rollups_check_and_rebuild(initialised: Operator) -> None:
    """The statistics tables are checked against the log, and rebuilt from it after tampering."""
    from hub.db import write_session
    from hub.models import RollupCell
    from hub.services.ingest import IngestService
    from protocol.crypto import SigningKey, seal_envelope
    from tests.support.releases import make_release

    key = SigningKey.generate()
    initialised.ok(
        "hotline", "add", "--id", "la-strada-md", "--key", key.verify_key.to_text(), "--name", "LS", "--country", "MD"
    )
    with initialised.context() as context:
        payload = make_release(  # version 1 allows a release of one small table
            builtin_taxonomy(1), key, hotline_id="la-strada-md", period="2026-10", tables=["contacts"], cells={}
        )
        envelope = seal_envelope(payload, signing_key=key, hub_key=context.keys.envelope.public_key)
        IngestService(context).submit(envelope.canonical_bytes())  # the server's own sequence
    assert "match a rebuild" in initialised.ok("rollups", "check")

    with initialised.context() as context, write_session(context.sessions) as session:
        row = session.scalars(select(RollupCell).where(RollupCell.scope == "region")).first()
        assert row is not None
        row.value += 5
    code, _out, err = initialised("rollups", "check")
    assert code == 1
    assert "differ from a rebuild" in err

    assert "Rollups rebuilt from 3 log entries" in initialised.ok("rollups", "rebuild", "--yes")  # key, policy, release
    assert initialised.json("rollups", "check") == {"ok": True, "problems": []}
