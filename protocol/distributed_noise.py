# SPDX-License-Identifier: Apache-2.0
"""Distributed discrete Gaussian noise for a secure-aggregation round: each member's share, and what the round's
sum guarantees against the hub and against coalitions.

In a round of a group of ``n`` members with threshold ``t``, every member adds to each cell of table ``T`` one
discrete Gaussian ``N_Z(0, v_T)`` of share variance ``v_T ≈ σ_T² / t``, where ``σ_T`` is the scale a local
release would use for the same budget share (:mod:`node.noise`). The masks cancel in the sum, so the hub sees
``Σ_survivors (counts + shares)``: at least ``t`` members' shares when the round publishes at all.

The bound used (Kairouz, Liu & Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with
Secure Aggregation", ICML 2021, arXiv 2102.06387, Proposition 14 / Eq. 17, the concentrated-DP form of their
Theorem 1). Let ``Z`` be the sum of ``m`` independent ``N_Z(0, v)`` vectors of dimension ``d``, ``v ≥ 1/4``
(σ ≥ 1/2), and ``Δ`` an integer vector with ``‖Δ‖₁ ≤ Δ₁``, ``‖Δ‖₂ ≤ Δ₂``. With

    τ = 10 · Σ_{k=1}^{m−1} exp(−2π² v · k/(k+1)),

for every order ``α ≥ 1``, ``D_α(Z ‖ Z + Δ) ≤ α · ρ`` with

    ρ = ½ · min( Δ₂²/(m v) + 2 τ Δ₁/√(m v) + τ² d ,  (Δ₂/√(m v) + τ √d)² ),

i.e. ``ρ``-zCDP. (Their Eq. 17 has a third term, ``α Δ₂²/(2mv) + τd``, not of the form ``α ρ``; it is not used.)
Applied to each changed cell alone (``d = 1``; the cells' noises are independent and Rényi divergences add over
independent coordinates), it gives ``Σ_i ½ (|Δ_i|/√(m v) + τ)²``; :func:`kls_rho` takes the smaller of the two.
For ``m = 1`` the sum is empty, ``τ = 0``, and ``ρ = Δ₂²/(2v)``: the local discrete Gaussian exactly. ``τ`` falls
as ``e^{−π²v}``: negligible once a share's variance is above about 2 (``v = 2``: ``τ < 10⁻⁷`` for 100 shares), but
at ``v`` near its floor of 1/4 it is of order 1 and the shares must be widened well beyond ``σ²/t`` to meet the
target (:func:`plan_table_share` does; the cost is in docs/secure-aggregation-privacy.md).

Every number here is an exact :class:`~fractions.Fraction` *upper* bound on ``ρ``: ``π`` is rounded down inside
the exponent, each exponential up (50 digits plus a margin), each square root up. So a guarantee stated from this
module is never smaller than the true one.

The guarantees a member declares for one release of a round (``c`` members colluding with the hub):

* **against the hub** (``c = 0``): the sum carries at least ``t`` honest shares: ``ρ_hub = Σ_T ρ_T(m = t)``;
* **against the hub and ``c`` members**: they can remove their own shares (or submit none), and the hub can drop
  honest members down to ``t`` survivors, so ``max(1, t − c)`` honest shares remain: ``ρ_T(m = max(1, t − c))``;
* **against the hub and all other members** (``c = n − 1``): only the member's own share protects it,
  ``ρ_member = Σ_T Δ₂²/(2 v_T) ≈ t · ρ_hub`` (exactly ``t`` times the central ``Δ₂²/(2σ²)``). This holds even if
  the masking failed entirely (a coalition of ``t`` members can reconstruct any member's seeds), because the
  vector a member sends always carries its own share.

**The one-cell totals** (issue 18, point 5). Beside its masked vector each member releases, for every table, the
sum of its true cells plus one discrete Gaussian of its own (:class:`TableTotalNoise`), so that anyone can check
the round's table totals against the survivors' totals (:mod:`protocol.secagg.totals`). It is a local release of
one number: one person changes a table's total by at most the table's L1 bound, so its L2 sensitivity is ``Δ₁``
and it spends ``ρ = Δ₁²/(2σ²)`` against everyone, whoever colludes. It takes :data:`TOTALS_SHARE` of the table's
budget share and the noise shares the rest (:func:`split_table_budget`); zCDP composition adds the two in every
guarantee (:func:`round_guarantee` with ``totals``):

* against the hub: ``Σ_T (ρ_T^shares(m = t) + ρ_T^total) ≤ Σ_T ρ_T``, the release's budget, as before;
* against the hub and all other members: ``Σ_T (Δ₂²/(2 v_T) + ρ_T^total)``, still at most ``t`` times the release
  (the shares' part is about ``t · (1 − TOTALS_SHARE)`` times it, the totals' part ``TOTALS_SHARE`` times it).

>>> from fractions import Fraction
>>> from protocol.taxonomy import builtin_taxonomy
>>> corridor = builtin_taxonomy(2).table("persons_corridor_2way")
>>> group = SecureGroup(members=20, threshold=16)
>>> share = plan_table_share(corridor, Fraction("0.0248"), group)
>>> round(share.scale, 3), share.scale_text == repr(share.scale)      # σ_T = 4.49 locally; σ_T / √16
(1.123, True)
>>> float(share.guarantee(group, colluders=0)) <= 0.0248
True
>>> round(float(share.guarantee(group, colluders=19)), 4)             # ≈ t · ρ_T: only its own share is left
0.3967
>>> share.noise(survivors=20)                                         # the round's sum, one cell
('discrete_gaussian', '1.1227362354287738', 20)
>>> shares_part, totals_part = split_table_budget(Fraction("0.0248"))  # 98 % and 2 % of the table's budget
>>> total = plan_table_total(corridor, totals_part)
>>> round(total.scale, 2), total.rho <= totals_part, total.noise()[2]  # σ = Δ₁ / √(2 · 0.000496)
(31.75, True, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal
from fractions import Fraction
from typing import Final

from protocol.accuracy import NoiseGroup
from protocol.bounds import LinearNoise
from protocol.errors import SecureGroupViolation
from protocol.rounded_noise import MAX_SCALING, RoundedSum, is_scaling_factor
from protocol.rounded_noise import MECHANISM as ROUNDED_MECHANISM
from protocol.taxonomy import Table

__all__ = [
    "MIN_SHARE_VARIANCE",
    "TOTALS_SHARE",
    "SecureGroup",
    "TableShare",
    "TableTotalNoise",
    "kls_rho",
    "kls_tau",
    "plan_table_share",
    "plan_table_total",
    "round_guarantee",
    "split_table_budget",
    "sum_noise",
]

#: The share of each table's budget its one-cell local total spends (the rest goes to the noise shares). Small
#: on purpose: the totals' check catches gross shifts only at any affordable share (its tolerance falls as
#: ``1/√share``), while every answer of every round pays ``√(1/(1 − share))`` in width: 1.0 % at 2 %, 5.4 % at 10 %
#: (the figures: docs/secure-aggregation-privacy.md §8).
TOTALS_SHARE: Final = Fraction(1, 50)
#: Kairouz–Liu–Steinke require every share's σ ≥ 1/2.
MIN_SHARE_VARIANCE: Final = Fraction(1, 4)
#: π rounded down (38 digits): the exponent ``−2π²v·k/(k+1)`` is then rounded up, and so its exponential.
_PI_DOWN: Final = Fraction("3.14159265358979323846264338327950288419")
#: Exponents below this are raised to it: ``e^{-1000}`` is a safe (larger) bound and keeps fractions small.
_EXPONENT_FLOOR: Final = -1000
_DIGITS: Final = 50
_SQRT_BITS: Final = 96


@dataclass(frozen=True, slots=True)
class SecureGroup:
    """A round's group: ``members`` on the roster, ``threshold`` of them needed for anything to be published.

    ``2 ≤ threshold ≤ members``; a group of one (``t = n = 1``) is accepted as the base case, a local release."""

    members: int
    threshold: int

    def __post_init__(self) -> None:
        for name in ("members", "threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SecureGroupViolation(f"a secure group's {name} must be a whole number, got {value!r}")
        if self.members < 1:
            raise SecureGroupViolation(f"a secure group has at least one member, got {self.members}")
        if self.members == 1 and self.threshold == 1:
            return  # a group of one: a local release, the accounting's base case
        if not 2 <= self.threshold <= self.members:
            raise SecureGroupViolation(
                f"the threshold of a group of {self.members} must be from 2 to {self.members}, got {self.threshold}"
                " (below 2 a single share would reveal a member's secrets; above n no round could ever publish)"
            )

    @classmethod
    def from_fraction(cls, members: int, fraction: Fraction) -> SecureGroup:
        """The group whose threshold is ``⌈fraction · members⌉`` (e.g. 0.8 of 20 members: 16)."""
        if not 0 < fraction <= 1:
            raise SecureGroupViolation(f"a threshold fraction must be above 0 and at most 1, got {fraction}")
        return cls(members=members, threshold=math.ceil(Fraction(fraction) * members))

    @property
    def dropout_margin(self) -> int:
        """How many members may drop out (or be dropped) and the round still publishes: ``n − t``."""
        return self.members - self.threshold

    def honest_shares(self, colluders: int) -> int:
        """The fewest honest shares in a published sum when ``colluders`` members collude with the hub."""
        if not 0 <= colluders < self.members:
            raise SecureGroupViolation(
                f"a coalition beside one member of a group of {self.members} has 0 to {self.members - 1} members,"
                f" got {colluders}"
            )
        return max(1, self.threshold - colluders)


def kls_tau(share_variance: Fraction, summands: int) -> Fraction:
    """An upper bound on ``τ = 10 · Σ_{k=1}^{m−1} exp(−2π² v k/(k+1))`` for ``m = summands`` shares of variance
    ``v``; exactly 0 for one share."""
    _check_share(share_variance, summands)
    total = Fraction(0)
    for k in range(1, summands):
        total += _exp_up(-2 * _PI_DOWN**2 * share_variance * k / (k + 1))
    return 10 * total


def kls_rho(
    *,
    share_variance: Fraction,
    summands: int,
    l1: int,
    l2_squared: int,
    cells: int,
    per_cell: int | None = None,
    scaling: int = 1,
) -> Fraction:
    """An upper bound on the zCDP ``ρ`` of the sum of ``summands`` discrete Gaussian shares of ``share_variance``
    added to every one of ``cells`` cells, for a change of L1 norm ``l1`` and squared L2 norm ``l2_squared``
    (the module docstring's bound). Exactly ``l2_squared / (2 v)`` for one share.

    With ``per_cell`` (the most one person adds to one cell) the per-cell form is taken too, when smaller: the
    cells' noises are independent, so the Rényi divergence of the table is the sum of its cells' (additivity over
    product distributions), and the bound applied to each changed cell alone (``d = 1``) gives
    ``Σ_i ½ (|Δ_i|/√(m v) + τ)²``, maximised over the changes one person can make (``Σ|Δ_i| ≤ l1``,
    ``|Δ_i| ≤ per_cell``). It replaces the table's ``√d`` by about the number of changed cells.

    With ``scaling`` γ (a scaled round: members send ``γ · counts`` and shares of ``share_variance`` on that finer
    lattice) a person's change is ``γΔ``: the norms are ``γ l1`` and ``γ² l2_squared``, and ``τ`` is that of the
    fine shares, which is what makes small shares affordable (docs/secure-aggregation-privacy.md §7).
    """
    _check_scaling(scaling)
    tau = kls_tau(share_variance, summands)
    total_variance = summands * share_variance
    main = Fraction(scaling * scaling * l2_squared) / total_variance
    if tau == 0:
        return main / 2
    inverse_root = scaling * _sqrt_up(1 / total_variance)
    first = main + 2 * tau * l1 * inverse_root + tau * tau * cells
    second = (_sqrt_up(main) + tau * _sqrt_up(Fraction(cells))) ** 2
    whole = min(first, second) / 2
    if per_cell is None:
        return whole
    return min(whole, _per_cell_rho(inverse_root, tau, l1, per_cell))


@dataclass(frozen=True, slots=True)
class TableShare:
    """One table's noise share: every member adds ``N_Z(0, scale²)`` to each of its cells (in a scaled round, to
    ``scaling`` times each count: the scale is then on that finer lattice)."""

    table: str
    #: The share's σ, as OpenDP's sampler takes it (a double; its exact binary value is what is accounted).
    scale: float
    l1_sensitivity: int
    l2_sensitivity_squared: int
    cells: int
    #: The most one person adds to one cell.
    per_cell: int
    #: The table's budget share: the ρ the round's sum must not exceed against the hub.
    spent: Fraction
    #: The round's scaling factor γ (1: the shares are added to the counts themselves).
    scaling: int = 1

    @property
    def scale_text(self) -> str:
        """The scale as the shortest decimal that reads back as :attr:`scale` (as payloads carry scales)."""
        return repr(self.scale)

    @property
    def share_variance(self) -> Fraction:
        return Fraction(self.scale) ** 2

    def guarantee(self, group: SecureGroup, *, colluders: int) -> Fraction:
        """The table's ρ against the hub colluding with ``colluders`` members (0: the hub alone)."""
        return kls_rho(
            share_variance=self.share_variance,
            summands=group.honest_shares(colluders),
            l1=self.l1_sensitivity,
            l2_squared=self.l2_sensitivity_squared,
            cells=self.cells,
            per_cell=self.per_cell,
            scaling=self.scaling,
        )

    def noise(self, *, survivors: int) -> tuple[str, str, int]:
        """One cell of the round's published sum as a noise term of :mod:`protocol.accuracy`: ``survivors``
        independent shares (exact: the interval code sums exactly these discrete Gaussians), or, in a scaled round,
        the one term ``round(Σ shares / γ)`` (:mod:`protocol.rounded_noise`)."""
        if survivors < 1:
            raise SecureGroupViolation(f"a round's sum has at least one survivor, got {survivors}")
        if self.scaling == 1:
            return ("discrete_gaussian", self.scale_text, survivors)
        return (ROUNDED_MECHANISM, RoundedSum(self.scaling, ((self.scale, survivors),)).text, 1)


