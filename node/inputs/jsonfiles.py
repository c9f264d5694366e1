# SPDX-License-Identifier: Apache-2.0
"""JSON and JSON Lines exports: their records as rows of cells, with every broken shape named by record and field.

A JSON export is a list of objects, or an object whose ``records``, ``cases`` or ``contacts`` key holds that list.
A JSON Lines export (``.jsonl``, ``.ndjson``) holds one object per line; blank lines are skipped, and its records
are numbered by line. A value may be a string, an integer, ``null`` (missing) or a list of them (a multiselect
field); integers are read as their text, however long. Everything else is a problem naming the record (or line)
and the field: a nested object, a number with a fraction or an exponent (``2.5``, ``1e400``), ``NaN`` and
``Infinity`` (not JSON, but Python's parser accepts them), ``true``/``false``, and a key given twice in one object
(JSON leaves its meaning open, so the node refuses to pick one). An export without a single record is refused too:
it is almost always a wrong export filter (``allow_empty`` accepts it). JSON Lines are parsed line by line as they
are decoded; a JSON document is decoded whole, then parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, Literal, NoReturn, TextIO

from node.i18n import N_, Text
from node.inputs.errors import InputProblem, ProblemLog

__all__ = ["EMPTY_EXPORT", "JSON_LINES_SUFFIXES", "JSONRecords", "json_rows", "read_json"]

#: File name endings of JSON Lines exports.
JSON_LINES_SUFFIXES: Final = frozenset({".jsonl", ".ndjson"})
_LIST_KEYS: Final = ("records", "cases", "contacts")
_SHAPE: Final = Text(N_("a string, an integer, null, or a list of them"))
#: What an export without a single record lacks (the same words for CSV and JSON).
EMPTY_EXPORT: Final = Text(
    N_(
        "at least one record; this export has none (is the export filter right?). If there really is nothing to "
        "count in it, pass --allow-empty"
    )
)

Cell = str | list[str] | None


class _RepeatedKeys(dict[str, object]):
    """A JSON object in which a key occurs more than once (the first repeated key is kept in ``repeated``)."""

    repeated: str = ""


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _RepeatedKeys(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


class JSONRecords:
    """The records of a JSON or JSON Lines export, and the union of their keys (in order of first appearance)."""

    def __init__(self, records: list[tuple[int, object]], columns: tuple[str, ...], label: str) -> None:
        self.records = records
        self.columns = columns
        self.row_label = label


def read_json(
    name: str,
    stream: TextIO,
    *,
    lines: bool,
    allow_empty: bool,
    max_rows: int,
    max_columns: int,
    problems: ProblemLog,
) -> JSONRecords:
    """Parse an export (raises :class:`InputError` if the file as a whole is unusable; problems with single
    records go to ``problems`` and are reported when the rows are read)."""
    label = "line" if lines else "record"
    numbered = _lines(name, stream, problems) if lines else _document(name, stream.read(), problems)
    if not numbered and not problems and not allow_empty:
        _fatal(problems, name, EMPTY_EXPORT)
    if len(numbered) > max_rows:
        _fatal(problems, name, Text(N_("at most %(limit)s records"), limit=f"{max_rows:,}"))
    columns: dict[str, None] = {}
    for _, record in numbered:
        if isinstance(record, dict):
            columns.update(dict.fromkeys(record))
            if len(columns) > max_columns:
                _fatal(
                    problems,
                    name,
                    Text(N_("at most %(limit)s distinct keys over all records"), limit=f"{max_columns:,}"),
                )
    return JSONRecords(numbered, tuple(columns), label)


def json_rows(name: str, parsed: JSONRecords, problems: ProblemLog) -> Iterator[tuple[int, Sequence[Cell]]]:
    """``(record number, cells aligned with the columns)`` of every usable record; the others go to ``problems``."""
    label = parsed.row_label
    for number, record in parsed.records:
        if not isinstance(record, dict):
            problems.add(InputProblem(name, number, None, Text(N_("a JSON object")), row_label=label))
            continue
        if isinstance(record, _RepeatedKeys):
            expected = Text(N_("each key once per object; this one is repeated, so its value is ambiguous"))
            problems.add(InputProblem(name, number, record.repeated, expected, row_label=label))
            continue
        cells: list[Cell] = []
        usable = True
        for column in parsed.columns:
            cell = _cell(record.get(column))
            if cell is False:
                problems.add(InputProblem(name, number, column, _SHAPE, row_label=label))
                usable = False
                cell = None
            cells.append(cell)
        if usable:
            yield number, cells


def _parse(text: str) -> object:
    return json.loads(text, object_pairs_hook=_object, parse_int=str)


def _document(name: str, text: str, problems: ProblemLog) -> list[tuple[int, object]]:
    try:
        document = _parse(text)
    except json.JSONDecodeError as e:
        hint = (
            Text(N_(". If it holds one object per line (JSON Lines), name it .jsonl")) if e.msg == "Extra data" else ""
        )
        expected = Text(
            N_("valid JSON (%(error)s at line %(line)s, column %(column)s)%(hint)s"),
            error=e.msg,
            line=e.lineno,
            column=e.colno,
            hint=hint,
        )
        _fatal(problems, name, expected)
    except RecursionError:
        _fatal(problems, name, Text(N_("JSON this reader can hold (it is nested too deeply)")))
    if isinstance(document, _RepeatedKeys):
        _fatal(
            problems, name, Text(N_("each key once per JSON object; %(key)s is repeated"), key=repr(document.repeated))
        )
    records: object = document
    if isinstance(document, dict):
        keys = [k for k in _LIST_KEYS if k in document]
        records = document[keys[0]] if len(keys) == 1 else None
    if not isinstance(records, list):
        _fatal(
            problems,
            name,
            Text(N_('a JSON list of records, or an object with a "records", "cases" or "contacts" list')),
        )
    return list(enumerate(records, start=1))


def _lines(name: str, lines: Iterable[str], problems: ProblemLog) -> list[tuple[int, object]]:
    records: list[tuple[int, object]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append((number, _parse(line)))
        except json.JSONDecodeError as e:
            expected = Text(
                N_("one JSON object on each line (%(error)s at column %(column)s)"), error=e.msg, column=e.colno
            )
            problems.add(InputProblem(name, number, None, expected, row_label="line"))
        except RecursionError:
            problems.add(
                InputProblem(name, number, None, Text(N_("a JSON object nested less deeply")), row_label="line")
            )
    return records


def _cell(value: object) -> Cell | Literal[False]:
    """A value as a cell (integers were parsed as their text), or ``False`` for a value of another shape."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        items: list[str] = []
        for item in value:
            if isinstance(item, str):
                items.append(item)
            elif item is not None:
                return False
        return items
    return False


def _fatal(problems: ProblemLog, name: str, expected: str) -> NoReturn:
    problems.add(InputProblem(name, None, None, expected))
    raise problems.error()
