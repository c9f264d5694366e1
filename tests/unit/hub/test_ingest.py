# SPDX-License-Identifier: Apache-2.0
"""``POST /v1/submissions`` on a real hub (SQLite file, real envelopes made with ``protocol``).

Accepted submissions get a receipt that verifies offline; resubmissions are idempotent; corrections supersede in
statistics while every revision stays in the log. Every rejection is a problem detail naming what failed, and
leaves every table of the database exactly as it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.services.rebuild import check_rollups
from protocol.crypto import SUBMISSION_CONTEXT, EncryptionKey, SigningKey, seal_envelope
from protocol.errors import InvalidCheckpoint, InvalidProof, MalformedMessage
from protocol.messages import Receipt, SubmissionPayload, b64decode, parse_log_entry
from protocol.note import NoteVerifier
from protocol.receipt import verify_receipt
from tests.support.hubkit import assert_problem, dump_database, edited_payload_bytes, forge_envelope
from tests.support.hubs import EnrolledHotline, HubUnderTest

PERIOD = "2026-10"
TABLES = ("contacts", "persons_recruitment")
HOTLINE = "la-strada-ua"


def _cells(hub: HubUnderTest, seed: int) -> dict[str, list[int]]:
    taxonomy = hub.context.taxonomy
    return {t: [(i * 5 + seed * 11) % 17 - 4 for i in range(taxonomy.table(t).cell_count)] for t in TABLES}


def _release(hub: HubUnderTest, seed: int = 1, **kwargs: Any) -> SubmissionPayload:
    options: dict[str, Any] = {"tables": TABLES, "cells": _cells(hub, seed), **kwargs}
    return hub.release(HOTLINE, options.pop("period", PERIOD), **options)


def _stats(hub: HubUnderTest, table: str) -> dict[str, Any]:
    response = hub.client.get(
        f"/v1/stats/{table}",
        params={"group_by": "period", "period_from": PERIOD, "period_to": PERIOD},
        headers=hub.auth("coordinator"),
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    return row  # type: ignore[no-any-return]


def _log(hub: HubUnderTest) -> list[bytes]:
    response = hub.client.get("/v1/log/entries", headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    return [b64decode(entry["data"]) for entry in response.json()["entries"]]


@pytest.fixture
def hotline(hub: HubUnderTest) -> EnrolledHotline:
    return hub.enroll(HOTLINE, "UA")


# ----------------------------------------------------------------------------------------------- accepted


def test_accepted_submission_gets_a_receipt_that_verifies_offline(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    payload = _release(hub)
    response = hub.post_envelope(hub.envelope_bytes(payload))

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    receipt = Receipt.from_canonical(response.content)  # the receipt is sent as its canonical bytes
    assert response.headers["location"] == f"/v1/submissions/{receipt.submission_id}"
    # Offline, with the protocol library and the published verifier key only.
    log_key = NoteVerifier.from_vkey(hub.client.get("/v1/hub").json()["log_vkey"])
    checked = verify_receipt(receipt, log_key=log_key, payload_bytes=payload.canonical_bytes())
    assert (checked.leaf_index, checked.checkpoint.size) == (1, 2)  # after the enrolment entry
    assert checked.entry.kind == "submission"
    assert checked.entry.hotline_id == HOTLINE
    # ... and it binds exactly this payload under exactly this key.
    with pytest.raises(MalformedMessage):
        verify_receipt(receipt, log_key=log_key, payload_bytes=_release(hub, seed=2).canonical_bytes())
    with pytest.raises(InvalidCheckpoint):
        verify_receipt(receipt, log_key=NoteVerifier(log_key.name, SigningKey.generate().verify_key))
    forged = receipt.model_copy(update={"leaf_index": 0})
    with pytest.raises(InvalidProof):
        verify_receipt(forged, log_key=log_key)
    # The statistics read it back.
    row = _stats(hub, "contacts")
    assert row["estimate"] == sum(_cells(hub, 1)["contacts"])
    assert row["hotlines_reporting"] == 1


def test_a_release_declaring_record_month_is_shown_as_such(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    """The weaker unit (rows counted as persons, anonymous contacts) is accepted, kept, and named in answers."""
    receipt = hub.submit(_release(hub, unit="record-month"))
    hub.submit(_release(hub, seed=2, period="2026-09"))  # person-month: not named
    stored = hub.client.get(f"/v1/submissions/{receipt.submission_id}", headers=hub.auth("auditor")).json()
    assert stored["privacy_unit"] == "record-month"
    note = (
        f"releases of {HOTLINE} (2026-10) declare the unit of privacy record-month: their noise protects each record "
        "of the hotline's export in a month, not each person (the hotline could not link a person's records), so a "
        "person with several records is less protected there; the estimates are computed alike"
    )
    params = {"group_by": "period", "period_from": "2026-09", "period_to": PERIOD}
    stats = hub.client.get("/v1/stats/contacts", params=params, headers=hub.auth("coordinator")).json()
    assert note in stats["notes"]
    estimates = hub.client.get("/v1/estimates/contact", params=params, headers=hub.auth("coordinator")).json()
    assert note in estimates["notes"]
    earlier = {**params, "period_to": "2026-09"}
    stats = hub.client.get("/v1/stats/contacts", params=earlier, headers=hub.auth("coordinator")).json()
    assert not any("record-month" in n for n in stats["notes"])


def test_same_bytes_twice_return_the_same_receipt(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    body = hub.envelope_bytes(_release(hub))
    first = hub.post_envelope(body)
    assert first.status_code == 201, first.text
    hub.submit(_release(hub, seed=3, period="2026-09"))  # the log grows in between
    before = dump_database(hub.context.engine)

    again = hub.post_envelope(body)

    assert again.status_code == 200, again.text
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert dump_database(hub.context.engine) == before


def test_same_payload_in_a_new_envelope_is_the_same_submission(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    payload = _release(hub)
    first = hub.post_envelope(hub.envelope_bytes(payload))
    resealed = hub.envelope_bytes(payload)  # a fresh sealed box: other bytes, same signed payload
    assert resealed != hub.envelope_bytes(payload)
    before = dump_database(hub.context.engine)

    again = hub.post_envelope(resealed)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content
    assert dump_database(hub.context.engine) == before


def test_higher_revision_supersedes_in_statistics_and_both_stay_in_the_log(
    hub: HubUnderTest, hotline: EnrolledHotline
) -> None:
    first = hub.submit(_release(hub, seed=1))
    second = hub.submit(_release(hub, seed=2, revision=2))

    for table in TABLES:
        row = _stats(hub, table)
        assert row["estimate"] == sum(_cells(hub, 2)[table])
        assert row["hotlines_reporting"] == 1
    entries = [parse_log_entry(data) for data in _log(hub)]
    assert [(e.kind, getattr(e, "revision", None)) for e in entries] == [
        ("key_enrolled", None),
        ("submission", 1),
        ("submission", 2),
    ]
    stored = {
        receipt.submission_id: hub.client.get(f"/v1/submissions/{receipt.submission_id}", headers=hub.auth("auditor"))
        for receipt in (first, second)
    }
    assert {k: (r.json()["revision"], r.json()["is_current"]) for k, r in stored.items()} == {
        first.submission_id: (1, False),
        second.submission_id: (2, True),
    }
    with hub.context.sessions() as session:
        assert check_rollups(session, hub.context.taxonomies) == []


def test_a_correction_is_the_next_revision(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    """Revision numbers do not skip (a stolen key cannot jump to revision 999): the next one is the highest + 1."""
    hub.submit(_release(hub, seed=1))
    before = dump_database(hub.context.engine)

    response = hub.post_envelope(hub.envelope_bytes(_release(hub, seed=4, revision=5)))

    assert_problem(response, 422, "implausible_release", "next revision of 2026-10 is 2")
    assert response.json()["rule"] == "revision"
    assert (response.json()["limit"], response.json()["value"]) == ("2", "5")
    assert dump_database(hub.context.engine) == before
    hub.submit(_release(hub, seed=4, revision=2))
    assert _stats(hub, "contacts")["estimate"] == sum(_cells(hub, 4)["contacts"])


def test_an_older_revision_after_a_newer_one_is_refused(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    hub.submit(_release(hub, seed=3, revision=1))
    hub.submit(_release(hub, seed=1, revision=2))
    before = dump_database(hub.context.engine)

    response = hub.post_envelope(hub.envelope_bytes(_release(hub, seed=2, revision=1)))

    assert_problem(response, 409, "revision_conflict", "revision 1", "already accepted")
    assert dump_database(hub.context.engine) == before
    assert _stats(hub, "contacts")["estimate"] == sum(_cells(hub, 1)["contacts"])


def test_a_month_is_accepted_once_it_is_over(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    """The clock says 2026-11-21: November is still running, so its release is refused (a node prepares a month only
    once it has ended, with all its cases in); from 1 December on it is accepted."""
    body = hub.envelope_bytes(_release(hub, period="2026-11"))
    assert_problem(hub.post_envelope(body), 400, "period_out_of_range", "2026-11 has not ended")
    hub.clock.now = datetime(2026, 12, 1, tzinfo=UTC)
    response = hub.post_envelope(body)
    assert response.status_code == 201, response.text


# ----------------------------------------------------------------------------------------------- rejected


@dataclass(frozen=True)
class Rejection:
    """One way to get a submission refused: ``make`` builds the request (after any setup it needs)."""

    make: Callable[[HubUnderTest], tuple[bytes, dict[str, str]]]
    status: int
    code: str
    mentions: tuple[str, ...] = ()


JSON = {"Content-Type": "application/json"}


def _envelope(hub: HubUnderTest, payload: SubmissionPayload) -> tuple[bytes, dict[str, str]]:
    return hub.envelope_bytes(payload), JSON


def _edited(edit: Callable[[dict[str, Any]], None]) -> Callable[[HubUnderTest], tuple[bytes, dict[str, str]]]:
    """A validly signed and sealed payload whose JSON was edited before signing."""

    def make(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
        key = hub.hotlines[HOTLINE].key
        body = forge_envelope(
            edited_payload_bytes(_release(hub), edit),
            hotline_id=HOTLINE,
            key=key,
            hub_key=hub.context.keys.envelope.public_key,
        )
        return body, JSON

    return make


def _unknown_hotline(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    stranger = SigningKey.generate()
    payload = hub.release(HOTLINE, PERIOD, tables=TABLES).model_copy(
        update={"hotline_id": "no-such-hotline", "key_id": stranger.verify_key.key_id}
    )
    return hub.envelope_bytes(payload, key=stranger), JSON


def _unknown_key(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    stranger = SigningKey.generate()
    payload = _release(hub).model_copy(update={"key_id": stranger.verify_key.key_id})
    return hub.envelope_bytes(payload, key=stranger), JSON


def _another_hotlines_key(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    other = hub.enroll("la-strada-md", "MD")
    payload = _release(hub).model_copy(update={"key_id": other.key.verify_key.key_id})
    return hub.envelope_bytes(payload, key=other.key), JSON


def _revoked_key(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    key_id = hub.hotlines[HOTLINE].key.verify_key.key_id
    response = hub.client.post(
        f"/v1/admin/keys/{key_id}/revoke", json={"reason": "laptop stolen"}, headers=hub.auth("admin")
    )
    assert response.status_code == 200, response.text
    return _envelope(hub, _release(hub))


def _bad_header_signature(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    key = hub.hotlines[HOTLINE].key
    payload_bytes = _release(hub).canonical_bytes()
    body = forge_envelope(
        payload_bytes,
        hotline_id=HOTLINE,
        key=key,
        hub_key=hub.context.keys.envelope.public_key,
        header_key=SigningKey.generate(),
    )
    return body, JSON


def _bad_payload_signature(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    key = hub.hotlines[HOTLINE].key
    payload_bytes = _release(hub).canonical_bytes()
    other_payload = _release(hub, seed=2).canonical_bytes()
    body = forge_envelope(
        payload_bytes,
        hotline_id=HOTLINE,
        key=key,
        hub_key=hub.context.keys.envelope.public_key,
        payload_signature=key.sign_message(SUBMISSION_CONTEXT, other_payload),  # the right key, another payload
    )
    return body, JSON


def _tampered_box(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    body = hub.envelope_bytes(_release(hub))
    at = body.index(b'"sealed":"') + 40
    return body[:at] + (b"B" if body[at : at + 1] == b"A" else b"A") + body[at + 1 :], JSON


def _sealed_to_another_hub(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    key = hub.hotlines[HOTLINE].key
    body = forge_envelope(
        _release(hub).canonical_bytes(), hotline_id=HOTLINE, key=key, hub_key=EncryptionKey.generate().public_key
    )
    return body, JSON


def _garbage_box(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    key = hub.hotlines[HOTLINE].key
    body = forge_envelope(
        b"",
        hotline_id=HOTLINE,
        key=key,
        hub_key=hub.context.keys.envelope.public_key,
        sealed=secrets.token_bytes(200),
    )
    return body, JSON


def _payload_names_another_hotline(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    key = hub.hotlines[HOTLINE].key
    payload_bytes = _release(hub).model_copy(update={"hotline_id": "another-hotline"}).canonical_bytes()
    body = forge_envelope(payload_bytes, hotline_id=HOTLINE, key=key, hub_key=hub.context.keys.envelope.public_key)
    return body, JSON


def _conflicting_duplicate(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    hub.submit(_release(hub, seed=1))
    return _envelope(hub, _release(hub, seed=2))  # same (hotline, period, revision), other cells


def _oversize(hub: HubUnderTest) -> tuple[bytes, dict[str, str]]:
    return b"{" + b" " * hub.context.settings.max_body_bytes + b"}", JSON


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return edit


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        del document[name]

    return edit


def _rename_table(document: dict[str, Any]) -> None:
    document["tables"][0]["name"] = "victims_by_name"
    document["privacy"]["tables"][0]["table"] = "victims_by_name"


def _short_vector(document: dict[str, Any]) -> None:
    document["tables"][0]["cells"] = document["tables"][0]["cells"][:-1]


def _out_of_range(document: dict[str, Any]) -> None:
    document["tables"][0]["cells"][3] = 10_000_001


REJECTIONS: dict[str, Rejection] = {
    "unknown hotline": Rejection(_unknown_hotline, 403, "unknown_hotline", ("no-such-hotline", "not enrolled")),
    "unknown key": Rejection(_unknown_key, 403, "unknown_key", ("not enrolled for hotline la-strada-ua",)),
    "key of another hotline": Rejection(_another_hotlines_key, 403, "unknown_key", ("not enrolled for hotline",)),
    "revoked key": Rejection(_revoked_key, 403, "key_not_valid", ("was revoked",)),
    "bad envelope signature": Rejection(_bad_header_signature, 403, "invalid_signature"),
    "bad payload signature": Rejection(_bad_payload_signature, 403, "invalid_signature"),
    "tampered sealed box": Rejection(_tampered_box, 403, "invalid_signature"),
    "sealed to another hub": Rejection(_sealed_to_another_hub, 400, "decryption_failed"),
    "garbage sealed box": Rejection(_garbage_box, 400, "decryption_failed"),
    "envelope not JSON": Rejection(lambda hub: (b"hello hub", JSON), 400, "malformed_message", ("JSON",)),
    "envelope not canonical": Rejection(
        lambda hub: (hub.envelope_bytes(_release(hub)).replace(b'","', b'", "', 1), JSON),
        400,
        "malformed_message",
        ("canonical",),
    ),
    "envelope of another protocol version": Rejection(
        lambda hub: (hub.envelope_bytes(_release(hub)).replace(b'"tipshare/1"', b'"tipshare/2"'), JSON),
        400,
        "unsupported_version",
        ("tipshare/2",),
    ),
    "payload with an extra field": Rejection(
        _edited(_set("case_notes", "Olena, 23, Kharkiv")), 400, "malformed_message", ("case_notes", "Extra inputs")
    ),
    "payload missing a field": Rejection(
        _edited(_drop("nonce")), 400, "malformed_message", ("nonce", "Field required")
    ),
    "payload of the wrong type": Rejection(_edited(_set("revision", "2")), 400, "malformed_message", ("revision",)),
    "payload naming another hotline": Rejection(
        _payload_names_another_hotline, 400, "malformed_message", ("another hotline or key",)
    ),
    "unknown taxonomy": Rejection(
        _edited(_set("taxonomy.id", "tipshare-taxonomy/99")), 422, "taxonomy_violation", ("tipshare-taxonomy/99",)
    ),
    "taxonomy of another content": Rejection(
        _edited(_set("taxonomy.hash", "sha256:" + "0" * 64)), 422, "taxonomy_violation", ("sha256:" + "0" * 64,)
    ),
    "unknown table": Rejection(_edited(_rename_table), 422, "taxonomy_violation", ("victims_by_name",)),
    "cell vector of the wrong length": Rejection(
        _edited(_short_vector), 422, "taxonomy_violation", ("contacts has 71 cells", "declares 72")
    ),
    "count out of range": Rejection(
        _edited(_out_of_range), 400, "malformed_message", ("tables.0.cells.3", "less than or equal to 10000000")
    ),
    "understated privacy spend": Rejection(
        _edited(_set("privacy.tables.0.spent", "0.0001")), 400, "malformed_message", ("table contacts", "spends")
    ),
    "period in the future": Rejection(
        lambda hub: _envelope(hub, _release(hub, period="2026-12")), 400, "malformed_message", ("2026-12", "not begun")
    ),
    "period before the earliest": Rejection(
        lambda hub: _envelope(hub, _release(hub, period="1999-12")), 400, "period_out_of_range", ("1999-12", "2000-01")
    ),
    "same revision with other bytes": Rejection(
        _conflicting_duplicate, 409, "revision_conflict", ("revision 1 of 2026-10", "already accepted")
    ),
    "oversize body": Rejection(_oversize, 413, "payload_too_large", ("at most 4194304",)),
    "wrong content type": Rejection(
        lambda hub: (hub.envelope_bytes(_release(hub)), {"Content-Type": "text/plain"}),
        415,
        "unsupported_media_type",
        ("application/json",),
    ),
    "no content type": Rejection(
        lambda hub: (hub.envelope_bytes(_release(hub)), {}), 415, "unsupported_media_type", ("application/json",)
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS.values()), ids=list(REJECTIONS))
def test_rejection_is_a_problem_detail_and_stores_nothing(
    hub: HubUnderTest, hotline: EnrolledHotline, case: Rejection
) -> None:
    body, headers = case.make(hub)
    before = dump_database(hub.context.engine)

    response = hub.client.post("/v1/submissions", content=body, headers=headers)

    assert_problem(response, case.status, case.code, *case.mentions)
    assert dump_database(hub.context.engine) == before


def test_oversize_body_without_a_length_is_cut_off(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    """A chunked body declares no length: the hub counts while reading and stops past the limit."""
    limit = hub.context.settings.max_body_bytes
    before = dump_database(hub.context.engine)

    def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    response = hub.client.post("/v1/submissions", content=chunks(), headers=JSON)

    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_problem(response, 413, "payload_too_large", f"larger than {limit} bytes")
    assert dump_database(hub.context.engine) == before


def test_crypto_failures_say_nothing_about_which_check_failed(hub: HubUnderTest, hotline: EnrolledHotline) -> None:
    details = {
        name: hub.client.post("/v1/submissions", content=REJECTIONS[name].make(hub)[0], headers=JSON).json()["detail"]
        for name in ("bad envelope signature", "bad payload signature", "tampered sealed box")
    }
    assert len(set(details.values())) == 1, details


def test_a_valid_envelope_for_another_hub_is_refused_even_with_a_known_key(
    hub: HubUnderTest, hotline: EnrolledHotline
) -> None:
    """Sealing to the right hub is part of the protocol: the same signed payload sealed elsewhere is refused."""
    other_hub = EncryptionKey.generate()
    envelope = seal_envelope(_release(hub), signing_key=hotline.key, hub_key=other_hub.public_key)
    assert_problem(hub.post_envelope(envelope.canonical_bytes()), 400, "decryption_failed")


@pytest.mark.parametrize("order", ["v1 then v2", "v2 then v1"])
def test_a_correction_may_follow_another_taxonomy(hub: HubUnderTest, hotline: EnrolledHotline, order: str) -> None:
    """A hotline that adopted v2 corrects a month it released under v1 (or the reverse): the new revision replaces
    the old one whole, tables only the old taxonomy had leave the rollups, and the rollups equal a rebuild."""
    from protocol.taxonomy import builtin_taxonomy
    from tests.support.releases import make_release

    v1, v2 = builtin_taxonomy(1), builtin_taxonomy(2)
    first, second = (v1, v2) if order == "v1 then v2" else (v2, v1)
    key = hub.hotlines[HOTLINE].key

    def release(taxonomy: Any, revision: int) -> SubmissionPayload:
        cells = {name: [revision] * table.cell_count for name, table in taxonomy.tables.items()}
        return make_release(taxonomy, key, hotline_id=HOTLINE, period=PERIOD, revision=revision, cells=cells)

    # Every cell at 1 or 2 adds up to ~40,000 persons a month in the corridor, and two whole releases at σ = 10 spend
    # ρ = 0.275: more than the default policy admits.
    policy = hub.client.post(
        f"/v1/admin/hotlines/{HOTLINE}/policy",
        json={"max_monthly_volume": 100_000, "caps": [{"measure": "rho", "period": "1", "year": "5"}]},
        headers=hub.auth("admin"),
    )
    assert policy.status_code == 201, policy.text
    hub.submit(release(first, 1))
    hub.submit(release(second, 2))

    assert _stats(hub, "persons_recruitment")["estimate"] == 2 * v2.table("persons_recruitment").cell_count
    only_first = sorted(set(first.tables) - set(second.tables))
    for table in only_first:
        response = hub.client.get(
            f"/v1/stats/{table}",
            params={"group_by": "period", "period_from": PERIOD, "period_to": PERIOD},
            headers=hub.auth("coordinator"),
        )
        assert response.status_code == 200, response.text
        assert response.json()["rows"][0]["estimate"] is None  # nobody's current release holds it any more
    with hub.context.sessions() as session:
        assert check_rollups(session, hub.context.taxonomies) == []
