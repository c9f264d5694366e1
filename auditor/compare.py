# SPDX-License-Identifier: Apache-2.0
"""Compare a published statistics answer with the one recomputed from the log, row by row, exactly.

Integers (estimate, interval bounds, hotline counts) and flags must be equal; the standard deviation, a float
computed the same way on both sides, must agree to 1e-9 (relative). Every difference is a
:class:`~auditor.findings.Failure` of check ``statistics`` naming the table, the grouping, the row's keys and
each field that differs (published vs recomputed). After :data:`MAX_FAILURES_PER_ANSWER` failures in one answer
the rest are counted in one more failure, so a systematically wrong table does not drown the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from auditor.findings import Check, Failure
from auditor.i18n import T_, Joined
from auditor.published import PublishedStats
from protocol.api import StatsRow

__all__ = ["MAX_FAILURES_PER_ANSWER", "Comparison", "compare_answer"]

MAX_FAILURES_PER_ANSWER: Final = 20
_FIELDS: Final = (
    "estimate",
    "ci95_low",
    "ci95_high",
    "hotlines_reporting",
    "hotlines_expected",
    "obs_status",
    "wide_interval",
    "interval_method",
)


@dataclass(frozen=True, slots=True)
class Comparison:
    rows: int
    failures: tuple[Failure, ...]


def compare_answer(
    published: PublishedStats,
    expected: Mapping[tuple[str, ...], StatsRow],
    *,
    expected_periods_with_data: list[str],
    scope: str,
) -> Comparison:
    """Compare every row of ``published`` with ``expected`` (keyed by codes in ``group_by`` order)."""
    group_by = published.group_by
    label = T_("group_by={group_by} ({scope})", group_by=",".join(group_by), scope=scope)
    failures: list[Failure] = []

    def fail(message: str, keys: Mapping[str, str] | None = None) -> None:
        found = T_("{question}: {problem}", question=label, problem=message)
        failures.append(Failure(Check.STATISTICS, found, table=published.table, keys=keys))

    if list(published.periods_with_data) != expected_periods_with_data:
        fail(
            T_(
                "{field} published {published}, recomputed {recomputed}",
                field="periods_with_data",
                published=list(published.periods_with_data),
                recomputed=expected_periods_with_data,
            )
        )
    asked = set(group_by)
    seen: set[tuple[str, ...]] = set()
    for row in published.rows:
        keys = row.keys
        if len(keys) != len(asked) or not asked.issuperset(keys):
            fail(T_("a row is keyed by {keys}, not by {asked}", keys=sorted(keys), asked=list(group_by)), keys)
            continue
        key = tuple([keys[name] for name in group_by])
        if key in seen:
            fail(T_("the row appears twice"), keys)
            continue
        seen.add(key)
        mine = expected.get(key)
        if mine is None:
            fail(T_("published, but the log implies no such row"), keys)
            continue
        if _fields(row) == _fields(mine) and row.std == mine.std:
            continue  # the common case, decided on one tuple; anything else is looked at field by field
        differences = _differences(row, mine)
        if differences:
            fail(Joined(differences, "; "), keys)
    for key, mine in expected.items():
        if key not in seen:
            fail(T_("missing: the log implies estimate {estimate}", estimate=mine.estimate), mine.keys)
    if len(failures) > MAX_FAILURES_PER_ANSWER:
        more = len(failures) - MAX_FAILURES_PER_ANSWER
        failures = failures[:MAX_FAILURES_PER_ANSWER]
        fail(T_("... and {more} more differences in this answer", more=more))
    return Comparison(rows=len(published.rows), failures=tuple(failures))


def _fields(row: StatsRow) -> tuple[object, ...]:
    """The fields compared exactly (:data:`_FIELDS`), in one tuple."""
    return (
        row.estimate,
        row.ci95_low,
        row.ci95_high,
        row.hotlines_reporting,
        row.hotlines_expected,
        row.obs_status,
        row.wide_interval,
        row.interval_method,
    )


def _differences(row: StatsRow, mine: StatsRow) -> list[str]:
    found: list[str] = [
        T_(
            "{field} published {published}, recomputed {recomputed}",
            field=name,
            published=getattr(row, name),
            recomputed=getattr(mine, name),
        )
        for name in _FIELDS
        if getattr(row, name) != getattr(mine, name)
    ]
    if (row.std is None) != (mine.std is None) or (
        row.std is not None and mine.std is not None and not math.isclose(row.std, mine.std, rel_tol=1e-9)
    ):
        found.append(
            T_(
                "{field} published {published}, recomputed {recomputed}",
                field="std",
                published=row.std,
                recomputed=mine.std,
            )
        )
    return found
