# SPDX-License-Identifier: Apache-2.0
"""What a statistics or completeness query covers: its periods, its scope, and the hotlines expected to report.

Periods are ``YYYY-MM`` months, handled as month numbers (``year * 12 + month - 1``) so ranges are integer ranges:

>>> start, end = period_range("2025-11", "2026-02", now=datetime(2026, 11, 21, tzinfo=UTC))
>>> [period_text(p) for p in range(start, end + 1)]
['2025-11', '2025-12', '2026-01', '2026-02']
>>> [period_text(p) for p in period_range(None, None, now=datetime(2026, 11, 21, tzinfo=UTC))]
['2025-11', '2026-10']

Without bounds a query covers the last 12 full months before ``now``.

A :class:`Scope` is the whole region, one country, or one hotline. A coordinator token may be limited to some
countries (``allowed_countries``); :func:`resolve_scope` turns a scope into the rollup scopes to read, refusing
(:class:`~hub.errors.Forbidden`) a country outside the token's countries. For such a token the region is the sum of
its countries, and a hotline outside them is answered exactly like a hotline that does not exist
(:class:`~hub.errors.NotFound`, naming only the token's countries): a scoped token learns nothing of other
countries, not even which hotline ids are enrolled there.

**Which hotlines are expected to report a period** (the ``hotlines_expected`` of statistics and the grid of
completeness) — one rule, used everywhere:

    a hotline in scope whose latest logged policy declares ``reporting_from`` is expected for every period from
    ``reporting_from`` on, whatever its keys (a rotation or revocation gap is a gap in its reporting, not a month
    it was excused); a hotline with no ``reporting_from`` logged (enrolled before the field existed) is expected
    for period P if one of its keys was valid at some instant of P (from its ``valid_from`` until it was rotated
    out or revoked, whichever comes first); and either is expected for a period it reported anyway.

So a hotline enrolled on 2026-12-06 with ``reporting_from`` 2026-11 is expected from 2026-11 on, and a month it
skips is a gap; one enrolled on 2026-06-20 without ``reporting_from`` is expected from 2026-06 on, and one whose
only key was revoked on 2026-03-10 is expected up to 2026-03; reporting never exceeds expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from hub.errors import Forbidden, InvalidQuery, NotFound
from hub.i18n import gettext as _
from hub.models import Hotline, HotlineKey, HotlinePolicyRecord, ReleaseNoise, RoundReleaseNoise
from hub.services.rollups import REGION, country_scope, hotline_scope
from protocol.api import MAX_MONTHS
from protocol.messages import COUNTRY_PATTERN, IDENTIFIER_PATTERN, HotlinePolicyEntry
from protocol.period import Period, month_number, month_text

__all__ = [
    "DEFAULT_PERIODS",
    "MAX_PERIODS",
    "EnrolledHotline",
    "Expected",
    "ResolvedScope",
    "Scope",
    "ScopeLevel",
    "as_utc",
    "expected_hotlines",
    "hotlines_in_scope",
    "parse_period",
    "period_end",
    "period_range",
    "period_start",
    "period_text",
    "resolve_scope",
]

#: The longest period range one query may cover (months): the contract's limit.
MAX_PERIODS: Final = MAX_MONTHS
#: The range a query covers when it names none: this many full months before now.
DEFAULT_PERIODS: Final = 12

ScopeLevel = Literal["region", "country", "hotline"]

_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_COUNTRY = re.compile(COUNTRY_PATTERN)
_HOTLINE = re.compile(IDENTIFIER_PATTERN)


# ---------------------------------------------------------------------------------------------- periods


def parse_period(text: str, *, param: str) -> int:
    """The month number of a ``YYYY-MM`` period; :class:`InvalidQuery` naming ``param`` otherwise."""
    if not isinstance(text, str) or not _PERIOD.fullmatch(text) or not "1900-01" <= text <= "9998-12":
        raise InvalidQuery(
            _("%(param)s must be a month written YYYY-MM, such as 2026-10; got %(text)r")
            % {"param": param, "text": text}
        )
    return month_number(text)


def period_text(period: int) -> str:
    return month_text(period)


def period_start(period: int) -> datetime:
    """The first instant of the month number (UTC)."""
    return Period(period).start


def period_end(period: int) -> datetime:
    """The first instant after the month (UTC): the month is ``[period_start, period_end)``."""
    return Period(period).end


def period_range(
    period_from: str | None, period_to: str | None, *, now: datetime, max_periods: int = MAX_PERIODS
) -> tuple[int, int]:
    """Validated ``(first, last)`` month numbers, both inclusive.

    ``period_to`` defaults to the month before ``now``; ``period_from`` to 11 months before ``period_to``.
    """
    last = parse_period(period_to, param="period_to") if period_to is not None else Period.containing(now).number - 1
    first = parse_period(period_from, param="period_from") if period_from is not None else last - DEFAULT_PERIODS + 1
    if first > last:
        raise InvalidQuery(
            _("period_from (%(first)s) is after period_to (%(last)s)")
            % {"first": period_text(first), "last": period_text(last)}
        )
    if last - first + 1 > max_periods:
        raise InvalidQuery(
            _("period_from..period_to covers %(months)s months; one query covers at most %(max)s")
            % {"months": last - first + 1, "max": max_periods}
        )
    return first, last


def _month_of(moment: datetime) -> int:
    """The month number of an instant (UTC)."""
    return Period.containing(as_utc(moment)).number


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime. The database's timestamps are aware already
    (:class:`hub.models.UTCDateTime`); a naive ``moment`` (a caller's clock, a test's literal) is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------------------------------------- scope


@dataclass(frozen=True, slots=True)
class Scope:
    """The whole region, one country (ISO 3166-1 alpha-2) or one hotline (its id)."""

    level: ScopeLevel = "region"
    code: str | None = None

    def __post_init__(self) -> None:
        if (self.level == "region") != (self.code is None):
            raise ValueError("the region scope has no code; a country or hotline scope needs one")

    @classmethod
    def region(cls) -> Scope:
        return cls()

    @classmethod
    def country(cls, code: str) -> Scope:
        if not _COUNTRY.fullmatch(code):
            raise InvalidQuery(
                _("country must be an ISO 3166-1 alpha-2 code such as UA; got %(code)r") % {"code": code}
            )
        return cls("country", code)

    @classmethod
    def hotline(cls, hotline_id: str) -> Scope:
        if not _HOTLINE.fullmatch(hotline_id):
            raise InvalidQuery(
                _("hotline must be a hotline id such as la-strada-ua; got %(hotline)r") % {"hotline": hotline_id}
            )
        return cls("hotline", hotline_id)

    @classmethod
    def from_params(cls, *, country: str | None, hotline: str | None) -> Scope:
        """The scope named by the ``country`` / ``hotline`` query parameters (neither: the region)."""
        if country is not None and hotline is not None:
            raise InvalidQuery(_("give country or hotline, not both: a hotline already belongs to one country"))
        if country is not None:
            return cls.country(country)
        if hotline is not None:
            return cls.hotline(hotline)
        return cls.region()

    def __str__(self) -> str:
        return "region" if self.code is None else f"{self.level}:{self.code}"


@dataclass(frozen=True, slots=True)
class ResolvedScope:
    """A scope checked against the caller's countries, in the terms the tables use.

    ``rollup_scopes`` are the ``rollup_cells``/``rollup_noise`` scopes whose sum is the answer;
    ``countries`` the hotline countries covered (``None``: every country); ``hotline_id`` set for a hotline scope.
    """

    scope: Scope
    rollup_scopes: tuple[str, ...]
    countries: frozenset[str] | None
    hotline_id: str | None = None

    def release_filter(self) -> ColumnElement[bool]:
        """The ``release_noise`` rows of hotlines in this scope."""
        if self.hotline_id is not None:
            return ReleaseNoise.hotline_id == self.hotline_id
        if self.countries is not None:
            return ReleaseNoise.country.in_(sorted(self.countries))
        return true()

    def round_filter(self) -> ColumnElement[bool] | None:
        """The ``round_release_noise`` rows of round sums in this scope (None: none is). A round's sum belongs to
        the region, and to a country only when every survivor is of it; never to a hotline."""
        if self.hotline_id is not None:
            return None
        if self.countries is not None:
            return RoundReleaseNoise.scope_country.in_(sorted(self.countries))
        return true()

    def hotline_filter(self) -> ColumnElement[bool]:
        """The ``hotlines`` rows in this scope."""
        if self.hotline_id is not None:
            return Hotline.id == self.hotline_id
        if self.countries is not None:
            return Hotline.country.in_(sorted(self.countries))
        return true()


def resolve_scope(session: Session, scope: Scope, *, allowed_countries: frozenset[str] | None) -> ResolvedScope:
    """Check ``scope`` against the caller's countries and say which rollup scopes make it up."""
    if scope.level == "country":
        country = _code(scope)
        if allowed_countries is not None and country not in allowed_countries:
            raise Forbidden(
                _("this token may query %(countries)s only, not country %(country)s")
                % {"countries": _listing(allowed_countries), "country": country}
            )
        return ResolvedScope(scope, (country_scope(country),), frozenset({country}))
    if scope.level == "hotline":
        hotline_id = _code(scope)
        hotline = session.get(Hotline, hotline_id)
        if allowed_countries is not None and (hotline is None or hotline.country not in allowed_countries):
            # One answer whether the hotline is enrolled elsewhere or nowhere: naming only the token's countries.
            raise NotFound(
                _("no hotline %(hotline)r is enrolled in %(countries)s")
                % {"hotline": hotline_id, "countries": _listing(allowed_countries)}
            )
        if hotline is None:
            raise NotFound(_("no hotline %(hotline)r is enrolled at this hub") % {"hotline": hotline_id})
        return ResolvedScope(scope, (hotline_scope(hotline_id),), frozenset({hotline.country}), hotline_id)
    if allowed_countries is None:
        return ResolvedScope(scope, (REGION,), None)
    # A token limited to some countries sees the region as the sum of its countries.
    countries = frozenset(allowed_countries)
    return ResolvedScope(scope, tuple(country_scope(c) for c in sorted(countries)), countries)


