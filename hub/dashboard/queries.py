# SPDX-License-Identifier: Apache-2.0
"""The questions the dashboard's views ask, parsed from query parameters (framework-free).

>>> form = TrendsForm.parse([("table", "contacts"), ("split", "channel")], taxonomy)  # doctest: +SKIP
>>> form.stats_query(allowed_countries=None).group_by                            # doctest: +SKIP
('period', 'channel')

Every view's form is a plain GET form, so a view's URL is a bookmarkable question; its export links repeat the
same parameters (:meth:`params`). Empty fields mean "not set". A dimension filter of another table than the one
chosen is ignored and listed in ``ignored`` (switching tables keeps the old form's fields); anything else that is
wrong raises :class:`~hub.errors.InvalidQuery` with a message for the person who filled in the form.

:func:`api_stats_query` parses the stricter parameters of the export API (the same ones as ``/v1/stats``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from hub.errors import InvalidQuery
from hub.services.scope import Scope
from hub.services.stats import PERIOD, StatsQuery
from protocol.taxonomy import Taxonomy

__all__ = [
    "CORRIDOR_TABLE",
    "DEFAULT_TABLE",
    "DEMOGRAPHY_TABLE",
    "MAX_SERIES",
    "TOP_CHOICES",
    "CompletenessForm",
    "CorridorsForm",
    "DemographyForm",
    "Params",
    "PeriodScope",
    "TrendsForm",
    "api_completeness_scope",
    "api_stats_query",
]

#: Query parameters as (name, value) pairs, in order, names possibly repeated.
Params = Sequence[tuple[str, str]]

#: The table the corridor view reads.
CORRIDOR_TABLE: Final = "persons_corridor"
#: The table the demography view reads.
DEMOGRAPHY_TABLE: Final = "persons_demography"
#: The trends view's table until the user picks one: it counts every person once, in few cells (so its total has
#: a narrow interval: every cell summed adds noise).
DEFAULT_TABLE: Final = "persons_recruitment"
#: Most lines one trends chart draws (each with its band).
MAX_SERIES: Final = 8
#: How many citizenships and countries of exploitation the corridor matrix may show (0: all).
TOP_CHOICES: Final = (10, 15, 25, 0)

_SCOPE_PARAMS: Final = frozenset({"period_from", "period_to", "country"})


def _values(params: Params) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in params:
        found.setdefault(name, []).append(value)
    return found


def _single(values: Mapping[str, list[str]], name: str) -> str | None:
    """The one value of a single-valued field; empty means unset; a repeated field is refused."""
    given = values.get(name, [])
    if len(given) > 1:
        raise InvalidQuery(f"{name} is given {len(given)} times; give it once")
    value = given[0].strip() if given else ""
    return value or None


def _codes(values: Iterable[str]) -> tuple[str, ...]:
    """Codes from repeated fields and/or comma-separated lists, in order, without repeats."""
    codes = (code.strip() for value in values for code in value.split(","))
    return tuple(dict.fromkeys(code for code in codes if code))


@dataclass(frozen=True, slots=True)
class PeriodScope:
    """The months and the country every view asks about (``None``: the defaults, the whole region)."""

    period_from: str | None = None
    period_to: str | None = None
    country: str | None = None

    @classmethod
    def parse(cls, values: Mapping[str, list[str]]) -> PeriodScope:
        country = _single(values, "country")
        if country is not None:
            Scope.country(country)  # validates the code
        return cls(_single(values, "period_from"), _single(values, "period_to"), country)

    @property
    def scope(self) -> Scope:
        return Scope.from_params(country=self.country, hotline=None)

    def params(self) -> list[tuple[str, str]]:
        named = (("period_from", self.period_from), ("period_to", self.period_to), ("country", self.country))
        return [(name, value) for name, value in named if value is not None]


@dataclass(frozen=True, slots=True)
class TrendsForm:
    """Monthly estimates of any table, optionally one line per code of a dimension (``split``)."""

    table: str
    split: str | None
    filters: Mapping[str, tuple[str, ...]] = field(hash=False)
    clip: bool
    scope: PeriodScope
    ignored: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: Params, taxonomy: Taxonomy) -> TrendsForm:
        values = _values(params)
        table_name = _single(values, "table") or DEFAULT_TABLE
        table = taxonomy.tables.get(table_name)
        if table is None:
            raise InvalidQuery(f"there is no table {table_name!r}; choose one of: {', '.join(sorted(taxonomy.tables))}")
        split = _single(values, "split")
        if split is not None and split not in table.dimension_names:
            raise InvalidQuery(
                f"lines by {split!r}: not a dimension of {table.name}; choose one of {', '.join(table.dimension_names)}"
            )
        filters: dict[str, tuple[str, ...]] = {}
        ignored: list[str] = []
        for name in values:
            if name in taxonomy.dimensions:
                if name in table.dimension_names:
                    codes = _codes(values[name])
                    if codes:
                        filters[name] = codes
                elif _codes(values[name]):
                    ignored.append(name)
        clip = _single(values, "clip")
        if clip not in (None, "on", "true", "1"):
            raise InvalidQuery(f"clip is a checkbox: on or absent, not {clip!r}")
        if split is not None:
            chosen = filters.get(split) or taxonomy.dimensions[split].code_names
            if len(chosen) > MAX_SERIES:
                raise InvalidQuery(
                    f"one line per {split} would draw {len(chosen)} lines; a chart shows at most {MAX_SERIES}: "
                    f"choose at most {MAX_SERIES} codes of {split} in its filter"
                )
        return cls(
            table=table.name,
            split=split,
            filters=MappingProxyType(filters),
            clip=clip is not None,
            scope=PeriodScope.parse(values),
            ignored=tuple(sorted(ignored)),
        )

    def stats_query(self, *, allowed_countries: frozenset[str] | None) -> StatsQuery:
        return StatsQuery(
            table=self.table,
            group_by=(PERIOD, self.split) if self.split else (PERIOD,),
            filters=self.filters,
            period_from=self.scope.period_from,
            period_to=self.scope.period_to,
            scope=self.scope.scope,
            allowed_countries=allowed_countries,
            clip=self.clip,
        )

    def params(self) -> list[tuple[str, str]]:
        pairs = [("table", self.table)]
        if self.split:
            pairs.append(("split", self.split))
        pairs += [(name, ",".join(codes)) for name, codes in self.filters.items()]
        if self.clip:
            pairs.append(("clip", "on"))
        return pairs + self.scope.params()


@dataclass(frozen=True, slots=True)
class CorridorsForm:
    """Citizenship × country of exploitation, summed over the months, for one exploitation group or all."""

    exploitation_group: str | None
    top: int
    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params, taxonomy: Taxonomy) -> CorridorsForm:
        values = _values(params)
        _require_table(taxonomy, CORRIDOR_TABLE)
        group = _single(values, "exploitation_group")
        _check_code(taxonomy, "exploitation_group", group)
        top_text = _single(values, "top") or str(TOP_CHOICES[0])
        if not top_text.isdigit() or int(top_text) not in TOP_CHOICES:
            raise InvalidQuery(f"top must be one of {', '.join(map(str, TOP_CHOICES))} (0: all); got {top_text!r}")
        return cls(group, int(top_text), PeriodScope.parse(values))

    def stats_query(self, *, allowed_countries: frozenset[str] | None) -> StatsQuery:
        return StatsQuery(
            table=CORRIDOR_TABLE,
            group_by=("citizenship", "country_of_exploitation"),
            filters={"exploitation_group": (self.exploitation_group,)} if self.exploitation_group else {},
            period_from=self.scope.period_from,
            period_to=self.scope.period_to,
            scope=self.scope.scope,
            allowed_countries=allowed_countries,
        )

    def params(self) -> list[tuple[str, str]]:
        pairs = [("exploitation_group", self.exploitation_group)] if self.exploitation_group else []
        return [*pairs, ("top", str(self.top)), *self.scope.params()]


@dataclass(frozen=True, slots=True)
class DemographyForm:
    """Gender × age band, summed over the months, for one exploitation type or all."""

    exploitation_type: str | None
    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params, taxonomy: Taxonomy) -> DemographyForm:
        values = _values(params)
        _require_table(taxonomy, DEMOGRAPHY_TABLE)
        kind = _single(values, "exploitation_type")
        _check_code(taxonomy, "exploitation_type", kind)
        return cls(kind, PeriodScope.parse(values))

    def stats_query(self, *, allowed_countries: frozenset[str] | None) -> StatsQuery:
        return StatsQuery(
            table=DEMOGRAPHY_TABLE,
            group_by=("age_band", "gender"),
            filters={"exploitation_type": (self.exploitation_type,)} if self.exploitation_type else {},
            period_from=self.scope.period_from,
            period_to=self.scope.period_to,
            scope=self.scope.scope,
            allowed_countries=allowed_countries,
        )

    def params(self) -> list[tuple[str, str]]:
        pairs = [("exploitation_type", self.exploitation_type)] if self.exploitation_type else []
        return pairs + self.scope.params()


@dataclass(frozen=True, slots=True)
class CompletenessForm:
    """Which hotline reported which month."""

    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params) -> CompletenessForm:
        return cls(PeriodScope.parse(_values(params)))

    def params(self) -> list[tuple[str, str]]:
        return self.scope.params()


def _require_table(taxonomy: Taxonomy, name: str) -> None:
    if name not in taxonomy.tables:
        raise InvalidQuery(f"the hub's taxonomy {taxonomy.id} has no table {name}, which this view shows")


def _check_code(taxonomy: Taxonomy, dimension: str, code: str | None) -> None:
    found = taxonomy.dimensions.get(dimension)
    if code is not None and (found is None or code not in found.code_names):
        raise InvalidQuery(f"{dimension} {code!r} is not a code of the taxonomy")


# ---------------------------------------------------------------------------------------------- the export API

_API_STATS: Final = frozenset({"group_by", "period_from", "period_to", "country", "hotline"})
_API_COMPLETENESS: Final = frozenset({"period_from", "period_to", "country", "hotline"})


def api_stats_query(
    table: str, params: Params, taxonomy: Taxonomy, *, allowed_countries: frozenset[str] | None
) -> StatsQuery:
    """The query of ``GET /v1/exports/stats/{table}.sdmx.csv``: the parameters of ``/v1/stats`` less ``format``
    and ``clip`` (an export never clips). Unknown or repeated parameters are refused, so a mistyped filter never
    silently widens an answer."""
    values = _values(params)
    _check_api_params(values, _API_STATS, taxonomy)
    filters = {name: _codes(given) for name, given in values.items() if name not in _API_STATS}
    empty = sorted(name for name, codes in filters.items() if not codes)
    if empty:
        raise InvalidQuery(f"filter(s) {', '.join(empty)} need one or more codes")
    return StatsQuery(
        table=table,
        group_by=_codes([_single(values, "group_by") or ""]),
        filters=filters,
        period_from=_single(values, "period_from"),
        period_to=_single(values, "period_to"),
        scope=Scope.from_params(country=_single(values, "country"), hotline=_single(values, "hotline")),
        allowed_countries=allowed_countries,
    )


def api_completeness_scope(params: Params) -> tuple[str | None, str | None, Scope]:
    """``(period_from, period_to, scope)`` of ``GET /v1/exports/completeness.sdmx.csv``."""
    values = _values(params)
    _check_api_params(values, _API_COMPLETENESS, None)
    scope = Scope.from_params(country=_single(values, "country"), hotline=_single(values, "hotline"))
    return _single(values, "period_from"), _single(values, "period_to"), scope


def _check_api_params(values: Mapping[str, list[str]], known: frozenset[str], taxonomy: Taxonomy | None) -> None:
    dimensions = taxonomy.dimensions if taxonomy is not None else {}
    unknown = sorted(name for name in values if name not in known and name not in dimensions)
    if unknown:
        accepted = ", ".join(sorted(known)) + (", and the table's dimension names" if taxonomy is not None else "")
        raise InvalidQuery(f"unknown query parameter(s): {', '.join(unknown)}; this route accepts {accepted}")
    for name in known:
        _single(values, name)
