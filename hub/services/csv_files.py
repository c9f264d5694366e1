# SPDX-License-Identifier: Apache-2.0
"""The hub's CSV: RFC 4180 with CRLF line ends, and every cell made safe to open in a spreadsheet.

Every CSV the hub serves (statistics, estimates, completeness, exports, the access log) is written by
:func:`write_csv`. Text a spreadsheet would run as a formula gets a leading apostrophe (:func:`csv_cell`, by
:mod:`protocol.csv_cells`, whose :func:`~protocol.csv_cells.unescape_cell` the auditor reads it back with); numbers
and booleans are written as the auditor reads them back (:mod:`auditor.file_lines`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from protocol.csv_cells import escape_cell

__all__ = ["csv_cell", "write_csv"]


def csv_cell(value: str | int | float | bool | None) -> str:
    """One CSV cell. Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell(-3), csv_cell(None), csv_cell(True)
    ("'=HYPERLINK(1)", '-3', '', 'true')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return escape_cell(value)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str | int | float | bool | None]]) -> str:
    """RFC 4180 CSV (CRLF line ends) with every cell passed through :func:`csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()