def _code(scope: Scope) -> str:
    if scope.code is None:  # excluded by Scope.__post_init__
        raise ValueError(f"a {scope.level} scope needs a code")
    return scope.code


def _listing(countries: Iterable[str]) -> str:
    names = sorted(countries)
    return _("countries %(codes)s") % {"codes": ", ".join(names)} if names else _("no country")


# ---------------------------------------------------------------------------------------------- enrolment


@dataclass(frozen=True, slots=True)
class EnrolledHotline:
    """A hotline and the times it held a valid key: ``[valid_from, end)`` windows, ``end`` ``None`` while open;
    ``reporting_from`` the month number its latest logged policy declares it reports from (``None``: not declared).
    """

    id: str
    display_name: str
    country: str
    windows: tuple[tuple[datetime, datetime | None], ...]
    reporting_from: int | None = None

    @property
    def enrolled_from(self) -> datetime | None:
        """When its first key became valid (``None``: it never had a key)."""
        return min((start for start, _ in self.windows), default=None)

    def enrolled_during(self, period: int) -> bool:
        """True if one of its keys was valid at some instant of the month."""
        start, end = period_start(period), period_end(period)
        return any(begin < end and (until is None or until > start) for begin, until in self.windows)

    def expected_months(self, periods: range) -> set[int]:
        """The months of ``periods`` it is expected to report, reports aside: every month from ``reporting_from``
        on when declared, else the months it was enrolled during."""
        if self.reporting_from is not None:
            return set(range(max(self.reporting_from, periods.start), periods.stop))
        return self.enrolled_months(periods)

    def enrolled_months(self, periods: range) -> set[int]:
        """The months of ``periods`` it was enrolled during (:meth:`enrolled_during`, by month arithmetic).

        A window ``[begin, until)`` meets month ``p`` when ``begin`` is before the month ends (``p`` is ``begin``'s
        month or later) and ``until`` is after the month starts (``p`` is before ``until``'s month, or that month
        itself unless ``until`` is its first instant).
        """
        months: set[int] = set()
        for begin, until in self.windows:
            first = _month_of(begin)
            last = periods.stop - 1
            if until is not None:
                last = _month_of(until) - (1 if until == period_start(_month_of(until)) else 0)
            months.update(range(max(first, periods.start), min(last, periods.stop - 1) + 1))
        return months


