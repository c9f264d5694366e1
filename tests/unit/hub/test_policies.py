# SPDX-License-Identifier: Apache-2.0
"""Hotline policies and backfill approvals through the admin API, as an operator's script calls it; the
policy's rules at ingest; and ``tipshare-hub hotline add/policy/backfill`` as an operator types them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.db import read_session
from hub.models import LogLeaf, SubmissionSpend
from protocol.crypto import SigningKey
from protocol.messages import HotlinePolicyEntry, parse_log_entry
from tests.support.hubkit import assert_problem
from tests.support.hubs import Clock, HubUnderTest

TABLES = ("contacts", "persons_recruitment")


def _post(hub: HubUnderTest, path: str, body: dict[str, Any]) -> Any:
    return hub.client.post(path, json=body, headers=hub.auth("admin"))


def _policy(hub: HubUnderTest, hotline_id: str) -> dict[str, Any]:
    response = hub.client.get(f"/v1/admin/hotlines/{hotline_id}/policy", headers=hub.auth("admin"))
    assert response.status_code == 200, response.text
    value: dict[str, Any] = response.json()
    return value


def _leaf(hub: HubUnderTest, index: int) -> bytes:
    with read_session(hub.context.sessions) as session:
        return session.scalars(select(LogLeaf.data).where(LogLeaf.index == index)).one()


def test_a_hotline_enrolled_without_a_policy_follows_the_default(hub: HubUnderTest) -> None:
    hub.enroll("ua-a", "UA")  # 2026-11-21: the default first period is 24 months earlier

    policy = _policy(hub, "ua-a")

    assert policy["log_index"] is None
    assert policy["first_period"] == "2024-11"
    assert policy["max_monthly_volume"] == 10_000
    assert policy["caps"] == [
        {"measure": "epsilon", "period": "2", "year": "15"},
        {"measure": "rho", "period": "0.2", "year": "1.5"},
    ]


def test_enrolment_with_a_policy_logs_it_after_the_key(hub: HubUnderTest) -> None:
    key = SigningKey.generate()
    body = {
        "id": "md-a",
        "display_name": "La Strada Moldova",
        "country": "MD",
        "public_key": key.verify_key.to_text(),
        "policy": {"caps": [{"measure": "rho", "period": "0.1", "year": "1"}], "max_monthly_volume": 300},
    }
    response = _post(hub, "/v1/admin/hotlines", body)
    assert response.status_code == 201, response.text

    entry = parse_log_entry(_leaf(hub, response.json()["log_index"] + 1))

    assert isinstance(entry, HotlinePolicyEntry)
    assert (entry.hotline_id, entry.max_monthly_volume, entry.first_period) == ("md-a", 300, "2024-11")
    assert [(c.measure, c.period, c.year) for c in entry.caps] == [("rho", "0.1", "1")]
    assert _policy(hub, "md-a")["log_index"] == response.json()["log_index"] + 1


def test_a_policy_change_keeps_what_it_does_not_name_and_applies_at_once(hub: HubUnderTest) -> None:
    hotline = hub.enroll("ua-a", "UA")
    response = _post(
        hub, "/v1/admin/hotlines/ua-a/policy", {"caps": [{"measure": "rho", "period": "0.048", "year": "1"}]}
    )
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "hotline_policy"
    response = _post(hub, "/v1/admin/hotlines/ua-a/policy", {"max_monthly_volume": 50, "reason": "small office"})
    assert response.status_code == 201, response.text

    policy = _policy(hub, "ua-a")
    assert (policy["max_monthly_volume"], policy["reason"]) == (50, "small office")
    assert policy["caps"] == [{"measure": "rho", "period": "0.048", "year": "1"}]
    release = hub.release(hotline.id, "2026-10", tables=TABLES)  # ρ = 10 / 200 = 0.05 (contacts alone 0.045)
    problem = assert_problem(hub.post_envelope(hub.envelope_bytes(release)), 422, "implausible_release", "0.048")
    assert (problem["rule"], problem["limit"], problem["value"]) == ("period_cap", "0.048", "0.05")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"caps": [{"measure": "rho", "period": "2", "year": "1"}]}, 400),
        ({"caps": [{"measure": "rho", "period": "0.1", "year": "1"}] * 2}, 422),
        ({"caps": [{"measure": "delta", "period": "0.1", "year": "1"}]}, 422),
        ({"max_monthly_volume": 0}, 422),
        ({"first_period": "2026-13"}, 422),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused_and_not_logged(
    hub: HubUnderTest, body: dict[str, Any], status: int
) -> None:
    hub.enroll("ua-a", "UA")
    response = _post(hub, "/v1/admin/hotlines/ua-a/policy", body)
    assert response.status_code == status, response.text
    assert _policy(hub, "ua-a")["log_index"] is None


def test_policy_and_backfill_of_an_unknown_hotline_are_404(hub: HubUnderTest) -> None:
    assert _post(hub, "/v1/admin/hotlines/nobody/policy", {"max_monthly_volume": 5}).status_code == 404
    backfill = {"first_period": "2020-01", "last_period": "2020-02", "reason": "x"}
    assert _post(hub, "/v1/admin/hotlines/nobody/backfills", backfill).status_code == 404
    backwards = {"first_period": "2020-03", "last_period": "2020-02", "reason": "x"}
    hub.enroll("ua-a", "UA")
    assert_problem(_post(hub, "/v1/admin/hotlines/ua-a/backfills", backwards), 400, "bad_request", "after")


def test_every_accepted_revision_counts_against_the_year(hub: HubUnderTest) -> None:
    hotline = hub.enroll("ua-a", "UA")
    hub.submit(hub.release(hotline.id, "2026-10", tables=TABLES))
    hub.submit(hub.release(hotline.id, "2026-10", revision=2, tables=TABLES))
    with read_session(hub.context.sessions) as session:
        spends = session.execute(select(SubmissionSpend.period, SubmissionSpend.measure, SubmissionSpend.spent)).all()
    assert sorted(spends) == [("2026-10", "rho", "0.050"), ("2026-10", "rho", "0.050")]  # as signed


# ---------------------------------------------------------------------------------------------- the CLI


def _cli(data_dir: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--data-dir", str(data_dir)], clock=Clock())
    out, err = capsys.readouterr()
    return code, out, err


def test_the_operator_sets_shows_and_changes_a_policy_and_approves_a_backfill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    data = tmp_path / "hub"
    assert _cli(data, capsys, "init", "--origin", "hub.example.org/tipshare")[0] == 0
    key = SigningKey.generate().verify_key.to_text()
    code, out, err = _cli(
        data, capsys, "hotline", "add", "--line", f"la-strada-md {key}", "--name", "La Strada", "--country", "MD",
        "--cap", "rho:0.1:1", "--max-monthly-volume", "400", "--first-period", "2026-01",
    )  # fmt: skip
    assert code == 0, err

    code, out, err = _cli(data, capsys, "hotline", "policy", "la-strada-md", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["caps"] == [{"measure": "rho", "period": "0.1", "year": "1"}]
    assert (shown["max_monthly_volume"], shown["first_period"], shown["log_index"]) == (400, "2026-01", 1)

    code, out, err = _cli(
        data, capsys, "hotline", "policy", "la-strada-md", "--max-monthly-volume", "900", "--reason", "new office"
    )
    assert code == 0, err
    assert "Logged a new policy as entry 2" in out
    assert "maximum monthly volume: 900 persons" in out
    assert "rho cap: 0.1 per month" in out

    code, out, err = _cli(
        data, capsys, "hotline", "backfill", "la-strada-md", "--from", "2024-01", "--to", "2025-12", "--reason", "paper"
    )
    assert code == 0, err
    assert "Approved la-strada-md's release of 2024-01 to 2025-12, logged as entry 3" in out
    code, out, err = _cli(data, capsys, "hotline", "policy", "la-strada-md")
    assert "backfill approved: 2024-01 to 2025-12 (paper)" in out


def test_a_malformed_cap_option_says_how_to_write_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    data = tmp_path / "hub"
    assert _cli(data, capsys, "init", "--origin", "hub.example.org/tipshare")[0] == 0
    key = SigningKey.generate().verify_key.to_text()
    code, _, err = _cli(
        data, capsys, "hotline", "add", "--id", "ua-a1", "--key", key, "--name", "A", "--country", "UA",
        "--cap", "rho=0.1",
    )  # fmt: skip
    assert code == 1
    assert "MEASURE:PERIOD:YEAR" in err
    code, _, err = _cli(data, capsys, "hotline", "list", "--json")
    assert code == 0
