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

**Format.** ``.json`` files are JSON, ``.jsonl`` and ``.ndjson`` JSON Lines (see :mod:`node.inputs.jsonfiles`);
``.csv``, ``.tsv`` and ``.txt`` are CSV; anything else is JSON if its first character is ``[`` or ``{``, else CSV.
CSV has a header row; its delimiter (``,``, ``;``, tab or ``|``) is the one that occurs most often in the header
line, unless the mapping file sets it. Line endings may be ``\\r\\n``, ``\\n`` or ``\\r``, mixed. A file with a
header and no row after it (or a JSON list without a record) is refused unless ``allow_empty`` is given (``prepare
--allow-empty``): an empty export is almost always a wrong export filter, and its release would spend budget on
nothing.

**Encoding** and **not text**: see :mod:`node.inputs.encodings` (UTF-8 with or without a byte-order mark,
UTF-16, the region's Windows code pages told apart from the words; spreadsheets, archives and damaged text refused
by name). The file is checked whole, then decoded as it is read: its decoded text is never held at once.

**Cells.** Cells are passed on as read; stripping, splitting multiselect values and checking happen in
:mod:`node.inputs.records`. Nothing here treats ``NA`` (Namibia), ``N/A`` or ``null`` strings as missing: only an
empty cell (or JSON ``null``) is missing. A cell starting with ``=``, ``+``, ``-`` or ``@`` (a spreadsheet formula)
is read as text like any other; it is never evaluated, and in a coded, date or identifier field it is an invalid
value (:mod:`node.inputs.cells`).

**Limits.** Only a regular file (or a pipe) is read. A file over :attr:`Limits.max_bytes`, a row over
:attr:`Limits.max_columns` cells, more than :attr:`Limits.max_rows` rows, or a CSV cell over 128 KiB (the csv
module's limit) is refused with an :class:`~node.inputs.errors.InputError`, never a crash or a partial read. The
byte limit bounds the memory ``prepare`` takes, which is some five to seven times the size of the export (measured
on synthetic exports: 60 MB of CSV, 278,000 rows, peak at about 410 MB; 180 MB of JSON at about 1 GB), so that even
the largest export stays under 2 GB: a CSV file is decoded as it is read (about 1.3 times its size while reading),
and most of the rest is the persons and their codes.
"""

from __future__ import annotations

import csv
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NoReturn, TypeAlias

from node.i18n import N_, Text
from node.inputs.encodings import decode, detect_encoding, guess_windows_codepage, sniff_text, text_stream
from node.inputs.errors import InputProblem, ProblemLog
from node.inputs.jsonfiles import EMPTY_EXPORT, JSON_LINES_SUFFIXES, json_rows, read_json

__all__ = ["DELIMITERS", "Cell", "InputSource", "Limits", "decode", "guess_windows_codepage", "open_input"]

#: A cell as read: text, missing (``None``), or a JSON list of values.
Cell: TypeAlias = str | list[str] | None
#: Delimiters a CSV export may use.
DELIMITERS: Final = (",", ";", "\t", "|")
_CSV_SUFFIXES: Final = frozenset({".csv", ".tsv", ".txt"})
#: The longest header line read to choose the delimiter (a longer one is still read whole by the csv module).
_MAX_HEADER_CHARS: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits of an input file; exceeding one is an :class:`InputError`, not a crash."""

    max_bytes: int = 256 * 1024 * 1024
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
        row_label: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.name = name
        #: The CSV delimiter read (``None`` for JSON).
        self.delimiter = delimiter
        self.format = format
        self.encoding = encoding
        self.columns = columns
        self.estimated_rows = estimated_rows
        self.problems = problems
        self.row_label = row_label or ("row" if format == "csv" else "record")
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
    allow_empty: bool = False,
) -> InputSource:
    """Read ``path`` (whole, within ``limits``) and check its text; raises :class:`InputError` if it cannot be read.

    A file without a single row is a problem (reported when the rows are read) unless ``allow_empty``."""
    limits = limits or Limits()
    problems = problems if problems is not None else ProblemLog()
    name = path.name
    try:
        status = path.stat()
        if not (stat.S_ISREG(status.st_mode) or stat.S_ISFIFO(status.st_mode)):
            _fatal(
                problems,
                name,
                Text(N_("a regular file with the export (this is a device, socket or other special file)")),
            )
        if status.st_size > limits.max_bytes:
            _fatal(
                problems,
                name,
                Text(
                    N_("a file of at most %(limit)s bytes (this one has %(size)s)"),
                    limit=f"{limits.max_bytes:,}",
                    size=f"{status.st_size:,}",
                ),
            )
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as e:
        _fatal(problems, name, Text(N_("a readable file (%(reason)s)"), reason=e.strerror or type(e).__name__))
    if len(data) > limits.max_bytes:
        _fatal(problems, name, Text(N_("a file of at most %(limit)s bytes"), limit=f"{limits.max_bytes:,}"))
    codec = detect_encoding(data, name=name, encoding=encoding, problems=problems)
    suffix = path.suffix.lower()
    if suffix == ".json" or suffix in JSON_LINES_SUFFIXES or _looks_like_json(suffix, data, codec):
        lines = suffix in JSON_LINES_SUFFIXES
        return _json_source(name, data, codec, limits, problems, lines=lines, allow_empty=allow_empty)
    return _csv_source(name, data, codec, delimiter, limits, problems, allow_empty=allow_empty)


def _looks_like_json(suffix: str, data: bytes, codec: str) -> bool:
    if suffix in _CSV_SUFFIXES:
        return False
    return sniff_text(data, codec).lstrip("\ufeff \t\r\n")[:1] in ("[", "{")


def _fatal(problems: ProblemLog, name: str, expected: str, row: int | None = None) -> NoReturn:
    problems.add(InputProblem(name, row, None, expected))
    raise problems.error()


# ---------------------------------------------------------------- CSV


def _csv_source(
    name: str,
    data: bytes,
    encoding: str,
    delimiter: str | None,
    limits: Limits,
    problems: ProblemLog,
    *,
    allow_empty: bool,
) -> InputSource:
    stream = text_stream(data, encoding)
    first_line = stream.readline(_MAX_HEADER_CHARS)
    stream.seek(0)
    chosen = delimiter or max(DELIMITERS, key=lambda d: (first_line.count(d), -DELIMITERS.index(d)))
    reader = csv.reader(stream, delimiter=chosen, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        _fatal(problems, name, Text(N_("a CSV header row (%(error)s)"), error=str(e)), 1)
    if not header or not any(cell.strip() for cell in header):
        _fatal(problems, name, Text(N_("a header row naming the columns; the file is empty")), 1)
    if len(header) > limits.max_columns:
        _fatal(
            problems,
            name,
            Text(
                N_("at most %(limit)s columns (the header has %(count)s)"),
                limit=f"{limits.max_columns:,}",
                count=f"{len(header):,}",
            ),
            1,
        )
    columns = tuple(cell.strip() or f"(column {i + 1})" for i, cell in enumerate(header))
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            problems.add(
                InputProblem(name, 1, column, Text(N_("each column name once in the header; this one is repeated")))
            )
        seen.add(column)
    if problems:
        raise problems.error()
    return InputSource(
        name=name,
        format="csv",
        encoding=encoding,
        columns=columns,
        estimated_rows=max(data.count(b"\n") - 1, 0),
        rows=_csv_rows(name, reader, len(columns), limits, problems, allow_empty=allow_empty),
        problems=problems,
        delimiter=chosen,
    )


def _csv_rows(
    name: str, reader: Iterator[list[str]], width: int, limits: Limits, problems: ProblemLog, *, allow_empty: bool
) -> Iterator[tuple[int, Sequence[Cell]]]:
    number = 1
    data_rows = 0
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as e:
            _fatal(
                problems,
                name,
                Text(N_("well-formed CSV (%(error)s); the file cannot be read past this row"), error=str(e)),
                number + 1,
            )
        if cells is None:
            break
        number += 1
        if number > limits.max_rows + 1:
            _fatal(problems, name, Text(N_("at most %(limit)s rows"), limit=f"{limits.max_rows:,}"), number)
        if len(cells) != width:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            problems.add(
                InputProblem(
                    name,
                    number,
                    None,
                    Text(N_("%(width)s cells like the header; this row has %(count)s"), width=width, count=len(cells)),
                )
            )
            data_rows += 1
            continue
        data_rows += 1
        yield number, cells
    if not data_rows and not allow_empty:
        problems.add(InputProblem(name, 2, None, EMPTY_EXPORT))


# ---------------------------------------------------------------- JSON


def _json_source(
    name: str, data: bytes, encoding: str, limits: Limits, problems: ProblemLog, *, lines: bool, allow_empty: bool
) -> InputSource:
    parsed = read_json(
        name,
        text_stream(data, encoding),
        lines=lines,
        allow_empty=allow_empty,
        max_rows=limits.max_rows,
        max_columns=limits.max_columns,
        problems=problems,
    )
    return InputSource(
        name=name,
        format="json",
        encoding=encoding,
        columns=parsed.columns,
        estimated_rows=len(parsed.records),
        rows=json_rows(name, parsed, problems),
        problems=problems,
        row_label=parsed.row_label,
    )
