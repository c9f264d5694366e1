# SPDX-License-Identifier: Apache-2.0
"""Answers: a full-grid statistics answer serialised by the hub and parsed by the auditor, against the old ways.

What is measured
----------------
* **Answer.** ``GET /v1/stats/{table}`` of a 62 × 62 table grouped by both dimensions and period over 12 months:
  46,128 rows (the hub's most is 50,000), built as :class:`hub.services.stats.StatsRow` objects as the service
  returns them. No database: only the per-row cost of turning rows into bytes and bytes back into rows.
* **Hub serialisation.** Now: :func:`hub.schemas_stats.stats_answer_json` (the answer without rows through
  :class:`protocol.api.StatsAnswer`, the rows written by pydantic-core straight from the service's row objects).
  Baseline (the old way, kept here only): one pydantic row model built per row in Python, then the answer model
  and ``model_dump_json``. The two must write the same bytes (checked first).
* **Auditor parse.** Now: :func:`auditor.published.parse_stats` of the bytes (``StatsAnswer.model_validate_json``,
  strict). Baseline (the old way, kept here only): ``json.loads`` then the hand-written per-row validation.
* **Auditor comparison.** :func:`auditor.compare.compare_answer` of the parsed answer against itself as the
  recomputation (every row equal), against the old per-field ``getattr`` loop.

Ratio = new time ÷ old time (below 1: faster). Medians of several runs in this process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from types import MappingProxyType
from typing import Any, Final

from bench.common import BenchResult, Metric, RunContext, median, repeat

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "answers"
TITLE: Final = "A 46,128-row stats answer: hub serialisation and auditor parse/compare vs the old per-row code"

MONTHS: Final = tuple(f"2025-{m:02d}" for m in range(1, 13))


def _result(codes: int) -> Any:
    from hub.services.scope import Scope
    from hub.services.stats import CheckpointRef, StatsResult, StatsRow

    names = [f"C{i:02d}" for i in range(codes)]
    rows = tuple(
        StatsRow(
            keys={"citizenship": a, "country": b, "period": month},
            estimate=(i * 7) % 23 - 5,
            ci95_low=(i * 7) % 23 - 30,
            ci95_high=(i * 7) % 23 + 20,
            std=12.5 + (i % 5) / 7,
            interval_method="exact",
            coverage=0.95,
            hotlines_reporting=6,
            hotlines_expected=6,
            obs_status="U",
            wide_interval=True,
        )
        for i, (a, b, month) in enumerate(product(names, names, MONTHS))
    )
    return StatsResult(
        table="persons_corridor",
        description="bench",
        unit="person",
        unit_label="potential victims reported to hotlines",
        taxonomy_id="tipshare-taxonomy/2",
        taxonomy_hash="sha256:" + "0" * 64,
        group_by=("citizenship", "country", "period"),
        filters=MappingProxyType({}),
        scope=Scope.region(),
        countries=None,
        period_from=MONTHS[0],
        period_to=MONTHS[-1],
        periods_with_data=MONTHS,
        confidence=0.95,
        clip=False,
        checkpoint=CheckpointRef(size=72, root_hash=bytes(32), note="origin\n72\nroot\n"),
        generated_at=datetime(2026, 1, 1, tzinfo=UTC),
        notes=(),
        rows=rows,
    )


def _old_serialise(result: Any) -> bytes:
    """The hub's old way: a pydantic model per row, built in Python, then the answer model."""
    from protocol.api import StatsAnswer, StatsRow

    answer = StatsAnswer(
        table=result.table,
        description=result.description,
        unit=result.unit,
        unit_label=result.unit_label,
        taxonomy={"id": result.taxonomy_id, "hash": result.taxonomy_hash},  # type: ignore[arg-type]
        group_by=list(result.group_by),
        filters={},
        scope={"level": "region", "code": None, "countries": None},  # type: ignore[arg-type]
        period_from=result.period_from,
        period_to=result.period_to,
        periods_with_data=list(result.periods_with_data),
        confidence=result.confidence,
        clip_negative=False,
        clip=result.clip,
        checkpoint={  # type: ignore[arg-type]
            "origin": result.checkpoint.origin,
            "size": result.checkpoint.size,
            "root_hash": result.checkpoint.root_hash_b64,
            "note": result.checkpoint.note,
        },
        generated_at=result.generated_at,
        notes=list(result.notes),
        rows=[
            StatsRow(
                keys=dict(row.keys),
                estimate=row.estimate,
                ci95_low=row.ci95_low,
                ci95_high=row.ci95_high,
                display_estimate=row.display_estimate,
                std=row.std,
                interval_method=row.interval_method,
                coverage=row.coverage,
                hotlines_reporting=row.hotlines_reporting,
                hotlines_expected=row.hotlines_expected,
                obs_status=row.obs_status,
                conf_status=row.conf_status,
                wide_interval=row.wide_interval,
            )
            for row in result.rows
        ],
    )
    return answer.model_dump_json().encode()


