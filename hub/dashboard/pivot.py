# SPDX-License-Identifier: Apache-2.0
"""The custom table: any grouping the estimates API answers, as rows × columns, with totals (framework-free).

>>> form = PivotForm.parse([("rows", "citizenship"), ("columns", "period")], tables)  # doctest: +SKIP
>>> form.group_by, form.total_questions()                                           # doctest: +SKIP
(('citizenship', 'period'), {'rows': ('citizenship',), 'columns': ('period',), 'all': ()})

A coordinator picks a unit, 0 to 3 dimensions to group by (``period`` among them) laid out as ``rows`` (up to 3)
and ``columns`` (up to 2), dimension filters and the months and country every view asks about. The cells are the
answer of ``GET /v1/estimates/{unit}`` to ``group_by=<rows>,<columns>``; the row totals, column totals and the
overall total are the answers to ``group_by=<rows>``, ``group_by=<columns>`` and no grouping, each a question of its
own, with its own interval: they are never summed from noisy cells here. A total the releases cannot answer is
left out, with the reason.

The parameters are strict like the API's: ``unit``, ``rows``, ``columns`` (dimension names, comma-separated or
repeated), ``period_from``, ``period_to``, ``country`` and dimension filters named after the dimension; anything
else, or a single-valued field given twice, is refused, so a mistyped filter never silently widens the table.
Without ``rows`` and ``columns`` the table is forms of exploitation × month; ``rows=&columns=`` asks for the total.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from hub.dashboard.i18n import gettext as _
from hub.dashboard.labels import Labels, format_count
from hub.dashboard.numbers import Estimate, Provenance
from hub.dashboard.params import Params, all_dimensions, codes_of, single, unit_dimensions, values_of
from hub.dashboard.queries import DEFAULT_UNIT, UNIT_NAMES, PeriodScope, _api_params
from hub.errors import HubError, InvalidQuery
from hub.services.estimates import EstimatesQuery
from protocol.api import PERIOD, EstimateRow, EstimatesAnswer
from protocol.taxonomy import Table

__all__ = [
    "DEFAULT_COLUMNS",
    "DEFAULT_ROWS",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_DIMENSIONS",
    "MAX_ROWS",
    "PivotForm",
    "PivotTotals",
    "PivotView",
    "pivot_view",
]

MAX_DIMENSIONS: Final = 3
MAX_ROWS: Final = 3
MAX_COLUMNS: Final = 2
#: Most cells the page draws (the exports have no such limit beyond the API's).
MAX_CELLS: Final = 5_000
DEFAULT_ROWS: Final = ("exploitation_group",)
DEFAULT_COLUMNS: Final = (PERIOD,)
_FIELDS: Final = frozenset({"unit", "rows", "columns", "period_from", "period_to", "country"})

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PivotForm:
    """The custom table's question: unit, row and column dimensions, filters, months and country."""

    unit: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]] = field(hash=False)
    scope: PeriodScope

    @classmethod
    def parse(cls, params: Params, tables: Mapping[str, Table]) -> PivotForm:
        values = values_of(params)
        known = all_dimensions(tables)
        unknown = sorted(name for name in values if name not in _FIELDS and name not in known)
        if unknown:
            raise InvalidQuery(
                _(
                    "unknown query parameter(s): %(unknown)s; the custom table accepts %(fields)s and dimension "
                    "names as filters"
                )
                % {"unknown": ", ".join(unknown), "fields": ", ".join(sorted(_FIELDS))}
            )
        unit = single(values, "unit") or DEFAULT_UNIT
        if unit not in UNIT_NAMES:
            raise InvalidQuery(
                _("there is no unit %(unit)r; choose one of %(units)s") % {"unit": unit, "units": ", ".join(UNIT_NAMES)}
            )
        dimensions = unit_dimensions(tables, unit)
        if "rows" not in values and "columns" not in values:
            rows: tuple[str, ...] = DEFAULT_ROWS
            columns: tuple[str, ...] = DEFAULT_COLUMNS
        else:
            rows, columns = codes_of(values.get("rows", [])), codes_of(values.get("columns", []))
        _check_grouping(unit, rows, columns, dimensions)
        filters: dict[str, tuple[str, ...]] = {}
        for name in values:
            if name in _FIELDS:
                continue
            codes = codes_of(values[name])
            if not codes:
                continue
            if name not in dimensions:
                raise InvalidQuery(
                    _("filter %(name)s: no %(unit)s table has this dimension; remove the filter or choose another unit")
                    % {"name": name, "unit": unit}
                )
            wrong = [code for code in codes if code not in dimensions[name].code_names]
            if wrong:
                raise InvalidQuery(
                    _("%(dimension)s %(code)s is not a code of the taxonomy")
                    % {"dimension": name, "code": ", ".join(map(repr, wrong))}
                )
            filters[name] = codes
        return cls(unit, rows, columns, MappingProxyType(filters), PeriodScope.parse(values))

    @property
    def group_by(self) -> tuple[str, ...]:
        return self.rows + self.columns

    def question(self, group_by: tuple[str, ...], *, allowed_countries: frozenset[str] | None) -> EstimatesQuery:
        return self.scope.question(self.unit, group_by, self.filters, allowed_countries=allowed_countries)

    def estimates_query(self, *, allowed_countries: frozenset[str] | None) -> EstimatesQuery:
        """The question of the cells (what the exports carry)."""
        return self.question(self.group_by, allowed_countries=allowed_countries)

    def total_questions(self) -> dict[str, tuple[str, ...]]:
        """The groupings of the totals the table shows: per row, per column, overall (only those that differ from
        the cells' own grouping)."""
        found: dict[str, tuple[str, ...]] = {}
        if self.rows and self.columns:
            found["rows"] = self.rows
            found["columns"] = self.columns
        if self.group_by:
            found["all"] = ()
        return found

    def params(
        self, *, rows: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> list[tuple[str, str]]:
        """The view's parameters (with other rows and columns: the question of one of its totals)."""
        pairs = [
            ("unit", self.unit),
            ("rows", ",".join(self.rows if rows is None else rows)),
            ("columns", ",".join(self.columns if columns is None else columns)),
        ]
        pairs += [(name, ",".join(codes)) for name, codes in self.filters.items()]
        return pairs + self.scope.params()

    def api_params(self) -> list[tuple[str, str]]:
        return _api_params(self.group_by, self.filters, self.scope)

    @property
    def sdmx_blocked(self) -> list[str]:
        """Dimensions summed over several chosen codes: SDMX has no code for such a sum."""
        return sorted(name for name, codes in self.filters.items() if name not in self.group_by and len(codes) > 1)


def _check_grouping(
    unit: str, rows: tuple[str, ...], columns: tuple[str, ...], dimensions: Mapping[str, object]
) -> None:
    if len(rows) > MAX_ROWS or len(columns) > MAX_COLUMNS or len(rows) + len(columns) > MAX_DIMENSIONS:
        raise InvalidQuery(
            _(
                "the custom table groups by at most %(max)s dimensions, at most %(rows_max)s as rows and "
                "%(columns_max)s as columns; got rows %(rows)s and columns %(columns)s"
            )
            % {
                "max": MAX_DIMENSIONS,
                "rows_max": MAX_ROWS,
                "columns_max": MAX_COLUMNS,
                "rows": ",".join(rows) or _("(none)"),
                "columns": ",".join(columns) or _("(none)"),
            }
        )
    if columns and not rows:
        raise InvalidQuery(_("columns need rows: choose the row dimension first"))
    for name in rows + columns:
        if name != PERIOD and name not in dimensions:
            raise InvalidQuery(
                _("no %(unit)s table has the dimension %(dimension)r; choose among period, %(dimensions)s")
                % {"unit": unit, "dimension": name, "dimensions": ", ".join(dimensions)}
            )
    repeated = sorted({name for name in rows + columns if (rows + columns).count(name) > 1})
    if repeated:
        raise InvalidQuery(
            _("%(dimensions)s is chosen more than once: a dimension is either a row or a column")
            % {"dimensions": ", ".join(repeated)}
        )


# ---------------------------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class PivotTotals:
    """One kind of total (per row, per column, overall): its estimates by key, or why it cannot be answered."""

    values: Mapping[Key, Estimate]
    refused: str | None = None

    def get(self, key: Key) -> Estimate | None:
        return self.values.get(key)


@dataclass(frozen=True, slots=True)
class PivotView:
    answer: EstimatesAnswer
    #: (name, label) of the row and column dimensions
    row_dimensions: tuple[tuple[str, str], ...]
    column_dimensions: tuple[tuple[str, str], ...]
    #: the keys (codes) of each row and column, with their labels, in code-list order
    rows: tuple[tuple[Key, tuple[str, ...]], ...]
    columns: tuple[tuple[Key, tuple[str, ...]], ...]
    cells: Mapping[tuple[Key, Key], Estimate]
    row_totals: PivotTotals | None
    column_totals: PivotTotals | None
    total: PivotTotals | None

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.answer.checkpoint.size, self.answer.checkpoint.root_hash, self.answer.generated_at)

    @property
    def period(self) -> tuple[str, str]:
        return self.answer.question.period_from, self.answer.question.period_to

    def cell(self, row: Key, column: Key) -> Estimate:
        return self.cells.get((row, column)) or Estimate.of(None)


