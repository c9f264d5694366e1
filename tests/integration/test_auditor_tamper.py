# SPDX-License-Identifier: Apache-2.0
"""A hub that lies: every tampering must be caught by ``tipshare-audit verify``, named, and exit 1 (or be refused).

Each test edits the real hub's database (or its answers, as a hostile hub would) after the honest log of
:func:`tests.support.auditkit.populate` was written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select, update

from hub.db import write_session
from hub.models import LogCheckpoint, LogLeaf, RollupCell
from hub.services.log import TransparencyLog
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SUBMISSION_CONTEXT, SigningKey, payload_hash
from protocol.merkle import leaf_hash, root_hash
from protocol.messages import PROTOCOL_VERSION, KeyEventEntry, SubmissionEntry, b64encode, format_timestamp
from protocol.note import NoteSigner
from tests.support.auditkit import TABLES, Run, Wire, audit, cells, populate, utc
from tests.support.hubs import ORIGIN, HubUnderTest, start_hub

REGION_ONLY = "--region-only"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        populate(started)
        yield started


def _verified(hub: HubUnderTest, state: Path) -> Run:
    run = audit(hub, state, "--log-key", hub.log_key.vkey, REGION_ONLY)
    assert run.code == 0, run.out
    return run


def _failed(run: Run) -> dict[str, object]:
    assert run.code == 1, run.out + run.err
    document = run.document
    assert document["verdict"] == "FAILED"
    return document


def _append(hub: HubUnderTest, entry: SubmissionEntry | KeyEventEntry) -> int:
    """Append an entry to the hub's log directly, bypassing every ingest check (as a dishonest operator could)."""
    with write_session(hub.context.sessions) as session:
        appended = TransparencyLog(session, signer=hub.context.log_signer).append(
            entry.canonical_bytes(), kind=entry.kind, now=hub.clock()
        )
    return appended.index


def _submission_entry(
    hub: HubUnderTest, hotline_id: str, period: str, *, key: SigningKey, claimed: str
) -> SubmissionEntry:
    payload = hub.release(hotline_id, period, cells=cells(hub.context.taxonomy, 20), tables=TABLES)
    payload = payload.model_copy(update={"key_id": claimed})
    payload_bytes = payload.canonical_bytes()
    return SubmissionEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="submission",
        hotline_id=hotline_id,
        key_id=claimed,
        period=period,
        revision=payload.revision,
        payload_hash=payload_hash(payload_bytes),
        payload=b64encode(payload_bytes),
        signature=b64encode(key.sign_message(SUBMISSION_CONTEXT, payload_bytes)),
        received_at=format_timestamp(hub.clock()),
    )


# ---------------------------------------------------------------------------------------------- (1) statistics


def test_a_rollup_row_edited_in_the_database_is_named_by_table_and_keys(hub: HubUnderTest, tmp_path: Path) -> None:
    with write_session(hub.context.sessions) as session:
        session.execute(
            update(RollupCell)
            .where(
                RollupCell.table_name == "contacts",
                RollupCell.scope == "region",
                RollupCell.period == "2026-09",
                RollupCell.cell == 0,
            )
            .values(value=RollupCell.value + 5)
        )
    channel = hub.context.taxonomy.table("contacts").dimensions[0].code_names[0]

    document = _failed(audit(hub, tmp_path / "state", REGION_ONLY))

    failures = document["failures"]
    assert isinstance(failures, list)
    assert {f["check"] for f in failures} == {"statistics", "estimates"}  # the estimates sum the same rollups
    estimates = [f for f in failures if f["check"] == "estimates"]
    failures = [f for f in failures if f["check"] == "statistics"]
    assert {f["table"] for f in failures} == {"contacts"}
    total = next(f for f in estimates if f["message"].startswith("contact group_by=period 2026-09..2026-10 (region)"))
    assert total["keys"] == {"period": "2026-09"}
    published, recomputed = (float(x) for x in _numbers_after(total["message"], ("published", "recomputed")))
    assert published - recomputed == 5
    keys = [f["keys"] for f in failures]
    assert {"period": "2026-09"} in keys
    assert {"period": "2026-09", "channel": channel} in keys
    by_channel = next(f for f in failures if f["keys"] == {"period": "2026-09", "channel": channel})
    assert "group_by=period,channel (region): estimate published" in by_channel["message"]
    published, recomputed = (int(x) for x in _numbers_after(by_channel["message"], ("published", "recomputed")))
    assert published - recomputed == 5
    assert document["state_saved"] is True  # the log itself is sound: what was seen is kept


