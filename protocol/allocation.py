# SPDX-License-Identifier: Apache-2.0
"""Budget weights from the workload: how a release's privacy budget is split across tables, chosen by
minimising the expected error of the coordinators' questions, never by hand.

A taxonomy with a workload (version 2) lists questions: a unit, dimensions, a number of months, the 95 %
half-width coordinators need for one cell at a reference number of hotlines, and a priority. With table ``t``
getting the share ``s_t`` of the budget, each question's expected half-width follows from the least-squares
variance of one of its cells (:func:`protocol.combination.cell_variance`). The weights minimise

    J(s) = Σ_q priority_q · (expected half-width_q / needed half-width_q)²,     Σ_t s_t = 1,

by a damped multiplicative fixed-point iteration (``s_t ← s_t · (−∂J/∂s_t)^{1/(p+1)}``, normalised, where the per-cell
variance of a table goes as ``1/s^p``: ``p = 1`` for the discrete Gaussian, ρ ∝ 1/σ², ``p = 2`` for the discrete
Laplace, ε ∝ 1/scale). For the Gaussian ``J`` is convex in ``s`` (each variance is a sum of ``1/linear`` terms),
so the fixed point is the optimum. Every variance scales alike with the number of hotlines and with the total
budget, so the weights depend on neither; months differ between questions and do count.

>>> from protocol.taxonomy import builtin_taxonomy
>>> weights = allocate(builtin_taxonomy(2), "discrete_gaussian")
>>> sum(weights.values()), max(weights, key=weights.get)
(1000, 'persons_corridor_2way')

``tools/allocate_budget.py`` runs this and writes the weights into the taxonomy document; a test recomputes them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from protocol.combination import Question, cell_variance, resolve
from protocol.errors import TaxonomyViolation
from protocol.taxonomy import Taxonomy, WorkloadQuestion

__all__ = [
    "DEFAULT_BUDGETS",
    "TOTAL_WEIGHT",
    "Expected",
    "allocate",
    "expected_halfwidths",
    "optimal_shares",
    "table_variances",
]

#: Weights are whole numbers adding up to this (per mille of a release's budget).
TOTAL_WEIGHT: Final = 1000
#: The node's default per-release budget of each mechanism (ρ, ε), for stating expected half-widths.
DEFAULT_BUDGETS: Final[Mapping[str, float]] = {"discrete_gaussian": 0.1, "discrete_laplace": 1.0}
_Z95: Final = 1.959963984540054
_ITERATIONS: Final = 20_000
_TOLERANCE: Final = 1e-12
_FLOOR: Final = 1e-6


@dataclass(frozen=True, slots=True)
class Expected:
    """A workload question's expected 95 % half-width (normal approximation) at the reference hotlines."""

    question: WorkloadQuestion
    halfwidth: float

    @property
    def ratio(self) -> float:
        """Expected over needed half-width."""
        return self.halfwidth / self.question.halfwidth


def table_variances(taxonomy: Taxonomy, shares: Mapping[str, float], mechanism: str, budget: float) -> dict[str, float]:
    """Per-cell noise variance of each table of one hotline-month, when table ``t`` gets ``shares[t] · budget``:
    ``L2² / (2ρ_t)`` (discrete Gaussian) or ``2 (L1 / ε_t)²`` (discrete Laplace, its continuous value)."""
    result: dict[str, float] = {}
    for name, share in shares.items():
        table = taxonomy.table(name)
        spend = share * budget
        if mechanism == "discrete_gaussian":
            result[name] = table.l2_sensitivity_squared / (2.0 * spend)
        elif mechanism == "discrete_laplace":
            result[name] = 2.0 * (table.l1_bound / spend) ** 2
        else:
            raise TaxonomyViolation(f"no budget allocation for mechanism {mechanism!r}")
    return result


def expected_halfwidths(
    taxonomy: Taxonomy, shares: Mapping[str, float], mechanism: str, *, hotlines: int | None = None
) -> list[Expected]:
    """Each workload question's expected half-width with these shares, the default budget and ``hotlines``
    (default: the workload's reference) hotlines all releasing alike."""
    count = hotlines if hotlines is not None else taxonomy.workload_hotlines
    variances = table_variances(taxonomy, shares, mechanism, DEFAULT_BUDGETS[mechanism])
    return [
        Expected(
            q,
            _Z95 * math.sqrt(count * q.months * cell_variance(taxonomy.tables, variances, q.unit, q.dimensions)),
        )
        for q in taxonomy.workload
    ]


