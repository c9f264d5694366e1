# SPDX-License-Identifier: Apache-2.0
"""Budget weights from the workload: recorded weights are the computed ones, and they are optimal."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.allocation import TOTAL_WEIGHT, allocate, expected_halfwidths, optimal_shares
from protocol.combination import cell_variance
from protocol.errors import TaxonomyViolation
from protocol.taxonomy import builtin_taxonomy

ROOT = Path(__file__).resolve().parents[3]
V2 = builtin_taxonomy(2)


@pytest.mark.parametrize("mechanism", ["discrete_gaussian", "discrete_laplace"])
def test_the_recorded_weights_are_the_computed_ones(mechanism: str) -> None:
    weights = allocate(V2, mechanism)
    assert dict(V2.budget_weights[mechanism]) == weights
    assert sum(weights.values()) == TOTAL_WEIGHT
    assert min(weights.values()) >= 1


def test_the_script_checks_the_document() -> None:
    result = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [sys.executable, str(ROOT / "tools" / "allocate_budget.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "recorded weights are the computed ones" in result.stdout


def objective(shares: dict[str, float]) -> float:
    """Σ priority · (expected / needed)², from the closed-form variances (independently of the optimiser)."""
    total = 0.0
    for found in expected_halfwidths(V2, shares, "discrete_gaussian"):
        total += found.question.priority * found.ratio**2
    return total


def test_the_gaussian_shares_are_optimal_no_move_of_budget_between_two_tables_helps() -> None:
    shares = optimal_shares(V2, "discrete_gaussian")
    best = objective(shares)
    for source in shares:
        for target in shares:
            if source == target:
                continue
            moved = dict(shares)
            step = shares[source] * 0.02
            moved[source] -= step
            moved[target] += step
            assert objective(moved) >= best * (1 - 1e-9)


def test_expected_halfwidths_use_the_least_squares_variance() -> None:
    shares = {name: w / TOTAL_WEIGHT for name, w in V2.budget_weights["discrete_gaussian"].items()}
    found = {e.question.id: e for e in expected_halfwidths(V2, shares, "discrete_gaussian", hotlines=5)}
    corridor = found["corridor"]
    variances = {name: V2.table(name).l2_sensitivity_squared / (2 * 0.1 * share) * 5 for name, share in shares.items()}
    direct = cell_variance(V2.tables, variances, "person", ("citizenship", "country_of_exploitation"))
    assert corridor.halfwidth == pytest.approx(1.959963984540054 * math.sqrt(direct))
    assert corridor.halfwidth <= 20
    assert found["total"].halfwidth <= 45
    assert found["citizenship"].halfwidth <= 45
    assert found["corridor_half_year"].halfwidth <= 50


def test_a_taxonomy_without_a_workload_has_nothing_to_allocate() -> None:
    with pytest.raises(TaxonomyViolation, match="records no workload"):
        optimal_shares(builtin_taxonomy(1), "discrete_gaussian")