def plan_table_share(table: Table, spend: Fraction | Decimal, group: SecureGroup, *, scaling: int = 1) -> TableShare:
    """The share of ``table`` for a round of ``group`` whose sum must spend at most ``spend`` (the table's budget
    share, ρ) against the hub: the smallest double ``s`` with ``kls_rho(s², m = t) ≤ spend``.

    It starts from ``σ² / t`` with ``σ² = Δ₂² / (2 spend)`` (the local calibration spread over ``t`` shares) and
    widens by a relative ``2⁻⁴⁰``, doubling, until the τ terms fit, then bisects to the smallest double that fits
    (the bound decreases as the share grows). A share below σ = 1/2, outside the bound's conditions, starts from
    σ = 1/2 instead (a large threshold on a table with little noise: more noise than the target needs, never
    less privacy). With ``scaling`` γ the share is planned on the finer lattice (:func:`kls_rho`): it starts from
    ``γ σ / √t`` and, its τ being negligible, hardly widens.
    """
    _check_scaling(scaling)
    target = Fraction(spend)
    if target <= 0:
        raise SecureGroupViolation(f"table {table.name}: a budget share must be above 0, got {spend}")
    l2_squared = table.l2_sensitivity_squared
    # Below σ = 1/2 the bound does not apply: such a share is raised to 1/2 (more noise, never less privacy).
    variance = max(Fraction(scaling * scaling * l2_squared) / (2 * target * group.threshold), MIN_SHARE_VARIANCE)

    def share(scale: float) -> TableShare:
        return TableShare(
            table.name, scale, table.l1_bound, l2_squared, table.cell_count, table.per_cell_bound, target, scaling
        )

    def fits(scale: float) -> bool:
        return share(scale).guarantee(group, colluders=0) <= target

    low = _sqrt_up_float(variance)
    if fits(low):
        return share(low)
    step = 2.0**-40
    high = low * (1 + step)
    while not fits(high):  # the bound falls as the share grows: double the widening until it fits
        low, step = high, step * 2
        high = _sqrt_up_float(variance) * (1 + step)
    while math.nextafter(low, math.inf) < high:  # then the smallest double that fits, by bisection
        middle = (low + high) / 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return share(high)


