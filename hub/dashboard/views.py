# SPDX-License-Identifier: Apache-2.0
"""What each dashboard view shows, built from a statistics or completeness answer (no I/O, no web framework).

>>> view = trends_view(result, labels=labels, split="exploitation_group", codes=("sexual", "labour"))  # doctest: +SKIP
>>> [series.label for series in view.series]                                                         # doctest: +SKIP
['Sexual exploitation', 'Forced labour or services, ...']

Every number comes with its interval (:class:`Estimate`): the templates print both, and the charts draw the
interval as a band or whisker. Negative estimates are shown as they are, except where the user asked to clip them
for display (the trends view) or where colour cannot be negative (the corridor heat map's shading); both say so
on the page. The chart data (``chart``) is what the page embeds as a JSON data island for ``dashboard.js``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hub.dashboard.labels import Labels, format_count
from hub.services.completeness import CompletenessResult, CompletenessRow, PeriodSummary
from hub.services.stats import PERIOD, StatsResult, StatsRow

__all__ = [
    "HEAT_LEVELS",
    "CompletenessView",
    "CorridorView",
    "DemographyView",
    "Estimate",
    "HeatCell",
    "HotlineRow",
    "Series",
    "TrendsView",
    "completeness_view",
    "corridor_view",
    "demography_view",
    "trends_view",
]

#: Shades of the corridor heat map above zero (shade 0: zero, negative or no report).
HEAT_LEVELS: Final = 6
#: Corridors listed under the heat map.
LARGEST: Final = 10

STATUS_TEXT: Final[Mapping[str, str]] = {
    "on_time": "on time",
    "late": "late",
    "not_due": "not due",
    "missing": "missing",
    "not_enrolled": "not enrolled",
}


@dataclass(frozen=True, slots=True)
class Estimate:
    """One published number: the estimate, its 95% interval and flags (from a :class:`StatsRow`).

    ``shown`` is what a chart draws: the estimate, or ``max(0, estimate)`` (and the interval clipped alike) when
    the user asked for clipped display.
    """

    estimate: int | None
    low: int | None
    high: int | None
    obs_status: str
    wide: bool
    clipped: bool = False

    @classmethod
    def of(cls, row: StatsRow | None, *, clip: bool = False) -> Estimate:
        if row is None:
            return cls(None, None, None, "O", False)
        return cls(row.estimate, row.ci95_low, row.ci95_high, row.obs_status, row.wide_interval, clip)

    @property
    def missing(self) -> bool:
        return self.estimate is None

    @property
    def negative(self) -> bool:
        return self.estimate is not None and self.estimate < 0

    @property
    def text(self) -> str:
        return format_count(self.estimate)

    @property
    def interval_text(self) -> str:
        """``25 to 57``, or an en dash when nobody reported."""
        if self.low is None or self.high is None:
            return "\u2013"
        return f"{format_count(self.low)} to {format_count(self.high)}"

    @property
    def flag(self) -> str:
        """The visible caveat, if any: no report, wide interval, or negative estimate."""
        if self.missing:
            return "no report"
        if self.wide:
            return "wide interval"
        if self.negative:
            return "negative"
        return ""

    @property
    def spoken(self) -> str:
        """The number, its interval and its flag in one phrase (tooltips and screen readers)."""
        if self.missing:
            return "no hotline in scope reported"
        text = f"{self.text} (95% interval {self.interval_text})"
        return f"{text}, {self.flag}" if self.flag else text

    def shown(self) -> tuple[int | None, int | None, int | None]:
        """``(estimate, low, high)`` as drawn: clipped at zero when the user asked for it."""
        if not self.clipped:
            return self.estimate, self.low, self.high
        return _clip(self.estimate), _clip(self.low), _clip(self.high)


def _clip(value: int | None) -> int | None:
    return None if value is None else max(0, value)


def _chart_series(label: str, points: Sequence[Estimate]) -> dict[str, Any]:
    drawn = [point.shown() for point in points]
    return {
        "label": label,
        "est": [d[0] for d in drawn],
        "lo": [d[1] for d in drawn],
        "hi": [d[2] for d in drawn],
        "flag": [point.flag for point in points],
    }


# ---------------------------------------------------------------------------------------------- trends


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a code (``None``: the total) and its points, one per month or category."""

    code: str | None
    label: str
    points: tuple[Estimate, ...]


