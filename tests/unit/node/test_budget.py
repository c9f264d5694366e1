# SPDX-License-Identifier: Apache-2.0
"""The privacy budget: exact amounts, shares that add up, caps that hold at the floating-point boundary."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest

import node.budget
from node.budget import (
    BudgetConfig,
    Standing,
    amount_text,
    check_caps,
    decimal_text,
    parse_amount,
)
from node.errors import BudgetExceeded, ConfigError
from protocol.accuracy import single_cell_halfwidth
from protocol.taxonomy import builtin_taxonomy


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.1", Fraction(1, 10)), ("1/24", Fraction(1, 24)), ("15", Fraction(15)), (" 0.5 ", Fraction(1, 2))],
)
def test_amounts_parse_exactly(text: str, value: Fraction) -> None:
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", ["", "0", "-0.1", "1e-3", "0.1.2", "abc", "1/0", "2000", "nan"])
def test_bad_amounts_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ConfigError, match=r"0\.1|greater than 0"):
        parse_amount(text)


def test_amount_text_round_trips() -> None:
    for value in (Fraction(1, 10), Fraction(1, 24), Fraction(3), Fraction(1, 8)):
        assert parse_amount(amount_text(value)) == value
    assert amount_text(Fraction(1, 24)) == "1/24"
    assert decimal_text(Decimal("1.50E-7")) == "0.00000015"
    assert decimal_text(Decimal("0.100000000000000000")) == "0.1"


def test_defaults_are_documented_values() -> None:
    gaussian = BudgetConfig.default()
    assert (gaussian.measure, gaussian.release, gaussian.period_cap, gaussian.year_cap) == (
        "rho",
        Fraction(1, 10),
        Fraction(1, 5),
        Fraction(3, 2),
    )
    laplace = BudgetConfig.default("discrete_laplace")
    assert (laplace.measure, laplace.release, laplace.period_cap, laplace.year_cap) == (
        "epsilon",
        Fraction(1),
        Fraction(2),
        Fraction(15),
    )
    assert set(gaussian.weights) == set(builtin_taxonomy().tables)


def test_the_documented_noise_table_is_what_the_defaults_give() -> None:
    """The σ and ±h columns of node.budget's docstring are computed, not copied by hand."""
    doc = node.budget.__doc__ or ""
    taxonomy = builtin_taxonomy()
    config = BudgetConfig.default()
    shares = config.shares(taxonomy.tables)
    rows = re.findall(r"^(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", doc, flags=re.MULTILINE)
    assert len(rows) == len(taxonomy.tables)
    for name, weight, l2, _rho, sigma, halfwidth in rows:
        table = taxonomy.table(name)
        assert int(weight) == config.weights[name]
        assert int(l2) == table.l2_sensitivity_squared
        exact_sigma = math.sqrt(table.l2_sensitivity_squared / (2 * float(shares[name])))
        assert float(sigma) == pytest.approx(exact_sigma, abs=0.006)
        assert int(halfwidth) == single_cell_halfwidth("discrete_gaussian", exact_sigma)


def test_shares_add_up_exactly_to_the_release() -> None:
    config = BudgetConfig.default()
    names = list(builtin_taxonomy().tables)
    shares = config.shares(names)
    assert sum(shares.values()) == Decimal("0.1")
    without_contacts = config.shares([n for n in names if n != "contacts"])
    assert sum(without_contacts.values()) == Decimal("0.1")
    assert without_contacts["persons_corridor"] > shares["persons_corridor"]  # renormalised over fewer tables
    for name, share in shares.items():  # each within one 1e-18 unit of its exact weighted share
        exact = Fraction(1, 10) * config.weights[name] / sum(config.weights.values())
        assert abs(Fraction(share) - exact) < Fraction(1, 10**18)


def test_shares_of_a_non_decimal_release_never_exceed_it() -> None:
    config = BudgetConfig("discrete_gaussian", Fraction(1, 24), Fraction(1, 12), Fraction(1, 2), {"a": 1, "b": 2})
    shares = config.shares(["a", "b"])
    assert Fraction(sum(shares.values())) <= Fraction(1, 24)
    assert Fraction(1, 24) - Fraction(sum(shares.values())) < Fraction(1, 10**18)


