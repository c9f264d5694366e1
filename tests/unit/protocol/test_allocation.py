# SPDX-License-Identifier: Apache-2.0
"""Budget weights from the workload: recorded weights are the computed ones, and they are optimal."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from protocol import allocation
from protocol.allocation import TOTAL_WEIGHT, allocate, expected_halfwidths, optimal_shares, table_variances
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


def test_an_unknown_mechanism_has_no_allocation() -> None:
    taxonomy = builtin_taxonomy(2)
    with pytest.raises(TaxonomyViolation, match="no budget allocation for mechanism 'uniform'"):
        optimal_shares(taxonomy, "uniform")
    with pytest.raises(TaxonomyViolation, match="no budget allocation for mechanism 'uniform'"):
        table_variances(taxonomy, {"contacts": 1.0}, "uniform", 1.0)


def test_table_variances_known_answers() -> None:
    taxonomy = builtin_taxonomy(2)
    contacts = taxonomy.table("contacts")  # L1 = 3, L2² = 9
    assert table_variances(taxonomy, {"contacts": 0.5}, "discrete_gaussian", 0.2) == {"contacts": 9 / (2 * 0.1)}
    assert table_variances(taxonomy, {"contacts": 0.5}, "discrete_laplace", 2.0) == {"contacts": 2.0 * 3.0**2}
    assert (contacts.l1_bound, contacts.l2_sensitivity_squared) == (3, 9)


def test_shares_are_normalised_even_when_the_iterations_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    taxonomy = builtin_taxonomy(2)
    converged = optimal_shares(taxonomy, "discrete_gaussian")
    monkeypatch.setattr(allocation, "_ITERATIONS", 2)
    monkeypatch.setattr(allocation, "_TOLERANCE", 0.0)
    capped = optimal_shares(taxonomy, "discrete_gaussian")
    assert set(capped) == set(taxonomy.tables)
    assert math.isclose(math.fsum(capped.values()), 1.0)
    assert all(share > 0 for share in capped.values())
    assert max(abs(capped[n] - converged[n]) for n in capped) > 1e-3  # two steps are not the optimum


def test_weights_raised_to_one_are_paid_for_by_the_largest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Largest remainder, when tables that round to 0 are raised to a weight of 1: the largest weight gives way."""
    shares = {"a": 0.9985, "b": 0.0005, "c": 0.0005, "d": 0.0005}
    monkeypatch.setattr(allocation, "optimal_shares", lambda _taxonomy, _mechanism: shares)
    weights = allocate(builtin_taxonomy(2), "discrete_gaussian")
    assert weights == {"a": 997, "b": 1, "c": 1, "d": 1}
    assert sum(weights.values()) == TOTAL_WEIGHT