@dataclass(frozen=True, slots=True)
class TrendsView:
    result: StatsResult
    months: tuple[str, ...]
    #: per month: (hotlines reporting, hotlines expected); the same for every line of a month
    hotlines: tuple[tuple[int, int], ...]
    split_label: str | None
    series: tuple[Series, ...]
    chart: Mapping[str, Any]


def trends_view(result: StatsResult, *, labels: Labels, split: str | None, codes: Sequence[str]) -> TrendsView:
    """Monthly lines: the total, or one line per ``codes`` of ``split`` (in code-list order)."""
    months = tuple(dict.fromkeys(row.keys[PERIOD] for row in result.rows))
    first: dict[str, StatsRow] = {}
    for row in result.rows:
        first.setdefault(row.keys[PERIOD], row)
    hotlines = tuple((first[month].hotlines_reporting, first[month].hotlines_expected) for month in months)
    by_key = {(row.keys[PERIOD], row.keys.get(split, "") if split else ""): row for row in result.rows}
    keys: Sequence[str | None] = list(codes) if split else [None]
    series = tuple(
        Series(
            code=code,
            label=labels.code(split, code) if split and code else "All",
            points=tuple(Estimate.of(by_key.get((month, code or "")), clip=result.clip) for month in months),
        )
        for code in keys
    )
    chart = {
        "kind": "trends",
        "unit": result.unit_label,
        "clip": result.clip,
        "x": list(months),
        "series": [_chart_series(s.label, s.points) for s in series],
    }
    return TrendsView(result, months, hotlines, labels.dimension(split) if split else None, series, chart)


# ---------------------------------------------------------------------------------------------- corridors


@dataclass(frozen=True, slots=True)
class HeatCell:
    value: Estimate
    level: int


@dataclass(frozen=True, slots=True)
class CorridorView:
    result: StatsResult
    #: (code, label) of the citizenships shown as rows and of the countries of exploitation shown as columns
    citizenships: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]
    cells: Mapping[tuple[str, str], HeatCell]
    hidden_citizenships: int
    hidden_destinations: int
    #: (citizenship label, destination label, estimate), largest estimate first
    largest: tuple[tuple[str, str, Estimate], ...]
    #: per shade 1..HEAT_LEVELS: the range of estimates it stands for
    legend: tuple[tuple[int, str], ...]


