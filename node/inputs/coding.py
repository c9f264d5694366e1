# SPDX-License-Identifier: Apache-2.0
"""Code persons, cases and contacts: the taxonomy's input rules applied to checked, merged records.

Every rule is the taxonomy's own, applied by :mod:`node.inputs.rules`: :func:`~node.inputs.rules.code_for`
(first, several, priority, country), :func:`~node.inputs.rules.codes_for` (each) and
:func:`~node.inputs.rules.code_for_age` (age). The results are remembered per distinct combination of
recorded values, because exports repeat the same few values many thousand times.

Two things the library leaves to the node, as the taxonomy's notes describe them:

* **Age** in whole years at registration, from ``prs_Birthdate`` and the registration date; no birthdate gives
  ``None`` (the missing code), and so does a birthdate after the registration date (a negative age).
* **Derived dimensions.** ``cross_border`` (derived from ``citizenship`` and ``country_of_exploitation``) compares
  the *recorded* ISO codes before region bucketing, after aliases: domestic if they are the same country,
  international if both are countries and differ, unknown otherwise. Per case: international if any counted person
  is, else domestic if any is, else unknown. A taxonomy with another derived dimension needs a newer node.

Case-level codes of the other rules apply the rule to the values recorded for all counted persons of the case
together (``cases_opened``: "a case's exploitation_type applies the several rule to the forms recorded for all its
counted persons").

A value read as unknown (``allow_unknown``) gives the dimension its missing code; in a multi-valued dimension it
counts only in the any code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Final

from node.i18n import N_, Text
from node.inputs.cells import UNKNOWN, Values
from node.inputs.records import Contact, Person
from node.inputs.rules import code_for_age, codes_for
from protocol.errors import TaxonomyViolation
from protocol.taxonomy import Dimension, Taxonomy

__all__ = ["Coder", "age_at"]

_CROSS_BORDER: Final = "cross_border"
_CROSS_BORDER_CODES: Final = ("domestic", "international", "unknown")

#: Codes of one record: dimension name -> its codes (one, except for a multi-valued dimension: zero or more).
Codes = dict[str, tuple[str, ...]]


def age_at(birthdate: date | None, day: date) -> int | None:
    """Age in whole years on ``day``; ``None`` without a birthdate. Negative if born after ``day``."""
    if birthdate is None:
        return None
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


class Coder:
    """Applies a taxonomy's input rules; one coder serves one preparation (its memory grows with distinct values)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._taxonomy = taxonomy
        self._cache: dict[str, dict[object, tuple[str, ...]]] = {}
        self._fields: dict[str, tuple[str, ...]] = {}
        self._ages: dict[tuple[str, int | None], str] = {}
        person_dims: dict[str, Dimension] = {}
        for table in taxonomy.tables.values():
            for dimension in table.dimensions:
                self._check_supported(dimension, table.unit)
                if table.unit != "contact":
                    person_dims[dimension.name] = dimension
        self.person_dimensions: tuple[Dimension, ...] = tuple(person_dims.values())

    def person(self, person: Person) -> Codes:
        """The codes of a person in every dimension of the person and case tables."""
        result: Codes = {}
        for dimension in self.person_dimensions:
            rule = dimension.input.rule
            if rule == "age":
                result[dimension.name] = (self._age(dimension, age_at(person.birthdate, person.registered)),)
            elif rule == "derived":
                result[dimension.name] = (self._cross_border(dimension, person.values),)
            else:
                result[dimension.name] = self._codes(dimension, person.values)
        return result

    def case(self, dimensions: Sequence[Dimension], persons: Sequence[Person], codes: Sequence[Codes]) -> Codes:
        """The codes of a case from its counted persons (and their codes)."""
        if len(persons) == 1:  # every case rule applied to one person gives that person's code
            return {dimension.name: codes[0][dimension.name] for dimension in dimensions}
        result: Codes = {}
        for dimension in dimensions:
            if dimension.input.rule == "derived":
                found = {c[dimension.name][0] for c in codes}
                code = "international" if "international" in found else "domestic" if "domestic" in found else "unknown"
                result[dimension.name] = (code,)
            else:
                result[dimension.name] = self._codes(dimension, _merged(p.values for p in persons))
        return result

    def contact(self, dimensions: Sequence[Dimension], contact: Contact) -> Codes:
        """The codes of a contact."""
        return {d.name: self._codes(d, contact.values) for d in dimensions}

    def _codes(self, dimension: Dimension, values: Mapping[str, Values]) -> tuple[str, ...]:
        names = self._fields.get(dimension.name)
        if names is None:
            names = self._fields[dimension.name] = tuple(fm.name for fm in dimension.input.fields)
            self._cache[dimension.name] = {}
        # One field (the usual case): its values are the key; several fields: the tuple of their values.
        key: object = values.get(names[0]) if len(names) == 1 else tuple([values.get(name) for name in names])
        cache = self._cache[dimension.name]
        hit = cache.get(key)
        if hit is None:
            record = {name: v for name in names if (v := values.get(name))}
            hit = cache[key] = self._compute(dimension, record)
        return hit

    @staticmethod
    def _compute(dimension: Dimension, record: Mapping[str, Values]) -> tuple[str, ...]:
        unknown = any(UNKNOWN in values for values in record.values())
        if not unknown:
            return codes_for(dimension, record)
        rule = dimension.input
        if not dimension.multi_valued:
            return (_required(rule.missing, dimension),)
        known = {name: tuple(v for v in values if v != UNKNOWN) for name, values in record.items()}
        codes = set(codes_for(dimension, known))
        if rule.any_code is not None:
            codes.add(rule.any_code)
        return tuple(sorted(codes, key=dimension.index_of))

    def _age(self, dimension: Dimension, age: int | None) -> str:
        key = (dimension.name, age)
        code = self._ages.get(key)
        if code is None:
            code = self._ages[key] = code_for_age(dimension, age)
        return code

    def _cross_border(self, dimension: Dimension, values: Mapping[str, Values]) -> str:
        first, second = (
            self._recorded_country(self._taxonomy.dimension(name), values) for name in dimension.input.derived_from
        )
        if first is None or second is None:
            return "unknown"
        return "domestic" if first == second else "international"

    def _recorded_country(self, dimension: Dimension, values: Mapping[str, Values]) -> str | None:
        """The ISO code recorded for a country dimension (after aliases, before region bucketing), or ``None``."""
        (code,) = self._codes(dimension, values)
        kind = dimension.codes[dimension.index_of(code)].kind
        if kind == "country":
            return code
        if kind == "special":
            return None
        for field_map in dimension.input.fields:
            recorded = values.get(field_map.name)
            if recorded:
                iso = recorded[0].upper()
                return dimension.input.aliases.get(iso, iso)
        return None  # pragma: no cover - a region code always comes from a recorded value

    def _check_supported(self, dimension: Dimension, unit: str) -> None:
        rule = dimension.input.rule
        supported = {
            "person": {"first", "several", "priority", "each", "country", "age", "derived"},
            "case": {"first", "several", "priority", "country", "derived"},
            "contact": {"first", "several", "priority", "each", "country"},
        }[unit]
        if rule not in supported:
            raise TaxonomyViolation(
                Text(
                    N_(
                        "dimension %(dimension)s (input rule %(rule)s) cannot be computed for a %(unit)s; "
                        "this node does not support the taxonomy"
                    ),
                    dimension=repr(dimension.name),
                    rule=repr(rule),
                    unit=unit,
                )
            )
        if rule == "derived":
            sources = [self._taxonomy.dimension(n) for n in dimension.input.derived_from]
            if (
                dimension.name != _CROSS_BORDER
                or set(dimension.code_names) != set(_CROSS_BORDER_CODES)
                or len(sources) != 2
                or any(s.input.rule != "country" for s in sources)
            ):
                raise TaxonomyViolation(
                    Text(
                        N_(
                            "dimension %(dimension)s is derived by a rule this node does not implement; "
                            "it needs a newer tipshare node"
                        ),
                        dimension=repr(dimension.name),
                    )
                )


def _merged(records: Iterable[Mapping[str, Values]]) -> dict[str, Values]:
    merged: dict[str, list[str]] = {}
    for record in records:
        for name, values in record.items():
            merged.setdefault(name, []).extend(values)
    return {name: tuple(dict.fromkeys(values)) for name, values in merged.items()}


def _required(code: str | None, dimension: Dimension) -> str:
    if code is None:  # pragma: no cover - load_taxonomy requires a missing code for single-valued rules
        raise TaxonomyViolation(f"dimension {dimension.name!r} has no missing code")
    return code
