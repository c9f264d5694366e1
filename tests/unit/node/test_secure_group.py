# SPDX-License-Identifier: Apache-2.0
"""Taking part in a secure group: the settings and their checks at load, the shares, their draw, the ledger's words."""

from __future__ import annotations

import dataclasses
import doctest
import statistics
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import node.secure_group as sg
from node.budget import BudgetConfig
from node.errors import ConfigError
from node.home import read_config, render_config
from node.noise import calibrate, gaussian_loss
from node.secure_group import SecureGroupConfig, add_noise_shares, draw_totals, plan_shares
from protocol.distributed_noise import TOTALS_SHARE, SecureGroup
from protocol.taxonomy import builtin_taxonomy
from tests.unit.node.fakehub import FakeHub
from tests.unit.node.nodekit import make_home

V2 = builtin_taxonomy(2)
BUDGET = BudgetConfig.default(taxonomy=V2)
SECTION: dict[str, Any] = {"group_id": "region-east", "members": 20, "threshold": 16, "collusion_cap": "2"}


def _config(**changes: Any) -> SecureGroupConfig:
    return SecureGroupConfig.from_mapping({k: v for k, v in (SECTION | changes).items() if v is not None})


def test_module_examples() -> None:
    assert doctest.testmod(sg, raise_on_error=True).attempted > 0


def test_settings_round_trip() -> None:
    config = _config(threshold=None, threshold_fraction="4/5")
    assert config.group() == SecureGroup(members=20, threshold=16)
    assert SecureGroupConfig.from_mapping(config.to_mapping()) == config
    assert _config().to_mapping() == SECTION


