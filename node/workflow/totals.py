# SPDX-License-Identifier: Apache-2.0
"""The privacy budget spent, per year and per period, as ``status`` and ``budget`` show it.

::

    with home.database() as db:
        years = year_budgets(Ledger(db), home.config.budget, year="2025", today=clock())
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from node.budget import BudgetConfig
from node.ledger import Ledger

__all__ = ["YearBudget", "year_budgets"]


@dataclass(frozen=True, slots=True)
class YearBudget:
    """What a calendar year spent, against its cap, and per period: ``(period, revisions, spent)``."""

    year: str
    spent: Fraction
    cap: Fraction
    periods: tuple[tuple[str, int, Fraction], ...]


def year_budgets(ledger: Ledger, budget: BudgetConfig, *, year: str | None, today: datetime) -> list[YearBudget]:
    """The ledger per year and period: ``year`` only, or every year with spends (``today``'s year if there are
    none), oldest first."""
    spends = ledger.spends(year=year)
    years: dict[str, dict[str, list[Fraction]]] = {}
    if year is not None:
        years[year] = {}
    elif not spends:
        years[f"{today.year:04d}"] = {}
    for spend in spends:
        years.setdefault(spend.period[:4], {}).setdefault(spend.period, []).append(Fraction(spend.amount))
    return [
        YearBudget(
            year=y,
            spent=sum((sum(v, Fraction(0)) for v in periods.values()), Fraction(0)),
            cap=budget.year_cap,
            periods=tuple((p, len(v), sum(v, Fraction(0))) for p, v in sorted(periods.items())),
        )
        for y, periods in sorted(years.items())
    ]
