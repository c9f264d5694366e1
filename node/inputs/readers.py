# SPDX-License-Identifier: Apache-2.0
"""Read a CSV or JSON export into rows of cells, with clear errors for every way a file can be broken.

>>> import tempfile, pathlib
>>> directory = tempfile.TemporaryDirectory()
>>> path = pathlib.Path(directory.name) / "cases.csv"
>>> _ = path.write_bytes("ext_PersonID;prs_Gender;Notes\\r\\n1;Feminine;Київ\\r\\n".encode("cp1251"))
>>> source = open_input(path)
>>> source.format, source.encoding, source.columns
('csv', 'cp1251', ('ext_PersonID', 'prs_Gender', 'Notes'))
>>> [(number, cells) for number, cells in source.rows()]
[(2, ['1', 'Feminine', 'Київ'])]
>>> directory.cleanup()

**Format.** ``.json`` files are JSON; ``.csv``, ``.tsv`` and ``.txt`` are CSV; anything else is JSON if its first
character is ``[`` or ``{``, else CSV. JSON is a list of objects, or an object whose ``records``, ``cases`` or
``contacts`` key holds that list; a value may be a string, an integer, ``null`` (missing) or a list of them (a
multiselect field). CSV has a header row; its delimiter (``,``, ``;``, tab or ``|``) is the one that occurs most
often in the header line, unless the mapping file sets it.

**Encoding.** In this order: the encoding given (``--encoding``, or the mapping file's ``encoding``); a byte-order
mark (UTF-8, UTF-16); UTF-8. If the bytes are not UTF-8 they are taken to be an export from a Windows code page, as
is common in the region, and the node decides between Windows-1251 (Cyrillic) and Windows-1250 (Central European)
from the words in the file: Cyrillic words consist of high bytes only, while Central European words mix diacritics
(high bytes) with ASCII letters. When the file does not tell clearly (too few words, or both shapes), the node
refuses to guess and asks for ``--encoding``. A wrong guess could not go unnoticed anyway: coded values are ASCII,
and a mapping file's non-ASCII source values would not match text decoded with the wrong code page.

**Cells.** Cells are passed on as read; stripping, splitting multiselect values and checking happen in
:mod:`node.inputs.records`. Nothing here treats ``NA`` (Namibia), ``N/A`` or ``null`` strings as missing: only an
empty cell (or JSON ``null``) is missing. A cell starting with ``=``, ``+``, ``-`` or ``@`` (a spreadsheet formula)
is read as text like any other; it is never evaluated, and in a coded field it is an invalid value.

**Limits.** A file over :attr:`Limits.max_bytes`, a row over :attr:`Limits.max_columns` cells, more than
:attr:`Limits.max_rows` rows, or a CSV cell over 128 KiB (the csv module's limit) is refused with an
:class:`~node.inputs.errors.InputError`, never a crash or a partial read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NoReturn, TypeAlias

from node.inputs.errors import InputProblem, ProblemLog

__all__ = ["DELIMITERS", "Cell", "InputSource", "Limits", "decode", "open_input"]

#: A cell as read: text, missing (``None``), or a JSON list of values.
Cell: TypeAlias = str | list[str] | None
#: Delimiters a CSV export may use.
DELIMITERS: Final = (",", ";", "\t", "|")
_CSV_SUFFIXES: Final = frozenset({".csv", ".tsv", ".txt"})
_JSON_LIST_KEYS: Final = ("records", "cases", "contacts")
_WORD = re.compile(rb"[A-Za-z\x80-\xff]+")
_ASCII_LETTER = re.compile(rb"[A-Za-z]")
#: How many times more words of one shape than of the other make the code page clear.
_CLEAR_MAJORITY: Final = 3


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits of an input file; exceeding one is an :class:`InputError`, not a crash."""

    max_bytes: int = 512 * 1024 * 1024
    max_rows: int = 5_000_000
    max_columns: int = 1000


