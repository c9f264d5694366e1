# SPDX-License-Identifier: Apache-2.0
"""How the hub writes an answer's rows as CSV and SDMX-CSV lines: what ``check FILE`` compares a file's lines with.

Each ``*_columns`` function maps a column of the file to how a recomputed row
(:class:`~auditor.stats.ExpectedRow`, :class:`~protocol.api.EstimateRow`) is written in it, exactly as the hub
writes it (``hub.services.csv_files.csv_cell``, ``hub.services.exports``): integers and floats as Python writes them,
``true``/``false``, empty for nothing (SDMX-CSV: ``NaN`` for a missing number, ``#N/A`` for another missing
value, ``_T`` for a dimension summed over all its codes), the standard deviation to three decimals.
:func:`same` compares one cell; :func:`line_key` keys a recomputed row as the file's lines are keyed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from auditor.stats import PERIOD, month_range
from protocol.questions import Question
from protocol.sdmx_codes import sdmx_code

__all__ = [
    "Render",
    "described",
    "estimates_csv_columns",
    "estimates_sdmx_columns",
    "line_key",
    "same",
    "stats_csv_columns",
    "stats_sdmx_columns",
]

#: What a hub writes for a missing number and another missing value in SDMX-CSV, and for a total over every code.
_NAN: Final = "NaN"
_NA: Final = "#N/A"
_TOTAL: Final = "_T"
#: Fields compared to 1e-9 (relative) rather than as text.
_CLOSE: Final = frozenset({"coverage", "p_zero", "P_ZERO"})

#: A column of a CSV file and how the recomputed row writes it.
Render = Callable[[Any], str]


def same(name: str, theirs: str, ours: str) -> bool:
    """Whether the file's cell ``theirs`` of column ``name`` is the recomputed ``ours``: the same text, or for a
    value of numerical integration (``coverage``, ``p_zero``) the same number to 1e-9 (relative)."""
    if theirs == ours:
        return True
    if name not in _CLOSE:
        return False
    try:
        return math.isclose(float(theirs), float(ours), rel_tol=1e-9)
    except ValueError:
        return False


def _cell(value: object) -> str:
    """A value as the hub's CSV writes it (``hub.services.csv_files.csv_cell``; no recomputed value is text a
    spreadsheet would run)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _std(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _number(value: float | None) -> str:
    return _NAN if value is None else _cell(value)


def _range(period_from: str, period_to: str) -> str:
    months = len(month_range(period_from, period_to))
    return period_from if months == 1 else f"{period_from}-01/P{months}M"


def stats_csv_columns(header: Sequence[str]) -> dict[str, Render]:
    columns: dict[str, Render] = {
        "estimate": lambda r: _cell(r.estimate),
        "ci95_low": lambda r: _cell(r.ci95_low),
        "ci95_high": lambda r: _cell(r.ci95_high),
        "std": lambda r: _std(r.std),
        "hotlines_reporting": lambda r: _cell(r.hotlines_reporting),
        "hotlines_expected": lambda r: _cell(r.hotlines_expected),
        "obs_status": lambda r: r.obs_status,
        "conf_status": lambda r: "F",
        "wide_interval": lambda r: _cell(r.wide_interval),
    }
    if "interval_method" in header:  # written since the files say their question in words
        columns["interval_method"] = lambda r: _cell(r.interval_method)
    if "display_estimate" in header:
        columns["display_estimate"] = lambda r: _cell(None if r.estimate is None else max(0, r.estimate))
    return columns


def stats_sdmx_columns(question: Question, dimensions: Sequence[str], header: Sequence[str] = ()) -> dict[str, Render]:
    columns: dict[str, Render] = {
        "OBS_VALUE": lambda r: _number(r.estimate),
        "CI95_LOWER": lambda r: _number(r.ci95_low),
        "CI95_UPPER": lambda r: _number(r.ci95_high),
        "OBS_STATUS": lambda r: r.obs_status,
        "CONF_STATUS": lambda r: "F",
        "HOTLINES_REPORTING": lambda r: _cell(r.hotlines_reporting),
        "HOTLINES_EXPECTED": lambda r: _cell(r.hotlines_expected),
    }
    if "INTERVAL_METHOD" in header:  # written since the files say their question in words
        columns["INTERVAL_METHOD"] = lambda r: r.interval_method or _NA
    for name in dimensions:
        if name not in question.group_by:
            codes = question.filters.get(name, ())
            columns[name.upper()] = _constant(sdmx_code(codes[0]) if codes else _TOTAL)
    if PERIOD not in question.group_by:
        columns["TIME_PERIOD"] = _constant(_range(question.period_from, question.period_to))
    return columns


def _constant(text: str) -> Render:
    """A column whose every line holds ``text``."""
    return lambda _row: text


def line_key(keys: Mapping[str, str], question: Question, fmt: str) -> tuple[str, ...]:
    """A recomputed row's key as the file's lines are keyed: the group keys (CSV), or the grouped dimensions and
    ``TIME_PERIOD`` (SDMX-CSV)."""
    if fmt == "csv":
        return tuple(keys[name] for name in question.group_by)
    period = keys[PERIOD] if PERIOD in question.group_by else _range(question.period_from, question.period_to)
    return (*(sdmx_code(keys[name]) for name in question.group_by if name != PERIOD), period)


def estimates_csv_columns() -> dict[str, Render]:
    def of(name: str) -> Render:
        return lambda r: _cell(getattr(r, name))

    columns = {
        name: of(name)
        for name in (
            "estimate",
            "ci95_low",
            "ci95_high",
            "halfwidth",
            "interval_method",
            "coverage",
            "hotlines_reporting",
            "hotlines_expected",
            "obs_status",
            "conf_status",
            "wide_interval",
            "p_zero",
            "distinguishable",
            "rank",
        )
    }
    columns["std"] = lambda r: _std(r.std)
    return columns


def estimates_sdmx_columns() -> dict[str, Render]:
    return {
        "OBS_VALUE": lambda r: _number(r.estimate),
        "CI95_LOWER": lambda r: _number(r.ci95_low),
        "CI95_UPPER": lambda r: _number(r.ci95_high),
        "INTERVAL_METHOD": lambda r: r.interval_method or _NA,
        "OBS_STATUS": lambda r: r.obs_status,
        "CONF_STATUS": lambda r: r.conf_status,
        "DISTINGUISHABLE": lambda r: _cell(r.distinguishable),
        "RANK": lambda r: _cell(r.rank),
        "P_ZERO": lambda r: _number(r.p_zero),
        "HOTLINES_REPORTING": lambda r: _cell(r.hotlines_reporting),
        "HOTLINES_EXPECTED": lambda r: _cell(r.hotlines_expected),
    }


def described(
    question: Question, countries: Sequence[str] | None, fmt: str, header: Sequence[str] = ()
) -> dict[str, Render]:
    """The columns that describe the question on every line (what a reader of one line goes by), as the hub
    writes them for ``question``: a file edited to say it answers something else is caught even where the numbers
    are left alone. The question in words (grouping, filters, period range) is compared where the ``header``
    has it (files of older hubs do not)."""
    group_by = ",".join(question.group_by)
    filters = "; ".join(f"{name}={','.join(codes)}" for name, codes in question.filters.items())
    if fmt == "sdmx":
        area = question.scope_code or ("+".join(countries) if countries else _TOTAL)
        words = {
            "GROUP_BY": group_by or _NA,
            "FILTERS": filters or _NA,
            "PERIOD_FROM": question.period_from,
            "PERIOD_TO": question.period_to,
        }
        return {"REF_AREA": _constant(area)} | {k: _constant(v) for k, v in words.items() if k in header}
    scope = "region" if question.scope_code is None else f"{question.scope_level}:{question.scope_code}"
    if countries and question.scope_code is None:
        scope += f" ({', '.join(countries)})"
    said = {"group_by": group_by, "filters": filters, "period_from": question.period_from}
    said["period_to"] = question.period_to
    if question.route == "stats":
        columns = {"table": _constant(question.name), "scope": _constant(scope)}
        return columns | {k: _constant(v) for k, v in said.items() if k in header}
    return {
        "unit": _constant(question.name),
        "filters": _constant(filters),
        "period_from": _constant(question.period_from),
        "period_to": _constant(question.period_to),
        "scope": _constant(scope),
    } | ({"group_by": _constant(group_by)} if "group_by" in header else {})
