# SPDX-License-Identifier: Apache-2.0
"""One published number as the dashboard shows it: an estimate, its 95 % interval, its flags and its ranking.

>>> Estimate(12.5, -3.25, 28.25, "U", True).spoken                             # doctest: +SKIP
'12.5 (95% interval −3.25 to 28.25), wide interval, not distinguishable from 0'

Estimates are least-squares combinations (``GET /v1/estimates``): fractional, possibly negative, shown as published
(two decimals at most). A number is *distinguishable from zero* when the answer's multiple-comparison procedure
rejects "the true count is zero" (:func:`ranking_text` words the procedure for the page); only those are ranked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hub.dashboard.i18n import N_
from hub.dashboard.i18n import gettext as _
from hub.dashboard.labels import format_number, format_percent
from protocol.api import EstimateRow, RankingSummary

__all__ = ["INDISTINCT", "Estimate", "Provenance", "Series", "chart_series", "ranking_text"]

INDISTINCT: Final = N_("not distinguishable from 0")
#: Per ranking method: its name, and what its level guarantees about the rows it calls distinguishable.
_METHODS: Final[Mapping[str, tuple[str, str]]] = {
    "holm": (N_("Holm step-down at %(level)s"), N_("the chance that any of them is a true zero is at most %(level)s")),
    "benjamini-hochberg": (
        N_("Benjamini–Hochberg at %(level)s"),
        N_("at most %(level)s of them are expected to be true zeros"),
    ),
}


def ranking_text(summary: RankingSummary) -> tuple[str, str]:
    """``(procedure, guarantee)`` for the page: ``("Holm step-down at 5%", "the chance that any of them is a
    true zero is at most 5%")``."""
    level = format_percent(summary.level, decimals="##")
    if summary.method not in _METHODS:
        return f"{summary.method} {level}", _("error rate %(level)s") % {"level": level}
    name, guarantee = _METHODS[summary.method]
    return _(name) % {"level": level}, _(guarantee) % {"level": level}


@dataclass(frozen=True, slots=True)
class Provenance:
    """What the page footer names: the checkpoint the numbers reflect and when they were computed."""

    size: int
    root: str
    generated_at: datetime


@dataclass(frozen=True, slots=True)
class Estimate:
    """One published number: the estimate, its 95% interval, flags and ranking (from an :class:`EstimateRow`).

    ``shown`` is what a chart draws: the estimate, or ``max(0, estimate)`` (and the interval clipped alike) when
    the user asked for clipped display.
    """

    estimate: float | None
    low: float | None
    high: float | None
    obs_status: str
    wide: bool
    distinguishable: bool = False
    rank: int | None = None
    method: str | None = None
    clipped: bool = False

    @classmethod
    def of(cls, row: EstimateRow | None, *, clip: bool = False) -> Estimate:
        if row is None:
            return cls(None, None, None, "O", False)
        return cls(
            row.estimate,
            row.ci95_low,
            row.ci95_high,
            row.obs_status,
            row.wide_interval,
            row.distinguishable,
            row.rank,
            row.interval_method,
            clip,
        )

    @property
    def missing(self) -> bool:
        return self.estimate is None

    @property
    def negative(self) -> bool:
        return self.estimate is not None and self.estimate < 0

    @property
    def indistinct(self) -> bool:
        """An estimate the ranking test could not tell from zero (never ranked, drawn muted)."""
        return not self.missing and not self.distinguishable

    @property
    def text(self) -> str:
        return format_number(self.estimate)

    @property
    def interval_text(self) -> str:
        """``25.5 to 57``, or an en dash when nobody reported."""
        if self.low is None or self.high is None:
            return "\u2013"
        return _("%(low)s to %(high)s") % {"low": format_number(self.low), "high": format_number(self.high)}

    @property
    def flag(self) -> str:
        """The visible caveat (in English: a page translates it where it shows it), if any: no report, negative
        estimate, wide interval, or not distinguishable from zero (the first that applies; a negative or wide one is
        not distinguishable from zero either)."""
        if self.missing:
            return N_("no report")
        if self.negative:
            return N_("negative")
        if self.wide:
            return N_("wide interval")
        if self.indistinct:
            return INDISTINCT
        return ""

    @property
    def spoken(self) -> str:
        """The number, its interval and its caveats in one phrase (tooltips and screen readers)."""
        if self.missing:
            return _("no hotline in scope reported")
        text = _("%(estimate)s (95%% interval %(interval)s)") % {"estimate": self.text, "interval": self.interval_text}
        caveats = [_(self.flag)] if self.flag else []
        if self.indistinct and self.flag != INDISTINCT:
            caveats.append(_(INDISTINCT))
        if self.rank is not None:
            caveats.append(_("rank %(rank)s") % {"rank": self.rank})
        return ", ".join([text, *caveats])

    def shown(self) -> tuple[float | None, float | None, float | None]:
        """``(estimate, low, high)`` as drawn: clipped at zero when the user asked for it."""
        if not self.clipped:
            return self.estimate, self.low, self.high
        return _clip(self.estimate), _clip(self.low), _clip(self.high)


def _clip(value: float | None) -> float | None:
    return None if value is None else max(0.0, value)


def chart_series(label: str, points: Sequence[Estimate]) -> dict[str, Any]:
    drawn = [point.shown() for point in points]
    return {
        "label": label,
        "est": [d[0] for d in drawn],
        "lo": [d[1] for d in drawn],
        "hi": [d[2] for d in drawn],
        "flag": [_(point.flag) if point.flag else "" for point in points],
    }


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart (or one group of bars): a code (``None``: the total) and its points, one per month or
    category."""

    code: str | None
    label: str
    points: tuple[Estimate, ...]