class InputSource:
    """A decoded input file: its columns and an iterator over its rows.

    Rows that cannot be used (a CSV row with more or fewer cells than the header, a JSON item that is not an
    object) are reported to ``problems`` and skipped; a file that cannot be read further raises
    :class:`InputError` carrying every problem found until then.
    """

    def __init__(
        self,
        *,
        name: str,
        format: Literal["csv", "json"],
        encoding: str,
        columns: tuple[str, ...],
        estimated_rows: int,
        rows: Iterator[tuple[int, Sequence[Cell]]],
        problems: ProblemLog,
    ) -> None:
        self.name = name
        self.format = format
        self.encoding = encoding
        self.columns = columns
        self.estimated_rows = estimated_rows
        self.problems = problems
        self.row_label = "row" if format == "csv" else "record"
        self._rows = rows

    def __repr__(self) -> str:
        return f"InputSource(name={self.name!r}, format={self.format!r}, encoding={self.encoding!r})"

    def rows(self) -> Iterator[tuple[int, Sequence[Cell]]]:
        """``(row number, cells aligned with columns)``; row numbers are 1-based, a CSV header being row 1."""
        return self._rows


def open_input(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    limits: Limits | None = None,
    problems: ProblemLog | None = None,
) -> InputSource:
    """Read and decode ``path`` (whole, within ``limits``); raises :class:`InputError` if it cannot be read."""
    limits = limits or Limits()
    problems = problems if problems is not None else ProblemLog()
    name = path.name
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            _fatal(problems, name, f"a file of at most {limits.max_bytes:,} bytes (this one has {size:,})")
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as e:
        _fatal(problems, name, f"a readable file ({e.strerror or type(e).__name__})")
    if len(data) > limits.max_bytes:
        _fatal(problems, name, f"a file of at most {limits.max_bytes:,} bytes")
    text, used = decode(data, name=name, encoding=encoding, problems=problems)
    if _is_json(path, text):
        return _json_source(name, text, used, limits, problems)
    return _csv_source(name, text, used, delimiter, limits, problems)


def decode(
    data: bytes, *, name: str, encoding: str | None = None, problems: ProblemLog | None = None
) -> tuple[str, str]:
    """``(text, encoding used)``; see the module docstring for the order in which encodings are tried."""
    problems = problems if problems is not None else ProblemLog()
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            _fatal(problems, name, f"a known text encoding such as utf-8, cp1251 or cp1250, not {encoding!r}")
        if data.startswith(codecs.BOM_UTF8):
            if codec != "utf-8":
                _fatal(problems, name, f"{encoding} text, but the file starts with a UTF-8 byte-order mark")
            codec = "utf-8-sig"
        return _decode_as(data, codec, name, problems), codec
    if data.startswith(codecs.BOM_UTF8):
        return _decode_as(data, "utf-8-sig", name, problems), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(data, "utf-16", name, problems), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guess = guess_windows_codepage(data)
    if guess is None:
        _fatal(
            problems,
            name,
            "UTF-8 text; this file is not UTF-8, and it does not tell clearly whether it is Windows-1251 (Cyrillic) "
            "or Windows-1250 (Central European): pass --encoding cp1251 or --encoding cp1250",
        )
    return _decode_as(data, guess, name, problems), guess


def guess_windows_codepage(data: bytes) -> str | None:
    """``"cp1251"``, ``"cp1250"`` or ``None`` (unclear) for bytes that are not UTF-8; see the module docstring."""
    cyrillic = central = 0
    for word in _WORD.findall(data):
        if max(word) < 0x80:
            continue
        if _ASCII_LETTER.search(word):
            central += 1  # diacritics among ASCII letters: Łódź, Chișinău, příliš
        elif len(word) >= 3:
            cyrillic += 1  # three or more letters, all high bytes: Київ, Москва
    candidates = [c for c in ("cp1251", "cp1250") if _decodes(data, c)]
    if len(candidates) == 1:
        return candidates[0]
    if cyrillic and cyrillic >= _CLEAR_MAJORITY * central:
        return "cp1251"
    if central and central >= _CLEAR_MAJORITY * cyrillic:
        return "cp1250"
    return None


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _decode_as(data: bytes, codec: str, name: str, problems: ProblemLog) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        problems.add(
            InputProblem(name, line, None, f"{codec} text; byte {e.object[e.start]:#04x} on line {line} is not")
        )
        raise problems.error() from None


