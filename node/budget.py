# SPDX-License-Identifier: Apache-2.0
"""The privacy budget: how much one release spends, how that is split across tables, and the caps.

The unit of privacy is one person registered at this hotline in one month. A release of a period spends
``release`` (ρ under zero-concentrated DP for the discrete Gaussian, the default; ε under pure DP for the discrete
Laplace), split across its tables in proportion to ``weights``; composition adds the tables' spends up to exactly
``release``. Two caps bound what the ledger lets through:

* ``period_cap``: all revisions of one period together (the guarantee for a person registered that month);
* ``year_cap``: all releases of the periods of one calendar year (the guarantee for a person registered in
  several months of the year).

All arithmetic is exact (:class:`~fractions.Fraction`): twelve releases of ``year_cap / 12`` fit, and a
thirteenth does not, whatever floating point would say. Amounts are written as decimal strings (``"0.1"``) or
fractions (``"1/24"``).

>>> config = BudgetConfig.default()
>>> {table: decimal_text(share) for table, share in config.shares(["persons_corridor", "cases_opened"]).items()}
{'persons_corridor': '0.08', 'cases_opened': '0.02'}
>>> december = Standing("rho", "2025-12", Fraction(0), config.period_cap, Fraction("1.45"), config.year_cap)
>>> check_caps(december, config.release)
Traceback (most recent call last):
...
node.errors.BudgetExceeded: a release spending ρ = 0.1 would bring 2025 to 1.55, over its yearly cap of 1.5 ...

Defaults (discrete Gaussian): ``release = 0.1``, ``period_cap = 0.2`` (room for one correction),
``year_cap = 1.5`` (twelve monthly releases and three corrections). By OpenDP's zCDP → (ε, δ) conversion,
ρ = 0.1 is (ε = 2.14, δ = 10⁻⁶)-DP, ρ = 0.2 is (3.13, 10⁻⁶) and ρ = 1.5 is (9.85, 10⁻⁶).

Which weights a node starts with depends on its taxonomy (:func:`default_weights`). Taxonomy v2 records weights
per mechanism, computed from the coordinators' workload (:mod:`protocol.allocation`, ``tools/allocate_budget.py``);
a taxonomy that records none (v1) gets :data:`DEFAULT_WEIGHTS`, and 1 for any table they do not name. ``init``
and ``tipshare-node taxonomy --update`` write them into config.toml, where they may be edited.

Taxonomy v1, the default weights and the noise they give each table (σ = √(L2² / 2ρ_t); the 95 % half-width h
is exact for one cell, :func:`protocol.accuracy.single_cell_halfwidth`):

==========================  ======  ===  ==========  ======  =====
table                       weight  L2²  ρ_t         σ       ±h
==========================  ======  ===  ==========  ======  =====
persons_corridor            4       1    0.030769    4.03    8
persons_demography          2       1    0.015385    5.70    11
persons_origin_demo         1       1    0.0076923   8.06    16
persons_destination_demo    1       1    0.0076923   8.06    16
persons_recruitment         1       1    0.0076923   8.06    16
persons_control             2       9    0.015385    17.10   34
cases_opened                1       2    0.0076923   11.40   22
contacts                    1       9    0.0076923   24.19   47
==========================  ======  ===  ==========  ======  =====

The core table (the corridor) gets the largest share; ``persons_control`` (a person may count in up to nine of its
cells, L2² = 9) gets a double share so its noise stays within about four times the corridor's.

Taxonomy v2, its recorded weights for the discrete Gaussian (per mille of the release) and the noise they give:

==========================  ======  ===  ==========  ======  =====
table                       weight  L2²  ρ_t         σ       ±h
==========================  ======  ===  ==========  ======  =====
cases_opened                53      2    0.0053      13.74   27
contacts                    53      9    0.0053      29.14   57
persons_citizenship         79      1    0.0079      7.96    16
persons_control             75      9    0.0075      24.49   48
persons_corridor            76      1    0.0076      8.11    16
persons_corridor_2way       248     1    0.0248      4.49    9
persons_destination         79      1    0.0079      7.96    16
persons_exploitation_group  31      1    0.0031      12.70   25
persons_exploitation_type   42      1    0.0042      10.91   21
persons_gender_age          41      1    0.0041      11.04   22
persons_recruitment         53      1    0.0053      9.71    19
persons_sex_age_form        101     1    0.0101      7.04    14
persons_total               69      1    0.0069      8.51    17
==========================  ======  ===  ==========  ======  =====

Single cells of v2 are about as noisy as v1's; what changes is the regional answer. The hub combines every table
that carries a question's dimensions (:mod:`protocol.combination`), so with 5 hotlines releasing alike at these
defaults a monthly corridor cell (citizenship → country of exploitation) has a 95 % half-width of about ±39 under
v1 and ±19 under v2, and the monthly regional total ±251 under v1 and ±34 under v2 (``prepare`` shows the same
figures for the node's own release, :mod:`node.regional`).

When a month has no contacts file the ``contacts`` table is not released and the weights are normalised over the
tables that are, so a release always spends exactly ``release``. Doubling ``release`` divides every σ by √2; a
regional sum over N hotlines has √N times one hotline's σ. Hotline counts are small, so single cells of one
hotline's month are mostly noise: the numbers are meant to be summed over hotlines, months and categories at the
hub.

Discrete Laplace defaults: ``release = 1``, ``period_cap = 2``, ``year_cap = 15`` (ε). Laplace noise grows with
the L1 bound (not its square root), so tables where one person touches many cells are much noisier
(``persons_control``, L1 = 9: scale 58.5, ±175 at the v1 weights); prefer the Gaussian unless pure DP is
required. Taxonomy v2 records its own Laplace weights (``tipshare-node budget`` shows them with their noise).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final, Literal

from node.errors import BudgetExceeded, ConfigError
from node.i18n import N_, Text
from protocol.taxonomy import Taxonomy

__all__ = [
    "DEFAULT_WEIGHTS",
    "MEASURES",
    "MIN_SHARE",
    "BudgetConfig",
    "Mechanism",
    "Standing",
    "amount_text",
    "check_caps",
    "decimal_text",
    "default_weights",
    "parse_amount",
]

Mechanism = Literal["discrete_gaussian", "discrete_laplace"]
#: The privacy measure each mechanism is accounted in.
MEASURES: Final[Mapping[str, str]] = MappingProxyType({"discrete_gaussian": "rho", "discrete_laplace": "epsilon"})
#: Default weight of every table of taxonomy v1 (which records none); a table another taxonomy without recorded
#: weights adds gets weight 1.
DEFAULT_WEIGHTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "persons_corridor": 4,
        "persons_demography": 2,
        "persons_origin_demo": 1,
        "persons_destination_demo": 1,
        "persons_recruitment": 1,
        "persons_control": 2,
        "cases_opened": 1,
        "contacts": 1,
    }
)
_DEFAULT_AMOUNTS: Final = {
    "discrete_gaussian": (Fraction("0.1"), Fraction("0.2"), Fraction("1.5")),
    "discrete_laplace": (Fraction(1), Fraction(2), Fraction(15)),
}
#: Table shares are exact decimals with this many places (so declared spends never exceed the budget).
_PLACES: Final = 18
_UNITS: Final = 10**_PLACES
#: The smallest share a table may get; below it the noise would drown every count.
MIN_SHARE: Final = Fraction(1, 10**9)
_MAX_AMOUNT: Final = Fraction(1000)
_AMOUNT = re.compile(r"\A(?:\d{1,6}(?:\.\d{1,30})?|\d{1,12}/[1-9]\d{0,11})\Z")


def default_weights(mechanism: str, taxonomy: Taxonomy | None = None) -> dict[str, int]:
    """The weights a node starts with: the taxonomy's recorded weights for ``mechanism`` when it has them (v2),
    else :data:`DEFAULT_WEIGHTS` with weight 1 for every table of ``taxonomy`` they do not name.

    >>> from protocol.taxonomy import builtin_taxonomy
    >>> default_weights("discrete_gaussian", builtin_taxonomy(2))["persons_corridor_2way"]
    248
    >>> default_weights("discrete_gaussian", builtin_taxonomy(1))["persons_corridor"]
    4
    """
    recorded = taxonomy.budget_weights.get(mechanism) if taxonomy is not None else None
    if recorded:
        return dict(recorded)
    weights = dict(DEFAULT_WEIGHTS)
    for table in taxonomy.tables if taxonomy is not None else ():
        weights.setdefault(table, 1)
    return weights


def parse_amount(text: str, *, what: str = "amount") -> Fraction:
    """A positive budget amount from its text: a decimal (``"0.1"``) or a fraction (``"1/24"``)."""
    if not isinstance(text, str) or not _AMOUNT.match(text.strip()):
        raise ConfigError(
            Text(
                N_('%(what)s must be a decimal such as "0.1" or a fraction such as "1/24", got %(text)s'),
                what=what,
                text=repr(text),
            )
        )
    value = Fraction(text.strip())
    if not 0 < value <= _MAX_AMOUNT:
        raise ConfigError(
            Text(
                N_("%(what)s must be greater than 0 and at most %(max)s, got %(text)s"),
                what=what,
                max=str(_MAX_AMOUNT),
                text=repr(text),
            )
        )
    return value


def amount_text(value: Fraction) -> str:
    """The text form :func:`parse_amount` reads back: a decimal when exact, else ``p/q``."""
    decimal = _exact_decimal(value)
    return decimal_text(decimal) if decimal is not None else f"{value.numerator}/{value.denominator}"


def _exact_decimal(value: Fraction) -> Decimal | None:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return None
    return Decimal(value.numerator) / Decimal(value.denominator)


def decimal_text(value: Decimal) -> str:
    """A plain decimal string without exponent or trailing zeros: ``Decimal("1.50E-7")`` → ``"0.00000015"``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    """What one release spends, how it is split across tables, and the caps (see the module docstring)."""

    mechanism: Mechanism
    release: Fraction
    period_cap: Fraction
    year_cap: Fraction
    weights: Mapping[str, int] = field(hash=False)

    def __post_init__(self) -> None:
        if self.mechanism not in MEASURES:
            raise ConfigError(
                Text(
                    N_("budget mechanism must be one of %(mechanisms)s, got %(found)s"),
                    mechanisms=", ".join(MEASURES),
                    found=repr(self.mechanism),
                )
            )
        for name in ("release", "period_cap", "year_cap"):
            value = getattr(self, name)
            if not isinstance(value, Fraction) or not 0 < value <= _MAX_AMOUNT:
                raise ConfigError(
                    Text(
                        N_("budget %(name)s must be greater than 0 and at most %(max)s"),
                        name=name,
                        max=str(_MAX_AMOUNT),
                    )
                )
        if self.release > self.period_cap:
            raise ConfigError(
                Text(
                    N_(
                        "budget release (%(release)s) is larger than period_cap (%(cap)s): no release could ever be "
                        "made"
                    ),
                    release=amount_text(self.release),
                    cap=amount_text(self.period_cap),
                )
            )
        if self.period_cap > self.year_cap:
            raise ConfigError(
                Text(
                    N_("budget period_cap (%(period_cap)s) is larger than year_cap (%(year_cap)s)"),
                    period_cap=amount_text(self.period_cap),
                    year_cap=amount_text(self.year_cap),
                )
            )
        if not self.weights:
            raise ConfigError(Text(N_("budget weights name no table")))
        for table, weight in self.weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 1000:
                raise ConfigError(
                    Text(N_("budget weight of table %(table)s must be a whole number from 1 to 1000"), table=table)
                )
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    @property
    def measure(self) -> str:
        """``rho`` or ``epsilon``."""
        return MEASURES[self.mechanism]

    @classmethod
    def default(
        cls,
        mechanism: Mechanism = "discrete_gaussian",
        *,
        taxonomy: Taxonomy | None = None,
        tables: Iterable[str] = (),
    ) -> BudgetConfig:
        """The documented amounts, with :func:`default_weights` for ``taxonomy`` (and a weight for every table
        named in ``tables``: 1 for a table without one)."""
        if mechanism not in _DEFAULT_AMOUNTS:
            raise ConfigError(
                Text(
                    N_("budget mechanism must be one of %(mechanisms)s, got %(found)s"),
                    mechanisms=", ".join(MEASURES),
                    found=repr(mechanism),
                )
            )
        release, period_cap, year_cap = _DEFAULT_AMOUNTS[mechanism]
        weights = default_weights(mechanism, taxonomy)
        for table in tables:
            weights.setdefault(table, 1)
        return cls(mechanism, release, period_cap, year_cap, weights)

    def with_weights(self, weights: Mapping[str, int]) -> BudgetConfig:
        """The same mechanism, release and caps, split by ``weights`` (as when the node adopts a new taxonomy)."""
        return BudgetConfig(self.mechanism, self.release, self.period_cap, self.year_cap, dict(weights))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BudgetConfig:
        """From the ``[budget]`` section of config.toml."""
        allowed = {"mechanism", "release", "period_cap", "year_cap", "weights"}
        unknown = set(data) - allowed
        if unknown:
            raise ConfigError(Text(N_("unknown budget setting(s): %(names)s"), names=", ".join(sorted(unknown))))
        missing = allowed - set(data)
        if missing:
            raise ConfigError(Text(N_("budget setting(s) missing: %(names)s"), names=", ".join(sorted(missing))))
        weights = data["weights"]
        if not isinstance(weights, Mapping):
            raise ConfigError(Text(N_("budget weights must be a table of table name = weight")))
        return cls(
            mechanism=data["mechanism"],
            release=parse_amount(data["release"], what="budget release"),
            period_cap=parse_amount(data["period_cap"], what="budget period_cap"),
            year_cap=parse_amount(data["year_cap"], what="budget year_cap"),
            weights=dict(weights),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The ``[budget]`` section, as :meth:`from_mapping` reads it."""
        return {
            "mechanism": self.mechanism,
            "release": amount_text(self.release),
            "period_cap": amount_text(self.period_cap),
            "year_cap": amount_text(self.year_cap),
            "weights": dict(self.weights),
        }

    def shares(self, tables: Iterable[str], amount: Fraction | None = None) -> dict[str, Decimal]:
        """Each table's spend: ``amount`` (default ``release``) split by weight, as exact 18-place decimals.

        The shares add up exactly to ``amount`` rounded down to 18 places (so ``release = 0.1`` declares 0.1):
        each table gets its weighted share rounded down, and the few units of 10⁻¹⁸ left over go to the tables
        with the largest weights, one unit each. The sum is what the release declares and the ledger records.
        """
        names = list(dict.fromkeys(tables))
        if not names:
            raise ConfigError(Text(N_("a release needs at least one table")))
        missing = [name for name in names if name not in self.weights]
        if missing:
            raise ConfigError(
                Text(N_("budget weights give no weight to table(s) %(tables)s"), tables=", ".join(missing)),
                hint=Text(
                    N_("Add them under [budget.weights] in config.toml (a whole number each, 1 for an even share).")
                ),
            )
        total_weight = sum(self.weights[name] for name in names)
        budget = self.release if amount is None else amount
        units: dict[str, int] = {}
        for name in names:
            exact = budget * self.weights[name] / total_weight
            if exact < MIN_SHARE:
                raise ConfigError(
                    Text(
                        N_("table %(table)s would get a share of %(share)s: the budget is too small"),
                        table=name,
                        share=f"{float(exact):.3g}",
                    )
                )
            units[name] = math.floor(exact * _UNITS)
        left = math.floor(budget * _UNITS) - sum(units.values())
        for name in sorted(names, key=lambda n: -self.weights[n])[:left]:
            units[name] += 1
        return {name: Decimal(units[name]).scaleb(-_PLACES) for name in names}


@dataclass(frozen=True, slots=True)
class Standing:
    """What has been spent, and what is left, for a period and its year."""

    measure: str
    period: str
    period_spent: Fraction
    period_cap: Fraction
    year_spent: Fraction
    year_cap: Fraction

    @property
    def year(self) -> str:
        return self.period[:4]

    @property
    def period_left(self) -> Fraction:
        return max(Fraction(0), self.period_cap - self.period_spent)

    @property
    def year_left(self) -> Fraction:
        return max(Fraction(0), self.year_cap - self.year_spent)

    @property
    def available(self) -> Fraction:
        """The most one more release of this period may spend."""
        return min(self.period_left, self.year_left)


def check_caps(standing: Standing, amount: Fraction) -> None:
    """Raise :class:`BudgetExceeded` unless spending ``amount`` more keeps the period and its year within caps."""
    symbol = "ρ" if standing.measure == "rho" else "ε"
    if standing.period_spent + amount > standing.period_cap:
        raise BudgetExceeded(
            Text(
                N_(
                    "a release spending %(symbol)s = %(amount)s would bring period %(period)s to %(total)s, over its "
                    "cap of %(cap)s (already spent: %(spent)s)"
                ),
                symbol=symbol,
                amount=_show(amount),
                period=standing.period,
                total=_show(standing.period_spent + amount),
                cap=_show(standing.period_cap),
                spent=_show(standing.period_spent),
            )
        )
    if standing.year_spent + amount > standing.year_cap:
        raise BudgetExceeded(
            Text(
                N_(
                    "a release spending %(symbol)s = %(amount)s would bring %(year)s to %(total)s, over its yearly "
                    "cap of %(cap)s (already spent: %(spent)s)"
                ),
                symbol=symbol,
                amount=_show(amount),
                year=standing.year,
                total=_show(standing.year_spent + amount),
                cap=_show(standing.year_cap),
                spent=_show(standing.year_spent),
            )
        )


def _show(value: Fraction) -> str:
    exact = _exact_decimal(value)
    return decimal_text(exact) if exact is not None else f"{float(value):.6g}"
