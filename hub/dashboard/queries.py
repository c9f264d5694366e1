# SPDX-License-Identifier: Apache-2.0
"""The questions the dashboard's views ask, parsed from query parameters (framework-free).

>>> form = TrendsForm.parse([("unit", "contact"), ("split", "channel")], tables)       # doctest: +SKIP
>>> form.estimates_query(allowed_countries=None).group_by                           # doctest: +SKIP
('period', 'channel')

Every view asks a *question* (:class:`~hub.services.estimates.EstimatesQuery`: a unit, dimensions to group by,
filters, months, a scope), the one ``GET /v1/estimates/{unit}`` answers from every released table that can answer
it, so the dashboard shows what the API and the exports give. Every view's form is a plain GET form, so a view's
URL is a bookmarkable question; its export links repeat the same parameters (:meth:`params`), and
:meth:`api_params` are the parameters of the same question to ``/v1/estimates``. Empty fields mean "not set".

Older links keep working where they still mean something: the trends view's ``table=`` (it picked one table) is
read as that table's unit, with a notice; a dimension filter that the chosen unit has no table for is ignored and
listed in ``ignored`` (switching units keeps the old form's fields). Anything else that is wrong raises
:class:`~hub.errors.InvalidQuery` with a message for the person who filled in the form; a question that no
combination of the months' releases answers is refused by the service, and the view shows its reason.

The export API's stricter parameters are parsed in :mod:`hub.dashboard.api`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from hub.dashboard.i18n import N_
from hub.dashboard.i18n import gettext as _
from hub.dashboard.params import (
    Params,
    all_dimensions,
    check_names,
    codes_of,
    single,
    unit_dimensions,
    values_of,
)
from hub.errors import InvalidQuery
from hub.i18n import dimension_term
from hub.services.estimates import EstimatesQuery
from hub.services.scope import Scope
from protocol.api import PERIOD, UNIT_LABELS
from protocol.taxonomy import Table

__all__ = [
    "DEFAULT_UNIT",
    "MAX_SERIES",
    "TOP_CHOICES",
    "UNIT_NAMES",
    "CompletenessForm",
    "CorridorsForm",
    "DemographyForm",
    "Params",
    "PeriodScope",
    "TrendsForm",
    "unit_dimensions",
]

#: The units a trends chart can count, with the name the unit picker shows.
UNIT_NAMES: Final = {
    "person": N_("Potential victims (persons)"),
    "case": N_("Cases opened"),
    "contact": N_("Contacts received"),
}
#: The trends view's unit until the user picks one.
DEFAULT_UNIT: Final = "person"
#: Most lines one trends chart draws (each with its band).
MAX_SERIES: Final = 8
#: How many citizenships and countries of exploitation the corridor matrix may show (0: all).
TOP_CHOICES: Final = (10, 15, 25, 0)
#: The corridor view's question: persons by citizenship and country of exploitation.
CORRIDOR: Final = ("citizenship", "country_of_exploitation")
#: The demography view's cuts: gender by age band (every form), or by age group for one exploitation group.
AGE_BAND: Final = "age_band"
AGE_GROUP: Final = "age_group"


#: The parameters of :class:`PeriodScope`, which every view reads.
_SCOPE_FIELDS: Final = ("period_from", "period_to", "country")


@dataclass(frozen=True, slots=True)
class PeriodScope:
    """The months and the country every view asks about (``None``: the defaults, the whole region)."""

    period_from: str | None = None
    period_to: str | None = None
    country: str | None = None

    @classmethod
    def parse(cls, values: Mapping[str, list[str]]) -> PeriodScope:
        country = single(values, "country")
        if country is not None:
            Scope.country(country)  # validates the code
        return cls(single(values, "period_from"), single(values, "period_to"), country)

    @property
    def scope(self) -> Scope:
        return Scope.from_params(country=self.country, hotline=None)

    def params(self) -> list[tuple[str, str]]:
        named = (("period_from", self.period_from), ("period_to", self.period_to), ("country", self.country))
        return [(name, value) for name, value in named if value is not None]

    def question(
        self,
        unit: str,
        group_by: tuple[str, ...],
        filters: Mapping[str, tuple[str, ...]],
        *,
        allowed_countries: frozenset[str] | None,
    ) -> EstimatesQuery:
        return EstimatesQuery(
            unit=unit,
            group_by=group_by,
            filters=MappingProxyType(dict(filters)),
            period_from=self.period_from,
            period_to=self.period_to,
            scope=self.scope,
            allowed_countries=allowed_countries,
        )


def _api_params(
    group_by: Sequence[str], filters: Mapping[str, tuple[str, ...]], scope: PeriodScope
) -> list[tuple[str, str]]:
    """The same question's parameters for ``GET /v1/estimates/{unit}``."""
    pairs = [("group_by", ",".join(group_by))] if group_by else []
    pairs += [(name, ",".join(codes)) for name, codes in filters.items()]
    return pairs + scope.params()


