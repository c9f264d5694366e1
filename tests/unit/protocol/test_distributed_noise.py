# SPDX-License-Identifier: Apache-2.0
"""The distributed discrete Gaussian's accounting: the Kairouz–Liu–Steinke bound, the shares, the guarantees."""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import math
from decimal import Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol.distributed_noise as dn
from protocol.accuracy import noise_variance
from protocol.distributed_noise import (
    SecureGroup,
    kls_rho,
    kls_tau,
    plan_table_share,
    round_guarantee,
    sum_noise,
)
from protocol.errors import ProtocolError, SecureGroupViolation
from protocol.privacy_loss import gaussian_rho
from protocol.taxonomy import builtin_taxonomy

V2 = builtin_taxonomy(2)
CORRIDOR = V2.table("persons_corridor_2way")
CONTROL = V2.table("persons_control")


def _paper_tau(variance: float, summands: int) -> float:
    """τ straight from the paper's formula, in floating point (an independent computation)."""
    return 10 * math.fsum(math.exp(-2 * math.pi**2 * variance * k / (k + 1)) for k in range(1, summands))


def test_module_examples() -> None:
    assert doctest.testmod(dn, raise_on_error=True).attempted > 0


@pytest.mark.parametrize(
    ("variance", "summands"),
    [(Fraction(1, 4), 2), (Fraction(1, 4), 80), (Fraction(1), 5), (Fraction(5, 4), 16), (Fraction(4), 100)],
)
def test_tau_matches_the_paper_formula_and_bounds_it_from_above(variance: Fraction, summands: int) -> None:
    paper = _paper_tau(float(variance), summands)
    ours = kls_tau(variance, summands)
    assert ours >= Fraction(paper) * (1 - Fraction(1, 10**12))
    assert float(ours) == pytest.approx(paper, rel=1e-12)


def test_tau_known_value() -> None:
    # σ = 1/2, two shares: 10 · e^{−π²/4}, e^{−2.4674011002723395} = 0.0848049...
    assert float(kls_tau(Fraction(1, 4), 2)) == pytest.approx(0.8480497, rel=1e-6)


def test_one_share_is_the_local_discrete_gaussian_exactly() -> None:
    for scale in ("0.5", "1.1228", "4.490132550669372", "29.14"):
        variance = Fraction(scale) ** 2
        assert kls_tau(variance, 1) == 0
        for l2 in (1, 2, 9):
            assert kls_rho(share_variance=variance, summands=1, l1=l2, l2_squared=l2, cells=100) == gaussian_rho(
                l2, scale
            )


def test_a_group_of_one_reduces_to_the_local_calibration() -> None:
    group = SecureGroup(members=1, threshold=1)
    share = plan_table_share(CORRIDOR, Fraction("0.0248"), group)
    # the smallest double whose ρ = Δ₂²/(2s²) fits the share, i.e. OpenDP's local scale for it
    assert gaussian_rho(1, share.scale) <= Fraction("0.0248") < gaussian_rho(1, math.nextafter(share.scale, 0))
    assert share.guarantee(group, colluders=0) == gaussian_rho(1, share.scale)
    assert share.scale == pytest.approx(1 / math.sqrt(2 * 0.0248), rel=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    variance=st.fractions(min_value=Fraction(1, 4), max_value=50, max_denominator=1000),
    summands=st.integers(1, 60),
    l1=st.integers(1, 9),
)
def test_the_bound_is_at_least_the_continuous_gaussian_of_the_sum(variance: Fraction, summands: int, l1: int) -> None:
    rho = kls_rho(share_variance=variance, summands=summands, l1=l1, l2_squared=l1, cells=500)
    assert rho >= Fraction(l1) / (2 * summands * variance)
    widened = kls_rho(share_variance=variance * 2, summands=summands, l1=l1, l2_squared=l1, cells=500)
    assert widened <= rho  # more noise per share never costs privacy