def test_shares_refuse_tables_without_weight_and_tiny_budgets() -> None:
    config = BudgetConfig.default()
    with pytest.raises(ConfigError, match="no weight to table"):
        config.shares(["persons_corridor", "new_table"])
    tiny = BudgetConfig("discrete_gaussian", Fraction(1, 10**12), Fraction(1), Fraction(1), {"a": 1})
    with pytest.raises(ConfigError, match="too small"):
        tiny.shares(["a"])


@pytest.mark.parametrize(
    ("release", "period_cap", "year_cap", "message"),
    [
        ("0.3", "0.2", "1.5", "larger than period_cap"),
        ("0.1", "2", "1.5", "larger than year_cap"),
    ],
)
def test_inconsistent_caps_are_refused(release: str, period_cap: str, year_cap: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BudgetConfig("discrete_gaussian", Fraction(release), Fraction(period_cap), Fraction(year_cap), {"a": 1})


def test_config_mapping_round_trip_and_validation() -> None:
    config = BudgetConfig("discrete_gaussian", Fraction(1, 24), Fraction(1, 12), Fraction(1, 2), {"a": 1, "b": 3})
    assert BudgetConfig.from_mapping(config.to_mapping()) == config
    with pytest.raises(ConfigError, match="unknown budget setting"):
        BudgetConfig.from_mapping({**config.to_mapping(), "epsilon": "1"})
    with pytest.raises(ConfigError, match="weight of table a"):
        BudgetConfig.from_mapping({**config.to_mapping(), "weights": {"a": 0}})
    with pytest.raises(ConfigError, match="mechanism"):
        BudgetConfig.from_mapping({**config.to_mapping(), "mechanism": "gaussian"})


def _standing(period_spent: Fraction, year_spent: Fraction, *, period_cap: str, year_cap: str) -> Standing:
    return Standing("rho", "2025-12", period_spent, Fraction(period_cap), year_spent, Fraction(year_cap))


def test_twelve_releases_of_a_twelfth_fit_and_a_thirteenth_does_not() -> None:
    """The float trap: the double nearest 0.1, twelve times, is above 1.2 (and 0.1 + 0.1 + 0.1 > 0.3)."""
    assert math.fsum([0.1] * 12) > 1.2  # what a float ledger would conclude, exactly summed
    assert 0.1 + 0.1 + 0.1 > 0.3
    spent = Fraction(0)
    for _ in range(12):
        check_caps(_standing(Fraction(0), spent, period_cap="0.1", year_cap="1.2"), Fraction("0.1"))
        spent += Fraction("0.1")
    assert spent == Fraction("1.2")
    with pytest.raises(BudgetExceeded, match=r"yearly cap of 1\.2"):
        check_caps(_standing(Fraction(0), spent, period_cap="0.1", year_cap="1.2"), Fraction("0.1"))


def test_annual_rho_split_over_twelve_months_fits_exactly() -> None:
    """ρ = 0.5 a year in twelve equal monthly releases (OpenDP's own filter refuses month 12 in floats)."""
    spent = Fraction(0)
    for _ in range(12):
        check_caps(_standing(Fraction(0), spent, period_cap="1/24", year_cap="0.5"), Fraction(1, 24))
        spent += Fraction(1, 24)
    with pytest.raises(BudgetExceeded):
        check_caps(_standing(Fraction(0), spent, period_cap="1/24", year_cap="0.5"), Fraction(1, 24))


def test_the_period_cap_limits_corrections() -> None:
    check_caps(_standing(Fraction("0.1"), Fraction("0.1"), period_cap="0.2", year_cap="1.5"), Fraction("0.1"))
    with pytest.raises(BudgetExceeded, match=r"period 2025-12 to 0\.3, over its cap of 0\.2"):
        check_caps(_standing(Fraction("0.2"), Fraction("0.2"), period_cap="0.2", year_cap="1.5"), Fraction("0.1"))


def test_standing_reports_what_is_left() -> None:
    standing = _standing(Fraction("0.1"), Fraction("1.45"), period_cap="0.2", year_cap="1.5")
    assert standing.period_left == Fraction("0.1")
    assert standing.year_left == Fraction("0.05")
    assert standing.available == Fraction("0.05")
    assert standing.year == "2025"
