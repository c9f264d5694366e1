# SPDX-License-Identifier: Apache-2.0
"""Issue 15: a stolen hotline key signs anything of the right shape. The poison the issue found (cells at ±10⁷, a
noise σ of 10⁻⁶, a declared ρ of 10¹³, revision 999, a month of 2000) is each refused at the hub, naming the rule,
its limit and the value; written into the log directly, as a dishonest hub could, each is flagged by
``tipshare-audit verify`` and left out of the statistics it recomputes. The hotline's logged budget caps hold
the same way, and so do the daily caps on months and revisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db import read_session
from hub.models import LogLeaf
from protocol.messages import PrivacyBlock, SubmissionPayload, TableNoise, TableRelease
from tests.support.auditkit import TABLES, admin, append_entry, audit, cells, populate, submission_entry, utc
from tests.support.hubs import HubUnderTest, start_hub

HOTLINE = "ro-a"  # enrolled 2026-10-01 by populate(); it released 2026-10 (persons_recruitment only)
PERIOD = "2026-09"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(tmp_path / "hub"):
        populate(started)
        yield started


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_noise(payload: SubmissionPayload, *, scale: str, spent: Callable[[TableNoise], str]) -> SubmissionPayload:
    """``payload`` with every table noised at ``scale`` and declaring ``spent`` (the total their sum)."""
    noise = tuple(
        TableNoise(
            table=t.table,
            scale=scale,
            l1_sensitivity=t.l1_sensitivity,
            l2_sensitivity_squared=t.l2_sensitivity_squared,
            spent=spent(t.model_copy(update={"scale": scale})),
        )
        for t in payload.privacy.tables
    )
    total = _plain(sum((Decimal(t.spent) for t in noise), Decimal(0)))
    privacy = PrivacyBlock(
        mode="local",
        mechanism="discrete_gaussian",
        measure="rho",
        unit="person-month",
        spent=total,
        tables=noise,
    )
    return payload.model_copy(update={"privacy": privacy})


def _exact_rho(noise: TableNoise) -> str:
    return _plain(Decimal(noise.l2_sensitivity_squared) / (2 * Decimal(noise.scale) ** 2))


def _huge_cells(hub: HubUnderTest) -> SubmissionPayload:
    payload = hub.release(HOTLINE, PERIOD, cells=cells(hub.context.taxonomy, 30), tables=TABLES)
    poisoned = []
    for release in payload.tables:
        values = list(release.cells)
        values[0], values[-1] = 10_000_000, -10_000_000
        poisoned.append(TableRelease(name=release.name, cells=tuple(values)))
    return payload.model_copy(update={"tables": tuple(poisoned)})


def _tiny_sigma(hub: HubUnderTest) -> SubmissionPayload:
    payload = hub.release(HOTLINE, PERIOD, cells=cells(hub.context.taxonomy, 31), tables=TABLES)
    return _with_noise(payload, scale="0.000001", spent=_exact_rho)


def _huge_rho(hub: HubUnderTest) -> SubmissionPayload:
    payload = hub.release(HOTLINE, PERIOD, cells=cells(hub.context.taxonomy, 32), tables=TABLES)
    return _with_noise(payload, scale="10", spent=lambda _noise: "10000000000000")


def _revision_999(hub: HubUnderTest) -> SubmissionPayload:
    return hub.release(HOTLINE, "2026-10", revision=999, cells=cells(hub.context.taxonomy, 33), tables=TABLES)


def _year_2000(hub: HubUnderTest) -> SubmissionPayload:
    return hub.release(HOTLINE, "2000-01", cells=cells(hub.context.taxonomy, 34), tables=TABLES)


#: poison -> (how to make it, the rule that refuses it, the limit named, the value named)
POISONS: dict[str, tuple[Callable[[HubUnderTest], SubmissionPayload], str, str | None, str | None]] = {
    "cells at +-10^7": (_huge_cells, "cell_bound", None, "-10000000"),
    "sigma of 1e-6": (_tiny_sigma, "noise_floor", None, "0.000001"),
    "rho of 1e13": (_huge_rho, "period_cap", "0.2", "30000000000000"),
    "revision 999": (_revision_999, "revision", "2", "999"),
    "period 2000-01": (_year_2000, "first_period", "2024-10", "2000-01"),
}


def _log_size(hub: HubUnderTest) -> int:
    with read_session(hub.context.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(LogLeaf)) or 0)


def _refused(hub: HubUnderTest, payload: SubmissionPayload, status: int = 422) -> dict[str, Any]:
    response = hub.post_envelope(hub.envelope_bytes(payload))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_attack_stolen_key_poison_is_refused_at_the_hub(hub: HubUnderTest, poison: str) -> None:
    make, rule, limit, value = POISONS[poison]
    before = _log_size(hub)

    problem = _refused(hub, make(hub))

    assert problem["code"] == "implausible_release"
    assert problem["rule"] == rule
    if limit is not None:
        assert problem["limit"] == limit
    if value is not None:
        assert problem["value"] == value
    assert HOTLINE in problem["detail"]
    assert _log_size(hub) == before  # nothing logged, nothing rolled up


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_attack_stolen_key_poison_forced_into_the_log_is_flagged_by_the_auditor(
    hub: HubUnderTest, poison: str, tmp_path: Path
) -> None:
    make, rule, _, _ = POISONS[poison]
    key = hub.hotlines[HOTLINE].key
    index = append_entry(hub, submission_entry(make(hub), key=key, received_at=hub.clock()))

    run = audit(hub, tmp_path / "state", "--region-only")

    assert run.code == 1, run.out + run.err
    assert run.checks() == {"plausibility"}  # the statistics the hub publishes leave the poison out, as they must
    [failure] = run.failures("plausibility")
    assert failure["index"] == index
    assert failure["hotline_id"] == HOTLINE
    assert f": {rule} (limit " in failure["message"]


def test_attack_stolen_key_cannot_spend_past_the_logged_year_cap(hub: HubUnderTest, tmp_path: Path) -> None:
    """The operator logs a year cap of ρ = 0.3 for ro-a; it has spent 0.005 (2026-10). Three releases of 0.095 fit,
    a fourth is refused, and forced into the log it is flagged; the report adds the year's spends up."""
    admin(
        hub,
        f"/v1/admin/hotlines/{HOTLINE}/policy",
        {"caps": [{"measure": "rho", "period": "0.2", "year": "0.3"}], "reason": "pilot year"},
    )
    for seed, period in enumerate(("2026-09", "2026-08", "2026-07")):
        hub.submit_cells(HOTLINE, period, cells(hub.context.taxonomy, 40 + seed), tables=TABLES)
    fourth = hub.release(HOTLINE, "2026-06", cells=cells(hub.context.taxonomy, 43), tables=TABLES)

    problem = _refused(hub, fourth)

    assert (problem["rule"], problem["limit"], problem["value"]) == ("year_cap", "0.3", "0.385")
    assert "year cap of 0.3" in problem["detail"]
    append_entry(hub, submission_entry(fourth, key=hub.hotlines[HOTLINE].key, received_at=hub.clock()))
    run = audit(hub, tmp_path / "state", "--region-only")
    assert run.checks() == {"plausibility"}
    assert run.failures("plausibility")[0]["message"] == (
        "ro-a 2026-06 revision 1: year_cap (limit 0.3, found 0.385): spending ρ = 0.095 would bring 2026 to 0.385, "
        "over the hotline's year cap of 0.3 (already accepted: 0.29)"
    )
    budget = next(b for b in run.document["budgets"] if b["hotline_id"] == HOTLINE)
    assert budget == {
        "hotline_id": HOTLINE,
        "year": "2026",
        "measure": "rho",
        "spent": "0.29",
        "year_cap": "0.3",
        "over": "no",
    }