@settings(max_examples=30, deadline=None)
@given(members=st.integers(4, 40), fraction=st.fractions(min_value=Fraction(1, 2), max_value=1, max_denominator=20))
def test_guarantees_order_from_the_hub_alone_to_all_other_members(members: int, fraction: Fraction) -> None:
    group = SecureGroup.from_fraction(members, fraction)
    share = plan_table_share(CONTROL, Fraction("0.0075"), group)
    guarantees = [share.guarantee(group, colluders=c) for c in range(members)]
    assert guarantees[0] <= Fraction("0.0075")
    assert all(a <= b for a, b in itertools.pairwise(guarantees))
    # only its own share left: exactly Δ₂²/(2v), about t times the hub's guarantee
    assert guarantees[-1] == Fraction(CONTROL.l2_sensitivity_squared) / (2 * share.share_variance)
    assert guarantees[-1] <= group.threshold * Fraction("0.0075")


def test_larger_thresholds_mean_smaller_shares_and_a_larger_collusion_guarantee() -> None:
    spend = Fraction("0.0069")
    table = V2.table("persons_total")
    previous = None
    for threshold in (2, 4, 8, 16):
        group = SecureGroup(members=20, threshold=threshold)
        share = plan_table_share(table, spend, group)
        member = share.guarantee(group, colluders=19)
        if previous is not None:
            assert share.scale < previous[0]
            assert member > previous[1]
        previous = (share.scale, member)


def test_the_coalition_guarantee_counts_honest_shares() -> None:
    group = SecureGroup(members=20, threshold=16)
    assert [group.honest_shares(c) for c in (0, 1, 15, 16, 19)] == [16, 15, 1, 1, 1]
    assert group.dropout_margin == 4
    with pytest.raises(SecureGroupViolation, match="0 to 19"):
        group.honest_shares(20)


def test_small_shares_are_widened_to_meet_the_target() -> None:
    # σ = 4.49 over 80 shares would be σ = 0.502 each, where τ is of order 1: the share must grow.
    group = SecureGroup(members=100, threshold=80)
    share = plan_table_share(CORRIDOR, Fraction("0.0248"), group)
    naive = 1 / math.sqrt(2 * 0.0248 * 80)
    assert share.scale > 1.4 * naive
    assert share.guarantee(group, colluders=0) <= Fraction("0.0248")
    assert kls_rho(
        share_variance=Fraction(naive) ** 2, summands=80, l1=1, l2_squared=1, cells=CORRIDOR.cell_count
    ) > Fraction("0.0248")


def test_round_guarantee_adds_the_tables() -> None:
    group = SecureGroup(members=6, threshold=5)
    shares = [plan_table_share(V2.table(n), Fraction("0.01"), group) for n in ("persons_total", "contacts")]
    total = round_guarantee(shares, group, colluders=0)
    assert total == sum((s.guarantee(group, colluders=0) for s in shares), Fraction(0))
    assert total <= Fraction("0.02")


def test_the_one_cell_totals_take_their_share_and_count_in_full_against_every_coalition() -> None:
    group = SecureGroup(members=20, threshold=16)
    budget = Fraction("0.0069")
    shares_part, totals_part = dn.split_table_budget(budget)
    assert shares_part + totals_part == budget
    assert totals_part == budget * dn.TOTALS_SHARE == budget / 50
    contacts = V2.table("contacts")  # Δ₁ = 3: the total's L2 sensitivity (Δ₂ of the cells is also 3)
    total = dn.plan_table_total(contacts, totals_part)
    assert total.rho == Fraction(9) / (2 * Fraction(total.scale) ** 2) <= totals_part
    below = math.nextafter(total.scale, 0.0)  # the smallest double that fits
    assert Fraction(9) / (2 * Fraction(below) ** 2) > totals_part
    assert total.noise() == ("discrete_gaussian", repr(total.scale), 1)
    share = plan_table_share(contacts, shares_part, group)
    for colluders in (0, 5, 19):
        assert round_guarantee([share], group, colluders=colluders, totals=[total]) == (
            share.guarantee(group, colluders=colluders) + total.rho
        )
    assert round_guarantee([share], group, colluders=0, totals=[total]) <= budget
    assert round_guarantee([share], group, colluders=19, totals=[total]) <= group.threshold * budget
    with pytest.raises(SecureGroupViolation, match="above 0"):
        dn.plan_table_total(contacts, Fraction(0))


