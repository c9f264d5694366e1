# SPDX-License-Identifier: Apache-2.0
"""Withdrawals through the admin API: logged and signed, out of every statistic, the previous revision back."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from hub.db import read_session, write_session
from hub.errors import LogIntegrityError
from hub.models import RollupCell
from hub.services.log import TransparencyLog
from hub.services.rebuild import check_rollups
from protocol.messages import KeyEventEntry, SubmissionWithdrawnEntry, b64decode, parse_log_entry
from protocol.withdrawal import sign_withdrawal, verify_withdrawal
from tests.support.hubkit import assert_problem
from tests.support.hubs import HubUnderTest

TABLES = ("contacts",)
PERIOD = "2026-09"


def _cells(hub: HubUnderTest, value: int) -> dict[str, list[int]]:
    size = hub.context.taxonomy.table("contacts").cell_count
    return {"contacts": [value] + [0] * (size - 1)}


def _submit(hub: HubUnderTest, hotline_id: str, value: int, revision: int = 1) -> int:
    receipt = hub.submit_cells(hotline_id, PERIOD, _cells(hub, value), tables=TABLES, revision=revision)
    return receipt.submission_id


def _first_cell(hub: HubUnderTest, scope: str) -> int | None:
    with read_session(hub.context.sessions) as session:
        return session.scalar(
            select(RollupCell.value).where(
                RollupCell.table_name == "contacts",
                RollupCell.scope == scope,
                RollupCell.period == PERIOD,
                RollupCell.cell == 0,
            )
        )


def _rollups_agree(hub: HubUnderTest) -> None:
    with read_session(hub.context.sessions) as session:
        assert check_rollups(session, hub.context.taxonomies) == []


def _withdraw(hub: HubUnderTest, submission_id: int, reason: str = "sent with a stolen key") -> Any:
    return hub.client.post(
        f"/v1/admin/submissions/{submission_id}/withdraw", json={"reason": reason}, headers=hub.auth("admin")
    )


def _entry(hub: HubUnderTest, index: int) -> Any:
    response = hub.client.get(f"/v1/log/entries?start={index}&end={index + 1}", headers=hub.auth("auditor"))
    return parse_log_entry(b64decode(response.json()["entries"][0]["data"]))


def test_withdrawing_the_current_revision_brings_back_the_previous_one_and_is_logged_signed(
    hub: HubUnderTest,
) -> None:
    hub.enroll("ua-a", "UA")
    hub.log_loose_policy("ua-a")  # the poison here is for the withdrawal to remove, not for the door
    hub.enroll("md-a", "MD")
    genuine = _submit(hub, "ua-a", 3)
    _submit(hub, "md-a", 5)
    poisoned = _submit(hub, "ua-a", 750_000, revision=2)
    assert _first_cell(hub, "region") == 750_005

    response = _withdraw(hub, poisoned, "  sent with a stolen key  ")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["submission_id"], body["revision"], body["current_revision"]) == (poisoned, 2, 1)
    assert body["reason"] == "sent with a stolen key"
    assert (_first_cell(hub, "region"), _first_cell(hub, "country:UA"), _first_cell(hub, "hotline:ua-a")) == (8, 3, 3)
    _rollups_agree(hub)
    entry = _entry(hub, body["log_index"])
    assert isinstance(entry, SubmissionWithdrawnEntry)
    assert (entry.revision, entry.hotline_id, entry.reason) == (2, "ua-a", "sent with a stolen key")
    verify_withdrawal(entry, [hub.log_key])
    stored = hub.client.get(f"/v1/submissions/{poisoned}", headers=hub.auth("auditor")).json()
    assert stored["is_current"] is False
    assert stored["withdrawal"]["log_index"] == body["log_index"]
    assert stored["withdrawal"]["reason"] == "sent with a stolen key"
    assert hub.client.get(f"/v1/submissions/{genuine}", headers=hub.auth("auditor")).json()["is_current"] is True
    region = hub.client.get(
        "/v1/stats/contacts",
        params={"group_by": "period", "period_from": PERIOD, "period_to": PERIOD},
        headers=hub.auth("coordinator"),
    ).json()
    assert [(row["estimate"], row["hotlines_reporting"]) for row in region["rows"]] == [(8, 2)]
    exported = hub.client.get(
        "/v1/stats/contacts",
        params={"group_by": "period", "period_from": PERIOD, "period_to": PERIOD, "format": "csv"},
        headers=hub.auth("coordinator"),
    )
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert (row["estimate"], row["hotlines_reporting"]) == ("8", "2")


def test_the_next_revision_is_higher_than_every_one_logged_withdrawn_or_not(hub: HubUnderTest) -> None:
    hub.enroll("ua-a", "UA")
    _submit(hub, "ua-a", 3)
    poisoned = _submit(hub, "ua-a", 900, revision=2)
    assert _withdraw(hub, poisoned).status_code == 200

    again = hub.post_envelope(
        hub.envelope_bytes(hub.release("ua-a", PERIOD, cells=_cells(hub, 4), tables=TABLES, revision=2))
    )
    assert_problem(again, 409, "revision_conflict", "revision 2", "withdrawn", "the next revision of this month is 3")

    _submit(hub, "ua-a", 4, revision=3)
    assert _first_cell(hub, "region") == 4
    _rollups_agree(hub)


def test_withdrawing_every_revision_leaves_the_month_without_the_hotline(hub: HubUnderTest) -> None:
    hub.enroll("ua-a", "UA")
    hub.enroll("md-a", "MD")
    first = _submit(hub, "ua-a", 3)
    second = _submit(hub, "ua-a", 7, revision=2)
    _submit(hub, "md-a", 5)

    older = _withdraw(hub, first)  # not current: the statistics do not change
    assert older.status_code == 200
    assert older.json()["current_revision"] == 2
    assert _first_cell(hub, "region") == 12
    assert _withdraw(hub, second).json()["current_revision"] is None

    assert _first_cell(hub, "region") == 5
    assert _first_cell(hub, "hotline:ua-a") is None
    assert _first_cell(hub, "country:UA") is None
    _rollups_agree(hub)
    completeness = hub.client.get(
        "/v1/completeness", params={"period_from": PERIOD, "period_to": PERIOD}, headers=hub.auth("coordinator")
    )
    assert completeness.status_code == 200, completeness.text
    statuses = {row["hotline_id"]: row["status"] for row in completeness.json()["rows"]}
    assert statuses["ua-a"] not in ("on_time", "late")


def test_a_withdrawal_is_refused_twice_for_unknown_ids_and_without_a_reason(hub: HubUnderTest) -> None:
    hub.enroll("ua-a", "UA")
    submission = _submit(hub, "ua-a", 3)
    assert _withdraw(hub, submission).status_code == 200

    assert_problem(_withdraw(hub, submission), 409, "already_withdrawn", f"submission {submission}")
    assert_problem(_withdraw(hub, 999), 404, "not_found", "999")
    assert_problem(_withdraw(hub, submission, "   "), 400, "bad_request", "reason")
    coordinator = hub.client.post(
        f"/v1/admin/submissions/{submission}/withdraw", json={"reason": "x"}, headers=hub.auth("coordinator")
    )
    assert coordinator.status_code == 403


def test_revoking_a_compromised_key_withdraws_what_it_signed_since_then_in_one_logged_act(hub: HubUnderTest) -> None:
    hotline = hub.enroll("ua-a", "UA")
    hub.log_loose_policy("ua-a")  # the poison here is for the revocation to withdraw, not for the door
    hub.enroll("md-a", "MD")
    genuine = _submit(hub, "ua-a", 3)
    _submit(hub, "md-a", 5)
    hub.clock.advance(days=2)
    stolen_at = hub.clock()
    hub.clock.advance(hours=1)
    poisoned = _submit(hub, "ua-a", 750_000, revision=2)
    other_month = hub.submit_cells("ua-a", "2026-08", _cells(hub, 40), tables=TABLES).submission_id
    hub.clock.advance(hours=1)
    key_id = hotline.key.verify_key.key_id

    response = hub.client.post(
        f"/v1/admin/keys/{key_id}/revoke",
        json={"reason": "laptop stolen", "compromised_since": stolen_at.isoformat()},
        headers=hub.auth("admin"),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["withdrawn_submissions"] == [poisoned, other_month]
    assert _first_cell(hub, "region") == 8
    _rollups_agree(hub)
    revocation = _entry(hub, body["log_index"])
    assert isinstance(revocation, KeyEventEntry)
    assert revocation.compromised_since == stolen_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    withdrawals = [_entry(hub, body["log_index"] - n) for n in (2, 1)]
    assert all(isinstance(w, SubmissionWithdrawnEntry) for w in withdrawals)
    assert hub.client.get(f"/v1/submissions/{genuine}", headers=hub.auth("auditor")).json()["withdrawal"] is None


def test_a_compromise_in_the_future_is_refused_and_nothing_is_logged(hub: HubUnderTest) -> None:
    hotline = hub.enroll("ua-a", "UA")
    _submit(hub, "ua-a", 3)
    size = hub.client.get("/v1/log/entries", headers=hub.auth("auditor")).json()["tree_size"]
    future = hub.clock().replace(year=2027).isoformat()

    response = hub.client.post(
        f"/v1/admin/keys/{hotline.key.verify_key.key_id}/revoke",
        json={"reason": "laptop stolen", "compromised_since": future},
        headers=hub.auth("admin"),
    )

    assert_problem(response, 400, "bad_request", "future")
    assert hub.client.get("/v1/log/entries", headers=hub.auth("auditor")).json()["tree_size"] == size


def test_a_rebuild_refuses_a_log_whose_withdrawal_names_no_submission(hub: HubUnderTest) -> None:
    hotline = hub.enroll("ua-a", "UA")
    submission = _submit(hub, "ua-a", 3)
    stored = hub.client.get(f"/v1/submissions/{submission}", headers=hub.auth("auditor")).json()
    bogus = sign_withdrawal(
        hub.context.log_signer,
        leaf_index=0,  # the enrolment
        hotline_id="ua-a",
        key_id=hotline.key.verify_key.key_id,
        period=PERIOD,
        revision=1,
        payload_hash=stored["payload_hash"],
        reason="nothing",
        withdrawn_at="2026-11-21T12:00:00Z",
    )
    with write_session(hub.context.sessions) as session:
        TransparencyLog(session, signer=hub.context.log_signer).append(
            bogus.canonical_bytes(), kind=bogus.kind, now=hub.clock()
        )

    with read_session(hub.context.sessions) as session, pytest.raises(LogIntegrityError, match="withdraws entry 0"):
        check_rollups(session, hub.context.taxonomies)
