# SPDX-License-Identifier: Apache-2.0
"""Text compared as a person reads it: Unicode normalisation, and look-alike letters of other scripts.

>>> normal("Cetăţenie") == normal("Cetățenie")            # cedilla and comma below: one Romanian letter
True
>>> look_alike("жінкa", ["жінка", "чоловік"])           # a Latin "a" typed among Cyrillic letters
'жінка'
>>> difference("жінкa", "жінка")
"Latin 'a' (U+0061) where 'жінка' has Cyrillic 'а' (U+0430)"

**Normalisation** (:func:`normal`): Unicode NFC (a letter typed as a base letter and a combining accent is the
same letter as its precomposed form), and the Romanian letters with a cedilla (``ş ţ Ş Ţ``, what older Windows
keyboards and code page 1250 write) read as the same letters with a comma below (``ș ț Ș Ț``, the correct ones).
Export headers, the mapping file's column names and values, and the cells of coded fields are compared after it.

**Look-alikes** (:func:`look_alike`): a value that is not accepted, but that becomes an accepted one when letters
that look the same in another script are read as one (Latin ``a`` and Cyrillic ``а``, Latin ``i`` and Ukrainian
``і``, Latin ``C`` and Cyrillic ``С``, ...) and case is ignored, is almost surely that value typed on the wrong
keyboard layout. It is still refused, never silently accepted, but the error names the value it resembles. The
table below holds the letters of Latin, Cyrillic and Greek that share a shape in common fonts (after Unicode's
confusables list, restricted to these scripts and to letters a keyboard of the region types).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Final

from node.i18n import N_, Text

__all__ = ["difference", "look_alike", "normal", "skeleton"]

_ROMANIAN: Final = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})
#: Cyrillic and Greek letters that look like a Latin letter, and that letter.
_SHAPES: Final = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ї": "ï", "ё": "ë",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W", "Ї": "Ï", "Ё": "Ë",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "κ": "k", "τ": "t", "ι": "i", "υ": "u",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
_SKELETON: Final = str.maketrans(_SHAPES)


def normal(text: str) -> str:
    """``text`` in NFC, with the Romanian cedilla letters read as comma-below letters."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text).translate(_ROMANIAN)


def skeleton(text: str) -> str:
    """What ``text`` looks like: normalised, look-alike letters read as Latin, case ignored."""
    return normal(text).translate(_SKELETON).casefold()


def look_alike(value: str, candidates: Iterable[str]) -> str | None:
    """The one candidate that looks like ``value`` (same :func:`skeleton`) without being it, else ``None``."""
    shape = skeleton(value)
    found = {c for c in candidates if c != value and skeleton(c) == shape}
    return found.pop() if len(found) == 1 else None


def difference(value: str, resembled: str) -> str:
    """Where ``value`` differs from the value it looks like: the first differing letter and its script."""
    a, b = normal(value), normal(resembled)
    if len(a) == len(b):
        for x, y in zip(a, b, strict=True):
            if x != y:
                return Text(
                    N_("%(letter)s where %(other)s has %(its)s"),
                    letter=_letter(x),
                    other=repr(resembled),
                    its=_letter(y),
                )
    return Text(
        N_("other letters than %(other)s (case, or letters of another alphabet that look alike)"), other=repr(resembled)
    )


def _letter(char: str) -> str:
    script = unicodedata.name(char, "UNKNOWN").split()[0].capitalize()
    return f"{script} {char!r} (U+{ord(char):04X})"