def test_sum_noise_is_the_survivors_shares_exactly() -> None:
    group = SecureGroup(members=20, threshold=16)
    share = plan_table_share(CORRIDOR, Fraction("0.0248"), group)
    assert share.noise(survivors=17) == ("discrete_gaussian", share.scale_text, 17)
    noise = sum_noise({CORRIDOR.name: share}, {CORRIDOR.name: 5}, survivors=20)
    assert noise.lattice
    assert noise.variance == pytest.approx(100 * noise_variance("discrete_gaussian", share.scale_text), rel=1e-12)
    # all 20 surviving: n/t = 1.25 times the central variance of σ² = 1/(2ρ), within the τ widening
    assert noise.variance / 5 == pytest.approx(1.25 / (2 * 0.0248), rel=1e-3)
    with pytest.raises(SecureGroupViolation):
        share.noise(survivors=0)


@pytest.mark.parametrize(
    ("members", "threshold", "match"),
    [(0, 0, "at least one member"), (5, 1, "from 2 to 5"), (5, 6, "from 2 to 5"), (1, 2, "from 2 to 1")],
)
def test_impossible_groups_are_refused(members: int, threshold: int, match: str) -> None:
    with pytest.raises(SecureGroupViolation, match=match):
        SecureGroup(members=members, threshold=threshold)


def test_threshold_fractions() -> None:
    assert SecureGroup.from_fraction(20, Fraction(4, 5)).threshold == 16
    assert SecureGroup.from_fraction(6, Fraction(4, 5)).threshold == 5
    with pytest.raises(SecureGroupViolation, match="fraction"):
        SecureGroup.from_fraction(6, Fraction(0))


def test_shares_below_one_half_start_from_one_half() -> None:
    group = SecureGroup(members=20, threshold=16)
    share = plan_table_share(CORRIDOR, Fraction(2), group)  # σ²/t = 1/64: outside the bound
    assert share.scale >= 0.5
    assert share.guarantee(group, colluders=0) <= 2
    # the smallest share that fits: one step narrower does not (τ is large near σ = 1/2)
    narrower = dataclasses.replace(share, scale=math.nextafter(share.scale, 0.0))
    assert narrower.guarantee(group, colluders=0) > 2
    with pytest.raises(SecureGroupViolation, match="below 1/4"):
        kls_tau(Fraction(1, 5), 3)
    assert issubclass(SecureGroupViolation, ProtocolError)


@settings(max_examples=50, deadline=None)
@given(st.fractions(min_value=0, max_value=10**6, max_denominator=10**6))
def test_square_roots_round_up(value: Fraction) -> None:
    root = dn._sqrt_up(value)
    assert root * root >= value
    assert float(root) == pytest.approx(math.sqrt(value), rel=1e-15, abs=1e-28)


@settings(max_examples=50, deadline=None)
@given(st.fractions(min_value=-900, max_value=0, max_denominator=10**4))
def test_exponentials_round_up(exponent: Fraction) -> None:
    bound = dn._exp_up(exponent)
    assert float(bound) == pytest.approx(math.exp(exponent), rel=1e-13)
    # against 80 digits of e^x at the exact rational x (Decimal's exp is correctly rounded)
    context = Context(prec=80)
    reference = Fraction(context.divide(Decimal(exponent.numerator), Decimal(exponent.denominator)).exp(context))
    assert bound >= reference * (1 + Fraction(1, 10**70))


