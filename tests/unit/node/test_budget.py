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
    DEFAULT_WEIGHTS,
    BudgetConfig,
    Mechanism,
    Standing,
    amount_text,
    check_caps,
    decimal_text,
    default_weights,
    parse_amount,
)
from node.errors import BudgetExceeded, ConfigError
from node.noise import calibrate
from node.regional import regional_accuracy
from protocol.accuracy import single_cell_halfwidth
from protocol.taxonomy import builtin_taxonomy, load_taxonomy


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


_ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", flags=re.MULTILINE)


def _documented_tables() -> dict[int, list[tuple[str, ...]]]:
    doc = node.budget.__doc__ or ""
    v1, v2 = doc.split("Taxonomy v2, its recorded weights", 1)
    return {1: _ROW.findall(v1), 2: _ROW.findall(v2)}


@pytest.mark.parametrize("version", [1, 2])
def test_the_documented_noise_table_is_what_the_defaults_give(version: int) -> None:
    """The σ and ±h columns of node.budget's docstring are computed, not copied by hand."""
    taxonomy = builtin_taxonomy(version)
    config = BudgetConfig.default(taxonomy=taxonomy)
    shares = config.shares(taxonomy.tables)
    rows = _documented_tables()[version]
    assert sorted(row[0] for row in rows) == sorted(taxonomy.tables)
    for name, weight, l2, rho, sigma, halfwidth in rows:
        table = taxonomy.table(name)
        assert int(weight) == config.weights[name]
        assert int(l2) == table.l2_sensitivity_squared
        assert float(rho) == pytest.approx(float(shares[name]), rel=1e-4)
        exact_sigma = math.sqrt(table.l2_sensitivity_squared / (2 * float(shares[name])))
        assert float(sigma) == pytest.approx(exact_sigma, abs=0.006)
        assert int(halfwidth) == single_cell_halfwidth("discrete_gaussian", exact_sigma)


def test_the_documented_regional_figures_are_computed() -> None:
    """±39 / ±19 for a monthly corridor and ±251 / ±34 for the monthly total at 5 hotlines, v1 / v2."""
    doc = " ".join((node.budget.__doc__ or "").split())
    found = re.search(
        r"corridor cell .*? about ±(\d+) under v1 and ±(\d+) under v2, and the monthly regional total ±(\d+) under "
        r"v1 and ±(\d+) under v2",
        doc,
    )
    assert found is not None
    corridor_v1, corridor_v2, total_v1, total_v2 = map(int, found.groups())
    figures = {}
    for version in (1, 2):
        taxonomy = builtin_taxonomy(version)
        plan = calibrate(taxonomy, list(taxonomy.tables), BudgetConfig.default(taxonomy=taxonomy))
        scales = {t.table: (plan.mechanism, t.scale_text) for t in plan.tables}
        figures[version] = {r.question: r.halfwidths for r in regional_accuracy(taxonomy, scales, hotlines=(5,))}
    assert round(figures[1]["corridor"][0][1]) == corridor_v1
    assert round(figures[2]["corridor"][0][1]) == corridor_v2
    assert round(figures[1]["total"][0][1]) == total_v1
    assert round(figures[2]["total"][0][1]) == total_v2


@pytest.mark.parametrize("mechanism", ["discrete_gaussian", "discrete_laplace"])
def test_a_taxonomy_with_recorded_weights_gives_them(mechanism: Mechanism) -> None:
    v2 = builtin_taxonomy(2)
    config = BudgetConfig.default(mechanism, taxonomy=v2)
    assert dict(config.weights) == dict(v2.budget_weights[mechanism])
    assert sum(config.weights.values()) == 1000
    plain = BudgetConfig.default(mechanism)
    assert (config.release, config.period_cap, config.year_cap) == (plain.release, plain.period_cap, plain.year_cap)
    shares = config.shares(v2.tables)
    assert sum(shares.values()) == Decimal(amount_text(config.release))
    without_contacts = config.shares([n for n in v2.tables if n != "contacts"])
    assert sum(without_contacts.values()) == Decimal(amount_text(config.release))
    if mechanism == "discrete_gaussian":  # per mille of ρ = 0.1: the weight is ρ_t in units of 10⁻⁴
        assert shares["persons_corridor_2way"] == Decimal("0.0248")


def test_a_taxonomy_without_recorded_weights_gets_the_v1_defaults() -> None:
    v1 = builtin_taxonomy(1)
    assert v1.budget_weights == {}
    assert BudgetConfig.default(taxonomy=v1).weights == BudgetConfig.default().weights == DEFAULT_WEIGHTS
    document = builtin_taxonomy(2).document
    del document["budget"]  # a regional edition of v2 without recorded weights
    document["id"] = "regional-edition/2"
    custom = load_taxonomy(document)
    weights = default_weights("discrete_gaussian", custom)
    assert weights["persons_corridor"] == 4
    assert weights["persons_total"] == weights["persons_corridor_2way"] == 1
    assert set(custom.tables) <= set(weights)


def test_with_weights_keeps_the_amounts() -> None:
    config = BudgetConfig("discrete_gaussian", Fraction(1, 24), Fraction(1, 12), Fraction(1, 2), {"a": 1, "b": 3})
    changed = config.with_weights({"c": 5})
    assert (changed.mechanism, changed.release, changed.period_cap, changed.year_cap) == (
        "discrete_gaussian",
        Fraction(1, 24),
        Fraction(1, 12),
        Fraction(1, 2),
    )
    assert dict(changed.weights) == {"c": 5}


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
