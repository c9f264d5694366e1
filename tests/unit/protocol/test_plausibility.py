# SPDX-License-Identifier: Apache-2.0
"""protocol.plausibility: each rule refuses what it should, names its limit and the value, and lets honest
releases through; the noise tails are the derivation's numbers; the policy entries parse and refuse nonsense."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import pytest

from protocol.crypto import SigningKey
from protocol.errors import MalformedMessage
from protocol.messages import (
    BackfillApprovedEntry,
    HotlinePolicyEntry,
    PrivacyBlock,
    SubmissionPayload,
    TableNoise,
    parse_log_entry,
)
from protocol.plausibility import (
    DEFAULT_MAX_MONTHLY_VOLUME,
    Implausible,
    Policy,
    Standing,
    amount_text,
    cell_limits,
    check_plausible,
    months_before,
    noise_floor,
    noise_tail,
    table_limits,
)
from protocol.taxonomy import builtin_taxonomy
from tests.support.releases import make_release

TAXONOMY = builtin_taxonomy(1)
TABLES = ("contacts", "persons_recruitment")  # L2² 9 and 1: ρ = 10/200 = 0.05 at σ = 10
KEY = SigningKey.generate()
POLICY = Policy.default(enrolled="2026-08")


def _release(period: str = "2026-10", *, revision: int = 1, **kwargs: object) -> SubmissionPayload:
    return make_release(TAXONOMY, KEY, hotline_id="ua-a", period=period, revision=revision, tables=TABLES, **kwargs)  # type: ignore[arg-type]


def _refusal(payload: SubmissionPayload, policy: Policy = POLICY, standing: Standing | None = None) -> Implausible:
    with pytest.raises(Implausible) as raised:
        check_plausible(payload, TAXONOMY, policy, standing or Standing())
    return raised.value


def _laplace(payload: SubmissionPayload, scale: str) -> SubmissionPayload:
    noise = tuple(
        TableNoise(
            table=t.table,
            scale=scale,
            l1_sensitivity=t.l1_sensitivity,
            l2_sensitivity_squared=t.l2_sensitivity_squared,
            spent=str(Decimal(t.l1_sensitivity) / Decimal(scale)),
        )
        for t in payload.privacy.tables
    )
    privacy = PrivacyBlock(
        mode="local",
        mechanism="discrete_laplace",
        measure="epsilon",
        unit="person-month",
        spent=str(sum(Decimal(t.spent) for t in noise)),
        tables=noise,
    )
    return payload.model_copy(update={"privacy": privacy})


def test_an_honest_release_passes() -> None:
    check_plausible(_release(), TAXONOMY, POLICY, Standing())
    check_plausible(_release(revision=2), TAXONOMY, POLICY, Standing(latest_revision=1))


def test_the_default_policy_mirrors_the_node_and_starts_24_months_before_enrolment() -> None:
    assert POLICY.caps == {"rho": (Fraction("0.2"), Fraction("1.5")), "epsilon": (Fraction(2), Fraction(15))}
    assert (POLICY.first_period, POLICY.max_monthly_volume) == ("2024-08", DEFAULT_MAX_MONTHLY_VOLUME)
    assert months_before("2026-01", 13) == "2024-12"
    assert months_before("0002-03", 100) == "0001-01"


@pytest.mark.parametrize(
    ("standing", "payload", "rule", "limit", "value"),
    [
        (Standing(), _release(revision=3), "revision", "1", "3"),
        (Standing(latest_revision=1), _release(revision=999), "revision", "2", "999"),
        (Standing(), _release("2024-07"), "first_period", "2024-08", "2024-07"),
        (Standing(year_spent={"rho": Fraction("1.46")}), _release(), "year_cap", "1.5", "1.51"),
    ],
    ids=["first revision", "revision gap", "before first period", "year cap"],
)
def test_each_rule_names_its_limit_and_the_value(
    standing: Standing, payload: SubmissionPayload, rule: str, limit: str, value: str
) -> None:
    refusal = _refusal(payload, standing=standing)
    assert (refusal.rule, refusal.limit, refusal.value) == (rule, limit, value)
    assert str(refusal).startswith(f"ua-a {payload.period} revision {payload.revision}: ")


def test_a_release_over_the_period_cap_is_refused_though_each_table_is_above_the_floor() -> None:
    payload = _release(scale="4.8")  # contacts ρ = 9 / 46.08 < 0.2, both tables 10 / 46.08 > 0.2
    refusal = _refusal(payload)
    assert (refusal.rule, refusal.limit) == ("period_cap", "0.2")
    assert refusal.value.startswith("0.21701388")
    assert "over the hotline's period cap of 0.2" in str(refusal)


def test_a_backfill_approval_admits_a_period_before_the_first() -> None:
    check_plausible(_release("2020-01"), TAXONOMY, POLICY, Standing(backfill_approved=True))


def test_a_noise_scale_below_the_floor_names_the_floor() -> None:
    payload = _release(scale="0.5")  # contacts alone: ρ = 9 / 0.5 = 18
    refusal = _refusal(payload)
    assert (refusal.rule, refusal.value) == ("noise_floor", "0.5")
    assert refusal.limit == noise_floor("discrete_gaussian", l1=3, l2_squared=9, cap=Fraction("0.2")) == "4.74342"
    assert "table contacts" in str(refusal)


def test_a_measure_the_policy_does_not_cap_is_refused() -> None:
    rho_only = Policy({"rho": (Fraction("0.2"), Fraction("1.5"))}, 500, "2025-01")
    refusal = _refusal(_laplace(_release(), "20"), policy=rho_only)
    assert (refusal.rule, refusal.limit, refusal.value) == ("measure", "rho", "epsilon")
    check_plausible(_laplace(_release(), "20"), TAXONOMY, POLICY, Standing())  # the default caps ε too


def test_cells_and_table_sums_are_bounded_by_volume_and_noise() -> None:
    contacts = TAXONOMY.table("contacts")
    low, high = cell_limits(contacts, "discrete_gaussian", "10", volume=100)
    assert (low, high) == (-66, 100 * contacts.per_cell_bound + 66)
    small = Policy(POLICY.caps, 100, "2024-08")
    values = [0] * contacts.cell_count
    values[0] = high
    check_plausible(_release(cells={"contacts": values}), TAXONOMY, small, Standing())
    values[0] = high + 1
    refusal = _refusal(_release(cells={"contacts": values}), policy=small)
    assert (refusal.rule, refusal.limit, refusal.value) == ("cell_bound", f"[{low}, {high}]", str(high + 1))
    # Every cell within its bound, the table's sum beyond what 100 persons can add up to.
    spread = [high] * contacts.cell_count
    refusal = _refusal(_release(cells={"contacts": spread}), policy=small)
    low_sum, high_sum = table_limits(contacts, "discrete_gaussian", "10", volume=100)
    assert (refusal.rule, refusal.limit) == ("table_bound", f"[{low_sum}, {high_sum}]")


def test_noise_tails_follow_the_derivation() -> None:
    log_term = math.log(2e9)
    for cells in (1, 5, 21, 22, 19_220):
        assert noise_tail("discrete_gaussian", "4", cells) == math.ceil(4 * math.sqrt(2 * cells * log_term))
        laplace = 4 * 3 * math.sqrt(cells * log_term) if cells >= log_term else 2 * 3 * (cells + log_term)
        assert noise_tail("discrete_laplace", "3", cells) == math.ceil(laplace)
    # The two Laplace branches meet where n = L, and tails grow with the number of cells.
    assert [noise_tail("discrete_laplace", "1", n) for n in (20, 21, 22)] == sorted(
        noise_tail("discrete_laplace", "1", n) for n in (20, 21, 22)
    )


def test_honest_gaussian_noise_stays_within_its_tail() -> None:
    """Rounded continuous Gaussian draws as a stand-in for the node's discrete Gaussian: none of 200,000 cells at
    σ = 4 reaches the 1e-9 tail (27), which lies beyond 6.5 σ."""
    import numpy as np

    draws = np.rint(np.random.default_rng(15).normal(0, 4, 200_000))
    assert float(np.abs(draws).max()) < noise_tail("discrete_gaussian", "4", 1)


def _policy_entry(**changes: object) -> Mapping[str, object]:
    base: dict[str, object] = {
        "type": "log_entry",
        "version": "tipshare/1",
        "kind": "hotline_policy",
        "hotline_id": "ua-a",
        "caps": [{"measure": "rho", "period": "0.2", "year": "1.5"}],
        "max_monthly_volume": 400,
        "first_period": "2026-01",
        "effective_at": "2026-11-21T12:00:00Z",
    }
    base.update(changes)
    return base


def test_policy_and_backfill_entries_parse_as_log_entries() -> None:
    entry = HotlinePolicyEntry.model_validate_json(json.dumps(_policy_entry(reason="pilot")))
    assert parse_log_entry(entry.canonical_bytes()) == entry
    policy = Policy.from_entry(entry)
    assert (policy.caps, policy.max_monthly_volume, policy.first_period) == (
        {"rho": (Fraction(1, 5), Fraction(3, 2))},
        400,
        "2026-01",
    )
    backfill = BackfillApprovedEntry(
        type="log_entry",
        version="tipshare/1",
        kind="backfill_approved",
        hotline_id="ua-a",
        first_period="2024-01",
        last_period="2025-12",
        reason="archive",
        effective_at="2026-11-21T12:00:00Z",
    )
    assert parse_log_entry(backfill.canonical_bytes()) == backfill


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"caps": [{"measure": "rho", "period": "2", "year": "1.5"}]}, "larger than the year cap"),
        ({"caps": [{"measure": "rho", "period": "0.1", "year": "1"}] * 2}, "a measure has two caps"),
        ({"caps": []}, "caps"),
        ({"max_monthly_volume": 0}, "max_monthly_volume"),
        ({"first_period": "2026-13"}, "first_period"),
    ],
)
def test_a_policy_entry_that_makes_no_sense_does_not_parse(changes: dict[str, object], mentions: str) -> None:
    data = json.dumps(_policy_entry(**changes), separators=(",", ":"), sort_keys=True).encode()
    with pytest.raises(MalformedMessage, match=mentions):
        parse_log_entry(data)


def test_an_unknown_mechanism_has_no_noise_tail() -> None:
    with pytest.raises(ValueError, match="unknown noise mechanism 'uniform'"):
        noise_tail("uniform", "1", 1)


@pytest.mark.parametrize(
    ("mechanism", "cap", "floor"),
    [
        ("discrete_laplace", Fraction(1, 2), "6"),  # ε = l1 / s: s = 3 / 0.5
        ("discrete_laplace", Fraction(1, 7), "21"),
        ("discrete_laplace", Fraction(3, 10), "10"),
        ("discrete_gaussian", Fraction(1, 2), "3"),  # ρ = l2² / (2 s²): s = √(9 / 1)
        ("discrete_gaussian", Fraction(1, 8), "6"),
    ],
)
def test_the_noise_floor_is_the_scale_whose_spend_is_the_cap(mechanism: str, cap: Fraction, floor: str) -> None:
    assert noise_floor(mechanism, l1=3, l2_squared=9, cap=cap) == floor


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(1, 5), "0.2"),
        (Fraction(2), "2"),
        (Fraction(5, 4), "1.25"),
        (Fraction(1, 3), "0.333333"),
        (Fraction(2, 3), "0.666667"),
        (Fraction(1, 7000), "0.000142857"),
    ],
)
def test_amounts_are_exact_decimals_when_they_have_one_else_six_digits(value: Fraction, text: str) -> None:
    assert amount_text(value) == text
