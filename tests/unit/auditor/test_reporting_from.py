# SPDX-License-Identifier: Apache-2.0
"""The auditor follows ``reporting_from`` as the hub does: a hotline whose logged policy declares it is expected
from that month on, whatever its keys, in the ``hotlines_expected`` it recomputes; without it, its key windows
decide. Checked on :class:`~auditor.policies.PolicyBook` and end to end against a real hub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.keys import HotlineWindows
from auditor.policies import PolicyBook
from protocol.crypto import SigningKey
from protocol.messages import PROTOCOL_VERSION, BudgetCap, HotlinePolicyEntry, KeyEventEntry
from tests.support.auditkit import TABLES, admin, audit, cells, revoke, utc
from tests.support.hubs import EnrolledHotline, HubUnderTest, start_hub


def _policy(hotline_id: str, reporting_from: str | None) -> HotlinePolicyEntry:
    return HotlinePolicyEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="hotline_policy",
        hotline_id=hotline_id,
        caps=(BudgetCap(measure="rho", period="0.2", year="1.5"),),
        max_monthly_volume=400,
        first_period="2025-01",
        effective_at="2026-08-20T10:00:00Z",
        reporting_from=reporting_from,
    )


def _enrolment(hotline_id: str) -> KeyEventEntry:
    key = SigningKey.generate().verify_key
    return KeyEventEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="key_enrolled",
        hotline_id=hotline_id,
        display_name=hotline_id,
        country="UA",
        key_id=key.key_id,
        public_key=key.to_text(),
        effective_at="2026-08-20T10:00:00Z",
    )


def test_the_policy_book_gives_each_hotline_its_latest_declared_start_at_a_size() -> None:
    book = PolicyBook()
    book.note_key_event(_enrolment("ua-a"))
    book.note_key_event(_enrolment("ua-b"))
    assert book.apply(1, _policy("ua-a", "2026-07")) == []
    assert book.apply(2, _policy("ua-b", None)) == []
    assert book.apply(3, _policy("ua-a", "2026-09")) == []

    assert book.reporting_from(size=2) == {"ua-a": "2026-07"}
    assert book.reporting_from(size=4) == {"ua-a": "2026-09"}  # ua-b declares none: its keys decide


def test_a_declared_start_outlasts_a_key_gap_and_without_one_the_windows_decide() -> None:
    revoked = ((datetime(2026, 8, 20, tzinfo=UTC), datetime(2026, 9, 20, tzinfo=UTC)),)
    declared = HotlineWindows("ua-a", "UA", revoked, reporting_from="2026-08")
    undeclared = HotlineWindows("ua-b", "UA", revoked)

    assert [declared.expected_in(m) for m in ("2026-07", "2026-08", "2026-10")] == [False, True, True]
    assert [undeclared.expected_in(m) for m in ("2026-07", "2026-08", "2026-10")] == [False, True, False]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def test_the_audit_agrees_with_the_hub_on_a_hotline_expected_across_a_revocation(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    taxonomy = hub.context.taxonomy
    hub.clock.now = utc(2026, 8, 20, 10)  # after July's deadline: ua-gap is expected from 2026-08
    key = SigningKey.generate()
    body = {"id": "ua-gap", "display_name": "Gap", "country": "UA", "public_key": key.verify_key.to_text()}
    admin(hub, "/v1/admin/hotlines", {**body, "policy": {}})
    hub.hotlines["ua-gap"] = EnrolledHotline("ua-gap", "UA", key)
    hub.enroll("ua-b", "UA")  # no policy logged: its key decides
    hub.clock.now = utc(2026, 9, 5, 10)
    hub.submit_cells("ua-gap", "2026-08", cells(taxonomy, 1), tables=TABLES)
    hub.submit_cells("ua-b", "2026-08", cells(taxonomy, 2), tables=TABLES)
    hub.clock.now = utc(2026, 9, 20, 10)
    revoke(hub, "ua-gap")  # no new key: October is a gap, still expected
    hub.clock.now = utc(2026, 11, 5, 10)
    hub.submit_cells("ua-b", "2026-10", cells(taxonomy, 3), tables=TABLES)
    hub.clock.now = utc(2026, 11, 21, 12)

    answer = hub.client.get(
        "/v1/stats/contacts",
        params={"group_by": "period", "period_from": "2026-08", "period_to": "2026-10"},
        headers=hub.auth("coordinator"),
    ).json()
    expected = {row["keys"]["period"]: (row["hotlines_reporting"], row["hotlines_expected"]) for row in answer["rows"]}
    assert expected == {"2026-08": (2, 2), "2026-09": (0, 2), "2026-10": (1, 2)}

    run = audit(hub, tmp_path / "state", "--region-only")

    assert run.code == 0, run.out + run.err
    assert run.document["failures"] == []