def _is_json(path: Path, text: str) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return True
    if suffix in _CSV_SUFFIXES:
        return False
    return text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{")


def _fatal(problems: ProblemLog, name: str, expected: str, row: int | None = None) -> NoReturn:
    problems.add(InputProblem(name, row, None, expected))
    raise problems.error()


# ---------------------------------------------------------------- CSV


def _csv_source(
    name: str, text: str, encoding: str, delimiter: str | None, limits: Limits, problems: ProblemLog
) -> InputSource:
    if "\x00" in text:
        row = text.count("\n", 0, text.index("\x00")) + 1
        _fatal(problems, name, "text; this file contains NUL characters (is it a spreadsheet, not a CSV export?)", row)
    first_line = text.split("\n", 1)[0]
    chosen = delimiter or max(DELIMITERS, key=lambda d: (first_line.count(d), -DELIMITERS.index(d)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=chosen, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        _fatal(problems, name, f"a CSV header row ({e})", 1)
    if not header or not any(cell.strip() for cell in header):
        _fatal(problems, name, "a header row naming the columns; the file is empty", 1)
    if len(header) > limits.max_columns:
        _fatal(problems, name, f"at most {limits.max_columns:,} columns (the header has {len(header):,})", 1)
    columns = tuple(cell.strip() or f"(column {i + 1})" for i, cell in enumerate(header))
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            problems.add(InputProblem(name, 1, column, "each column name once in the header; this one is repeated"))
        seen.add(column)
    if problems:
        raise problems.error()
    estimated = max(text.count("\n") - 1, 0)
    return InputSource(
        name=name,
        format="csv",
        encoding=encoding,
        columns=columns,
        estimated_rows=estimated,
        rows=_csv_rows(name, reader, len(columns), limits, problems),
        problems=problems,
    )


def _csv_rows(
    name: str, reader: Iterator[list[str]], width: int, limits: Limits, problems: ProblemLog
) -> Iterator[tuple[int, Sequence[Cell]]]:
    number = 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as e:
            _fatal(problems, name, f"well-formed CSV ({e}); the file cannot be read past this row", number + 1)
        if cells is None:
            return
        number += 1
        if number > limits.max_rows + 1:
            _fatal(problems, name, f"at most {limits.max_rows:,} rows", number)
        if len(cells) != width:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            problems.add(InputProblem(name, number, None, f"{width} cells like the header; this row has {len(cells)}"))
            continue
        yield number, cells


# ---------------------------------------------------------------- JSON


def _json_source(name: str, text: str, encoding: str, limits: Limits, problems: ProblemLog) -> InputSource:
    repeated: list[str] = []

    def no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
        result = dict(pairs)
        if len(result) != len(pairs) and not repeated:
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    repeated.append(key)
                    break
                seen.add(key)
        return result

    try:
        document = json.loads(text, object_pairs_hook=no_duplicate_keys)
    except json.JSONDecodeError as e:
        _fatal(problems, name, f"valid JSON ({e.msg} at line {e.lineno}, column {e.colno})")
    except (RecursionError, ValueError) as e:
        _fatal(problems, name, f"JSON this reader can hold ({type(e).__name__})")
    if repeated:
        _fatal(problems, name, f"each key once per JSON object; {repeated[0]!r} is repeated")
    records: object = document
    if isinstance(document, dict):
        keys = [k for k in _JSON_LIST_KEYS if k in document]
        records = document[keys[0]] if len(keys) == 1 else None
    if not isinstance(records, list):
        _fatal(problems, name, 'a JSON list of records, or an object with a "records", "cases" or "contacts" list')
    if len(records) > limits.max_rows:
        _fatal(problems, name, f"at most {limits.max_rows:,} records")
    columns: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            columns.update(dict.fromkeys(record))
            if len(columns) > limits.max_columns:
                _fatal(problems, name, f"at most {limits.max_columns:,} distinct keys over all records")
    return InputSource(
        name=name,
        format="json",
        encoding=encoding,
        columns=tuple(columns),
        estimated_rows=len(records),
        rows=_json_rows(name, records, tuple(columns), problems),
        problems=problems,
    )


def _json_rows(
    name: str, records: list[object], columns: tuple[str, ...], problems: ProblemLog
) -> Iterator[tuple[int, Sequence[Cell]]]:
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.add(InputProblem(name, number, None, "a JSON object", row_label="record"))
            continue
        cells: list[Cell] = []
        usable = True
        for column in columns:
            cell = _json_cell(record.get(column))
            if cell is False:
                problems.add(
                    InputProblem(
                        name, number, column, "a string, an integer, null, or a list of them", row_label="record"
                    )
                )
                usable = False
                cell = None
            cells.append(cell)
        if usable:
            yield number, cells


def _json_cell(value: object) -> Cell | Literal[False]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        items: list[str] = []
        for item in value:
            if isinstance(item, str):
                items.append(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                items.append(str(item))
            elif item is not None:
                return False
        return items
    return False