def corridor_view(result: StatsResult, *, labels: Labels, top: int) -> CorridorView:
    """The matrix of the ``top`` citizenships × ``top`` countries of exploitation with the largest totals
    (``top`` 0: all), shaded by estimate, and the largest corridors of the whole answer."""
    rows = [row for row in result.rows if row.estimate is not None]
    totals_from: dict[str, int] = {}
    totals_to: dict[str, int] = {}
    for row in rows:
        source, target = row.keys["citizenship"], row.keys["country_of_exploitation"]
        totals_from[source] = totals_from.get(source, 0) + (row.estimate or 0)
        totals_to[target] = totals_to.get(target, 0) + (row.estimate or 0)
    shown_from = _largest(totals_from, top)
    shown_to = _largest(totals_to, top)
    chosen = {
        (row.keys["citizenship"], row.keys["country_of_exploitation"]): row
        for row in rows
        if row.keys["citizenship"] in shown_from and row.keys["country_of_exploitation"] in shown_to
    }
    peak = max((row.estimate or 0 for row in chosen.values()), default=0)
    cells = {key: HeatCell(Estimate.of(row), _level(row.estimate, peak)) for key, row in chosen.items()}
    ranked = sorted(rows, key=lambda row: -(row.estimate or 0))[:LARGEST]
    largest = tuple(
        (
            labels.code("citizenship", row.keys["citizenship"]),
            labels.code("country_of_exploitation", row.keys["country_of_exploitation"]),
            Estimate.of(row),
        )
        for row in ranked
    )
    bounds = [peak * level // HEAT_LEVELS for level in range(HEAT_LEVELS + 1)]
    legend = tuple(
        (level, f"{bounds[level - 1] + 1} to {bounds[level]}")
        for level in range(1, HEAT_LEVELS + 1)
        if bounds[level] > bounds[level - 1]
    )
    return CorridorView(
        result=result,
        citizenships=tuple((code, labels.code("citizenship", code)) for code in shown_from),
        destinations=tuple((code, labels.code("country_of_exploitation", code)) for code in shown_to),
        cells=cells,
        hidden_citizenships=len(totals_from) - len(shown_from),
        hidden_destinations=len(totals_to) - len(shown_to),
        largest=largest,
        legend=legend,
    )


def _largest(totals: Mapping[str, int], top: int) -> tuple[str, ...]:
    """Codes by total, largest first (ties keep code-list order, as the rows come)."""
    ranked = sorted(totals, key=lambda code: -totals[code])
    return tuple(ranked[:top] if top else ranked)


def _level(estimate: int | None, peak: int) -> int:
    """The shade of an estimate: 0 for none, zero or negative; else the least ``level`` with
    ``estimate <= peak * level // HEAT_LEVELS`` (the legend's bounds)."""
    if estimate is None or estimate <= 0 or peak <= 0:
        return 0
    return min(HEAT_LEVELS, -(-estimate * HEAT_LEVELS // peak))


# ---------------------------------------------------------------------------------------------- demography


@dataclass(frozen=True, slots=True)
class DemographyView:
    result: StatsResult
    #: (code, label) of the age bands, in code-list order
    ages: tuple[tuple[str, str], ...]
    #: one series per gender; its points follow ``ages``
    series: tuple[Series, ...]
    chart: Mapping[str, Any]


def demography_view(
    result: StatsResult, *, labels: Labels, ages: Sequence[str], genders: Sequence[str]
) -> DemographyView:
    by_key = {(row.keys["age_band"], row.keys["gender"]): row for row in result.rows}
    age_labels = tuple((code, labels.code("age_band", code)) for code in ages)
    series = tuple(
        Series(
            code=gender,
            label=labels.code("gender", gender),
            points=tuple(Estimate.of(by_key.get((age, gender))) for age in ages),
        )
        for gender in genders
    )
    chart = {
        "kind": "bars",
        "unit": result.unit_label,
        "clip": False,
        "x": [label for _, label in age_labels],
        "series": [_chart_series(s.label, s.points) for s in series],
    }
    return DemographyView(result, age_labels, series, chart)


# ---------------------------------------------------------------------------------------------- completeness


@dataclass(frozen=True, slots=True)
class HotlineRow:
    hotline_id: str
    name: str
    country: str
    cells: tuple[CompletenessRow, ...]


@dataclass(frozen=True, slots=True)
class CompletenessView:
    result: CompletenessResult
    months: tuple[str, ...]
    hotlines: tuple[HotlineRow, ...]
    periods: tuple[PeriodSummary, ...]
    chart: Mapping[str, Any]


def completeness_view(result: CompletenessResult, *, labels: Labels) -> CompletenessView:
    months = tuple(summary.period for summary in result.periods)
    grouped: dict[str, list[CompletenessRow]] = {}
    for row in result.rows:
        grouped.setdefault(row.hotline_id, []).append(row)
    hotlines = tuple(
        HotlineRow(hotline_id, cells[0].hotline_name, labels.country(cells[0].country), tuple(cells))
        for hotline_id, cells in grouped.items()
    )

    def percent(rate: float | None) -> float | None:
        return None if rate is None else round(rate * 100, 1)

    chart = {
        "kind": "rates",
        "unit": "% of hotlines expected",
        "clip": False,
        "x": list(months),
        "series": [
            {"label": "Reporting rate", "est": [percent(p.reporting_rate) for p in result.periods]},
            {"label": "On-time rate", "est": [percent(p.on_time_rate) for p in result.periods]},
        ],
    }
    return CompletenessView(result, months, hotlines, result.periods, chart)


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, status)


def utc_text(moment: datetime | None) -> str:
    """``2026-03-05 09:00 UTC`` (the hub stores UTC only)."""
    return "\u2013" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")
