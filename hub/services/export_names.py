# SPDX-License-Identifier: Apache-2.0
"""The file names of statistics and completeness exports (estimates: :func:`hub.services.estimates_text`).

Built by :func:`hub.services.export_metadata.export_filename`: the question, the scope and the checkpoint, e.g.
``tipshare-stats-persons_corridor-by-period-exploitation_group=labour-2026-01..2026-06-region-cp1234.csv``.
"""

from __future__ import annotations

from hub.services.completeness import CompletenessResult
from hub.services.export_metadata import export_filename
from hub.services.scope import Scope
from hub.services.stats import StatsResult

__all__ = ["completeness_filename", "stats_filename"]


def scope_name(scope: Scope, countries: tuple[str, ...] | None) -> str:
    """``region``, ``country-UA``, ``hotline-<id>``, or ``region-of-MD+UA`` for a country-limited token."""
    text = "region" if scope.code is None else f"{scope.level}-{scope.code}"
    return f"{text}-of-{'+'.join(countries)}" if countries and scope.code is None else text


def stats_filename(result: StatsResult, extension: str) -> str:
    return export_filename(
        "stats",
        result.table,
        result.group_by,
        result.filters,
        result.period_from,
        result.period_to,
        scope_name(result.scope, result.countries),
        result.checkpoint.size,
        extension,
    )


def completeness_filename(result: CompletenessResult, extension: str) -> str:
    return export_filename(
        "completeness",
        "",
        (),
        {},
        result.period_from,
        result.period_to,
        scope_name(result.scope, result.countries),
        result.checkpoint.size,
        extension,
    )
