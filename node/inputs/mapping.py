# SPDX-License-Identifier: Apache-2.0
"""The column mapping file: how an export that does not use HTCDS names and values becomes one that does.

A mapping file is TOML (read with :mod:`tomllib`) with up to three tables; ``node/inputs/example-mapping.toml``
shows each of them::

    [options]                      # all optional
    encoding = "cp1251"            # the export's text encoding (--encoding on the command line wins)
    delimiter = ";"                # CSV delimiter: "," ";" "\\t" or "|" (default: guessed from the header)
    date_format = "%d.%m.%Y"       # strptime format of every date field (default: YYYY-MM-DD)
    separators = [";", "|"]        # what separates the values of a multiselect cell (default: ; and |)

    [columns]                      # export column -> HTCDS or ext_ field ("" ignores the column)
    "Nr sprawy" = "ext_CaseID"
    "Płeć" = "prs_Gender"

    [values.prs_Gender]            # export value -> HTCDS value, taxonomy code, list of them, or "" (missing)
    "K" = "Feminine"
    "M" = "M"                      # a taxonomy code of the gender dimension works too

Rules, each checked when the file is loaded (a broken mapping is a :class:`~node.inputs.errors.MappingError`
listing every problem): a ``[columns]`` target must be a field the node reads (see :mod:`node.inputs.fields`), and
no two columns may map to the same field. ``[values.<field>]`` exists only for coded and picklist fields (dates and
identifiers have no value list). A target value is accepted if the taxonomy's input rules accept it for that field
(for a country field: any ISO 3166-1 alpha-2 code, XX, ZZ, ...); or, for other coded fields, if it is a code of a
dimension that reads the field and exactly one meaning leads to it: ``"M"`` for ``prs_Gender`` becomes
``Masculine``, but ``"labour"`` for ``vic_TypeOfExploitation`` is refused because ``ForcedLabour`` and ``ChildLabour``
both give it and differ in ``exploitation_type``. Source values are compared after stripping white space, and the
mapping applies to a whole cell first, then to each value of a multiselect cell. Column names and source values are
compared after Unicode normalisation (:func:`node.inputs.text.normal`: NFC, and Romanian ``ş ţ`` read as ``ș ț``),
so that ``"Cetăţenie"`` in an export matches ``"Cetățenie"`` in the mapping.

A target ``"?"`` (in ``[columns]`` or ``[values.<field>]``) is what ``tipshare-node mapping init`` writes where the
officer must decide; a mapping that still holds one is refused, naming each place.
"""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Protocol

from node.i18n import N_, Text
from node.inputs.errors import InputProblem, MappingError, ProblemLog
from node.inputs.fields import FieldCatalog, FieldKind, InputField
from node.inputs.readers import DELIMITERS
from node.inputs.rules import codes_for
from node.inputs.text import normal

__all__ = ["DEFAULT_SEPARATORS", "UNDECIDED", "ColumnMapping", "load_mapping", "parse_mapping"]

#: What separates the values of a multiselect cell unless the mapping says otherwise.
DEFAULT_SEPARATORS: Final = (";", "|")
_OPTIONS: Final = frozenset({"encoding", "delimiter", "date_format", "separators"})
_TABLES: Final = frozenset({"options", "columns", "values"})
_MAX_MAPPING_BYTES: Final = 4 * 1024 * 1024
#: The placeholder ``mapping init`` writes for a decision the officer must make.
UNDECIDED: Final = "?"