def _numbers_after(message: str, words: tuple[str, ...]) -> list[str]:
    tokens = message.replace(",", " ").replace(";", " ").split()
    return [tokens[tokens.index(word) + 1] for word in words]


# ---------------------------------------------------------------------------------------------- (2) leaves


def test_a_deleted_log_leaf_is_named_and_nothing_is_saved(hub: HubUnderTest, tmp_path: Path) -> None:
    with write_session(hub.context.sessions) as session:
        session.execute(delete(LogLeaf).where(LogLeaf.index == 7))
    state = tmp_path / "state"

    document = _failed(audit(hub, state, REGION_ONLY))

    entries = [f for f in document["failures"] if f["check"] == "entries"]  # type: ignore[union-attr]
    assert len(entries) == 1
    assert "did not serve 1 of the entries 0..12" in entries[0]["message"]
    assert entries[0]["message"].endswith(": 7; the tree cannot be rebuilt")
    assert document["state_saved"] is False
    assert document["statistics"]["skipped"]  # type: ignore[index]
    # Nothing was pinned or stored: the next run starts afresh, and fails the same way.
    assert _failed(audit(hub, state, REGION_ONLY))["entries"] == {"total": 12, "new": 12}


def test_leaf_data_edited_after_an_audit_breaks_the_rebuilt_root(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    hub.clock.now = utc(2026, 11, 22, 9)
    receipt = hub.submit_cells("ro-a", "2026-09", cells(hub.context.taxonomy, 8), tables=TABLES)
    with write_session(hub.context.sessions) as session:
        leaf = session.scalars(select(LogLeaf).where(LogLeaf.index == receipt.leaf_index)).one()
        entry = json.loads(leaf.data)
        entry["received_at"] = "2026-10-30T09:00:00Z"  # on time, says the edited log
        edited = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()
        session.execute(
            update(LogLeaf).where(LogLeaf.index == leaf.index).values(data=edited, leaf_hash=leaf_hash(edited))
        )

    document = _failed(audit(hub, state, REGION_ONLY))

    checks = {f["check"] for f in document["failures"]}  # type: ignore[union-attr]
    assert checks == {"root", "entry-time"}  # dated before the entries logged before it, too
    assert "the root rebuilt from all 14 entries is" in document["failures"][0]["message"]  # type: ignore[index]
    assert document["state_saved"] is False
    # The state still holds the 13 verified entries only.
    assert _failed(audit(hub, state, REGION_ONLY))["entries"] == {"total": 14, "new": 1}


# ---------------------------------------------------------------------------------------------- (3) checkpoints


def _forge_latest_checkpoint(hub: HubUnderTest, *, size: int) -> None:
    """Re-sign, with the hub's own log key, a checkpoint over a tree whose first entry was rewritten."""
    with write_session(hub.context.sessions) as session:
        leaves = session.scalars(select(LogLeaf).order_by(LogLeaf.index).limit(size)).all()
        hashes = [leaf_hash(b"a rewritten history"), *(leaf.leaf_hash for leaf in leaves[1:])]
        forged = root_hash(hashes)
        note = sign_checkpoint(Checkpoint(ORIGIN, size, forged), hub.context.log_signer)
        session.execute(update(LogCheckpoint).where(LogCheckpoint.size == size).values(root_hash=forged, note=note))


def test_a_checkpoint_re_signed_over_another_tree_is_inconsistent_with_the_one_seen(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    hub.clock.now = utc(2026, 11, 22, 9)
    hub.submit_cells("ro-a", "2026-09", cells(hub.context.taxonomy, 8), tables=TABLES)
    _forge_latest_checkpoint(hub, size=14)

    document = _failed(audit(hub, state, REGION_ONLY))

    failures = {f["check"]: f["message"] for f in document["failures"]}  # type: ignore[union-attr]
    assert set(failures) == {"consistency", "root"}
    assert failures["consistency"].startswith("checkpoint 14 is not consistent with checkpoint 13 seen before")
    assert document["state_saved"] is False


def test_a_checkpoint_of_a_seen_size_with_another_root_is_a_fork(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    _forge_latest_checkpoint(hub, size=13)

    document = _failed(audit(hub, state, REGION_ONLY))

    messages = [f["message"] for f in document["failures"] if f["check"] == "rollback"]  # type: ignore[union-attr]
    assert len(messages) == 1
    assert messages[0].endswith("the log forked")


def test_a_log_rolled_back_to_an_older_checkpoint_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    with write_session(hub.context.sessions) as session:
        session.execute(delete(LogCheckpoint).where(LogCheckpoint.size > 11))

    document = _failed(audit(hub, state, REGION_ONLY))

    assert [f["message"] for f in document["failures"] if f["check"] == "rollback"] == [  # type: ignore[union-attr]
        "the hub's checkpoint has size 11, smaller than checkpoint 13 seen before: the log was rolled back"
    ]


def test_a_checkpoint_not_signed_by_the_pinned_key_is_refused(hub: HubUnderTest, tmp_path: Path) -> None:
    impostor = NoteSigner(ORIGIN, SigningKey.generate())

    def resign(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path == "/v1/log/checkpoint":
            checkpoint = Checkpoint.parse_body(response.text.split("\n\n")[0] + "\n")
            return httpx.Response(200, text=sign_checkpoint(checkpoint, impostor))
        return response

    run = audit(hub, tmp_path / "state", "--log-key", hub.log_key.vkey, wire=Wire(hub, rewrite=resign))

    document = _failed(run)
    assert [f["check"] for f in document["failures"]] == ["checkpoint"]  # type: ignore[union-attr]
    assert "does not verify with the pinned log key" in document["failures"][0]["message"]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------- (4) keys


def test_a_submission_signed_with_a_revoked_key_is_named(hub: HubUnderTest, tmp_path: Path) -> None:
    md = hub.hotlines["md-a"]  # its key was revoked on 2026-11-10
    revoked = _append(hub, _submission_entry(hub, "md-a", "2026-10", key=md.key, claimed=md.key.verify_key.key_id))
    ua = hub.hotlines["ua-a"]
    forged = _append(
        hub, _submission_entry(hub, "ua-a", "2026-08", key=SigningKey.generate(), claimed=ua.key.verify_key.key_id)
    )

    document = _failed(audit(hub, tmp_path / "state", REGION_ONLY))

    failures = document["failures"]
    assert isinstance(failures, list)
    assert [(f["check"], f["index"], f["hotline_id"]) for f in failures] == [
        ("key", revoked, "md-a"),
        ("signature", forged, "ua-a"),
    ]
    assert failures[0]["message"] == (
        f"md-a 2026-10 revision 1: key {md.key.verify_key.key_id} of md-a was revoked at 2026-11-10T10:00:00Z "
        "(laptop stolen), not after the entry was received (2026-11-21T12:00:00Z)"
    )
    assert "does not verify with key" in failures[1]["message"]
    assert document["submissions"] == {"total": 9, "valid": 7, "current": 6}  # both left out of the statistics
    assert document["state_saved"] is True


# ---------------------------------------------------------------------------------------------- (5) key events


def test_forged_key_events_are_named(hub: HubUnderTest, tmp_path: Path) -> None:
    ua_b = hub.hotlines["ua-b"]
    second = SigningKey.generate().verify_key
    enrolment = KeyEventEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="key_enrolled",
        hotline_id="ua-b",
        key_id=second.key_id,
        public_key=second.to_text(),
        display_name="ua-b",
        country="UA",
        effective_at=format_timestamp(hub.clock()),
    )
    first = _append(hub, enrolment)
    mismatched = _append(
        hub,
        enrolment.model_copy(update={"key_id": ua_b.key.verify_key.key_id, "kind": "key_revoked", "reason": "forged"}),
    )

    document = _failed(audit(hub, tmp_path / "state", REGION_ONLY))

    failures = [(f["check"], f["index"], f["message"]) for f in document["failures"]]  # type: ignore[union-attr]
    assert failures == [
        (
            "key-history",
            first,
            f"enrols a second current key for ua-b while key {ua_b.key.verify_key.key_id} is valid "
            "(a new key for an enrolled hotline is a rotation naming the key it replaces)",
        ),
        ("key-history", mismatched, f"key_revoked event: key id {ua_b.key.verify_key.key_id} is not its key's id"),
    ]


def test_a_removed_enrolment_leaves_the_hotline_s_submissions_without_a_key(hub: HubUnderTest, tmp_path: Path) -> None:
    with write_session(hub.context.sessions) as session:  # ro-a's enrolment is entry 3
        assert json.loads(session.get(LogLeaf, 3).data)["hotline_id"] == "ro-a"  # type: ignore[union-attr]
        session.execute(delete(LogLeaf).where(LogLeaf.index == 3))

    document = _failed(audit(hub, tmp_path / "state", REGION_ONLY))

    failures = document["failures"]
    assert isinstance(failures, list)
    assert [f["check"] for f in failures] == ["entries", "key"]
    assert failures[0]["message"].endswith(": 3; the tree cannot be rebuilt")
    assert failures[1]["hotline_id"] == "ro-a"
    assert "hotline ro-a was never enrolled" in failures[1]["message"]


# ---------------------------------------------------------------------------------------------- (6) pinning


def test_another_log_key_for_a_pinned_hub_is_refused(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    for impostor in start_hub(tmp_path / "impostor"):  # same origin, new log key
        impostor.clock.now = hub.clock.now
        run = audit(impostor, state, REGION_ONLY)
        document = _failed(run)
        assert [f["check"] for f in document["failures"]] == ["identity"]  # type: ignore[union-attr]
        message = document["failures"][0]["message"]  # type: ignore[index]
        assert f"but this state DIR pinned {hub.log_key.vkey}" in message
        assert message.endswith("refusing another key")
        # Nothing else is even fetched but the handovers, which do not lead from the pinned key to the new one.
        assert document["requests"] == {"/v1/hub": 1, "/v1/hub/handovers": 1}


def test_a_log_key_argument_that_differs_from_the_pinned_one_is_a_usage_error(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    other = NoteSigner(ORIGIN, SigningKey.generate()).verifier.vkey

    run = audit(hub, state, "--log-key", other, as_json=False)

    assert run.code == 2
    assert "StateError: this state DIR pins the log key" in run.err
    assert "hint: A pinned key is never replaced" in run.err


def test_a_wrong_log_key_on_the_first_run_pins_nothing(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    other = NoteSigner(ORIGIN, SigningKey.generate()).verifier.vkey

    document = _failed(audit(hub, state, "--log-key", other))

    assert [f["check"] for f in document["failures"]] == ["identity"]  # type: ignore[union-attr]
    assert _verified(hub, state).document["log"]["pinned_now"] is True


def test_a_state_dir_of_another_hub_is_refused(hub: HubUnderTest, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _verified(hub, state)
    elsewhere = NoteSigner("other.example.org/log", SigningKey.generate()).verifier

    def other_identity(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path == "/v1/hub":
            identity = response.json() | {"log_origin": elsewhere.name, "log_vkey": elsewhere.vkey}
            return httpx.Response(200, json=identity)
        return response

    run = audit(hub, state, wire=Wire(hub, rewrite=other_identity), as_json=False)

    assert run.code == 2
    assert "this state DIR belongs to the log 'hub.test.tipshare/log'" in run.err
    assert run.out == ""
