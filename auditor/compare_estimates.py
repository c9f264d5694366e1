# SPDX-License-Identifier: Apache-2.0
"""Compare a published estimates answer with the one recomputed from the log: every field, exactly.

The hub and the auditor run the same arithmetic (:mod:`protocol.estimation`) on the same integer sums, so every
number must be equal bit for bit: estimates, interval bounds, half-widths, the interval method, hotline counts,
flags, ``distinguishable``, ranks, the ranking summary's counts and every least-squares coefficient. Only the
values that come out of numerical integration or tail bounds (``std``, ``coverage``, ``p_zero`` and the ranking
threshold) are allowed 1e-9 of relative difference, as for the per-table statistics (:mod:`auditor.compare`).

The answer must also be the one asked (unit, grouping, filters, months, scope), follow the taxonomies the
releases with data follow, and name the months with data. Rows are matched by their keys. Every difference is a
:class:`~auditor.findings.Failure` of check ``estimates`` naming the question, the row's keys and each field that
differs (published vs recomputed); after :data:`~auditor.compare.MAX_FAILURES_PER_ANSWER` the rest are counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from auditor.compare import MAX_FAILURES_PER_ANSWER, Comparison
from auditor.estimates import Asked, ExpectedEstimates
from auditor.findings import Check, Failure
from auditor.i18n import T_, Joined
from protocol.api import CONFIDENCE, UNIT_LABELS, CombinationBlock, EstimateRow, EstimatesAnswer

__all__ = ["compare_estimates", "question_differences"]

#: Row fields that must be equal exactly, and those equal to 1e-9 (relative).
_EXACT: Final = (
    "estimate",
    "ci95_low",
    "ci95_high",
    "halfwidth",
    "interval_method",
    "hotlines_reporting",
    "hotlines_expected",
    "obs_status",
    "conf_status",
    "wide_interval",
    "distinguishable",
    "rank",
)
_CLOSE: Final = ("std", "coverage", "p_zero")


def question_differences(
    published: EstimatesAnswer, asked: Asked, *, scope: tuple[str, str | None], filters: Mapping[str, Sequence[str]]
) -> list[str]:
    """How the question the answer echoes differs from the one asked (``scope``: level and code; ``filters``:
    the resolved filters, in code-list order)."""
    echo = published.question
    asked_as = (
        asked.unit,
        list(asked.keys),
        {name: list(codes) for name, codes in filters.items()},
        asked.period_from,
        asked.period_to,
        scope,
    )
    got = (
        echo.unit,
        echo.group_by,
        echo.filters,
        echo.period_from,
        echo.period_to,
        (echo.scope.level, echo.scope.code),
    )
    names = ("unit", "group_by", "filters", "period_from", "period_to", "scope")
    return [
        T_("{field} {published}, not {asked}", field=name, published=repr(theirs), asked=repr(ours))
        for name, theirs, ours in zip(names, got, asked_as, strict=True)
        if theirs != ours
    ]


def compare_estimates(
    published: EstimatesAnswer, expected: ExpectedEstimates, *, asked: Asked, label: str
) -> Comparison:
    """Compare ``published`` (already known to answer ``asked``) with ``expected``; ``label`` names the question
    and scope in every failure."""
    failures: list[Failure] = []

    def fail(message: str, keys: Mapping[str, str] | None = None) -> None:
        failures.append(
            Failure(Check.ESTIMATES, T_("{question}: {problem}", question=label, problem=message), keys=keys)
        )

    if published.unit_label != UNIT_LABELS[asked.unit]:
        fail(
            T_(
                "{field} published {published}, not {asked}",
                field="unit_label",
                published=repr(published.unit_label),
                asked=repr(UNIT_LABELS[asked.unit]),
            )
        )
    if published.confidence != CONFIDENCE:
        fail(
            T_(
                "{field} published {published}, not {asked}",
                field="confidence",
                published=published.confidence,
                asked=CONFIDENCE,
            )
        )
    taxonomies = [(t.id, t.hash) for t in published.taxonomies]
    if taxonomies != list(expected.taxonomies):
        fail(
            T_(
                "{field} published {published}, recomputed {recomputed}",
                field="taxonomies",
                published=_pairs(taxonomies),
                recomputed=_pairs(expected.taxonomies),
            )
        )
    if published.periods_with_data != list(expected.periods_with_data):
        fail(
            T_(
                "{field} published {published}, recomputed {recomputed}",
                field="periods_with_data",
                published=published.periods_with_data,
                recomputed=list(expected.periods_with_data),
            )
        )
    for message in _combination_differences(published.combination, expected.combination):
        fail(message)
    ranking, mine = published.ranking, expected.ranking
    found = [
        T_(
            "{field} published {published}, recomputed {recomputed}",
            field=name,
            published=getattr(ranking, name),
            recomputed=getattr(mine, name),
        )
        for name in ("method", "level", "compared", "distinguishable")
        if getattr(ranking, name) != getattr(mine, name)
    ]
    if not _close(ranking.threshold, mine.threshold):
        found.append(
            T_(
                "{field} published {published}, recomputed {recomputed}",
                field="threshold",
                published=ranking.threshold,
                recomputed=mine.threshold,
            )
        )
    if found:
        fail(T_("ranking {differences}", differences=Joined(found, "; ")))
    for message, keys in _row_failures(published.rows, expected.rows, asked.keys):
        fail(message, keys)
    if len(failures) > MAX_FAILURES_PER_ANSWER:
        more = len(failures) - MAX_FAILURES_PER_ANSWER
        failures = failures[:MAX_FAILURES_PER_ANSWER]
        fail(T_("... and {more} more differences in this answer", more=more))
    return Comparison(rows=len(published.rows), failures=tuple(failures))


def _row_failures(
    published: Sequence[EstimateRow], expected: Sequence[EstimateRow], names: Sequence[str]
) -> Iterator[tuple[str, Mapping[str, str]]]:
    """What is wrong with the published rows, row by row: ``(message, keys)``."""
    mine = {tuple(row.keys[name] for name in names): row for row in expected}
    seen: set[tuple[str, ...]] = set()
    for row in published:
        if set(row.keys) != set(names):
            yield T_("a row is keyed by {keys}, not by {asked}", keys=sorted(row.keys), asked=list(names)), row.keys
            continue
        key = tuple(row.keys[name] for name in names)
        if key in seen:
            yield T_("the row appears twice"), row.keys
            continue
        seen.add(key)
        ours = mine.get(key)
        if ours is None:
            yield T_("published, but the log implies no such row"), row.keys
            continue
        differences = _row_differences(row, ours)
        if differences:
            yield Joined(differences, "; "), row.keys
    for key, ours in mine.items():
        if key not in seen:
            yield T_("missing: the log implies estimate {estimate}", estimate=ours.estimate), ours.keys


def _row_differences(row: EstimateRow, mine: EstimateRow) -> list[str]:
    found: list[str] = [
        T_(
            "{field} published {published}, recomputed {recomputed}",
            field=name,
            published=getattr(row, name),
            recomputed=getattr(mine, name),
        )
        for name in _EXACT
        if getattr(row, name) != getattr(mine, name)
    ]
    found += [
        T_(
            "{field} published {published}, recomputed {recomputed}",
            field=name,
            published=getattr(row, name),
            recomputed=getattr(mine, name),
        )
        for name in _CLOSE
        if not _close(getattr(row, name), getattr(mine, name))
    ]
    return found


def _combination_differences(published: Sequence[CombinationBlock], expected: Sequence[CombinationBlock]) -> list[str]:
    """The least-squares weights, block by block and term by term, exactly."""
    theirs = {tuple(block.periods): block for block in published}
    ours = {tuple(block.periods): block for block in expected}
    found: list[str] = []
    if list(theirs) != list(ours):
        found.append(
            T_(
                "combination blocks published for {published}, recomputed for {recomputed}",
                published=[_months(p) for p in theirs],
                recomputed=[_months(p) for p in ours],
            )
        )
    for periods, block in ours.items():
        other = theirs.get(periods)
        if other is None:
            continue
        where = T_("combination {months}", months=_months(periods))
        published_terms = [(t.table, tuple(t.dimensions)) for t in other.terms]
        expected_terms = [(t.table, tuple(t.dimensions)) for t in block.terms]
        if published_terms != expected_terms:
            found.append(
                T_(
                    "{where}: terms published {published}, recomputed {recomputed}",
                    where=where,
                    published=published_terms,
                    recomputed=expected_terms,
                )
            )
            continue
        for term, mine in zip(other.terms, block.terms, strict=True):
            if term.coefficient != mine.coefficient:
                dims = ",".join(term.dimensions) or "total"
                found.append(
                    T_(
                        "{where}: coefficient of {table} ({dimensions}) published {published}, recomputed {recomputed}",
                        where=where,
                        table=term.table,
                        dimensions=dims,
                        published=repr(term.coefficient),
                        recomputed=repr(mine.coefficient),
                    )
                )
    return found


def _close(published: float | None, mine: float | None) -> bool:
    if published is None or mine is None:
        return published is mine
    return math.isclose(published, mine, rel_tol=1e-9)


def _months(periods: Sequence[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]} ({len(periods)} months)"


def _pairs(pairs: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{taxonomy_id} ({content_hash})" for taxonomy_id, content_hash in pairs) + "]"
