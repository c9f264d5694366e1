# SPDX-License-Identifier: Apache-2.0
"""Text from the database made safe for the operator's terminal: one helper for every list the CLI prints.

Hotline names, token labels, witness names, URLs and errors, revocation reasons: anyone who can name a thing
(a hotline's enrolment request, an admin token, a witness's answer) chooses these characters. Printed as they are,
``ESC [ 2 J`` clears the operator's screen, an OSC 52 sequence writes their clipboard, a bidi override makes
``tsh_evil`` read as something else, and ``[red]`` is rich markup that styles what follows. So:

* :func:`printable` replaces every control character (C0, DEL, C1), every bidi control and line or paragraph
  separator with a visible escape (``\\x1b``, ``\\u202e``), as Python's ``repr`` would;
* :func:`cell` wraps that in a rich :class:`~rich.text.Text`, which rich never reads as markup;
* :func:`markup_safe` is :func:`printable` with rich markup escaped, for f-strings given to ``Console.print``.

>>> printable("Hotline\\x1b[2J \\u202egnp.exe")
'Hotline\\\\x1b[2J \\\\u202egnp.exe'
>>> markup_safe("[red]alert[/red]")
'\\\\[red]alert\\\\[/red]'

The database keeps what was sent (old rows exist, and the JSON output stays exact); only what reaches a terminal
is escaped.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from rich.markup import escape
from rich.text import Text

__all__ = ["cell", "markup_safe", "printable"]

#: Bidirectional formatting characters (Unicode TR9): they reorder what the operator reads.
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(character: str) -> bool:
    return character in _BIDI or unicodedata.category(character) in ("Cc", "Zl", "Zp")


def _escaped(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: str) -> str:
    """``value`` with every control, bidi and line-separator character shown as an escape."""
    return "".join(_escaped(c) if _unsafe(c) else c for c in value)


def cell(value: str) -> Text:
    """A table cell or line that shows ``value`` literally: escaped controls, no markup."""
    return Text(printable(value))


def markup_safe(value: str) -> str:
    """``value`` to put inside rich markup (an f-string given to ``Console.print``)."""
    return escape(printable(value))