@dataclass(frozen=True, slots=True)
class TableTotalNoise:
    """One table's one-cell local total: the member adds ``N_Z(0, scale²)`` to the sum of its true cells."""

    table: str
    #: The total's σ, as OpenDP's sampler takes it (a double; its exact binary value is what is accounted).
    scale: float
    #: The table's L1 bound: the most one person changes its total by (the total's L2 sensitivity).
    l1_sensitivity: int
    #: The budget the total may spend (:data:`TOTALS_SHARE` of the table's).
    spent: Fraction

    @property
    def scale_text(self) -> str:
        """The scale as the shortest decimal that reads back as :attr:`scale` (as messages carry scales)."""
        return repr(self.scale)

    @property
    def rho(self) -> Fraction:
        """What the total spends, against everyone: ``Δ₁² / (2σ²)``, exactly, for the double σ."""
        return Fraction(self.l1_sensitivity**2) / (2 * Fraction(self.scale) ** 2)

    def noise(self) -> NoiseGroup:
        """The total's noise, as a noise term of :mod:`protocol.accuracy`."""
        return ("discrete_gaussian", self.scale_text, 1)


def split_table_budget(spend: Fraction | Decimal) -> tuple[Fraction, Fraction]:
    """A table's budget share split into the noise shares' part and the one-cell total's (:data:`TOTALS_SHARE`),
    exactly: the two add up to ``spend``."""
    whole = Fraction(spend)
    totals = whole * TOTALS_SHARE
    return whole - totals, totals