TotalAnswer = Callable[[tuple[str, ...]], EstimatesAnswer]


def pivot_view(form: PivotForm, answer: EstimatesAnswer, *, labels: Labels, total: TotalAnswer) -> PivotView:
    """The cells of ``answer`` laid out as ``form`` asks, and the totals ``total(group_by)`` answers (a question
    the releases cannot answer comes back as a refusal to show, not an error)."""
    if len(answer.rows) > MAX_CELLS:
        raise InvalidQuery(
            _(
                "this table has %(cells)s cells; the page shows at most %(max)s: filter codes, group by fewer "
                "dimensions or shorten the months (the downloads below have every cell)"
            )
            % {"cells": format_count(len(answer.rows)), "max": format_count(MAX_CELLS)}
        )
    by_key = {_key(row, form.group_by): row for row in answer.rows}
    rows = _keys([key[: len(form.rows)] for key in by_key], form.rows, labels)
    columns = _keys([key[len(form.rows) :] for key in by_key], form.columns, labels)
    cells = {(key[: len(form.rows)], key[len(form.rows) :]): Estimate.of(row) for key, row in by_key.items()}
    totals: dict[str, PivotTotals] = {}
    for kind, group_by in form.total_questions().items():
        try:
            found = total(group_by)
        except HubError as e:
            if e.status_code >= 500:
                raise
            totals[kind] = PivotTotals(MappingProxyType({}), str(e))
            continue
        totals[kind] = PivotTotals(MappingProxyType({_key(row, group_by): Estimate.of(row) for row in found.rows}))
    return PivotView(
        answer=answer,
        row_dimensions=tuple((name, _dimension_label(labels, name)) for name in form.rows),
        column_dimensions=tuple((name, _dimension_label(labels, name)) for name in form.columns),
        rows=rows,
        columns=columns,
        cells=MappingProxyType(cells),
        row_totals=totals.get("rows"),
        column_totals=totals.get("columns"),
        total=totals.get("all"),
    )


def _key(row: EstimateRow, group_by: Sequence[str]) -> Key:
    return tuple(row.keys[name] for name in group_by)


def _keys(found: Sequence[Key], names: Sequence[str], labels: Labels) -> tuple[tuple[Key, tuple[str, ...]], ...]:
    """The distinct keys, ordered as the answer lists codes (code-list order, months in order)."""
    order = [{code: n for n, code in enumerate(dict.fromkeys(key[i] for key in found))} for i in range(len(names))]
    keys = sorted(dict.fromkeys(found), key=lambda key: tuple(order[i][code] for i, code in enumerate(key)))
    return tuple((key, tuple(_code_label(labels, names[i], code) for i, code in enumerate(key))) for key in keys)


def _dimension_label(labels: Labels, name: str) -> str:
    return _("Month") if name == PERIOD else labels.dimension(name)


def _code_label(labels: Labels, name: str, code: str) -> str:
    return code if name == PERIOD else labels.code(name, code)
