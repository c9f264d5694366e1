# SPDX-License-Identifier: Apache-2.0
"""What each dashboard view shows, built from an estimates or completeness answer (no I/O, no web framework).

>>> view = trends_view(answer, labels=labels, split="exploitation_group", codes=("sexual", "labour"))  # doctest: +SKIP
>>> [series.label for series in view.series]                                                         # doctest: +SKIP
['Sexual exploitation', 'Forced labour or services, ...']

Every number comes with its interval (:class:`~hub.dashboard.numbers.Estimate`): the templates print both, and
the charts draw the interval as a band or whisker. Estimates are least-squares combinations of every released
table that answers the question (``GET /v1/estimates``): they may be fractional and negative, and are shown as
published (two decimals at most), except where the user asked to clip them for display (the trends view); the page
says so.

Rankings are honest: a number is *distinguishable from zero* when the answer's multiple-comparison procedure
(``ranking.method`` at ``ranking.level``, over every number of the answer) rejects "the true count is zero"
(:mod:`protocol.estimation`). The corridor heat map shades only those and hatches the rest, and "Largest
corridors" lists only ranked rows, by their rank; when none is distinguishable it says so instead of listing
noise. The chart data (``chart``) is what the page embeds as a JSON data island for ``dashboard.js``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hub.dashboard.i18n import N_
from hub.dashboard.i18n import gettext as _
from hub.dashboard.labels import Labels, format_moment, format_number
from hub.dashboard.numbers import Estimate, Provenance, Series, chart_series
from hub.services.completeness import CompletenessResult, CompletenessRow, PeriodSummary
from protocol.api import PERIOD, EstimateRow, EstimatesAnswer, RankingSummary

__all__ = [
    "HEAT_LEVELS",
    "LARGEST",
    "CompletenessView",
    "CorridorView",
    "DemographyView",
    "HeatCell",
    "HotlineRow",
    "Ranked",
    "TrendsView",
    "completeness_view",
    "corridor_view",
    "demography_view",
    "trends_view",
]

#: Shades of the corridor heat map for corridors distinguishable from zero (shade 0: the others).
HEAT_LEVELS: Final = 6
#: Most corridors listed under the heat map (ranked ones only).
LARGEST: Final = 10

STATUS_TEXT: Final[Mapping[str, str]] = {
    "on_time": N_("on time"),
    "late": N_("late"),
    "not_due": N_("not due"),
    "missing": N_("missing"),
    "not_enrolled": N_("not enrolled"),
}


def _provenance(answer: EstimatesAnswer) -> Provenance:
    return Provenance(answer.checkpoint.size, answer.checkpoint.root_hash, answer.generated_at)


# ---------------------------------------------------------------------------------------------- trends


@dataclass(frozen=True, slots=True)
class TrendsView:
    answer: EstimatesAnswer
    months: tuple[str, ...]
    #: per month: (hotlines reporting, hotlines expected); the same for every line of a month
    hotlines: tuple[tuple[int, int], ...]
    split_label: str | None
    series: tuple[Series, ...]
    clip: bool
    chart: Mapping[str, Any]

    @property
    def provenance(self) -> Provenance:
        return _provenance(self.answer)

    @property
    def period(self) -> tuple[str, str]:
        return self.answer.question.period_from, self.answer.question.period_to


def trends_view(
    answer: EstimatesAnswer, *, labels: Labels, split: str | None, codes: Sequence[str], clip: bool = False
) -> TrendsView:
    """Monthly lines: the total, or one line per ``codes`` of ``split`` (in code-list order)."""
    months = tuple(dict.fromkeys(row.keys[PERIOD] for row in answer.rows))
    first: dict[str, EstimateRow] = {}
    for row in answer.rows:
        first.setdefault(row.keys[PERIOD], row)
    hotlines = tuple((first[month].hotlines_reporting, first[month].hotlines_expected) for month in months)
    by_key = {(row.keys[PERIOD], row.keys.get(split, "") if split else ""): row for row in answer.rows}
    keys: Sequence[str | None] = list(codes) if split else [None]
    series = tuple(
        Series(
            code=code,
            label=labels.code(split, code) if split and code else _("All"),
            points=tuple(Estimate.of(by_key.get((month, code or "")), clip=clip) for month in months),
        )
        for code in keys
    )
    chart = {
        "kind": "trends",
        "unit": _(answer.unit_label),
        "clip": clip,
        "x": list(months),
        "series": [chart_series(s.label, s.points) for s in series],
    }
    return TrendsView(answer, months, hotlines, labels.dimension(split) if split else None, series, clip, chart)


# ---------------------------------------------------------------------------------------------- corridors


@dataclass(frozen=True, slots=True)
class HeatCell:
    value: Estimate
    #: 1..HEAT_LEVELS for a corridor distinguishable from zero (by estimate); 0 for every other
    level: int


@dataclass(frozen=True, slots=True)
class Ranked:
    """One row of "Largest corridors": a corridor distinguishable from zero, with its rank."""

    rank: int
    citizenship: str
    destination: str
    value: Estimate


@dataclass(frozen=True, slots=True)
class CorridorView:
    answer: EstimatesAnswer
    #: (code, label) of the citizenships shown as rows and of the countries of exploitation shown as columns
    citizenships: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]
    cells: Mapping[tuple[str, str], HeatCell]
    hidden_citizenships: int
    hidden_destinations: int
    #: the ranked corridors (distinguishable from zero), by rank, at most LARGEST
    largest: tuple[Ranked, ...]
    #: per shade 1..HEAT_LEVELS: (lowest estimate above, highest estimate) it stands for, as text
    legend: tuple[tuple[int, str, str], ...]
    #: cells shown that are not distinguishable from zero (hatched)
    indistinct_shown: int

    @property
    def provenance(self) -> Provenance:
        return _provenance(self.answer)

    @property
    def period(self) -> tuple[str, str]:
        return self.answer.question.period_from, self.answer.question.period_to

    @property
    def ranking(self) -> RankingSummary:
        return self.answer.ranking


def corridor_view(answer: EstimatesAnswer, *, labels: Labels, top: int) -> CorridorView:
    """The matrix of ``top`` citizenships × ``top`` countries of exploitation (``top`` 0: all): those of the
    corridors distinguishable from zero first, then the largest totals; shading only corridors distinguishable from
    zero; and the ranked corridors of the answer."""
    rows = [row for row in answer.rows if row.estimate is not None]
    totals_from: dict[str, float] = {}
    totals_to: dict[str, float] = {}
    for row in rows:
        source, target = row.keys["citizenship"], row.keys["country_of_exploitation"]
        totals_from[source] = totals_from.get(source, 0.0) + (row.estimate or 0.0)
        totals_to[target] = totals_to.get(target, 0.0) + (row.estimate or 0.0)
    real = [row for row in rows if row.distinguishable]
    shown_from = _largest(totals_from, {row.keys["citizenship"] for row in real}, top)
    shown_to = _largest(totals_to, {row.keys["country_of_exploitation"] for row in real}, top)
    chosen = {
        (row.keys["citizenship"], row.keys["country_of_exploitation"]): row
        for row in rows
        if row.keys["citizenship"] in shown_from and row.keys["country_of_exploitation"] in shown_to
    }
    peak = max((row.estimate or 0.0 for row in chosen.values() if row.distinguishable), default=0.0)
    cells = {key: HeatCell(Estimate.of(row), _level(row, peak)) for key, row in chosen.items()}
    ranked = sorted((row for row in rows if row.rank is not None), key=lambda row: row.rank or 0)[:LARGEST]
    largest = tuple(
        Ranked(
            row.rank or 0,
            labels.code("citizenship", row.keys["citizenship"]),
            labels.code("country_of_exploitation", row.keys["country_of_exploitation"]),
            Estimate.of(row),
        )
        for row in ranked
    )
    bounds = [peak * level / HEAT_LEVELS for level in range(HEAT_LEVELS + 1)]
    legend = (
        tuple(
            (level, format_number(bounds[level - 1]), format_number(bounds[level]))
            for level in range(1, HEAT_LEVELS + 1)
        )
        if peak > 0
        else ()
    )
    return CorridorView(
        answer=answer,
        citizenships=tuple((code, labels.code("citizenship", code)) for code in shown_from),
        destinations=tuple((code, labels.code("country_of_exploitation", code)) for code in shown_to),
        cells=cells,
        hidden_citizenships=len(totals_from) - len(shown_from),
        hidden_destinations=len(totals_to) - len(shown_to),
        largest=largest,
        legend=legend,
        indistinct_shown=sum(1 for cell in cells.values() if cell.value.indistinct),
    )


def _largest(totals: Mapping[str, float], real: set[str], top: int) -> tuple[str, ...]:
    """The ``top`` codes to show: those with a corridor distinguishable from zero first, then the others; each
    part by total, largest first (ties keep code-list order, as the rows come). A total is a sum of many noisy
    estimates, so a code can reach the top by noise alone: it comes after every code known to hold a corridor."""
    ranked = sorted(totals, key=lambda code: (code not in real, -totals[code]))
    return tuple(ranked[:top] if top else ranked)


def _level(row: EstimateRow, peak: float) -> int:
    """The shade of a corridor: 0 unless distinguishable from zero; else the least ``level`` with
    ``estimate <= peak * level / HEAT_LEVELS`` (the legend's bounds)."""
    if not row.distinguishable or row.estimate is None or row.estimate <= 0 or peak <= 0:
        return 0
    return max(1, min(HEAT_LEVELS, math.ceil(row.estimate * HEAT_LEVELS / peak - 1e-9)))


# ---------------------------------------------------------------------------------------------- demography


@dataclass(frozen=True, slots=True)
class DemographyView:
    answer: EstimatesAnswer
    #: the age dimension of the cut (age_band or age_group) and its (code, label)s, in code-list order
    age: str
    ages: tuple[tuple[str, str], ...]
    #: one series per gender; its points follow ``ages``
    series: tuple[Series, ...]
    chart: Mapping[str, Any]

    @property
    def provenance(self) -> Provenance:
        return _provenance(self.answer)

    @property
    def period(self) -> tuple[str, str]:
        return self.answer.question.period_from, self.answer.question.period_to


def demography_view(
    answer: EstimatesAnswer, *, labels: Labels, age: str, ages: Sequence[str], genders: Sequence[str]
) -> DemographyView:
    """Gender × ``age`` (age band, or age group): one series per gender, one point per age code."""
    by_key = {(row.keys[age], row.keys["gender"]): row for row in answer.rows}
    age_labels = tuple((code, labels.code(age, code)) for code in ages)
    series = tuple(
        Series(
            code=gender,
            label=labels.code("gender", gender),
            points=tuple(Estimate.of(by_key.get((code, gender))) for code in ages),
        )
        for gender in genders
    )
    chart = {
        "kind": "bars",
        "unit": _(answer.unit_label),
        "clip": False,
        "x": [label for _, label in age_labels],
        "series": [chart_series(s.label, s.points) for s in series],
    }
    return DemographyView(answer, age, age_labels, series, chart)


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

    @property
    def provenance(self) -> Provenance:
        checkpoint = self.result.checkpoint
        return Provenance(checkpoint.size, checkpoint.root_hash_b64, self.result.generated_at)

    @property
    def period(self) -> tuple[str, str]:
        return self.result.period_from, self.result.period_to


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
        "unit": _("% of hotlines expected"),
        "clip": False,
        "x": list(months),
        "series": [
            {"label": _("Reporting rate"), "est": [percent(p.reporting_rate) for p in result.periods]},
            {"label": _("On-time rate"), "est": [percent(p.on_time_rate) for p in result.periods]},
        ],
    }
    return CompletenessView(result, months, hotlines, result.periods, chart)


def status_text(status: str) -> str:
    return _(STATUS_TEXT[status]) if status in STATUS_TEXT else status


def utc_text(moment: datetime | None) -> str:
    """``2026-03-05 09:00 UTC`` (the hub stores UTC only), as the page's language writes it."""
    return format_moment(moment)