def test_the_per_cell_form_replaces_the_table_size_by_the_cells_changed() -> None:
    variance, summands = Fraction(3, 4), 80
    tau = kls_tau(variance, summands)
    root = dn._sqrt_up(Fraction(1) / (summands * variance))
    whole = kls_rho(share_variance=variance, summands=summands, l1=1, l2_squared=1, cells=3844)
    per_cell = kls_rho(share_variance=variance, summands=summands, l1=1, l2_squared=1, cells=3844, per_cell=1)
    assert per_cell == (root + tau) ** 2 / 2 < whole
    # one cell, one change: the two forms are the same bound
    one = kls_rho(share_variance=variance, summands=summands, l1=1, l2_squared=1, cells=1)
    assert kls_rho(share_variance=variance, summands=summands, l1=1, l2_squared=1, cells=1, per_cell=1) == one
    # nine cells changed by one each (persons_control): nine times one cell's
    nine = kls_rho(share_variance=variance, summands=summands, l1=9, l2_squared=9, cells=10**6, per_cell=1)
    assert nine == 9 * per_cell


@settings(max_examples=40, deadline=None)
@given(
    variance=st.fractions(min_value=Fraction(1, 4), max_value=20, max_denominator=100),
    summands=st.integers(2, 50),
    l1=st.integers(1, 9),
    per_cell=st.integers(1, 3),
)
def test_the_per_cell_form_maximises_over_every_change_one_person_can_make(
    variance: Fraction, summands: int, l1: int, per_cell: int
) -> None:
    tau = kls_tau(variance, summands)
    root = dn._sqrt_up(Fraction(1) / (summands * variance))
    found = dn._per_cell_rho(root, tau, l1, per_cell)

    def patterns(left: int) -> list[list[int]]:  # every multiset of cell changes with sum <= left
        result: list[list[int]] = [[]]
        for x in range(1, min(per_cell, left) + 1):
            result += [[x, *rest] for rest in patterns(left - x) if not rest or rest[0] <= x]
        return result

    brute = max(sum(((x * root + tau) ** 2 / 2 for x in p), Fraction(0)) for p in patterns(l1))
    assert found == brute


def test_more_members_at_the_same_threshold_cost_accuracy_not_privacy() -> None:
    spend = Fraction("0.0248")
    shares = [plan_table_share(CORRIDOR, spend, SecureGroup(members=n, threshold=8)) for n in range(8, 20)]
    assert len({s.scale for s in shares}) == 1  # the share depends on t alone
    groups = [SecureGroup(members=n, threshold=8) for n in range(8, 20)]
    assert len({s.guarantee(g, colluders=0) for s, g in zip(shares, groups, strict=True)}) == 1
    variances = [
        sum_noise({CORRIDOR.name: s}, {CORRIDOR.name: 1}, survivors=g.members).variance
        for s, g in zip(shares, groups, strict=True)
    ]
    assert variances == sorted(variances)
    assert variances[-1] / variances[0] == pytest.approx(19 / 8)


@pytest.mark.parametrize(("members", "threshold"), [(True, 1), (3.0, 2), ("3", 2), (3, 2.0), (3, None)])
def test_a_group_is_counted_in_whole_numbers(members: object, threshold: object) -> None:
    with pytest.raises(SecureGroupViolation, match="must be a whole number, got"):
        SecureGroup(members=members, threshold=threshold)  # type: ignore[arg-type]


@pytest.mark.parametrize("spend", [Fraction(0), Fraction(-1, 10), Decimal("0"), Decimal("-0.5")])
def test_a_table_share_needs_a_positive_budget(spend: Fraction | Decimal) -> None:
    with pytest.raises(SecureGroupViolation, match=f"table {CORRIDOR.name}: a budget share must be above 0"):
        plan_table_share(CORRIDOR, spend, SecureGroup(members=5, threshold=3))


@pytest.mark.parametrize("summands", [0, -1, True, 2.0])
def test_a_sum_of_noise_shares_has_at_least_one_whole_share(summands: object) -> None:
    with pytest.raises(SecureGroupViolation, match="a sum of noise shares has at least one share, got"):
        kls_tau(Fraction(1), summands)  # type: ignore[arg-type]


