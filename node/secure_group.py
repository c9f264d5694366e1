# SPDX-License-Identifier: Apache-2.0
"""Taking part in a secure group: its settings, the member's noise shares, and what a round spends.

In a secure round (docs/secure-aggregation-privacy.md) the hotlines of a group add their masked tables, and each
adds only a *share* of the noise: a discrete Gaussian of about ``σ²/t`` per cell, ``t`` the group's threshold.
Two guarantees follow for a person registered here, and the node declares both:

* **against the hub**: the round's sum carries at least ``t`` members' shares, so it spends at most the budget's
  ``release`` (ρ per person-month), as a local release would;
* **against the hub colluding with every other member**: only this node's own share protects its tables, about
  ``t × release``. ``collusion_cap`` is the most the hotline accepts there; the node refuses a group whose
  ``t × release`` is above it (an upper bound of the exact guarantee, which :func:`plan_shares` also checks).

Both include the month's **one-cell totals**: beside its masked vector the node releases each table's total (its
true cells' sum plus one discrete Gaussian of its own), which the auditor checks the round's table totals against.
They spend :data:`~protocol.distributed_noise.TOTALS_SHARE` (2 %) of each table's budget against everyone; the
shares spend the rest (:func:`plan_shares`).

The ``[secure_group]`` section of config.toml (absent: the node releases locally, as before)::

    [secure_group]
    group_id = "region-east"
    members = 20              # hotlines on the group's roster
    threshold = 16            # or threshold_fraction = "0.8" (rounded up: 16 of 20)
    collusion_cap = "2"       # ρ per person-month against the hub and all other members
    scaling = 15              # optional: the rounds' scaling factor, as the hub's group names it (default 1)
    round_wait_days = 22      # optional: days after the month ends that sync waits for the hub to open the round

With ``scaling`` γ (odd, 1 to 255) the node sends ``γ · counts`` plus its share on that finer lattice and the round
publishes its sum divided by γ, rounded: the shares need no widening for the sum's bound, whatever the group's size
(docs/secure-aggregation-privacy.md §7). The node draws its shares for the γ and threshold of its section, when it
prepares the month; it refuses a roster naming another γ or a lower threshold (its local release goes out instead).

>>> from node.budget import BudgetConfig
>>> config = SecureGroupConfig.from_mapping(
...     {"group_id": "region-east", "members": 20, "threshold_fraction": "0.8", "collusion_cap": "2"})
>>> config.group().threshold, amount_text(config.collusion_bound(BudgetConfig.default()))
(16, '1.6')

This module holds what the node decides alone: whether it may take part, the shares' scales, their draw, and the
ledger's words; :mod:`node.round_store` keeps a month's round vectors and :mod:`node.rounds` takes part in the round
(roster, masks, survivors, unmasking) from ``sync``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, NoReturn

from node.budget import BudgetConfig, amount_text, parse_amount
from node.errors import ConfigError, NoiseError
from node.i18n import N_, Text
from node.noise import NoisePlan, TableCalibration, add_noise, gaussian_loss
from protocol.distributed_noise import (
    SecureGroup,
    TableShare,
    TableTotalNoise,
    plan_table_share,
    plan_table_total,
    round_guarantee,
    split_table_budget,
)
from protocol.errors import SecureGroupViolation
from protocol.messages import IDENTIFIER_PATTERN
from protocol.period import Period
from protocol.rounded_noise import MAX_SCALING, is_scaling_factor
from protocol.taxonomy import Taxonomy

__all__ = [
    "ROUND_WAIT_DAYS",
    "RoundSpend",
    "SecureGroupConfig",
    "SharePlan",
    "add_noise_shares",
    "draw_totals",
    "plan_shares",
    "round_gives_up_at",
]

_GROUP_ID: Final = re.compile(IDENTIFIER_PATTERN)
_SETTINGS: Final = frozenset(
    {"group_id", "members", "threshold", "threshold_fraction", "collusion_cap", "round_wait_days", "scaling"}
)
#: Days after a month ends that ``sync`` waits for the hub to open the month's round: the hub's default reporting
#: deadline (15 days) and a week more. Past them, a node that has sent nothing of the round sends its local release.
ROUND_WAIT_DAYS: Final = 22
_HINT: Final = N_(
    "Set [secure_group] in config.toml as your hub operator gave it: group_id, members, threshold (or "
    "threshold_fraction) and collusion_cap; remove the section to release locally."
)


@dataclass(frozen=True, slots=True)
class SecureGroupConfig:
    """The ``[secure_group]`` section: which group, how many members, the threshold, the collusion cap."""

    group_id: str
    members: int
    #: The threshold, or None when given as :attr:`threshold_fraction`.
    threshold: int | None
    threshold_fraction: Fraction | None
    #: The most ρ per person-month the hotline accepts against the hub colluding with all other members.
    collusion_cap: Fraction
    #: Days after the month ends that ``sync`` waits for the hub to open the round (:meth:`gives_up_at`).
    round_wait_days: int = ROUND_WAIT_DAYS
    #: The rounds' scaling factor γ (odd; 1: unscaled), as the hub's group names it in every roster.
    scaling: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.group_id, str) or not _GROUP_ID.fullmatch(self.group_id):
            _invalid("group_id", f"{self.group_id!r} is not 3 to 64 lowercase letters, digits and hyphens")
        if (self.threshold is None) == (self.threshold_fraction is None):
            _invalid("threshold", "give exactly one of threshold and threshold_fraction")
        if not isinstance(self.collusion_cap, Fraction) or self.collusion_cap <= 0:
            _invalid("collusion_cap", "it must be an amount above 0")
        if isinstance(self.round_wait_days, bool) or not isinstance(self.round_wait_days, int):
            _invalid("round_wait_days", f"{self.round_wait_days!r} is not a whole number")
        if not 1 <= self.round_wait_days <= 366:
            _invalid("round_wait_days", f"{self.round_wait_days} is not between 1 and 366")
        if isinstance(self.scaling, bool) or not isinstance(self.scaling, int) or not is_scaling_factor(self.scaling):
            _invalid("scaling", f"{self.scaling!r} is not an odd whole number from 1 to {MAX_SCALING}")
        self.group()

    def gives_up_at(self, period: str) -> datetime:
        """When ``sync`` stops waiting for the hub to open ``period``'s round (:func:`round_gives_up_at`)."""
        return round_gives_up_at(period, self.round_wait_days)

    def group(self, members: int | None = None) -> SecureGroup:
        """The group with ``members`` on the roster (default: the configured number) and its threshold."""
        count = self.members if members is None else members
        try:
            if self.threshold_fraction is not None:
                return SecureGroup.from_fraction(count, self.threshold_fraction)
            return SecureGroup(members=count, threshold=self.threshold if self.threshold is not None else 0)
        except SecureGroupViolation as e:
            _invalid("threshold", str(e))

    def collusion_bound(self, budget: BudgetConfig, *, members: int | None = None) -> Fraction:
        """``t × release``: an upper bound of a release's guarantee against the hub and all other members."""
        return self.group(members).threshold * budget.release

    def check(self, budget: BudgetConfig, *, members: int | None = None) -> None:
        """Refuse a group whose collusion guarantee could exceed :attr:`collusion_cap` (checked at load)."""
        if budget.mechanism != "discrete_gaussian":
            _invalid("budget", "a secure group needs the discrete_gaussian mechanism (the shares are Gaussian)")
        group = self.group(members)
        bound = self.collusion_bound(budget, members=members)
        if bound > self.collusion_cap:
            raise ConfigError(
                Text(
                    N_(
                        "secure group %(group)s: a threshold of %(threshold)s members with release = %(release)s "
                        "gives up to ρ = %(bound)s per person-month against the hub colluding with all other "
                        "members, above collusion_cap = %(cap)s"
                    ),
                    group=self.group_id,
                    threshold=group.threshold,
                    release=amount_text(budget.release),
                    bound=amount_text(bound),
                    cap=amount_text(self.collusion_cap),
                ),
                hint=Text(
                    N_(
                        "Lower threshold to at most %(most)s, lower the budget's release, or raise collusion_cap in "
                        "config.toml if the hotline accepts that exposure."
                    ),
                    most=math.floor(self.collusion_cap / budget.release),
                ),
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SecureGroupConfig:
        """From the ``[secure_group]`` section of config.toml."""
        unknown = set(data) - _SETTINGS
        if unknown:
            raise ConfigError(
                Text(N_("unknown secure_group setting(s): %(names)s"), names=", ".join(sorted(unknown))),
                hint=Text(_HINT),
            )
        for name in ("group_id", "members", "collusion_cap"):
            if name not in data:
                _invalid(name, "it is missing")
        members = data["members"]
        if isinstance(members, bool) or not isinstance(members, int):
            _invalid("members", f"{members!r} is not a whole number")
        threshold = data.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int)):
            _invalid("threshold", f"{threshold!r} is not a whole number")
        fraction = data.get("threshold_fraction")
        return cls(
            group_id=data["group_id"],
            members=members,
            threshold=threshold,
            threshold_fraction=None if fraction is None else _amount(fraction, "threshold_fraction"),
            collusion_cap=_amount(data["collusion_cap"], "collusion_cap"),
            round_wait_days=data.get("round_wait_days", ROUND_WAIT_DAYS),
            scaling=data.get("scaling", 1),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The section, as :meth:`from_mapping` reads it."""
        result: dict[str, Any] = {"group_id": self.group_id, "members": self.members}
        if self.threshold is not None:
            result["threshold"] = self.threshold
        if self.threshold_fraction is not None:
            result["threshold_fraction"] = amount_text(self.threshold_fraction)
        result["collusion_cap"] = amount_text(self.collusion_cap)
        if self.round_wait_days != ROUND_WAIT_DAYS:
            result["round_wait_days"] = self.round_wait_days
        if self.scaling != 1:
            result["scaling"] = self.scaling
        return result


@dataclass(frozen=True, slots=True)
class RoundSpend:
    """What one release in a secure round spends, for the ledger: both guarantees (ρ per person-month)."""

    group_id: str
    members: int
    threshold: int
    #: Against the hub (at least ``threshold`` members' shares in the sum), the one-cell totals included: what
    #: counts against the caps.
    against_hub: Fraction
    #: Against the hub colluding with every other member (only this node's share left), the totals included.
    against_all_others: Fraction
    #: Of both, what the one-cell totals spend (local releases: the same against every coalition).
    totals: Fraction = Fraction(0)

    def describe(self) -> Text:
        """The ledger's wording."""
        return Text(
            N_(
                "secure round of group %(group)s: ρ = %(hub)s against the hub (at least %(threshold)s of %(members)s "
                "members' noise in the sum), ρ = %(others)s against the hub colluding with every other member"
            ),
            group=self.group_id,
            hub=f"{float(self.against_hub):.6g}",
            threshold=self.threshold,
            members=self.members,
            others=f"{float(self.against_all_others):.6g}",
        )


@dataclass(frozen=True, slots=True)
class SharePlan:
    """The member's noise shares and one-cell totals for one release in a round, with the guarantees they give."""

    group: SecureGroup
    shares: tuple[TableShare, ...]
    spend: RoundSpend
    #: Each table's one-cell total, in the order of :attr:`shares`.
    totals: tuple[TableTotalNoise, ...] = ()

    @property
    def scaling(self) -> int:
        """The round's scaling factor γ the shares are drawn for (1: unscaled)."""
        return self.shares[0].scaling if self.shares else 1

    def noise_plan(self) -> NoisePlan:
        """The shares as a :class:`~node.noise.NoisePlan` (the share's σ as each table's scale, its guarantee
        against the hub as its spend), for :func:`node.noise.add_noise` to draw."""
        return NoisePlan(
            mechanism="discrete_gaussian",
            tables=tuple(
                TableCalibration(
                    s.table,
                    s.scale,
                    s.l1_sensitivity,
                    s.l2_sensitivity_squared,
                    _decimal_up(s.guarantee(self.group, colluders=0)),
                )
                for s in self.shares
            ),
        )

    def totals_plan(self) -> NoisePlan:
        """The one-cell totals as a :class:`~node.noise.NoisePlan` of one-cell tables (the total's σ as the scale,
        the table's L1 bound as the L2 sensitivity, its ρ as the spend), for :func:`node.noise.add_noise`."""
        return NoisePlan(
            mechanism="discrete_gaussian",
            tables=tuple(
                TableCalibration(t.table, t.scale, t.l1_sensitivity, t.l1_sensitivity**2, _decimal_up(t.rho))
                for t in self.totals
            ),
        )


def plan_shares(
    taxonomy: Taxonomy,
    tables: Iterable[str],
    budget: BudgetConfig,
    config: SecureGroupConfig,
    *,
    members: int | None = None,
) -> SharePlan:
    """The member's shares and one-cell totals for a release of ``tables`` in a round of ``members`` (default: the
    configured number).

    Each table's budget share is split (:func:`protocol.distributed_noise.split_table_budget`): the one-cell total
    spends :data:`~protocol.distributed_noise.TOTALS_SHARE` of it (:func:`~protocol.distributed_noise.
    plan_table_total`), the shares the rest against the hub (:func:`~protocol.distributed_noise.plan_table_share`).
    Both guarantees add the totals' ρ; the collusion guarantee is checked against the cap, and each share's and
    total's σ against OpenDP's own privacy map."""
    config.check(budget, members=members)
    group = config.group(members)
    names = list(dict.fromkeys(tables))
    spends = {name: split_table_budget(spend) for name, spend in budget.shares(names).items()}
    try:
        shares = tuple(
            plan_table_share(taxonomy.table(name), spends[name][0], group, scaling=config.scaling) for name in names
        )
        totals = tuple(plan_table_total(taxonomy.table(name), spends[name][1]) for name in names)
    except SecureGroupViolation as e:
        _invalid("threshold", str(e))
    against_hub = round_guarantee(shares, group, colluders=0, totals=totals)
    against_all = round_guarantee(shares, group, colluders=group.members - 1, totals=totals)
    if against_all > config.collusion_cap:  # pragma: no cover - t × release bounds it; kept as a second lock
        raise NoiseError(f"the shares' collusion guarantee {float(against_all):.6g} exceeds collusion_cap")
    _check_with_opendp(shares, group)
    _check_totals_with_opendp(totals)
    spend = RoundSpend(
        config.group_id,
        group.members,
        group.threshold,
        against_hub,
        against_all,
        sum((t.rho for t in totals), Fraction(0)),
    )
    return SharePlan(group, shares, spend, totals)


def round_gives_up_at(period: str, wait_days: int = ROUND_WAIT_DAYS) -> datetime:
    """``wait_days`` after ``period`` ends: when ``sync`` stops waiting for the hub to open the month's round.

    >>> round_gives_up_at("2026-11").isoformat()
    '2026-12-23T00:00:00+00:00'
    """
    month_end = Period.parse(period).end
    return month_end + timedelta(days=wait_days)


def add_noise_shares(plan: SharePlan, counts: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
    """The member's vectors before masking: every cell's true count (times the round's scaling factor γ) plus one
    fresh share (OpenDP's discrete Gaussian of the share's σ, on the γ-times finer lattice). Once per (period,
    round), through the ledger, as :func:`node.noise.add_noise`."""
    noisy = add_noise(plan.noise_plan(), counts)  # count + share, each cell
    if plan.scaling == 1:
        return noisy
    extra = plan.scaling - 1  # γ·count + share = (count + share) + (γ − 1)·count
    return {
        table: tuple(value + extra * count for value, count in zip(values, counts[table], strict=True))
        for table, values in noisy.items()
    }


def draw_totals(plan: SharePlan, counts: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, str]]:
    """Each table's one-cell total, ``(value, σ)``: the sum of its true cells plus one fresh discrete Gaussian of
    the total's σ (OpenDP, as :func:`add_noise_shares`). Once per (period, round), beside the shares; the true sum
    is only read here, never kept or logged."""
    drawn = add_noise(plan.totals_plan(), {t.table: [sum(counts[t.table])] for t in plan.totals})
    return {t.table: (drawn[t.table][0], t.scale_text) for t in plan.totals}


# ----------------------------------------------------------------------------------------------- helpers


def _check_with_opendp(shares: Iterable[TableShare], group: SecureGroup) -> None:
    """OpenDP's map of one share alone must agree with the protocol's guarantee against all other members."""
    for share in shares:
        alone = share.guarantee(group, colluders=group.members - 1)
        loss = gaussian_loss(share.scale, share.scaling**2 * share.l2_sensitivity_squared)
        if not Fraction(loss) <= alone * (1 + Fraction(1, 10**9)) or not alone <= Fraction(loss) * (
            1 + Fraction(1, 10**9)
        ):
            raise NoiseError(
                f"table {share.table}: OpenDP's privacy map of one share ({loss!r}) disagrees with the protocol's"
                f" ({float(alone)!r})"
            )


def _check_totals_with_opendp(totals: Iterable[TableTotalNoise]) -> None:
    """OpenDP's map of each one-cell total (L2 sensitivity: the table's L1 bound) must agree with its ρ."""
    for total in totals:
        loss = gaussian_loss(total.scale, total.l1_sensitivity**2)
        if not Fraction(loss) <= total.rho * (1 + Fraction(1, 10**9)) or not total.rho <= Fraction(loss) * (
            1 + Fraction(1, 10**9)
        ):
            raise NoiseError(
                f"table {total.table}: OpenDP's privacy map of the one-cell total ({loss!r}) disagrees with the"
                f" protocol's ({float(total.rho)!r})"
            )


def _decimal_up(value: Fraction) -> Decimal:
    """``value`` as an 18-place decimal rounded up (the ledger's spends are decimals)."""
    scaled = math.ceil(value * 10**18)
    return Decimal(scaled).scaleb(-18)


def _amount(value: object, name: str) -> Fraction:
    if not isinstance(value, str):
        _invalid(name, f'{value!r} is not an amount in quotes (e.g. "0.8" or "1/2")')
    return parse_amount(value, what=f"secure_group {name}")


def _invalid(name: str, problem: str) -> NoReturn:
    raise ConfigError(
        Text(N_("config.toml: [secure_group] %(name)s is invalid: %(problem)s"), name=name, problem=problem),
        hint=Text(_HINT),
    )
