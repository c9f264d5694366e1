# SPDX-License-Identifier: Apache-2.0
"""The workload benchmark's ``secure`` column: the issue's questions answered from a secure round's sum, beside
local noise and the central optimum with the same tables and weights (noise only, no data).

* **local**: taxonomy v2's tables under the node's default budget, every one of N hotlines adding its own noise
  (:func:`node.noise.calibrate`), combined by the hub's least squares;
* **central**: the same tables noised once for the whole region: N = 1 of the local design (what one trusted
  aggregator would publish with the same weights);
* **secure**: a *scaled* secure round (γ = :data:`SCALING`) of N members with threshold ``t = ⌈0.8 N⌉``: every
  member sends ``γ · counts`` plus its share on that finer lattice (:func:`node.secure_group.plan_shares`,
  :mod:`protocol.distributed_noise`), and **all N survive** — the worst case for accuracy, ``N/t`` times the
  shares the guarantee needs. The published cell's noise is ``round(Σ shares / γ)``, one term per cell
  (:mod:`protocol.rounded_noise`), exactly as :mod:`protocol.bounds` sums it.

Each half-width is :meth:`protocol.bounds.LinearNoise.interval` of the least-squares plan's noise over the
question's months (:func:`protocol.combination.plan_month`), as ``/v1/estimates`` publishes it. The ratio is
secure over central; the issue asks for at most :data:`RATIO_TARGET` at each N.

>>> rows = secure_column(hotline_counts=(6,))
>>> [(r.question, r.hotlines, r.threshold) for r in rows][:2]
[('total', 6, 5), ('citizenship', 6, 5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Final

from node.budget import BudgetConfig, amount_text
from node.noise import NoisePlan, calibrate
from node.secure_group import SecureGroupConfig, SharePlan, plan_shares
from protocol.bounds import LinearNoise
from protocol.combination import MonthRelease, Question, observation, plan_month
from protocol.taxonomy import Taxonomy, builtin_taxonomy

__all__ = [
    "ISSUE_TARGETS",
    "QUESTIONS",
    "RATIO_TARGET",
    "SCALING",
    "SECURE_HOTLINES",
    "SecureRow",
    "secure_column",
]

SECURE_HOTLINES: Final = (6, 20, 100)
THRESHOLD_FRACTION: Final = Fraction(4, 5)
#: The rounds' scaling factor (docs/secure-aggregation-privacy.md §7): large enough that the shares need no
#: widening for the bound at any N here.
SCALING: Final = 15
RATIO_TARGET: Final = 1.3
CONFIDENCE: Final = 0.95
#: (question id, months) of the workload the column answers: the "answers" issue's four questions.
QUESTIONS: Final = (("total", 1), ("citizenship", 1), ("corridor", 1), ("corridor_half_year", 6))
#: A noise term as releases carry it: ``(mechanism, scale text, count)``.
_Term = tuple[str, str, int]
#: The secure-aggregation issue's targets (95 % half-width) at any N.
ISSUE_TARGETS: Final = {("corridor", 1): 7.0, ("corridor_half_year", 6): 18.0, ("total", 1): 18.0}


@dataclass(frozen=True, slots=True)
class SecureRow:
    """One question at one N: the three half-widths (95 %, ±)."""

    question: str
    months: int
    hotlines: int
    threshold: int
    local: float
    central: float
    secure: float
    #: The secure half-width when exactly ``threshold`` members survive (the best case).
    secure_at_threshold: float

    @property
    def ratio(self) -> float:
        """Secure over central (all N surviving)."""
        return self.secure / self.central

    @property
    def target(self) -> float | None:
        """The secure-aggregation issue's half-width for this question, if it names one."""
        return ISSUE_TARGETS.get((self.question, self.months))


def secure_column(hotline_counts: Sequence[int] = SECURE_HOTLINES) -> list[SecureRow]:
    """The column at each N: one row per question of :data:`QUESTIONS`, questions inside N."""
    taxonomy = builtin_taxonomy(2)
    local = _local_plan()
    rows = []
    for hotlines in hotline_counts:
        shares = _share_plan(hotlines)
        threshold = _group(hotlines).group().threshold

        def secure(count: int, shares: SharePlan = shares) -> dict[str, _Term]:
            return {s.table: s.noise(survivors=count) for s in shares.shares}

        for qid, months in QUESTIONS:
            dimensions = next(q.dimensions for q in taxonomy.workload if q.id == qid)
            unit = next(q.unit for q in taxonomy.workload if q.id == qid)
            question = Question(unit=unit, group_by=dimensions)
            rows.append(
                SecureRow(
                    question=qid,
                    months=months,
                    hotlines=hotlines,
                    threshold=threshold,
                    local=_halfwidth(taxonomy, question, _local_terms(local, hotlines), months),
                    central=_halfwidth(taxonomy, question, _local_terms(local, 1), months),
                    secure=_halfwidth(taxonomy, question, secure(hotlines), months),
                    secure_at_threshold=_halfwidth(taxonomy, question, secure(threshold), months),
                )
            )
    return rows


# ----------------------------------------------------------------------------------------------- helpers


def _group(hotlines: int) -> SecureGroupConfig:
    budget = BudgetConfig.default("discrete_gaussian", taxonomy=builtin_taxonomy(2))
    threshold = -(-THRESHOLD_FRACTION.numerator * hotlines // THRESHOLD_FRACTION.denominator)
    return SecureGroupConfig(
        group_id="bench-region",
        members=hotlines,
        threshold=None,
        threshold_fraction=THRESHOLD_FRACTION,
        collusion_cap=Fraction(amount_text(threshold * budget.release)),
        scaling=SCALING,
    )


@cache
def _local_plan() -> NoisePlan:
    taxonomy = builtin_taxonomy(2)
    return calibrate(taxonomy, list(taxonomy.tables), BudgetConfig.default("discrete_gaussian", taxonomy=taxonomy))


@cache
def _share_plan(hotlines: int) -> SharePlan:
    taxonomy = builtin_taxonomy(2)
    budget = BudgetConfig.default("discrete_gaussian", taxonomy=taxonomy)
    return plan_shares(taxonomy, list(taxonomy.tables), budget, _group(hotlines))


def _local_terms(plan: NoisePlan, count: int) -> dict[str, _Term]:
    """``count`` hotlines' local noise in each table's cell: ``count`` draws of the table's scale."""
    return {c.table: (plan.mechanism, c.scale_text, count) for c in plan.tables}


def _halfwidth(taxonomy: Taxonomy, question: Question, cell_noise: dict[str, _Term], months: int) -> float:
    """The 95 % half-width of one row when each table's cell carries ``cell_noise[table]`` in each month."""
    terms = {observation(table, taxonomy.id): [term] for table, term in cell_noise.items()}
    month = plan_month(question, taxonomy.tables, MonthRelease.of(terms, [frozenset(terms)]))
    noise = LinearNoise((coefficient, (m, s, n * months)) for coefficient, (m, s, n) in month.noise_parts)
    return noise.interval(CONFIDENCE).halfwidth
