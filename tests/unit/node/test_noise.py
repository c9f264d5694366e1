# SPDX-License-Identifier: Apache-2.0
"""Noise calibration and sampling with OpenDP: scales from OpenDP, spends within shares, variance as declared."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest

from node.budget import BudgetConfig
from node.errors import ConfigError, NoiseError
from node.noise import MAX_TRUE_COUNT, add_noise, calibrate, float_down, sqrt_up
from protocol.accuracy import noise_variance
from protocol.privacy_loss import gaussian_rho, laplace_epsilon
from protocol.taxonomy import builtin_taxonomy
from protocol.validation import SPEND_TOLERANCE

TAXONOMY = builtin_taxonomy()


def _config(mechanism: str = "discrete_gaussian", release: str = "0.1", **weights: int) -> BudgetConfig:
    default = BudgetConfig.default("discrete_gaussian" if mechanism == "discrete_gaussian" else "discrete_laplace")
    return BudgetConfig(
        default.mechanism, Fraction(release), Fraction(release) * 2, Fraction(release) * 15, weights or default.weights
    )


def test_sqrt_up_never_rounds_below_the_true_root() -> None:
    assert sqrt_up(9) == 3.0
    assert sqrt_up(1) == 1.0
    for value in (2, 3, 5, 8, 10**6 + 1):
        root = sqrt_up(value)
        assert Fraction(root) ** 2 >= value
        assert Fraction(math.nextafter(root, 0)) ** 2 < value


def test_float_down_never_rounds_up() -> None:
    for value in (Fraction(1, 10), Fraction(1, 3), Fraction(1, 24), Decimal("0.030769230769230770")):
        result = float_down(value)
        assert Fraction(result) <= Fraction(value)
        assert Fraction(math.nextafter(result, math.inf)) > Fraction(value)


def test_gaussian_scales_match_the_closed_form_and_spend_at_most_the_share() -> None:
    plan = calibrate(TAXONOMY, list(TAXONOMY.tables), BudgetConfig.default())
    assert plan.mechanism == "discrete_gaussian"
    assert plan.spent == Decimal("0.1")
    for t in plan.tables:
        table = TAXONOMY.table(t.table)
        assert (t.l1_sensitivity, t.l2_sensitivity_squared) == (table.l1_bound, table.l2_sensitivity_squared)
        closed_form = math.sqrt(table.l2_sensitivity_squared / (2 * float(t.spent)))
        assert t.scale == pytest.approx(closed_form, rel=1e-9)
        # ρ implied by the published (decimal) scale: at most the declared share, up to the hub's tolerance.
        implied = gaussian_rho(table.l2_sensitivity_squared, t.scale_text)
        assert implied <= Fraction(t.spent) * (1 + SPEND_TOLERANCE)
        assert float(implied) == pytest.approx(float(t.spent), rel=1e-12)  # and not wastefully below it


def test_irrational_l2_sensitivity_is_not_rounded_up_to_an_integer() -> None:
    """cases_opened has L2 = √2: rounding d_in up to 2 would spend twice the ρ for the same σ."""
    plan = calibrate(TAXONOMY, ["cases_opened"], _config(cases_opened=1))
    (t,) = plan.tables
    assert t.l2_sensitivity_squared == 2
    assert t.scale == pytest.approx(math.sqrt(2 / (2 * 0.1)), rel=1e-9)  # σ = √(L2² / 2ρ) = √10
    assert t.scale < math.sqrt(4 / (2 * 0.1))


def test_laplace_scales_are_l1_over_epsilon() -> None:
    plan = calibrate(
        TAXONOMY,
        ["persons_control", "persons_corridor"],
        _config("discrete_laplace", "1", persons_control=1, persons_corridor=1),
    )
    assert plan.measure == "epsilon"
    for t in plan.tables:
        assert t.scale == pytest.approx(t.l1_sensitivity / 0.5, rel=1e-9)
        assert laplace_epsilon(t.l1_sensitivity, t.scale_text) <= Fraction(t.spent) * (1 + SPEND_TOLERANCE)
    block = plan.privacy_block()
    assert (block.mechanism, block.measure, block.spent) == ("discrete_laplace", "epsilon", "1")


def test_privacy_block_states_every_public_parameter() -> None:
    plan = calibrate(TAXONOMY, ["persons_corridor", "contacts"], BudgetConfig.default())
    block = plan.privacy_block()
    assert (block.mode, block.mechanism, block.measure, block.unit) == (
        "local",
        "discrete_gaussian",
        "rho",
        "person-month",
    )
    assert [t.table for t in block.tables] == ["persons_corridor", "contacts"]
    assert Decimal(block.spent) == sum(Decimal(t.spent) for t in block.tables) == Decimal("0.1")
    for t in block.tables:
        assert Decimal(t.scale) == Decimal(repr(plan.table(t.table).scale))  # the double OpenDP used, exactly


def test_a_budget_too_small_for_a_useful_table_is_a_config_error() -> None:
    config = BudgetConfig("discrete_laplace", Fraction(1, 10**8), Fraction(1), Fraction(1), {"persons_control": 1})
    with pytest.raises(ConfigError, match="noise scale"):
        calibrate(TAXONOMY, ["persons_control"], config)


def test_add_noise_keeps_shape_and_refuses_bad_counts() -> None:
    plan = calibrate(TAXONOMY, ["cases_opened"], _config(cases_opened=1))
    noisy = add_noise(plan, {"cases_opened": [3] * 42})
    assert len(noisy["cases_opened"]) == 42
    assert all(isinstance(v, int) for v in noisy["cases_opened"])
    with pytest.raises(NoiseError, match="whole number"):
        add_noise(plan, {"cases_opened": [-1] * 42})
    with pytest.raises(NoiseError, match="whole number"):
        add_noise(plan, {"cases_opened": [MAX_TRUE_COUNT + 1] * 42})
    with pytest.raises(NoiseError, match="whole number"):
        add_noise(plan, {"cases_opened": [True] * 42})
    with pytest.raises(NoiseError, match="covers tables"):
        add_noise(plan, {"persons_corridor": [0] * 19220})


def test_noise_is_fresh_on_every_draw() -> None:
    """The sampler itself never repeats (which is why the ledger must store the one draw of a release)."""
    plan = calibrate(TAXONOMY, ["persons_corridor"], BudgetConfig.default())
    first = add_noise(plan, {"persons_corridor": [0] * 19220})
    second = add_noise(plan, {"persons_corridor": [0] * 19220})
    assert first != second  # equal only with probability < 0.1^19220


# ---------------------------------------------------------------------------- the statistical test
#
# OpenDP samples from its own CSPRNG, so a seed cannot fix the outcome. Instead the acceptance band for the
# empirical mean of Z² (the noise has mean 0, so this estimates its variance) is derived from a Chernoff bound on
# the *exact* law of the declared distribution, so that a correct sampler fails this test with probability
# below 1e-9:
#
#   * Y = min(Z², K²), with K = 40·scale + 10, has a finite moment generating function Λ(λ) = log E e^(λY),
#     computed exactly (up to float rounding) from the declared pmf, for either mechanism.
#   * For any λ > 0, P(mean Y ≥ a) ≤ exp(-n(λa - Λ(λ))); solving for the a that makes this δ gives a valid
#     upper threshold a(λ) = (Λ(λ) + ln(1/δ)/n) / λ for *every* λ, so the numerical minimisation over λ can only
#     make the band wider (safe), never invalid. Likewise for λ < 0 and the lower threshold.
#   * mean Z² ≥ a needs mean Y ≥ a or some |Z_i| > K; mean Z² ≤ a implies mean Y ≤ a (Y ≤ Z²).
#
# So P(false failure) ≤ 2δ + n·P(|Z| > K) ≤ 5e-10 + 1e-12 with δ = 2.5e-10 and n = 100 000. The band is about
# ±3 % of the variance for the Gaussian and ±5 % for Laplace, so a scale off by 5 % (variance off by 10 %) fails.

SAMPLES = 100_000
DELTA = 2.5e-10


def _law_of_square(mechanism: str, scale: float) -> tuple[list[tuple[float, float]], float]:
    """The exact law of Y = min(Z², K²) as (value, probability) pairs, and P(|Z| > K)."""
    k_max = math.ceil(40 * scale) + 10
    if mechanism == "discrete_gaussian":

        def log_weight(k: int) -> float:
            return -k * k / (2 * scale * scale)

        tail = math.fsum(math.exp(log_weight(k)) for k in range(k_max + 1, k_max + 1 + 100 * math.ceil(scale)))
    else:

        def log_weight(k: int) -> float:
            return -k / scale

        a = math.exp(-1 / scale)
        tail = a ** (k_max + 1) / (1 - a)
    weights = [(float(k * k), (1.0 if k == 0 else 2.0) * math.exp(log_weight(k))) for k in range(k_max + 1)]
    total = math.fsum(w for _, w in weights) + 2 * tail
    law = [(y, w / total) for y, w in weights]
    law[-1] = (law[-1][0], law[-1][1] + 2 * tail / total)  # Y = K² carries the mass beyond K
    return law, 2 * tail / total


def _log_mgf(law: list[tuple[float, float]], lam: float) -> float:
    exponents = [lam * y + math.log(p) for y, p in law if p > 0]
    top = max(exponents)
    return top + math.log(math.fsum(math.exp(x - top) for x in exponents))


def _golden_min(f: Callable[[float], float], lo: float, hi: float, iterations: int = 80) -> float:
    ratio = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = f(x1), f(x2)
    for _ in range(iterations):
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - ratio * (hi - lo)
            f1 = f(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + ratio * (hi - lo)
            f2 = f(x2)
    return min(f1, f2)


def _acceptance_band(mechanism: str, scale: float) -> tuple[float, float, float]:
    """(lower, upper, variance) for the mean of SAMPLES squared noise draws."""
    law, beyond = _law_of_square(mechanism, scale)
    assert SAMPLES * beyond < 1e-12
    variance = math.fsum(y * p for y, p in law)
    unit = [(y / variance, p) for y, p in law]  # Y / Var: mean about 1, so λ ranges are scale-free
    c = math.log(1 / DELTA) / SAMPLES
    upper = _golden_min(lambda lam: (_log_mgf(unit, lam) + c) / lam, 1e-6, 5.0)
    lower = -_golden_min(lambda lam: (_log_mgf(unit, -lam) + c) / lam, 1e-6, 500.0)
    return lower * variance, upper * variance, variance


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mechanism", "table", "release"),
    [
        ("discrete_gaussian", "cases_opened", "0.1"),  # L2 = √2: the irrational sensitivity
        ("discrete_gaussian", "persons_corridor", "2"),  # σ = 0.5: far from the normal approximation
        ("discrete_laplace", "persons_control", "1"),  # L1 = 9: scale 9
    ],
)
def test_empirical_noise_variance_matches_the_declared_scale(mechanism: str, table: str, release: str) -> None:
    plan = calibrate(TAXONOMY, [table], _config(mechanism, release, **{table: 1}))
    (calibration,) = plan.tables
    lower, upper, variance = _acceptance_band(mechanism, calibration.scale)
    # The exact law used here is the one the hub and auditors use for every interval.
    assert variance == pytest.approx(noise_variance(mechanism, calibration.scale_text), rel=1e-9)
    assert lower < variance < upper
    assert upper / variance - 1 < 0.06
    assert 1 - lower / variance < 0.06

    noise = add_noise(plan, {table: [0] * SAMPLES})[table]
    mean_square = math.fsum(float(z) * float(z) for z in noise) / SAMPLES
    assert lower <= mean_square <= upper, (
        f"empirical variance {mean_square:.4f} outside [{lower:.4f}, {upper:.4f}] for declared {variance:.4f}"
    )
    # The same band rejects a scale 5 % off: the test would catch a mis-declared scale.
    wrong = noise_variance(mechanism, calibration.scale * 1.05)
    assert not lower <= wrong <= upper
