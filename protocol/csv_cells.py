# SPDX-License-Identifier: Apache-2.0
"""The text of a cell in the hub's CSV answers, and how a reader gets the value back.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula, so
the hub writes such text after an apostrophe, which spreadsheets show as text (OWASP's CSV injection advice). So that
a reader can always undo it, text that itself starts with an apostrophe gets one too: a reader drops exactly one
leading apostrophe, and gets back exactly what the hub meant (a base64 checkpoint root starts with ``+`` about once
in 64 hubs). Numbers and booleans are never escaped.

>>> escape_cell("=HYPERLINK(1)"), escape_cell("+BBS4"), escape_cell("'quoted"), escape_cell("UA")
("'=HYPERLINK(1)", "'+BBS4", "''quoted", 'UA')
>>> [unescape_cell(escape_cell(text)) for text in ("=1+1", "+BBS4", "'quoted", "UA", "")]
['=1+1', '+BBS4', "'quoted", 'UA', '']
"""

from __future__ import annotations

from typing import Final

__all__ = ["FORMULA_PREFIXES", "escape_cell", "unescape_cell"]

#: What a spreadsheet reads as the start of a formula.
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED: Final = (*FORMULA_PREFIXES, "'")


def escape_cell(text: str) -> str:
    """``text`` as the hub writes it in a CSV cell: after an apostrophe when a spreadsheet would run it, or when it
    starts with one."""
    return "'" + text if text.startswith(_ESCAPED) else text


def unescape_cell(cell: str) -> str:
    """The text the hub meant by ``cell``: one leading apostrophe dropped."""
    return cell[1:] if cell.startswith("'") else cell