@dataclass(frozen=True, slots=True)
class TrendsForm:
    """Monthly estimates of a unit, optionally one line per code of a dimension (``split``)."""

    unit: str
    split: str | None
    filters: Mapping[str, tuple[str, ...]] = field(hash=False)
    clip: bool
    scope: PeriodScope
    #: dimension filters given that no table of the unit carries (ignored)
    ignored: tuple[str, ...] = ()
    #: what an older link asked that the view now reads differently
    notices: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: Params, tables: Mapping[str, Table]) -> TrendsForm:
        values = values_of(params)
        check_names(values, {"unit", "table", "split", "clip", *_SCOPE_FIELDS}, repeatable=all_dimensions(tables))
        notices: list[str] = []
        unit = single(values, "unit")
        table_name = single(values, "table")
        if table_name is not None:
            table = tables.get(table_name)
            if table is None:
                raise InvalidQuery(
                    _(
                        "there is no table %(table)r; the trends view now asks about a unit, not a table: choose one "
                        "of %(units)s"
                    )
                    % {"table": table_name, "units": ", ".join(UNIT_NAMES)}
                )
            if unit is None:
                unit = table.unit
                notices.append(
                    _(
                        "This link names the table %(table)s. The trends view now answers for a unit, %(unit)s, from "
                        "every released table that can answer (least squares), so the numbers may differ from that "
                        "table's own sums and have narrower intervals."
                    )
                    % {"table": table_name, "unit": _(UNIT_LABELS[unit])}
                )
            elif unit != table.unit:
                notices.append(
                    _("The table %(table)s counts %(counted)ss, not %(unit)ss: it was ignored.")
                    % {"table": table_name, "counted": table.unit, "unit": unit}
                )
        unit = unit or DEFAULT_UNIT
        if unit not in UNIT_NAMES:
            raise InvalidQuery(
                _("there is no unit %(unit)r; choose one of %(units)s") % {"unit": unit, "units": ", ".join(UNIT_NAMES)}
            )
        dimensions = unit_dimensions(tables, unit)
        known = all_dimensions(tables)
        split = single(values, "split")
        if split is not None and split not in dimensions:
            if split not in known:
                raise InvalidQuery(
                    _("lines by %(split)r: there is no such dimension; choose one of %(dimensions)s")
                    % {"split": split, "dimensions": ", ".join(dimensions)}
                )
            notices.append(
                _("No %(unit)s table has the dimension %(dimension)s: one line for the total is drawn instead.")
                % {"unit": unit, "dimension": dimension_term(split)}
            )
            split = None
        filters: dict[str, tuple[str, ...]] = {}
        ignored: list[str] = []
        for name in values:
            codes = codes_of(values[name]) if name in known else ()
            if name in dimensions:
                if codes:
                    filters[name] = codes
            elif codes:
                ignored.append(name)
        clip = single(values, "clip")
        if clip not in (None, "on", "true", "1"):
            raise InvalidQuery(_("clip is a checkbox: on or absent, not %(clip)r") % {"clip": clip})
        if split is not None:
            chosen = filters.get(split) or dimensions[split].code_names
            if len(chosen) > MAX_SERIES:
                raise InvalidQuery(
                    _(
                        "one line per %(split)s would draw %(lines)s lines; a chart shows at most %(max)s: choose at "
                        "most %(max)s codes of %(split)s in its filter"
                    )
                    % {"split": split, "lines": len(chosen), "max": MAX_SERIES}
                )
        return cls(
            unit=unit,
            split=split,
            filters=MappingProxyType(filters),
            clip=clip is not None,
            scope=PeriodScope.parse(values),
            ignored=tuple(sorted(ignored)),
            notices=tuple(notices),
        )

    @property
    def group_by(self) -> tuple[str, ...]:
        return (PERIOD, self.split) if self.split else (PERIOD,)

    def estimates_query(self, *, allowed_countries: frozenset[str] | None) -> EstimatesQuery:
        return self.scope.question(self.unit, self.group_by, self.filters, allowed_countries=allowed_countries)

    def params(self) -> list[tuple[str, str]]:
        pairs = [("unit", self.unit)]
        if self.split:
            pairs.append(("split", self.split))
        pairs += [(name, ",".join(codes)) for name, codes in self.filters.items()]
        if self.clip:
            pairs.append(("clip", "on"))
        return pairs + self.scope.params()

    def api_params(self) -> list[tuple[str, str]]:
        return _api_params(self.group_by, self.filters, self.scope)

    @property
    def sdmx_blocked(self) -> list[str]:
        """Dimensions summed over several chosen codes: SDMX has no code for such a sum."""
        return sorted(name for name, codes in self.filters.items() if name != self.split and len(codes) > 1)