def hotlines_in_scope(session: Session, scope: ResolvedScope) -> list[EnrolledHotline]:
    """Every hotline in ``scope`` with its key windows, ordered by country and id."""
    hotlines = session.execute(
        select(Hotline.id, Hotline.display_name, Hotline.country)
        .where(scope.hotline_filter())
        .order_by(Hotline.country, Hotline.id)
    ).all()
    keys = session.execute(
        select(HotlineKey.hotline_id, HotlineKey.valid_from, HotlineKey.valid_until, HotlineKey.revoked_at)
        .join(Hotline, Hotline.id == HotlineKey.hotline_id)
        .where(scope.hotline_filter())
    ).all()
    windows: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for key in keys:
        ends = [as_utc(moment) for moment in (key.valid_until, key.revoked_at) if moment is not None]
        windows.setdefault(key.hotline_id, []).append((as_utc(key.valid_from), min(ends, default=None)))
    reporting_from = _reporting_from(session, scope)
    return [
        EnrolledHotline(
            id=row.id,
            display_name=row.display_name,
            country=row.country,
            windows=tuple(sorted(windows.get(row.id, []), key=lambda window: window[0])),
            reporting_from=reporting_from.get(row.id),
        )
        for row in hotlines
    ]


def _reporting_from(session: Session, scope: ResolvedScope) -> dict[str, int]:
    """The month number each hotline's latest logged policy declares it reports from (left out: none declared)."""
    latest = (
        select(func.max(HotlinePolicyRecord.log_index))
        .join(Hotline, Hotline.id == HotlinePolicyRecord.hotline_id)
        .where(scope.hotline_filter())
        .group_by(HotlinePolicyRecord.hotline_id)
    )
    entries = session.scalars(select(HotlinePolicyRecord.entry).where(HotlinePolicyRecord.log_index.in_(latest)))
    declared: dict[str, int] = {}
    for data in entries:
        entry = HotlinePolicyEntry.from_canonical(data)
        if entry.reporting_from is not None:
            declared[entry.hotline_id] = parse_period(entry.reporting_from, param="reporting_from")
    return declared


@dataclass(frozen=True, slots=True)
class Expected:
    """Per month: the ids of hotlines in scope that are expected to report it (the rule in the module docstring)."""

    by_period: Mapping[int, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))

    def over(self, periods: Iterable[int]) -> frozenset[str]:
        """Hotlines expected in at least one of ``periods``."""
        return frozenset().union(*(self.by_period.get(p, frozenset()) for p in periods))


def expected_hotlines(
    hotlines: Iterable[EnrolledHotline], reported: Mapping[int, frozenset[str]], periods: range
) -> Expected:
    """Apply the expectation rule to ``periods``, given who reported what (``reported[period]`` = hotline ids)."""
    enrolled: dict[int, set[str]] = {period: set() for period in periods}
    for hotline in hotlines:
        for period in hotline.expected_months(periods):
            enrolled[period].add(hotline.id)
    return Expected(
        MappingProxyType(
            {period: frozenset(enrolled[period]) | reported.get(period, frozenset()) for period in periods}
        )
    )
