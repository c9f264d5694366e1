# SPDX-License-Identifier: Apache-2.0
"""A taxonomy's input rules applied to one record: the code (or codes) a dimension gives it.

The taxonomy document states the rules (:class:`~protocol.taxonomy.InputRule`); the node applies them:

* ``first`` and ``country``: the first recorded value of the first field that has one; no value gives the missing
  code. ``country`` reads ISO 3166-1 alpha-2 codes: the field's own mapping first, then the taxonomy's aliases; a
  country the dimension lists is its own code, any other its region's;
* ``several`` and ``priority``: the codes of every recorded value; one code is that code, none the missing code,
  and several the ``several`` code (``several``) or the one first in the rule's priority list (``priority``);
* ``each`` (multi-valued): every code of every value, in code-list order, plus the ``any`` code when there is one;
* ``age``: the band of an age in whole years; no age (or a negative one) gives the missing code.

>>> from protocol.taxonomy import builtin_taxonomy
>>> taxonomy = builtin_taxonomy()
>>> code_for(taxonomy.dimension("citizenship"), {"prs_Citizenship": ["VN"]})
'035'
>>> codes_for(taxonomy.dimension("control_flag"), {"vic_MethodsOfControl": ["DebtBondage", "TakesEarnings"]})
('meansDebtBondageEarnings', '_any_info')

A value the taxonomy does not map, or a rule asked of a dimension that does not use it, raises
:class:`~protocol.errors.TaxonomyViolation` naming the value, the field and the dimension.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TypeAlias

from protocol.errors import TaxonomyViolation
from protocol.taxonomy import Dimension, FieldMap

__all__ = ["Recorded", "code_for", "code_for_age", "codes_for"]

#: Values recorded for one record (person, case or contact): input field name -> value or values, in recorded order.
Recorded: TypeAlias = Mapping[str, str | Sequence[str] | None]


def code_for(dimension: Dimension, recorded: Recorded) -> str:
    """The code of one record, for a single-valued dimension with rule first/several/priority/country."""
    rule = dimension.input
    if rule.rule in ("first", "country"):
        for field_map in rule.fields:
            for raw in _values(recorded, field_map.name):
                return _map_one(dimension, field_map, raw)
        return _required(rule.missing)
    if rule.rule in ("several", "priority"):
        found = {_map_one(dimension, fm, raw) for fm in rule.fields for raw in _values(recorded, fm.name)}
        if not found:
            return _required(rule.missing)
        if rule.rule == "priority":
            return min(found, key=rule.priority.index)
        return found.pop() if len(found) == 1 else _required(rule.several)
    raise TaxonomyViolation(_wrong_rule(dimension, "code_for"))


def codes_for(dimension: Dimension, recorded: Recorded) -> tuple[str, ...]:
    """Every code a record counts under, in code-list order (one code unless the dimension is multi-valued)."""
    rule = dimension.input
    if rule.rule != "each":
        return (code_for(dimension, recorded),)
    found = {_map_one(dimension, fm, raw) for fm in rule.fields for raw in _values(recorded, fm.name)}
    if found and rule.any_code is not None:
        found.add(rule.any_code)
    return tuple(sorted(found, key=dimension.index_of))


def code_for_age(dimension: Dimension, age: int | None) -> str:
    """The code for an age in whole years (rule ``age``); ``None`` or a negative age gives the missing code."""
    rule = dimension.input
    if rule.rule != "age":
        raise TaxonomyViolation(_wrong_rule(dimension, "code_for_age"))
    if age is not None and age >= 0:
        for band in rule.ranges:
            if band.min_age <= age and (band.max_age is None or age <= band.max_age):
                return band.code
    return _required(rule.missing)


def _map_one(dimension: Dimension, field_map: FieldMap, raw: str) -> str:
    if dimension.input.rule == "country":
        return _map_country(dimension, field_map, raw)
    code = field_map.values.get(raw)
    if code is None:
        raise TaxonomyViolation(
            f"value {raw!r} of field {field_map.name} has no code in dimension {dimension.name!r}; "
            f"the taxonomy accepts: {', '.join(sorted(field_map.values))}"
        )
    return code


def _map_country(dimension: Dimension, field_map: FieldMap, raw: str) -> str:
    value = raw.upper()
    if value in field_map.values:
        return field_map.values[value]
    value = dimension.input.aliases.get(value, value)
    listed = dimension.code(value)
    if listed is not None and listed.kind == "country":
        return value
    region = dimension.input.regions.get(value)
    if region is None:
        raise TaxonomyViolation(
            f"value {raw!r} of field {field_map.name} is not an ISO 3166-1 alpha-2 code that dimension "
            f"{dimension.name!r} maps; correct the record, or record it as unknown"
        )
    return region


def _wrong_rule(dimension: Dimension, function: str) -> str:
    use = {"each": "codes_for", "age": "code_for_age"}.get(dimension.input.rule, "the rule in its note")
    return f"dimension {dimension.name!r} has input rule {dimension.input.rule!r}: {function} does not apply, use {use}"


def _values(recorded: Recorded, name: str) -> Iterator[str]:
    value = recorded.get(name)
    if value is None:
        return
    items: Sequence[object] = (value,) if isinstance(value, str) else value
    for item in items:
        if not isinstance(item, str):
            raise TaxonomyViolation(f"field {name} holds {item!r}; recorded values are strings")
        if stripped := item.strip():
            yield stripped


def _required(code: str | None) -> str:
    if code is None:  # pragma: no cover - load_taxonomy requires it for every rule that reaches here
        raise TaxonomyViolation("the taxonomy gives no code for this case")
    return code
