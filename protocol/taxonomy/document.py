# SPDX-License-Identifier: Apache-2.0
"""Reading a taxonomy document: every rule a document must follow, checked before it becomes a :class:`Taxonomy`.

A document is JSON; it is canonicalised (RFC 8785) first, so its identity (``content_hash``) does not depend on how
it was written. Every rule it breaks raises :class:`~protocol.errors.TaxonomyViolation` naming the dimension, table
or code at fault.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from protocol.canonical import canonical_bytes, parse_json
from protocol.errors import MalformedMessage, TaxonomyViolation
from protocol.messages import COUNTRY_PATTERN
from protocol.taxonomy.model import (
    CODE_KINDS,
    INPUT_RULES,
    MAX_CELLS_PER_TABLE,
    MAX_CODES_PER_DIMENSION,
    MAX_CONTRIBUTION_BOUND,
    MAX_DIMENSIONS_PER_TABLE,
    MAX_WEIGHT,
    UNITS,
    AgeRange,
    Code,
    Dimension,
    FieldMap,
    InputRule,
    Table,
    Taxonomy,
    WorkloadQuestion,
)

__all__ = ["load_taxonomy", "parse_taxonomy"]

#: Mechanisms a taxonomy may record budget weights for (the values carried in payloads).
_MECHANISMS: Final = ("discrete_gaussian", "discrete_laplace")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}/[1-9][0-9]{0,5}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CODE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+-]{0,39}")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_ISO = re.compile(COUNTRY_PATTERN)
_M49 = re.compile(r"[0-9]{3}")

# rule -> (required keys besides "rule", optional keys)
_RULE_KEYS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "first": (("fields", "missing"), ("note",)),
    "several": (("fields", "missing", "several"), ("note",)),
    "priority": (("fields", "missing", "priority"), ("note",)),
    "each": (("fields",), ("any", "note")),
    "country": (("fields", "missing"), ("note",)),
    "age": (("ranges", "missing"), ("note",)),
    "derived": (("from", "note"), ()),
}


def load_taxonomy(document: Mapping[str, Any]) -> Taxonomy:
    """Validate a taxonomy document (a parsed JSON value) and return it as a :class:`Taxonomy`."""
    if not isinstance(document, Mapping):
        raise TaxonomyViolation(f"a taxonomy document is a JSON object, not {type(document).__name__}")
    try:
        canonical = canonical_bytes(dict(document))
    except MalformedMessage as e:
        raise TaxonomyViolation(f"taxonomy document cannot be canonicalised: {e}") from e
    doc = _object(
        json.loads(canonical),
        "taxonomy document",
        required=("type", "id", "version", "title", "description", "units", "input_rules", "dimensions", "tables"),
        optional=("sources", "notes", "countries", "workload", "budget"),
    )
    if doc["type"] != "taxonomy":
        raise TaxonomyViolation(f'taxonomy document has type {doc["type"]!r}; expected "taxonomy"')
    version = _integer(doc["version"], "taxonomy version", minimum=1, maximum=999_999)
    taxonomy_id = _string(doc["id"], "taxonomy id", pattern=_ID)
    if not taxonomy_id.endswith(f"/{version}"):
        raise TaxonomyViolation(f"taxonomy id {taxonomy_id!r} must end with its version, /{version}")
    for key in ("sources", "notes"):
        for i, item in enumerate(_array(doc.get(key, []), key)):
            _string(item, f"{key}[{i}]")
    units = _described(doc["units"], "units", UNITS)
    rules = _described(doc["input_rules"], "input_rules", INPUT_RULES)
    aliases, regions = _countries(doc.get("countries"))

    dimensions: dict[str, Dimension] = {}
    for name, value in _object(doc["dimensions"], "dimensions").items():
        _string(name, "dimension name", pattern=_NAME)
        dimensions[name] = _dimension(name, value, aliases, regions)
    if not dimensions:
        raise TaxonomyViolation("taxonomy document defines no dimensions")
    for dimension in dimensions.values():
        if dimension.input.rule not in rules:
            raise TaxonomyViolation(
                f"dimension {dimension.name!r} uses input rule {dimension.input.rule!r}, "
                "which input_rules does not describe"
            )
        for source in dimension.input.derived_from:
            if source not in dimensions or source == dimension.name:
                raise TaxonomyViolation(
                    f"dimension {dimension.name!r} is derived from {source!r}, which is not another dimension"
                )
        if dimension.input.rule == "country":
            _check_country_dimension(dimension, aliases, regions)

    tables: dict[str, Table] = {}
    for name, value in _object(doc["tables"], "tables").items():
        _string(name, "table name", pattern=_NAME)
        tables[name] = _table(name, value, dimensions, units)
    if not tables:
        raise TaxonomyViolation("taxonomy document defines no tables")
    workload, reference = _workload(doc.get("workload"), dimensions, tables)
    weights = _budget(doc.get("budget"), tables)

    return Taxonomy(
        id=taxonomy_id,
        version=version,
        title=_string(doc["title"], "taxonomy title"),
        description=_string(doc["description"], "taxonomy description"),
        dimensions=MappingProxyType(dimensions),
        tables=MappingProxyType(tables),
        country_aliases=aliases,
        country_regions=regions,
        content_hash="sha256:" + hashlib.sha256(canonical).hexdigest(),
        _canonical=canonical,
        workload=workload,
        budget_weights=weights,
        workload_hotlines=reference,
    )


def parse_taxonomy(data: bytes) -> Taxonomy:
    """Parse JSON bytes strictly (raises ``MalformedMessage`` if they are not JSON) and validate the taxonomy.

    The last few documents parsed are remembered (a :class:`Taxonomy` never changes): a hub reads its registered
    taxonomies from its database many times, and each parse canonicalises tens of thousands of values."""
    return _parse_taxonomy(bytes(data))


@functools.lru_cache(maxsize=8)
def _parse_taxonomy(data: bytes) -> Taxonomy:
    return load_taxonomy(parse_json(data))


# ---------------------------------------------------------------- document validation


def _dimension(name: str, value: Any, aliases: Mapping[str, str], regions: Mapping[str, str]) -> Dimension:
    where = f"dimension {name!r}"
    doc = _object(value, where, required=("description", "codes", "input"))
    codes: list[Code] = []
    seen: set[str] = set()
    entries = _array(doc["codes"], f"{where} codes", min_length=1, max_length=MAX_CODES_PER_DIMENSION)
    for i, entry in enumerate(entries):
        item = _object(entry, f"{where} codes[{i}]", required=("code", "label"), optional=("kind", "note"))
        code = _string(item["code"], f"{where} codes[{i}]", pattern=_CODE)
        if code in seen:
            raise TaxonomyViolation(f"{where} lists code {code!r} twice")
        seen.add(code)
        kind = ""
        if "kind" in item:
            kind = _string(item["kind"], f"{where} code {code!r} kind")
            if kind not in CODE_KINDS:
                raise TaxonomyViolation(f"{where} code {code!r} has kind {kind!r}; kinds are {sorted(CODE_KINDS)}")
        label = _string(item["label"], f"{where} code {code!r} label")
        note = _string(item["note"], f"{where} code {code!r} note") if "note" in item else ""
        codes.append(Code(code=code, label=label, kind=kind, note=note))
    rule = _input_rule(where, doc["input"], seen, aliases, regions)
    if rule.rule != "country" and (kinded := [c.code for c in codes if c.kind]):
        raise TaxonomyViolation(f"{where}: codes {kinded} have a kind, which only the country rule uses")
    return Dimension(
        name=name, description=_string(doc["description"], f"{where} description"), codes=tuple(codes), input=rule
    )


def _input_rule(
    where: str, value: Any, codes: set[str], aliases: Mapping[str, str], regions: Mapping[str, str]
) -> InputRule:
    where = f"{where} input"
    rule = _string(_object(value, where, required=("rule",))["rule"], f"{where} rule")
    if rule not in _RULE_KEYS:
        raise TaxonomyViolation(f"{where} has rule {rule!r}; rules are {sorted(INPUT_RULES)}")
    required, optional = _RULE_KEYS[rule]
    doc = _object(value, where, required=("rule", *required), optional=optional)

    def code(key: str) -> str | None:
        if key not in doc:
            return None
        found = _string(doc[key], f"{where} {key}")
        if found not in codes:
            raise TaxonomyViolation(f"{where} {key} is {found!r}, which is not a code of the dimension")
        return found

    fields = _field_maps(where, doc["fields"], codes, upper=rule == "country") if "fields" in doc else ()
    mapped = {target for field_map in fields for target in field_map.values.values()}
    if rule != "country" and any(not field_map.values for field_map in fields):
        raise TaxonomyViolation(f"{where}: every field needs at least one value")
    priority: tuple[str, ...] = ()
    if rule == "priority":
        priority = tuple(_string(c, f"{where} priority") for c in _array(doc["priority"], f"{where} priority"))
        if len(set(priority)) != len(priority) or not set(priority) <= codes:
            raise TaxonomyViolation(f"{where} priority must list distinct codes of the dimension")
        if not mapped <= set(priority):
            raise TaxonomyViolation(f"{where} priority lacks {sorted(mapped - set(priority))}")
    ranges = _age_ranges(where, doc["ranges"], codes) if rule == "age" else ()
    missing = code("missing")
    if missing is not None and missing in {band.code for band in ranges}:
        raise TaxonomyViolation(f"{where} missing code {missing!r} is also an age range")
    derived_from: tuple[str, ...] = ()
    if rule == "derived":
        sources = _array(doc["from"], f"{where} from", min_length=1)
        derived_from = tuple(_string(s, f"{where} from", pattern=_NAME) for s in sources)
    return InputRule(
        rule=rule,
        fields=fields,
        missing=missing,
        several=code("several"),
        priority=priority,
        any_code=code("any"),
        ranges=ranges,
        derived_from=derived_from,
        aliases=aliases if rule == "country" else MappingProxyType({}),
        regions=regions if rule == "country" else MappingProxyType({}),
        note=_string(doc["note"], f"{where} note") if "note" in doc else "",
    )


def _field_maps(where: str, value: Any, codes: set[str], *, upper: bool) -> tuple[FieldMap, ...]:
    result: list[FieldMap] = []
    for i, entry in enumerate(_array(value, f"{where} fields", min_length=1)):
        here = f"{where} fields[{i}]"
        doc = _object(entry, here, required=("field", "values"), optional=("note",))
        name = _string(doc["field"], f"{here} field", pattern=_FIELD)
        if any(existing.name == name for existing in result):
            raise TaxonomyViolation(f"{where} lists field {name} twice")
        values: dict[str, str] = {}
        for raw, target in _object(doc["values"], f"{here} values").items():
            if not raw or raw != raw.strip() or len(raw) > 200 or (upper and raw != raw.upper()):
                raise TaxonomyViolation(
                    f"{here} value {raw!r} of field {name} must be non-empty, at most 200 characters, without "
                    "surrounding white space" + (", and upper-case" if upper else "")
                )
            target = _string(target, f"{here} values[{raw!r}]")
            if target not in codes:
                raise TaxonomyViolation(
                    f"{here} maps {name} value {raw!r} to {target!r}, which is not a code of the dimension"
                )
            values[raw] = target
        note = _string(doc["note"], f"{here} note") if "note" in doc else ""
        result.append(FieldMap(name=name, values=MappingProxyType(values), note=note))
    return tuple(result)


def _age_ranges(where: str, value: Any, codes: set[str]) -> tuple[AgeRange, ...]:
    entries = _array(value, f"{where} ranges", min_length=1)
    result: list[AgeRange] = []
    next_age = 0
    for i, entry in enumerate(entries):
        here = f"{where} ranges[{i}]"
        doc = _object(entry, here, required=("code", "min"), optional=("max",))
        code = _string(doc["code"], f"{here} code")
        if code not in codes or code in {band.code for band in result}:
            raise TaxonomyViolation(f"{here} code {code!r} is not a code of the dimension, or is used twice")
        low = _integer(doc["min"], f"{here} min", minimum=0, maximum=200)
        if low != next_age:
            raise TaxonomyViolation(f"{here} starts at {low}; age ranges must start at 0 and leave no gap or overlap")
        high = _integer(doc["max"], f"{here} max", minimum=low, maximum=200) if "max" in doc else None
        if (high is None) != (i == len(entries) - 1):
            raise TaxonomyViolation(f"{where}: only the last age range (and every last one) has no max")
        result.append(AgeRange(code=code, min_age=low, max_age=high))
        next_age = (high or 0) + 1
    return tuple(result)


def _countries(value: Any) -> tuple[Mapping[str, str], Mapping[str, str]]:
    if value is None:
        return MappingProxyType({}), MappingProxyType({})
    doc = _object(value, "countries", required=("aliases", "regions"), optional=("description",))
    if "description" in doc:
        _string(doc["description"], "countries description")
    maps: list[Mapping[str, str]] = []
    for key, pattern in (("aliases", _ISO), ("regions", _M49)):
        entries: dict[str, str] = {}
        for iso, target in _object(doc[key], f"countries {key}").items():
            _string(iso, f"countries {key} key", pattern=_ISO)
            entries[iso] = _string(target, f"countries {key}[{iso!r}]", pattern=pattern if key == "regions" else _ISO)
        maps.append(MappingProxyType(entries))
    aliases, regions = maps
    if both := sorted(set(aliases) & set(regions)):
        raise TaxonomyViolation(f"countries aliases {both} are also keys of countries regions")
    return aliases, regions


def _check_country_dimension(dimension: Dimension, aliases: Mapping[str, str], regions: Mapping[str, str]) -> None:
    where = f"dimension {dimension.name!r}"
    by_kind: dict[str, set[str]] = {kind: set() for kind in CODE_KINDS}
    for code in dimension.codes:
        if not code.kind:
            raise TaxonomyViolation(f"{where} uses the country rule, so code {code.code!r} needs a kind")
        pattern = {"country": _ISO, "region": _M49}.get(code.kind)
        if pattern is not None and not pattern.fullmatch(code.code):
            raise TaxonomyViolation(f"{where} code {code.code!r} of kind {code.kind} must match {pattern.pattern}")
        by_kind[code.kind].add(code.code)
    countries, buckets = by_kind["country"], by_kind["region"]
    if not regions and not countries:
        raise TaxonomyViolation(f"{where} uses the country rule, but no country is listed or mapped to a region")
    for iso, bucket in regions.items():
        if iso in countries:
            raise TaxonomyViolation(f"{iso!r} is listed in {where} and also mapped to region {bucket!r}")
        if bucket not in buckets:
            raise TaxonomyViolation(f"countries regions maps {iso!r} to {bucket!r}, which is not a region of {where}")
    if empty := sorted(buckets - set(regions.values())):
        raise TaxonomyViolation(f"regions {empty} of {where} have no country mapped to them in countries regions")
    for alias, target in aliases.items():
        if alias in countries:
            raise TaxonomyViolation(f"countries alias {alias!r} is listed as a country in {where}")
        if target not in countries and target not in regions:
            raise TaxonomyViolation(f"countries alias {alias!r} -> {target!r}: {where} cannot map {target!r}")


def _table(name: str, value: Any, dimensions: Mapping[str, Dimension], units: set[str]) -> Table:
    where = f"table {name!r}"
    doc = _object(value, where, required=("description", "unit", "dimensions", "contribution"), optional=("note",))
    unit = _string(doc["unit"], f"{where} unit")
    if unit not in UNITS:
        raise TaxonomyViolation(f"{where} has unit {unit!r}; units are {sorted(UNITS)}")
    if unit not in units:
        raise TaxonomyViolation(f"{where} counts unit {unit!r}, which the document's units do not describe")
    names = _array(doc["dimensions"], f"{where} dimensions", min_length=0, max_length=MAX_DIMENSIONS_PER_TABLE)
    chosen: list[Dimension] = []
    for entry in names:
        dimension_name = _string(entry, f"{where} dimension")
        if dimension_name not in dimensions:
            raise TaxonomyViolation(f"{where} uses dimension {dimension_name!r}, which the taxonomy does not define")
        if any(d.name == dimension_name for d in chosen):
            raise TaxonomyViolation(f"{where} uses dimension {dimension_name!r} twice")
        chosen.append(dimensions[dimension_name])
    contribution = _object(
        doc["contribution"], f"{where} contribution", required=("l1", "per_cell"), optional=("rule",)
    )
    l1 = _integer(contribution["l1"], f"{where} contribution l1", minimum=1, maximum=MAX_CONTRIBUTION_BOUND)
    per_cell = _integer(
        contribution["per_cell"], f"{where} contribution per_cell", minimum=1, maximum=MAX_CONTRIBUTION_BOUND
    )
    if "rule" in contribution:
        _string(contribution["rule"], f"{where} contribution rule")
    if per_cell > l1:
        raise TaxonomyViolation(f"{where}: per_cell bound {per_cell} exceeds l1 bound {l1}")
    multi = [d for d in chosen if d.multi_valued]
    if len(multi) > 1:
        raise TaxonomyViolation(f"{where} has more than one multi-valued dimension: {[d.name for d in multi]}")
    if multi and l1 > per_cell * len(multi[0]):
        raise TaxonomyViolation(
            f"{where}: l1 bound {l1} exceeds per_cell {per_cell} times the {len(multi[0])} codes of {multi[0].name!r}"
        )
    if unit == "person" and not multi and l1 != per_cell:
        raise TaxonomyViolation(
            f"{where} counts each person in exactly one cell (no multi-valued dimension), "
            f"so its l1 bound ({l1}) must equal its per_cell bound ({per_cell})"
        )
    table = Table(
        name=name,
        description=_string(doc["description"], f"{where} description"),
        unit=unit,
        dimensions=tuple(chosen),
        l1_bound=l1,
        per_cell_bound=per_cell,
    )
    if table.cell_count > MAX_CELLS_PER_TABLE:
        raise TaxonomyViolation(f"{where} has {table.cell_count} cells; at most {MAX_CELLS_PER_TABLE} are allowed")
    if "note" in doc:
        _string(doc["note"], f"{where} note")
    return table


def _described(value: Any, where: str, known: frozenset[str]) -> set[str]:
    doc = _object(value, where, optional=tuple(sorted(known)))
    for key, text in doc.items():
        _string(text, f"{where} {key}")
    return set(doc)


def _workload(
    value: Any, dimensions: Mapping[str, Dimension], tables: Mapping[str, Table]
) -> tuple[tuple[WorkloadQuestion, ...], int]:
    if value is None:
        return (), 0
    doc = _object(value, "workload", required=("description", "hotlines", "questions"))
    _string(doc["description"], "workload description")
    hotlines = _integer(doc["hotlines"], "workload hotlines", minimum=1, maximum=10_000)
    questions: list[WorkloadQuestion] = []
    for i, entry in enumerate(_array(doc["questions"], "workload questions", min_length=1, max_length=200)):
        where = f"workload questions[{i}]"
        item = _object(
            entry,
            where,
            required=("id", "description", "unit", "dimensions", "months", "halfwidth", "priority"),
            optional=(),
        )
        question_id = _string(item["id"], f"{where} id", pattern=_NAME)
        if any(q.id == question_id for q in questions):
            raise TaxonomyViolation(f"{where}: question id {question_id!r} is used twice")
        unit = _string(item["unit"], f"{where} unit")
        if unit not in UNITS:
            raise TaxonomyViolation(f"{where} has unit {unit!r}; units are {sorted(UNITS)}")
        dims = tuple(_string(d, f"{where} dimension") for d in _array(item["dimensions"], f"{where} dimensions"))
        if unknown := [d for d in dims if d not in dimensions]:
            raise TaxonomyViolation(f"{where} names dimension(s) {unknown} the taxonomy does not define")
        if len(set(dims)) != len(dims):
            raise TaxonomyViolation(f"{where} names a dimension twice")
        if not any(t.unit == unit and set(dims) <= set(t.dimension_names) for t in tables.values()):
            raise TaxonomyViolation(f"{where}: no {unit} table carries all of {list(dims)}, so nothing answers it")
        questions.append(
            WorkloadQuestion(
                id=question_id,
                description=_string(item["description"], f"{where} description"),
                unit=unit,
                dimensions=dims,
                months=_integer(item["months"], f"{where} months", minimum=1, maximum=120),
                halfwidth=_integer(item["halfwidth"], f"{where} halfwidth", minimum=1, maximum=10**9),
                priority=_integer(item["priority"], f"{where} priority", minimum=1, maximum=1000),
            )
        )
    return tuple(questions), hotlines


def _budget(value: Any, tables: Mapping[str, Table]) -> Mapping[str, Mapping[str, int]]:
    if value is None:
        return MappingProxyType({})
    doc = _object(value, "budget", required=("description", "weights"))
    _string(doc["description"], "budget description")
    result: dict[str, Mapping[str, int]] = {}
    for mechanism, weights in _object(doc["weights"], "budget weights").items():
        if mechanism not in _MECHANISMS:
            raise TaxonomyViolation(f"budget weights name mechanism {mechanism!r}; mechanisms are {list(_MECHANISMS)}")
        given = _object(weights, f"budget weights {mechanism}")
        if sorted(given) != sorted(tables):
            raise TaxonomyViolation(
                f"budget weights {mechanism} must give every table a weight, and no other name: "
                f"missing {sorted(set(tables) - set(given))}, unknown {sorted(set(given) - set(tables))}"
            )
        result[mechanism] = MappingProxyType(
            {
                table: _integer(given[table], f"budget weights {mechanism} {table}", minimum=1, maximum=MAX_WEIGHT)
                for table in tables
            }
        )
    return MappingProxyType(result)


# ---------------------------------------------------------------- JSON shape helpers


def _object(
    value: Any, where: str, *, required: Sequence[str] = (), optional: Sequence[str] | None = None
) -> dict[str, Any]:
    """``value`` as a JSON object with the required keys; with ``optional`` given, no other keys."""
    if not isinstance(value, dict):
        raise TaxonomyViolation(f"{where} must be a JSON object")
    if missing := [key for key in required if key not in value]:
        raise TaxonomyViolation(f"{where} lacks required key(s): {', '.join(missing)}")
    if optional is not None and (extra := sorted(set(value) - set(required) - set(optional))):
        allowed = ", ".join([*required, *optional])
        raise TaxonomyViolation(f"{where} has unknown key(s): {', '.join(extra)} (allowed: {allowed})")
    return value


def _array(value: Any, where: str, *, min_length: int = 0, max_length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise TaxonomyViolation(f"{where} must be a JSON array")
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        limit = f"{min_length}..{max_length}" if max_length is not None else f"at least {min_length}"
        raise TaxonomyViolation(f"{where} has {len(value)} entries; it needs {limit}")
    return value


def _string(value: Any, where: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TaxonomyViolation(f"{where} must be a non-empty string, not {value!r}")
    if pattern is not None and not pattern.fullmatch(value):
        raise TaxonomyViolation(f"{where} {value!r} does not match {pattern.pattern}")
    return value


def _integer(value: Any, where: str, *, minimum: int, maximum: int) -> int:
    if type(value) is not int or not minimum <= value <= maximum:
        raise TaxonomyViolation(f"{where} must be an integer from {minimum} to {maximum}, not {value!r}")
    return value