def plan_table_total(table: Table, spend: Fraction | Decimal) -> TableTotalNoise:
    """The one-cell total of ``table`` spending at most ``spend``: the smallest double σ with
    ``Δ₁² / (2σ²) ≤ spend`` (``Δ₁`` the table's L1 bound)."""
    target = Fraction(spend)
    if target <= 0:
        raise SecureGroupViolation(f"table {table.name}: a total's budget share must be above 0, got {spend}")
    scale = _sqrt_up_float(Fraction(table.l1_bound**2) / (2 * target))
    return TableTotalNoise(table.name, scale, table.l1_bound, target)


def round_guarantee(
    shares: Iterable[TableShare],
    group: SecureGroup,
    *,
    colluders: int,
    totals: Iterable[TableTotalNoise] = (),
) -> Fraction:
    """A release's ρ against the hub and ``colluders`` members: the tables' guarantees added, and the one-cell
    totals' ρ (local releases, the same against every coalition) added in full (zCDP composition)."""
    spent = sum((share.guarantee(group, colluders=colluders) for share in shares), Fraction(0))
    return spent + sum((total.rho for total in totals), Fraction(0))


def sum_noise(shares: Mapping[str, TableShare], counts: Mapping[str, int], *, survivors: int) -> LinearNoise:
    """The noise of a plain sum of ``counts[table]`` cells of each table of a round's sum with ``survivors``
    members: ``survivors · counts[table]`` independent shares per table, or, in a scaled round, ``counts[table]``
    rounded terms (its interval is exact either way)."""
    terms = {name: shares[name].noise(survivors=survivors) for name, count in counts.items() if count}
    return LinearNoise((Fraction(1), (*terms[name][:2], terms[name][2] * counts[name])) for name in terms)