def _new_serialise(result: Any) -> bytes:
    from hub.schemas_stats import stats_answer_json

    return stats_answer_json(result)


@dataclass(frozen=True, slots=True)
class _OldRow:
    """A row as the auditor's old parser held it."""

    keys: Mapping[str, str]
    estimate: int | None
    ci95_low: int | None
    ci95_high: int | None
    std: float | None
    interval_method: str | None
    hotlines_reporting: int
    hotlines_expected: int
    obs_status: str
    wide_interval: bool


def _old_parse(body: bytes) -> list[Any]:
    """The auditor's old way: ``json.loads``, then every field of every row checked by hand into a dataclass."""

    def number(row: Mapping[str, Any], name: str, *, optional: bool) -> int | None:
        value = row.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} is not an integer")
        return value

    data = json.loads(body)
    rows = []
    for row in data["rows"]:
        if not isinstance(row, dict) or not isinstance(row.get("keys"), dict):
            raise ValueError("row is not an object")
        keys = row["keys"]
        if not all(isinstance(code, str) for code in keys.values()):
            raise ValueError("row keys must map names to codes")
        std = row.get("std")
        if std is not None and (isinstance(std, bool) or not isinstance(std, int | float)):
            raise ValueError("std must be a number")
        wide = row.get("wide_interval")
        if not isinstance(wide, bool):
            raise ValueError("wide_interval must be true or false")
        status = row.get("obs_status")
        if not isinstance(status, str):
            raise ValueError("obs_status is not a string")
        method = row.get("interval_method")
        rows.append(
            _OldRow(
                keys=MappingProxyType(dict(keys)),
                estimate=number(row, "estimate", optional=True),
                ci95_low=number(row, "ci95_low", optional=True),
                ci95_high=number(row, "ci95_high", optional=True),
                std=None if std is None else float(std),
                interval_method=method if isinstance(method, str) else None,
                hotlines_reporting=number(row, "hotlines_reporting", optional=False) or 0,
                hotlines_expected=number(row, "hotlines_expected", optional=False) or 0,
                obs_status=status,
                wide_interval=wide,
            )
        )
    return rows


def _old_compare(published: Any, expected: Mapping[tuple[str, ...], Any]) -> int:
    """The old comparison: sets of keys per row, then eight ``getattr`` pairs and ``math.isclose`` per row."""
    fields = ("estimate", "ci95_low", "ci95_high", "hotlines_reporting", "hotlines_expected", "obs_status")
    different = 0
    for row in published.rows:
        if set(row.keys) != set(published.group_by):
            different += 1
            continue
        mine = expected[tuple(row.keys[name] for name in published.group_by)]
        found = [
            name for name in (*fields, "wide_interval", "interval_method") if getattr(row, name) != getattr(mine, name)
        ]
        if not math.isclose(row.std, mine.std, rel_tol=1e-9):
            found.append("std")
        different += bool(found)
    return different


def run(ctx: RunContext) -> BenchResult:
    from auditor.compare import compare_answer
    from auditor.published import parse_stats

    result = BenchResult(name=NAME, title=TITLE, quick=ctx.quick)
    runs = 3 if ctx.quick else 7
    answer = _result(62)
    body = _new_serialise(answer)
    if _old_serialise(answer) != body:
        raise AssertionError("the new serialisation does not write the same bytes as the old one")
    rows = len(answer.rows)
    ctx.log(f"{rows} rows, {len(body) / 1e6:.1f} MB of JSON")
    published = parse_stats(body, what="bench")
    if [r.keys for r in published.rows] != [dict(r.keys) for r in _old_parse(body)]:
        raise AssertionError("the new parser does not read the rows the old one reads")
    expected = {tuple(row.keys[name] for name in published.group_by): row.model_copy() for row in published.rows}

    cases = (
        ("hub serialisation", lambda: _new_serialise(answer), lambda: _old_serialise(answer)),
        ("auditor parse", lambda: parse_stats(body, what="bench"), lambda: _old_parse(body)),
        (
            "auditor compare",
            lambda: compare_answer(published, expected, expected_periods_with_data=list(MONTHS), scope="region"),
            lambda: _old_compare(published, expected),
        ),
    )
    for name, new, old in cases:
        ctx.log(name)
        new_runs = repeat(new, runs=runs, warmup=1)
        old_runs = repeat(old, runs=runs, warmup=1)
        new_us, old_us = median(new_runs) / rows * 1e6, median(old_runs) / rows * 1e6
        result.add(
            Metric(
                name=f"{name}, µs per row",
                value=new_us,
                unit="µs",
                baseline=old_us,
                baseline_name="the old per-row code (same process)",
                ratio=new_us / old_us,
                runs=tuple(t / rows * 1e6 for t in new_runs),
            )
        )
    result.details["rows"] = rows
    result.details["bytes"] = len(body)
    return result