def test_a_collusion_guarantee_above_the_cap_is_refused_naming_the_numbers() -> None:
    config = _config(collusion_cap="1.5")
    with pytest.raises(ConfigError, match=r"threshold of 16 members .* ρ = 1\.6 .* collusion_cap = 1\.5") as caught:
        config.check(BUDGET)
    assert "at most 15" in str(caught.value.diagnostics())
    _config(threshold=None, threshold_fraction="0.8", collusion_cap="1.5").check(BUDGET, members=15)  # 12 x 0.1
    _config(collusion_cap="1.6").check(BUDGET)  # exactly at the cap is allowed


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"threshold": 21}, "threshold is invalid: .*from 2 to 20"),
        ({"threshold": 1}, "threshold is invalid"),
        ({"threshold_fraction": "0.8"}, "exactly one of threshold and threshold_fraction"),
        ({"threshold": None}, "exactly one of threshold and threshold_fraction"),
        ({"threshold": None, "threshold_fraction": "3/2"}, "fraction must be above 0 and at most 1"),
        ({"members": "20"}, "members is invalid"),
        ({"group_id": "Region East"}, "group_id is invalid"),
        ({"collusion_cap": 2}, "collusion_cap is invalid: 2 is not an amount in quotes"),
        ({"collusion_cap": None}, "collusion_cap is invalid: it is missing"),
        ({"rounds": 3}, "unknown secure_group setting"),
        ({"scaling": 14}, "scaling is invalid: 14 is not an odd whole number from 1 to 255"),
        ({"scaling": 257}, "scaling is invalid"),
        ({"scaling": "15"}, "scaling is invalid"),
    ],
)
def test_impossible_settings_are_refused(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _config(**changes)


def test_the_laplace_mechanism_cannot_take_part() -> None:
    with pytest.raises(ConfigError, match="discrete_gaussian"):
        _config().check(BudgetConfig.default("discrete_laplace", taxonomy=V2))


def test_shares_spend_the_release_against_the_hub_and_at_most_t_times_it_against_all_others() -> None:
    plan = plan_shares(V2, V2.tables, BUDGET, _config())
    assert plan.spend.against_hub <= BUDGET.release
    assert plan.spend.against_hub >= BUDGET.release * Fraction(999_999, 1_000_000)
    # The one-cell totals spend 2 % of the release against everyone; the shares the other 98 % against the hub.
    assert BUDGET.release * TOTALS_SHARE * Fraction(999_999, 1_000_000) <= plan.spend.totals
    assert plan.spend.totals <= BUDGET.release * TOTALS_SHARE
    shares_alone = 16 * BUDGET.release * (1 - TOTALS_SHARE)
    assert shares_alone * Fraction(99, 100) + plan.spend.totals <= plan.spend.against_all_others
    assert plan.spend.against_all_others <= 16 * BUDGET.release
    local = calibrate(V2, V2.tables, BUDGET)
    widened = (1 - float(TOTALS_SHARE)) ** -0.5  # 98 % of each table's budget: σ 1.0102 times the local one
    for share in plan.shares:  # σ/√16, widened a little where τ asks for it
        ratio = share.scale / local.table(share.table).scale
        assert 0.25 * widened * (1 - 1e-12) <= ratio <= 0.2502 * widened
    for total in plan.totals:  # each a local release of one number: ρ = Δ₁²/(2σ²), OpenDP's map agrees
        table = V2.table(total.table)
        assert total.rho <= Fraction(BUDGET.shares(V2.tables)[total.table]) * TOTALS_SHARE
        assert gaussian_loss(total.scale, table.l1_bound**2) == pytest.approx(float(total.rho), rel=1e-9)
    noise_plan = plan.noise_plan()
    assert noise_plan.spent <= BUDGET.release
    assert noise_plan.privacy_block().mechanism == "discrete_gaussian"
    text = plan.spend.describe()
    assert "region-east" in text
    assert "at least 16 of 20" in text


def test_a_group_of_one_would_be_a_local_release() -> None:
    config = _config(members=1, threshold=1, collusion_cap="0.1")
    plan = plan_shares(V2, V2.tables, BUDGET, config)
    local = calibrate(V2, V2.tables, BUDGET)
    for share in plan.shares:  # the local calibration at the 98 % the totals leave
        assert share.scale == pytest.approx(local.table(share.table).scale / (1 - float(TOTALS_SHARE)) ** 0.5)
    assert plan.spend.against_hub == plan.spend.against_all_others


def test_a_roster_other_than_the_configured_one_is_checked_again() -> None:
    config = _config(threshold=None, threshold_fraction="0.8", collusion_cap="1.6")
    plan_shares(V2, ["persons_total"], BUDGET, config, members=20)
    with pytest.raises(ConfigError, match="threshold of 20 members"):
        plan_shares(V2, ["persons_total"], BUDGET, config, members=25)


def test_drawn_shares_have_the_share_variance_not_the_local_one() -> None:
    plan = plan_shares(V2, ["persons_corridor_2way", "persons_total"], BUDGET, _config())
    table = V2.table("persons_corridor_2way")
    counts = {"persons_corridor_2way": [0] * table.cell_count, "persons_total": [7]}
    noisy = add_noise_shares(plan, counts)
    assert len(noisy["persons_corridor_2way"]) == table.cell_count
    share = next(s for s in plan.shares if s.table == "persons_corridor_2way")
    variance = statistics.pvariance(noisy["persons_corridor_2way"])
    # σ ≈ 1.12 (variance 1.26); a local release would have σ ≈ 4.49 (variance 20). 3844 cells: SE about 2.3 %.
    assert variance == pytest.approx(share.scale**2, rel=0.15)
    assert noisy != add_noise_shares(plan, counts)  # fresh noise on every draw: the ledger must store the first


def test_drawn_totals_are_the_true_sum_plus_one_draw_of_the_totals_sigma() -> None:
    plan = plan_shares(V2, ["persons_total", "cases_opened"], BUDGET, _config())
    counts = {"persons_total": [40], "cases_opened": [3] * 42}
    draws = [draw_totals(plan, counts) for _ in range(400)]
    scales = {t.table: t.scale_text for t in plan.totals}
    assert all({t: s for t, (_, s) in d.items()} == scales for d in draws)
    errors = [d["cases_opened"][0] - 126 for d in draws]
    sigma = next(t.scale for t in plan.totals if t.table == "cases_opened")  # ≈ 137: Δ₁ = 2, ρ = 2 % of 0.0053
    assert abs(statistics.fmean(errors)) < 4 * sigma / 20  # mean 0: 4 standard errors
    assert statistics.pstdev(errors) == pytest.approx(sigma, rel=0.2)


def test_the_section_is_read_and_checked_when_the_home_is_opened(tmp_path: Path) -> None:
    home = make_home(tmp_path, FakeHub())
    config = dataclasses.replace(home.config, secure_group=_config())
    home.layout.config.write_text(render_config(config), encoding="utf-8")
    assert read_config(home.layout.config).secure_group == _config()
    too_low = dataclasses.replace(home.config, secure_group=_config(collusion_cap="1"))
    home.layout.config.write_text(render_config(too_low), encoding="utf-8")
    with pytest.raises(ConfigError, match="above collusion_cap = 1"):
        read_config(home.layout.config)


def test_a_scaled_group_draws_scaled_counts_plus_shares_on_the_finer_lattice() -> None:
    config = _config(scaling=15)
    assert SecureGroupConfig.from_mapping(config.to_mapping()) == config
    assert config.to_mapping()["scaling"] == 15
    plan = plan_shares(V2, V2.tables, BUDGET, config)
    unscaled = plan_shares(V2, V2.tables, BUDGET, _config())
    assert plan.scaling == 15
    # The same guarantee against the hub; each share about 15 times the unscaled one's σ (never narrower than
    # 15 × σ/√t, and with no widening for the bound's τ: the corridor's unscaled share needs some).
    assert plan.spend.against_hub <= BUDGET.release
    assert plan.spend.against_hub >= BUDGET.release * Fraction(999_999, 1_000_000)
    for share, plain in zip(plan.shares, unscaled.shares, strict=True):
        assert share.scaling == 15
        assert 0.9 * 15 * plain.scale <= share.scale <= 15 * plain.scale * (1 + 1e-9)
    counts = {name: [3] * V2.table(name).cell_count for name in ("persons_total", "cases_opened")}
    small = plan_shares(V2, list(counts), BUDGET, config)
    noisy = add_noise_shares(small, counts)
    for name, values in noisy.items():
        share = next(s for s in small.shares if s.table == name)
        noise = [v - 15 * 3 for v in values]
        assert all(abs(z) < 10 * share.scale for z in noise)  # 15 × the count, plus a share of the fine σ
    # OpenDP's map of one share alone (sensitivity 15 × Δ₂ on the finer lattice) agrees with the protocol's.
    share = plan.shares[0]
    alone = share.guarantee(plan.group, colluders=plan.group.members - 1)
    table = V2.table(share.table)
    assert gaussian_loss(share.scale, 225 * table.l2_sensitivity_squared) == pytest.approx(float(alone), rel=1e-9)