class _Report(Protocol):
    def __call__(self, where: str | None, expected: str, value: object = None, /) -> None: ...


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A validated mapping file. ``values[field][source value]`` is a tuple of accepted values (empty: missing)."""

    source: str = "(no mapping)"
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    values: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    separators: tuple[str, ...] = DEFAULT_SEPARATORS

    def field_for(self, column: str) -> str:
        """The field a column of the export carries: its mapped name, else its own name (``""``: ignored).
        Column names are compared after :func:`~node.inputs.text.normal`."""
        return self.columns.get(normal(column), column)


def load_mapping(path: Path, *, catalog: FieldCatalog) -> ColumnMapping:
    """Read and validate a mapping file (UTF-8 TOML); raises :class:`MappingError` naming every problem."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_MAPPING_BYTES + 1)
    except OSError as e:
        raise MappingError(
            [InputProblem(path.name, None, None, Text(N_("a readable file (%(reason)s)"), reason=e.strerror))]
        ) from None
    if len(data) > _MAX_MAPPING_BYTES:
        raise MappingError(
            [InputProblem(path.name, None, None, Text(N_("at most %(limit)s bytes"), limit=f"{_MAX_MAPPING_BYTES:,}"))]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MappingError(
            [InputProblem(path.name, None, None, Text(N_("UTF-8 text (TOML files are UTF-8)")))]
        ) from None
    return parse_mapping(text, catalog=catalog, source=path.name)


def parse_mapping(text: str, *, catalog: FieldCatalog, source: str = "mapping") -> ColumnMapping:
    """Validate a mapping given as TOML text (see the module docstring)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MappingError(
            [InputProblem(source, None, None, Text(N_("valid TOML (%(error)s)"), error=str(e)))]
        ) from None
    problems = ProblemLog()

    def problem(where: str | None, expected: str, value: object = None) -> None:
        shown = None if value is None else str(value)
        problems.add(InputProblem(source, None, where, expected, shown, row_label="table"))

    for key in sorted(set(document) - _TABLES):
        problem(f"[{key}]", Text(N_("only the tables [options], [columns] and [values.<field>]")))
    options = _table(document, "options", problem)
    columns = _columns(_table(document, "columns", problem), catalog, problem)
    values: dict[str, Mapping[str, tuple[str, ...]]] = {}
    for name, table in _table(document, "values", problem).items():
        where = f"[values.{name}]"
        target = catalog.get(name)
        if target is None:
            hint = (
                Text(
                    N_(" (the export column %(column)s maps to %(field)s: use that)"),
                    column=repr(name),
                    field=columns[name],
                )
                if columns.get(name)
                else ""
            )
            problem(
                where,
                Text(N_("a field name the node reads%(hint)s: %(names)s"), hint=hint, names=", ".join(catalog.names)),
            )
        elif target.kind not in (FieldKind.CODE, FieldKind.CHOICE):
            problem(
                where,
                Text(
                    N_("a coded or picklist field; %(field)s holds %(kind)ss, which have no value list"),
                    field=name,
                    kind=target.kind.value,
                ),
            )
        elif not isinstance(table, dict):
            problem(where, Text(N_("a table of export value = HTCDS value")))
        else:
            values[name] = MappingProxyType(_values(where, table, target, problem))
    result = ColumnMapping(
        source=source,
        columns=MappingProxyType(columns),
        values=MappingProxyType(values),
        encoding=_option_encoding(options, problem),
        delimiter=_option_delimiter(options, problem),
        date_format=_option_date_format(options, problem),
        separators=_option_separators(options, problem),
    )
    for key in sorted(set(options) - _OPTIONS):
        problem(f"[options] {key}", Text(N_("only the options %(options)s"), options=", ".join(sorted(_OPTIONS))))
    problems.raise_if_any(MappingError)
    return result


def _table(document: Mapping[str, Any], key: str, problem: _Report) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        problem(f"[{key}]", Text(N_("a TOML table")))
        return {}
    return value


def _columns(table: Mapping[str, Any], catalog: FieldCatalog, problem: _Report) -> dict[str, str]:
    result: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for column, target in table.items():
        where = f"[columns] {column}"
        if not isinstance(target, str):
            problem(where, Text(N_('a field name (a string), or "" to ignore the column')))
            continue
        target = target.strip()
        if target == UNDECIDED:
            problem(
                where,
                Text(
                    N_(
                        'a decision instead of "?" (written by `tipshare-node mapping init` where you must choose): '
                        'the field this column holds, or "" to ignore the column'
                    )
                ),
            )
            continue
        if target and catalog.get(target) is None:
            problem(where, Text(N_("a field name the node reads: %(names)s"), names=", ".join(catalog.names)), target)
            continue
        if target and target in claimed:
            problem(
                where,
                Text(
                    N_("one column per field; %(column)s already maps to %(field)s"),
                    column=repr(claimed[target]),
                    field=target,
                ),
                target,
            )
            continue
        if target:
            claimed[target] = column.strip()
        result[normal(column.strip())] = target
    return result


def _values(where: str, table: Mapping[str, Any], target: InputField, problem: _Report) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for source_value, value in table.items():
        here = f"{where} {source_value}"
        items = value if isinstance(value, list) else [value]
        resolved: list[str] = []
        for item in items:
            if not isinstance(item, str):
                problem(here, Text(N_('a value (a string), a list of values, or "" for missing')))
                continue
            item = item.strip()
            if not item:
                continue
            if item == UNDECIDED:
                problem(
                    here,
                    Text(
                        N_(
                            'a decision instead of "?" (written by `tipshare-node mapping init` where you must '
                            'choose): a value %(field)s accepts, a list of them, or "" (not recorded)'
                        ),
                        field=target.name,
                    ),
                )
                continue
            found = _resolve(item, target)
            if isinstance(found, str):
                resolved.append(found)
            else:
                problem(here, found[0], item)
        key = normal(source_value.strip())
        if key in result:
            problem(here, Text(N_("each export value once (after removing surrounding white space)")))
        result[key] = tuple(dict.fromkeys(resolved))
    return result


def _resolve(value: str, target: InputField) -> str | tuple[str]:
    """The accepted input value ``value`` stands for, or ``(what was expected,)``."""
    if target.accepts(value):
        return value.upper() if target.country else value
    if target.kind is FieldKind.CHOICE or target.country:
        return (target.expected,)
    candidates: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for dimension in target.dimensions:
        if value not in dimension.code_names:
            continue
        for field_map in dimension.input.fields:
            if field_map.name != target.name:
                continue
            for candidate in field_map.values:
                if not target.accepts(candidate):
                    continue
                record = {target.name: (candidate,)}
                signature = tuple(codes_for(d, record) for d in target.dimensions)
                if any(value in codes for codes in signature):
                    candidates.setdefault(signature, []).append(candidate)
    if len(candidates) == 1:
        return next(iter(candidates.values()))[0]
    if candidates:
        options = sorted({c for group in candidates.values() for c in group})
        return (
            Text(
                N_("one HTCDS value: several lead to this code with different meanings (%(values)s)"),
                values=", ".join(options),
            ),
        )
    return (
        Text(
            N_("%(expected)s; or a code of a dimension reading %(field)s"), expected=target.expected, field=target.name
        ),
    )


def _option_encoding(options: Mapping[str, Any], problem: _Report) -> str | None:
    value = options.get("encoding")
    if value is None:
        return None
    try:
        return codecs.lookup(value).name if isinstance(value, str) else None
    except LookupError:
        pass
    problem("[options] encoding", Text(N_("a text encoding such as utf-8, cp1251 or cp1250")), value)
    return None


def _option_delimiter(options: Mapping[str, Any], problem: _Report) -> str | None:
    value = options.get("delimiter")
    if value is None or value in DELIMITERS:
        return value
    problem("[options] delimiter", Text(N_('one of ",", ";", "\\t" or "|"')), value)
    return None


def _option_date_format(options: Mapping[str, Any], problem: _Report) -> str | None:
    value = options.get("date_format")
    if value is None:
        return None
    sample = date(2025, 12, 31)
    try:
        if isinstance(value, str) and datetime.strptime(sample.strftime(value), value).date() == sample:
            return value
    except ValueError:
        pass
    problem(
        "[options] date_format",
        Text(N_('a strptime format with day, month and year, such as "%%d.%%m.%%Y"')),
        value,
    )
    return None


def _option_separators(options: Mapping[str, Any], problem: _Report) -> tuple[str, ...]:
    value = options.get("separators")
    if value is None:
        return DEFAULT_SEPARATORS
    items = [value] if isinstance(value, str) else value
    if isinstance(items, list) and items and all(isinstance(s, str) and len(s) == 1 and s.strip() for s in items):
        return tuple(items)
    problem("[options] separators", Text(N_('a list of single characters, such as [";", "|"]')), value)
    return DEFAULT_SEPARATORS