@dataclass(frozen=True, slots=True)
class CorridorsForm:
    """Persons by citizenship × country of exploitation over the months, for one exploitation group or all."""

    exploitation_group: str | None
    top: int
    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params, tables: Mapping[str, Table]) -> CorridorsForm:
        values = values_of(params)
        check_names(values, {"exploitation_group", "top", *_SCOPE_FIELDS})
        group = single(values, "exploitation_group")
        _check_code(tables, "exploitation_group", group)
        top_text = single(values, "top") or str(TOP_CHOICES[0])
        if not top_text.isdigit() or int(top_text) not in TOP_CHOICES:
            raise InvalidQuery(
                _("top must be one of %(choices)s (0: all); got %(top)r")
                % {"choices": ", ".join(map(str, TOP_CHOICES)), "top": top_text}
            )
        return cls(group, int(top_text), PeriodScope.parse(values))

    @property
    def filters(self) -> dict[str, tuple[str, ...]]:
        return {"exploitation_group": (self.exploitation_group,)} if self.exploitation_group else {}

    def estimates_query(self, *, allowed_countries: frozenset[str] | None) -> EstimatesQuery:
        return self.scope.question("person", CORRIDOR, self.filters, allowed_countries=allowed_countries)

    def params(self) -> list[tuple[str, str]]:
        pairs = [("exploitation_group", self.exploitation_group)] if self.exploitation_group else []
        return [*pairs, ("top", str(self.top)), *self.scope.params()]

    def api_params(self) -> list[tuple[str, str]]:
        return _api_params(CORRIDOR, self.filters, self.scope)


@dataclass(frozen=True, slots=True)
class DemographyForm:
    """Persons by gender × age over the months: by age band for every form of exploitation, or by age group
    (child, adult) for one exploitation group (the cut Eurostat publishes, which taxonomy v2 releases).

    ``exploitation_type`` is what older links asked (gender × age band for one type, which only taxonomy v1
    releases carry); it is still asked as such, so months released under v2 get the service's refusal.
    """

    exploitation_group: str | None
    exploitation_type: str | None
    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params, tables: Mapping[str, Table]) -> DemographyForm:
        values = values_of(params)
        check_names(values, {"exploitation_group", "exploitation_type", *_SCOPE_FIELDS})
        group = single(values, "exploitation_group")
        kind = single(values, "exploitation_type")
        _check_code(tables, "exploitation_group", group)
        _check_code(tables, "exploitation_type", kind)
        if group is not None and kind is not None:
            raise InvalidQuery(
                _(
                    "choose an exploitation group (gender by age group) or, as older links did, an exploitation type "
                    "(gender by age band), not both"
                )
            )
        return cls(group, kind, PeriodScope.parse(values))

    @property
    def age(self) -> str:
        """The age dimension of the cut: age group with an exploitation group chosen, else age band."""
        return AGE_GROUP if self.exploitation_group else AGE_BAND

    @property
    def group_by(self) -> tuple[str, ...]:
        return ("gender", self.age)

    @property
    def filters(self) -> dict[str, tuple[str, ...]]:
        if self.exploitation_group:
            return {"exploitation_group": (self.exploitation_group,)}
        return {"exploitation_type": (self.exploitation_type,)} if self.exploitation_type else {}

    def estimates_query(self, *, allowed_countries: frozenset[str] | None) -> EstimatesQuery:
        return self.scope.question("person", self.group_by, self.filters, allowed_countries=allowed_countries)

    def params(self) -> list[tuple[str, str]]:
        return [*((name, codes[0]) for name, codes in self.filters.items()), *self.scope.params()]

    def api_params(self) -> list[tuple[str, str]]:
        return _api_params(self.group_by, self.filters, self.scope)


@dataclass(frozen=True, slots=True)
class CompletenessForm:
    """Which hotline reported which month."""

    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params) -> CompletenessForm:
        values = values_of(params)
        check_names(values, _SCOPE_FIELDS)
        return cls(PeriodScope.parse(values))

    def params(self) -> list[tuple[str, str]]:
        return self.scope.params()


def _check_code(tables: Mapping[str, Table], dimension: str, code: str | None) -> None:
    found = all_dimensions(tables).get(dimension)
    if code is not None and (found is None or code not in found.code_names):
        raise InvalidQuery(
            _("%(dimension)s %(code)r is not a code of the taxonomy") % {"dimension": dimension, "code": code}
        )