# ----------------------------------------------------------------------------------------------- helpers


def _per_cell_rho(inverse_root: Fraction, tau: Fraction, l1: int, per_cell: int) -> Fraction:
    """``max Σ_i ½ (x_i · inverse_root + τ)²`` over whole ``x_i`` in ``1..per_cell`` with ``Σ x_i ≤ l1``."""
    best = [Fraction(0)] * (l1 + 1)
    for total in range(1, l1 + 1):
        best[total] = max(
            best[total - 1],
            *((x * inverse_root + tau) ** 2 / 2 + best[total - x] for x in range(1, min(per_cell, total) + 1)),
        )
    return best[l1]


def _check_scaling(scaling: int) -> None:
    if not is_scaling_factor(scaling):
        raise SecureGroupViolation(
            f"a round's scaling factor must be an odd whole number from 1 to {MAX_SCALING}, got {scaling!r}"
        )


def _check_share(share_variance: Fraction, summands: int) -> None:
    if isinstance(summands, bool) or not isinstance(summands, int) or summands < 1:
        raise SecureGroupViolation(f"a sum of noise shares has at least one share, got {summands!r}")
    if Fraction(share_variance) < MIN_SHARE_VARIANCE:
        raise SecureGroupViolation(
            f"a noise share of variance {float(share_variance):.4g} is below 1/4 (σ < 1/2): the distributed discrete"
            " Gaussian bound does not apply"
        )


def _exp_up(exponent: Fraction) -> Fraction:
    """An upper bound on ``e^exponent`` for ``exponent ≤ 0``."""
    raised = max(exponent, Fraction(_EXPONENT_FLOOR))
    context = Context(prec=_DIGITS, rounding=ROUND_CEILING)
    # The exponent, rounded up (a larger exponent, a larger exponential).
    argument = context.divide(Decimal(raised.numerator), Decimal(raised.denominator))
    # Decimal's exp is correctly rounded to nearest: one unit in the 50th digit covers it; add ten.
    value = argument.exp(context)
    return Fraction(value) * (1 + Fraction(10, 10 ** (_DIGITS - 1)))


def _sqrt_up(value: Fraction) -> Fraction:
    """An upper bound on ``√value`` (exact when ``value`` is the square of a multiple of ``2^-96``)."""
    scale = 1 << _SQRT_BITS
    numerator = value.numerator * value.denominator * scale * scale
    root = math.isqrt(numerator)
    if root * root < numerator:
        root += 1
    return Fraction(root, value.denominator * scale)


def _sqrt_up_float(value: Fraction) -> float:
    """The smallest double whose square is at least ``value``."""
    root = math.sqrt(value)
    while Fraction(root) ** 2 < value:
        root = math.nextafter(root, math.inf)
    while root > 0 and Fraction(math.nextafter(root, 0.0)) ** 2 >= value:
        root = math.nextafter(root, 0.0)
    return root
