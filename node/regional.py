# SPDX-License-Identifier: Apache-2.0
"""What a release's noise means at the hub: the expected 95 % half-width of a regional answer.

One hotline's monthly cells are mostly noise, on purpose: hotline counts are small, and the noise protects each
person in them. The numbers are meant to be read at the hub, which adds up the releases of every hotline and answers
a coordinator's question from every released table that carries it, combined by least squares
(:mod:`protocol.combination`). So the accuracy that matters to a coordinator is that of the regional answer, and it
depends on which tables the taxonomy releases at least as much as on the budget.

For a release, :func:`regional_accuracy` takes each table's per-cell noise variance (from the public scale in the
payload, :func:`protocol.accuracy.noise_variance`), assumes ``N`` hotlines release alike (same taxonomy, same
budget: variances × N), and computes the variance of the hub's estimate of one cell of a question with
:func:`protocol.combination.cell_variance`; the expected 95 % half-width is ``1.959964 · √variance`` (the normal
approximation; the hub's published intervals are exact or provably conservative and agree with it to within one).

>>> from protocol.taxonomy import builtin_taxonomy
>>> scales = {name: ("discrete_gaussian", "10") for name in builtin_taxonomy(2).tables}   # σ = 10 everywhere
>>> corridor, total = regional_accuracy(builtin_taxonomy(2), scales)
>>> corridor.question, corridor.carried_by
('corridor', ('persons_corridor', 'persons_corridor_2way'))
>>> [(n, round(h, 1)) for n, h in corridor.halfwidths]   # the two-way table alone: 1.96 · 10 · √5 = 43.8
[(5, 39.4), (20, 78.7)]
>>> [(n, round(h, 1)) for n, h in total.halfwidths]      # the one-cell total alone: 43.8 too
[(5, 37.6), (20, 75.2)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from protocol.accuracy import noise_variance
from protocol.combination import NotAnswerable, cell_variance
from protocol.messages import PrivacyBlock
from protocol.taxonomy import Taxonomy

__all__ = ["REGIONAL_HOTLINES", "RegionalAccuracy", "RegionalQuestion", "regional_accuracy", "release_scales"]

#: The numbers of hotlines the regional half-widths are stated for.
REGIONAL_HOTLINES: Final = (5, 20)
_Z95: Final = 1.959963984540054


@dataclass(frozen=True, slots=True)
class RegionalQuestion:
    """A coordinator's question about one cell, for one month: a unit and the dimensions that name the cell."""

    id: str
    unit: str
    dimensions: tuple[str, ...]
    #: How the node says it to a person.
    wording: str


#: The questions ``prepare`` states the regional accuracy of: the corridor (what the network exists for) and the
#: headline total.
QUESTIONS: Final = (
    RegionalQuestion(
        "corridor",
        "person",
        ("citizenship", "country_of_exploitation"),
        "one corridor (citizenship → country of exploitation), one month",
    ),
    RegionalQuestion("total", "person", (), "all persons in the region, one month"),
)


@dataclass(frozen=True, slots=True)
class RegionalAccuracy:
    """The expected 95 % half-width of one cell of a question at the hub, for several numbers of hotlines."""

    question: str
    unit: str
    dimensions: tuple[str, ...]
    wording: str
    #: The released tables that carry every dimension of the question (the others help through the margins).
    carried_by: tuple[str, ...]
    #: ``(hotlines, expected 95 % half-width)``.
    halfwidths: tuple[tuple[int, float], ...]


def release_scales(privacy: PrivacyBlock) -> dict[str, tuple[str, str]]:
    """``table -> (mechanism, scale)`` of a release's privacy block."""
    return {t.table: (privacy.mechanism, t.scale) for t in privacy.tables}


def regional_accuracy(
    taxonomy: Taxonomy,
    scales: Mapping[str, tuple[str, str]],
    *,
    hotlines: Sequence[int] = REGIONAL_HOTLINES,
    questions: Sequence[RegionalQuestion] = QUESTIONS,
) -> tuple[RegionalAccuracy, ...]:
    """The expected regional half-width of each question the released tables answer (see the module docstring).

    ``scales`` maps each released table to its ``(mechanism, scale)``; a question no released table answers (no
    person table in the release, or a taxonomy without a corridor) is left out.
    """
    variances = {name: noise_variance(mechanism, scale) for name, (mechanism, scale) in scales.items()}
    results = []
    for question in questions:
        halfwidths = []
        try:
            for count in hotlines:
                pooled = {name: variance * count for name, variance in variances.items()}
                variance = cell_variance(taxonomy.tables, pooled, question.unit, question.dimensions)
                halfwidths.append((count, _Z95 * math.sqrt(variance)))
        except NotAnswerable:
            continue
        if not all(math.isfinite(h) for _, h in halfwidths):
            continue
        carried_by = tuple(
            name
            for name in scales
            if taxonomy.table(name).unit == question.unit
            and not taxonomy.table(name).multi_valued
            and set(question.dimensions) <= set(taxonomy.table(name).dimension_names)
        )
        results.append(
            RegionalAccuracy(
                question=question.id,
                unit=question.unit,
                dimensions=question.dimensions,
                wording=question.wording,
                carried_by=carried_by,
                halfwidths=tuple(halfwidths),
            )
        )
    return tuple(results)