def _is_smallest_root(root: float, value: Fraction) -> bool:
    return Fraction(root) ** 2 >= value and Fraction(math.nextafter(root, 0.0)) ** 2 < value


@pytest.mark.parametrize(
    "value",
    [
        Fraction(2),
        Fraction(1, 4),
        Fraction(10**20 + 1, 3),
        # float(value) is a subnormal rounded up by far more than an ulp of the root: math.sqrt overshoots
        Fraction(2, 3 * 10**310),
    ],
)
def test_the_rounded_up_root_is_the_smallest_double_whose_square_is_not_below(value: Fraction) -> None:
    root = dn._sqrt_up_float(value)
    assert _is_smallest_root(root, value)


@given(st.fractions(min_value=Fraction(1, 10**12), max_value=10**12))
def test_the_rounded_up_root_of_any_fraction(value: Fraction) -> None:
    assert _is_smallest_root(dn._sqrt_up_float(value), value)


# ---------------------------------------------------------------------------------------------- scaled rounds


def test_scaling_changes_nothing_when_the_sum_is_one_share() -> None:
    """With one share τ = 0: the bound is the local Δ₂²/(2v) on either lattice (the change and σ both scale by γ)."""
    variance = Fraction(9, 4)
    plain = kls_rho(share_variance=variance, summands=1, l1=9, l2_squared=9, cells=45)
    assert kls_rho(share_variance=225 * variance, summands=1, l1=9, l2_squared=9, cells=45, scaling=15) == plain


def test_a_scaled_round_needs_no_widening_where_a_plain_one_does() -> None:
    """N = 100, t = 80: the corridor's share would be σ = 0.50; unscaled the bound widens it by half, scaled at
    γ = 15 (a fine σ of 7.5) by nothing that matters, and the guarantee holds."""
    corridor = builtin_taxonomy(2).table("persons_corridor_2way")
    group = SecureGroup(members=100, threshold=80)
    spend = Fraction("0.0248")
    ideal = math.sqrt(corridor.l2_sensitivity_squared / (2 * float(spend) * group.threshold))
    plain = plan_table_share(corridor, spend, group)
    scaled = plan_table_share(corridor, spend, group, scaling=15)
    assert plain.scale > 1.4 * ideal
    assert scaled.scaling == 15
    assert 15 * ideal <= scaled.scale <= 15 * ideal * 1.000001
    assert scaled.guarantee(group, colluders=0) <= spend
    # against the hub and every other member: only its own share, Δ₂²/(2(σ/γ)²) ≈ t · spend, as unscaled
    assert float(scaled.guarantee(group, colluders=99)) == pytest.approx(80 * float(spend), rel=1e-5)


def test_a_scaled_share_publishes_one_rounded_term_per_cell() -> None:
    corridor = builtin_taxonomy(2).table("persons_corridor_2way")
    group = SecureGroup(members=100, threshold=80)
    scaled = plan_table_share(corridor, Fraction("0.0248"), group, scaling=15)
    mechanism, scale, count = scaled.noise(survivors=100)
    assert (mechanism, count) == ("rounded_gaussian_sum", 1)
    assert scale == f"15:{scaled.scale!r}x100"
    target = corridor.l2_sensitivity_squared / (2 * 0.0248)  # the central σ² the budget share buys
    # all 100 survive: 100/80 of the target variance, plus the rounding's (γ² − 1)/(12 γ²)
    assert noise_variance(mechanism, scale) == pytest.approx(target * 100 / 80 + 224 / 2700, rel=1e-4)
    six_months = sum_noise({corridor.name: scaled}, {corridor.name: 6}, survivors=100)
    assert six_months.variance == pytest.approx(6 * noise_variance(mechanism, scale))


@pytest.mark.parametrize("scaling", [0, 2, 14, 257, True])
def test_a_scaling_factor_must_be_odd_and_in_range(scaling: int) -> None:
    with pytest.raises(SecureGroupViolation, match="odd whole number"):
        kls_rho(share_variance=Fraction(1), summands=2, l1=1, l2_squared=1, cells=1, scaling=scaling)
