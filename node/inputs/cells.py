# SPDX-License-Identifier: Apache-2.0
"""Check and normalise the cells of one field: the values a row records, before rows become persons.

A cell is stripped of surrounding white space; an empty cell is missing (``NA`` is Namibia, never missing). The
mapping file's value map applies to the whole cell, else the cell is split on the separators (``;`` and ``|``)
into several values, each stripped and mapped. Only coded fields (those the taxonomy's input rules read) are split:
a separator in a date, picklist or identifier makes it invalid. A value that starts like a spreadsheet formula
(``=``, ``+``, ``-``, ``@``, also after a tab or carriage return) is never split: in a coded, picklist or date field
it is one invalid value, reported as it is. An identifier is compared, never interpreted, but one that is a formula
(``=...``, ``@...``, or ``+``/``-`` followed by anything but the digits, spaces and ``()./-`` of a phone number or a
number) is invalid too: it is a formula that reached the export instead of its value, or an injection attempt.

Each field's results are remembered per distinct cell (exports repeat a few values many thousand times), except for
identifiers, which hardly repeat. Values of coded, picklist and date fields are compared after Unicode normalisation
(:func:`node.inputs.text.normal`); a value that is refused but looks like a value of the mapping or of the taxonomy
(:func:`node.inputs.text.look_alike`: Latin and Cyrillic letters of one shape mixed up) is refused with "did you
mean" and the value it resembles (:meth:`CellCheck.expected_for`). Which of the mapping's values matched a cell is
recorded for the summary ``prepare`` shows (:attr:`CellCheck.used`).
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Final, TypeAlias

from node.i18n import N_, Text
from node.inputs.fields import FieldKind, InputField
from node.inputs.mapping import ColumnMapping
from node.inputs.readers import Cell
from node.inputs.text import difference, look_alike, normal

__all__ = ["INVALID", "MAX_ID_CHARS", "UNKNOWN", "CellCheck", "Invalid", "Slot", "Values"]

#: Stands for a value the taxonomy does not list, read with ``allow_unknown``.
UNKNOWN: Final = "\x00unknown"
#: The values recorded in a code field, in recorded order.
Values: TypeAlias = tuple[str, ...]
MAX_ID_CHARS: Final = 200


class Invalid(enum.Enum):
    """A cell whose problem is already reported: read as missing, never reported again."""

    INVALID = "invalid"


INVALID: Final = Invalid.INVALID
#: A checked cell: an identifier or picklist value (str), a date, code values, reported-invalid, or missing.
Slot: TypeAlias = str | date | Values | Invalid | None

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?")
_MIN_YEAR: Final = 1900
_MAX_YEAR: Final = 2100
_FORMULA_STARTS: Final = ("=", "+", "-", "@")
#: What may follow a leading ``+`` or ``-`` in an identifier: a phone number or a number, nothing a formula needs.
_SIGNED_IDENTIFIER = re.compile(r"[+-][0-9 ()./-]*")


class CellCheck:
    """Checks and normalises the cells of one field, remembering each distinct cell's result."""

    __slots__ = (
        "_format",
        "_map",
        "_separators",
        "_source",
        "_suggested",
        "cache",
        "expected",
        "field",
        "tolerant",
        "used",
    )

    def __init__(self, field: InputField, mapping: ColumnMapping, *, tolerant: bool) -> None:
        self.field = field
        self.tolerant = tolerant
        self._map = mapping.values.get(field.name, {})
        self._source = mapping.source
        self._suggested: dict[str, str] = {}
        #: The mapping's source values (normalised) that matched at least one cell.
        self.used: set[str] = set()
        self._separators = mapping.separators
        self._format = mapping.date_format
        self.expected = field.expected
        if field.kind is FieldKind.ID:
            self.expected = Text(
                N_("%(expected)s: at most %(limit)s characters, and not a spreadsheet formula"),
                expected=field.expected,
                limit=MAX_ID_CHARS,
            )
        if field.kind is FieldKind.DATE and self._format is not None:
            self.expected = Text(
                N_("a date like %(example)s (%(format)s, from the mapping)"),
                example=date(2025, 12, 31).strftime(self._format),
                format=self._format,
            )
        # Identifiers hardly repeat: remembering them would only cost memory.
        self.cache: dict[object, tuple[Slot, Values]] | None = None if field.kind is FieldKind.ID else {}

    def __call__(self, cell: Cell) -> tuple[Slot, Values]:
        """``(checked value, invalid raw values to report)``, remembered per distinct cell."""
        if self.cache is None:
            return self._identifier(cell)
        key: object = tuple(cell) if isinstance(cell, list) else cell
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._check(cell)
        return hit

    def expected_for(self, value: str) -> str:
        """What was expected instead of the refused ``value``: :attr:`expected`, and "did you mean" when ``value``
        looks like one of the mapping's values or one the field accepts."""
        found = self._suggested.get(value)
        if found is None:
            found = self._suggested[value] = Text(
                N_("%(expected)s%(suggestion)s"), expected=self.expected, suggestion=self._suggestion(value)
            )
        return found

    def _suggestion(self, value: str) -> str:
        if self.field.kind not in (FieldKind.CODE, FieldKind.CHOICE) or len(value) > MAX_ID_CHARS:
            return ""
        mapped = look_alike(value, self._map)
        if mapped is not None:
            return Text(
                N_("; did you mean %(value)s (%(mapping)s, [values.%(field)s])? This value has %(difference)s"),
                value=repr(mapped),
                mapping=self._source,
                field=self.field.name,
                difference=difference(value, mapped),
            )
        known = look_alike(value, self.field.known_values())
        if known is not None:
            return Text(
                N_("; did you mean %(value)s? This value has %(difference)s"),
                value=repr(known),
                difference=difference(value, known),
            )
        return ""

    def _identifier(self, cell: Cell) -> tuple[Slot, Values]:
        items = self._items(cell, split=False, normalise=False)
        if len(items) > 1 or (items and (len(items[0]) > MAX_ID_CHARS or _formula_identifier(items[0]))):
            return INVALID, ("; ".join(items),)
        return (items[0] if items else None), ()

    def _check(self, cell: Cell) -> tuple[Slot, Values]:
        kind = self.field.kind
        items = self._items(cell, split=kind is FieldKind.CODE)
        if kind is FieldKind.CODE:
            good: list[str] = []
            bad: Values = ()
            for item in items:
                if not self.field.accepts(item):
                    bad += (item,)
                else:
                    good.append(item.upper() if self.field.country else item)
            if bad and self.tolerant:
                return tuple(dict.fromkeys([*good, UNKNOWN])), ()
            if bad:
                return INVALID, bad
            return (tuple(dict.fromkeys(good)) or None), ()
        if not items:
            return None, ()
        value = "; ".join(items)
        parsed: Slot = None
        if len(items) == 1:
            parsed = self._date(value) if kind is FieldKind.DATE else value
            if kind is FieldKind.CHOICE and value not in self.field.choices:
                parsed = None
        if parsed is not None:
            return parsed, ()
        if self.tolerant:
            return (UNKNOWN if kind is FieldKind.CHOICE else None), ()
        return INVALID, (value,)

    def _items(self, cell: Cell, *, split: bool, normalise: bool = True) -> list[str]:
        """The stripped, normalised, mapped values of a cell; a mapping target ``""`` (missing) gives no value."""
        raw = cell if isinstance(cell, list) else [cell or ""]
        values: list[str] = []
        for text in raw:
            text = normal(text.strip()) if normalise else text.strip()
            mapped = self._map.get(text)
            if mapped is not None:
                self.used.add(text)
                values.extend(mapped)
            elif split and any(s in text for s in self._separators) and not text.startswith(_FORMULA_STARTS):
                for separator in self._separators[1:]:
                    text = text.replace(separator, self._separators[0])
                for part in text.split(self._separators[0]):
                    part = part.strip()
                    if part:
                        mapped = self._map.get(part)
                        if mapped is not None:
                            self.used.add(part)
                        values.extend((part,) if mapped is None else mapped)
            elif text:
                values.append(text)
        return values

    def _date(self, value: str) -> date | None:
        try:
            if self._format is not None:
                parsed = datetime.strptime(value, self._format).date()
            elif _ISO_DATE.fullmatch(value):
                parsed = date.fromisoformat(value[:10])
            else:
                return None
        except ValueError:
            return None
        return parsed if _MIN_YEAR <= parsed.year <= _MAX_YEAR else None


def _formula_identifier(text: str) -> bool:
    """Whether a (stripped, non-empty) identifier is a spreadsheet formula rather than an identifier."""
    if text[0] in "=@":
        return True
    return text[0] in "+-" and _SIGNED_IDENTIFIER.fullmatch(text) is None
