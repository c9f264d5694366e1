# SPDX-License-Identifier: Apache-2.0
"""Reading query parameters: single fields, code lists, and the dimensions the tables of a unit carry.

>>> values = values_of([("citizenship", "UA,MD"), ("citizenship", "RO"), ("top", "10")])
>>> codes_of(values["citizenship"]), single(values, "top"), single(values, "country")
(('UA', 'MD', 'RO'), '10', None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hub.errors import InvalidQuery
from hub.i18n import gettext as _
from protocol.taxonomy import Dimension, Table

__all__ = ["Params", "all_dimensions", "check_names", "codes_of", "single", "unit_dimensions", "values_of"]

#: Query parameters as (name, value) pairs, in order, names possibly repeated.
Params = Sequence[tuple[str, str]]


def unit_dimensions(tables: Mapping[str, Table], unit: str) -> dict[str, Dimension]:
    """The dimensions some table of ``unit`` carries, by name: those of the smallest tables first (the one-way
    margins, then the two-way tables, ...), so a picker lists citizenship before control flags."""
    found: dict[str, Dimension] = {}
    for table in sorted(tables.values(), key=lambda t: (len(t.dimensions), t.name)):
        if table.unit == unit:
            for dimension in table.dimensions:
                found.setdefault(dimension.name, dimension)
    return found


def all_dimensions(tables: Mapping[str, Table]) -> dict[str, Dimension]:
    return {d.name: d for table in tables.values() for d in table.dimensions}


def values_of(params: Params) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in params:
        found.setdefault(name, []).append(value)
    return found


def single(values: Mapping[str, list[str]], name: str) -> str | None:
    """The one value of a single-valued field; empty means unset; a repeated field is refused."""
    given = values.get(name, [])
    if len(given) > 1:
        raise InvalidQuery(_("%(name)s is given %(times)s times; give it once") % {"name": name, "times": len(given)})
    value = given[0].strip() if given else ""
    return value or None


def codes_of(values: Iterable[str]) -> tuple[str, ...]:
    """Codes from repeated fields and/or comma-separated lists, in order, without repeats."""
    codes = (code.strip() for value in values for code in value.split(","))
    return tuple(dict.fromkeys(code for code in codes if code))


def check_names(values: Mapping[str, list[str]], known: Iterable[str], *, repeatable: Iterable[str] = ()) -> None:
    """Refuse a parameter the view does not read (percent-encoded names arrive decoded, so are checked alike), and a
    repeated one unless ``repeatable`` (a multiple choice of the form, sent by the browser as one field per code)."""
    accepted = frozenset(known) | frozenset(repeatable)
    unknown = sorted(name for name in values if name not in accepted)
    if unknown:
        message = (
            _("unknown query parameter(s): %(unknown)s; this view reads %(known)s and dimension names")
            if repeatable
            else _("unknown query parameter(s): %(unknown)s; this view reads %(known)s")
        )
        raise InvalidQuery(message % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(known))})
    several = frozenset(repeatable)
    repeated = sorted(name for name, given in values.items() if len(given) > 1 and name not in several)
    if repeated:
        raise InvalidQuery(
            _("query parameter(s) given more than once: %(names)s; give each once") % {"names": ", ".join(repeated)}
        )