def test_a_backfill_approved_in_the_log_admits_older_months_for_hub_and_auditor(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    old = hub.release(HOTLINE, "2023-05", cells=cells(hub.context.taxonomy, 50), tables=TABLES)
    assert _refused(hub, old)["rule"] == "first_period"

    admin(
        hub,
        f"/v1/admin/hotlines/{HOTLINE}/backfills",
        {"first_period": "2023-01", "last_period": "2023-12", "reason": "paper archive digitised"},
    )
    hub.submit(old)

    run = audit(hub, tmp_path / "state", "--region-only")
    assert run.code == 0, run.out
    assert "2023-05" in run.document["periods"]


def test_daily_caps_on_months_and_revisions_answer_429_with_retry_after(tmp_path: Path) -> None:
    for hub in start_hub(tmp_path / "hub", max_periods_per_day=2, max_revisions_per_day=3):
        hub.clock.now = utc(2026, 11, 21, 12)
        hub.enroll("ua-one", "UA")
        taxonomy = hub.context.taxonomy
        hub.submit_cells("ua-one", "2026-09", cells(taxonomy, 1), tables=TABLES)
        hub.clock.advance(hours=1)
        hub.submit_cells("ua-one", "2026-10", cells(taxonomy, 2), tables=TABLES)

        response = hub.post_envelope(hub.envelope_bytes(hub.release("ua-one", "2026-08", tables=TABLES)))

        assert response.status_code == 429, response.text
        assert response.json()["code"] == "daily_cap"
        assert (response.json()["rule"], response.json()["limit"], response.json()["value"]) == (
            "periods_per_day",
            "2",
            "3",
        )
        assert int(response.headers["Retry-After"]) == 23 * 3600 + 1  # when 2026-09 leaves the 24 hours
        hub.submit_cells("ua-one", "2026-10", cells(taxonomy, 3), tables=TABLES, revision=2)
        response = hub.post_envelope(hub.envelope_bytes(hub.release("ua-one", "2026-10", revision=3, tables=TABLES)))
        assert response.status_code == 429, response.text
        assert response.json()["rule"] == "revisions_per_day"
        hub.clock.advance(hours=24)
        hub.submit_cells("ua-one", "2026-08", cells(taxonomy, 4), tables=TABLES)