def optimal_shares(taxonomy: Taxonomy, mechanism: str) -> dict[str, float]:
    """The budget shares (adding up to 1) that minimise the workload objective ``J`` (module docstring)."""
    if not taxonomy.workload:
        raise TaxonomyViolation(f"taxonomy {taxonomy.id} records no workload to allocate the budget for")
    power = {"discrete_gaussian": 1, "discrete_laplace": 2}.get(mechanism)
    if power is None:
        raise TaxonomyViolation(f"no budget allocation for mechanism {mechanism!r}")
    model = _Model.build(taxonomy, mechanism, power)
    names = sorted(taxonomy.tables)
    shares = {name: 1.0 / len(names) for name in names}
    for _ in range(_ITERATIONS):
        gradient = model.gradient(shares)
        updated = {name: shares[name] * max(-gradient[name], 1e-300) ** (1.0 / (power + 1)) for name in names}
        total = math.fsum(updated.values())
        # Half a step (damping keeps the Laplace iteration, whose objective is not convex, from oscillating), and
        # a floor: a table the workload barely needs still gets a share, so every table keeps a weight.
        updated = {name: max(_FLOOR, (shares[name] + value / total) / 2.0) for name, value in updated.items()}
        total = math.fsum(updated.values())
        updated = {name: value / total for name, value in updated.items()}
        change = max(abs(updated[n] - shares[n]) / shares[n] for n in names)
        shares = updated
        if change < _TOLERANCE:
            break
    return shares


def allocate(taxonomy: Taxonomy, mechanism: str) -> dict[str, int]:
    """Whole-number weights (adding up to :data:`TOTAL_WEIGHT`, each at least 1) from :func:`optimal_shares`, by
    largest remainder (ties by table name)."""
    shares = optimal_shares(taxonomy, mechanism)
    exact = {name: share * TOTAL_WEIGHT for name, share in shares.items()}
    weights = {name: max(1, math.floor(value)) for name, value in exact.items()}
    left = TOTAL_WEIGHT - sum(weights.values())
    order = sorted(exact, key=lambda n: (-(exact[n] - math.floor(exact[n])), n))
    for name in itertools.islice(itertools.cycle(order), max(0, left)):
        weights[name] += 1
    while sum(weights.values()) > TOTAL_WEIGHT:  # only when many tables were raised to the minimum of 1
        largest = max(weights, key=lambda n: (weights[n], n))
        weights[largest] -= 1
    return dict(sorted(weights.items()))


# ----------------------------------------------------------------------------------------------- the objective


@dataclass(frozen=True, slots=True)
class _Term:
    """``priority·scale · a / g`` with ``g = Σ_t b_t / V_t`` and ``1/V_t = k_t · s_t^p``."""

    weight: float
    b: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class _Model:
    terms: tuple[_Term, ...]
    inverse_variance: Mapping[str, float]  # k_t: 1/V_t per unit share^p
    power: int

    @classmethod
    def build(cls, taxonomy: Taxonomy, mechanism: str, power: int) -> _Model:
        unit_variances = table_variances(taxonomy, dict.fromkeys(taxonomy.tables, 1.0), mechanism, 1.0)
        k = {name: 1.0 / v for name, v in unit_variances.items()}
        terms: list[_Term] = []
        for q in taxonomy.workload:
            scale = q.priority * q.months * (_Z95 / q.halfwidth) ** 2
            resolved = resolve(Question(unit=q.unit, group_by=q.dimensions), taxonomy.tables)
            unit_tables = [t for t in taxonomy.tables.values() if t.unit == q.unit]
            if resolved.multi_valued:
                table = min(
                    (t for t in unit_tables if t.multi_valued and set(q.dimensions) <= set(t.dimension_names)),
                    key=lambda t: (t.cell_count, t.name),
                )
                cells = math.prod(len(d) for d in table.dimensions if d.name not in q.dimensions)
                terms.append(_Term(scale * cells, {table.name: 1.0}))
                continue
            lattice = [t for t in unit_tables if not t.multi_valued]
            for size in range(len(resolved.dimensions) + 1):
                for subset in itertools.combinations(resolved.dimensions, size):
                    outside = math.prod(1.0 / resolved.sizes[i] for i in resolved.dimensions if i not in subset)
                    inside = math.prod(1.0 - 1.0 / resolved.sizes[i] for i in subset)
                    b = {
                        t.name: 1.0 / math.prod(len(d) for d in t.dimensions if d.name not in subset)
                        for t in lattice
                        if set(subset) <= set(t.dimension_names)
                    }
                    terms.append(_Term(scale * outside * outside * inside, b))
        return cls(tuple(terms), k, power)

    def gradient(self, shares: Mapping[str, float]) -> dict[str, float]:
        """``∂J/∂s_t`` (negative)."""
        result = dict.fromkeys(shares, 0.0)
        for term in self.terms:
            g = math.fsum(b * self.inverse_variance[n] * shares[n] ** self.power for n, b in term.b.items())
            for name, b in term.b.items():
                derivative = b * self.inverse_variance[name] * self.power * shares[name] ** (self.power - 1)
                result[name] -= term.weight * derivative / (g * g)
        return result
