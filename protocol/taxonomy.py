# SPDX-License-Identifier: Apache-2.0
"""The taxonomy: which tables a node releases each month, over which code lists, with which contribution bounds.

A taxonomy is a JSON document (version 1 ships as ``protocol/data/taxonomy-v1.json``) naming *dimensions*
(closed code lists, plus the rule that turns HTCDS record values into codes) and *tables* (up to three
dimensions, a counting unit and a per-person contribution bound). Its identity is ``content_hash``, the SHA-256
of its RFC 8785 canonical bytes, so a payload that names a taxonomy names exactly one set of code lists.

A table is released densely: every cell of its domain, in row-major order over its dimensions' code lists (the
last dimension varies fastest). Releasing only non-zero cells would leak which cells are non-zero.

>>> taxonomy = builtin_taxonomy()
>>> taxonomy.id
'tipshare-taxonomy/1'
>>> corridor = taxonomy.table("persons_corridor")
>>> [dimension.name for dimension in corridor.dimensions]
['citizenship', 'country_of_exploitation', 'exploitation_group']
>>> corridor.cell_codes(corridor.cell_index(["UA", "PL", "labour"]))
('UA', 'PL', 'labour')
>>> taxonomy.dimension("citizenship").code_for({"prs_Citizenship": ["VN"]})
'035'
>>> taxonomy.dimension("control_flag").codes_for({"vic_MethodsOfControl": ["DebtBondage", "TakesEarnings"]})
('meansDebtBondageEarnings', '_any_info')
>>> taxonomy.table("persons_control").l2_sensitivity_squared
9

Every rule a document breaks raises :class:`~protocol.errors.TaxonomyViolation` naming the dimension, table or
code at fault. Only the document is trusted to be a taxonomy after :func:`load_taxonomy` returns.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from protocol.canonical import canonical_bytes, parse_json
from protocol.errors import MalformedMessage, TaxonomyViolation
from protocol.messages import COUNTRY_PATTERN

__all__ = [
    "CODE_KINDS",
    "INPUT_RULES",
    "MAX_CELLS_PER_TABLE",
    "MAX_CODES_PER_DIMENSION",
    "MAX_CONTRIBUTION_BOUND",
    "MAX_DIMENSIONS_PER_TABLE",
    "MAX_WEIGHT",
    "TAXONOMY_V1_ID",
    "TAXONOMY_V2_ID",
    "UNITS",
    "AgeRange",
    "Code",
    "Dimension",
    "FieldMap",
    "InputRule",
    "Recorded",
    "Table",
    "Taxonomy",
    "WorkloadQuestion",
    "builtin_taxonomies",
    "builtin_taxonomy",
    "latest_taxonomy",
    "load_taxonomy",
    "parse_taxonomy",
    "same_cells",
]

#: The ids of the taxonomies shipped with this package (a hub publishes and accepts both; new nodes follow v2).
TAXONOMY_V1_ID: Final = "tipshare-taxonomy/1"
TAXONOMY_V2_ID: Final = "tipshare-taxonomy/2"
#: What a table counts.
UNITS: Final = frozenset({"person", "case", "contact"})
#: How a dimension's code is computed from a record (each is described in the document's ``input_rules``).
INPUT_RULES: Final = frozenset({"first", "several", "priority", "each", "country", "age", "derived"})
#: Kinds of codes in a country dimension.
CODE_KINDS: Final = frozenset({"country", "region", "special"})
MAX_DIMENSIONS_PER_TABLE: Final = 3
MAX_CODES_PER_DIMENSION: Final = 1000
MAX_CELLS_PER_TABLE: Final = 1_000_000
MAX_CONTRIBUTION_BOUND: Final = 1000
#: Mechanisms a taxonomy may record budget weights for (the values carried in payloads).
_MECHANISMS: Final = ("discrete_gaussian", "discrete_laplace")
MAX_WEIGHT: Final = 1000

#: Values recorded for one record (person, case or contact): input field name -> value or values, in recorded order.
Recorded: TypeAlias = Mapping[str, str | Sequence[str] | None]

_DATA_FILES: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {1: ("taxonomy-v1.json", TAXONOMY_V1_ID), 2: ("taxonomy-v2.json", TAXONOMY_V2_ID)}
)
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


@dataclass(frozen=True, slots=True)
class Code:
    """One code of a dimension. ``kind`` is set in country dimensions only (country, region or special)."""

    code: str
    label: str
    kind: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How the values recorded in one input field (HTCDS name, or ``ext_*`` extension) map to codes."""

    name: str
    values: Mapping[str, str] = field(hash=False)
    note: str = ""


@dataclass(frozen=True, slots=True)
class AgeRange:
    """Ages ``min_age``..``max_age`` (inclusive; ``None``: no upper limit) get ``code``."""

    code: str
    min_age: int
    max_age: int | None


@dataclass(frozen=True, slots=True)
class InputRule:
    """How a node computes a dimension's code from a record; see the document's ``input_rules``."""

    rule: str
    fields: tuple[FieldMap, ...] = ()
    missing: str | None = None
    several: str | None = None
    priority: tuple[str, ...] = ()
    any_code: str | None = None
    ranges: tuple[AgeRange, ...] = ()
    derived_from: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    regions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Dimension:
    """A closed, ordered code list and the rule that maps record values onto it."""

    name: str
    description: str
    codes: tuple[Code, ...]
    input: InputRule
    code_names: tuple[str, ...] = field(init=False)
    _positions: Mapping[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = tuple(code.code for code in self.codes)
        object.__setattr__(self, "code_names", names)
        object.__setattr__(self, "_positions", MappingProxyType({c: i for i, c in enumerate(names)}))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def multi_valued(self) -> bool:
        """True if one record can count under several codes (input rule ``each``)."""
        return self.input.rule == "each"

    def index_of(self, code: str) -> int:
        """Position of ``code`` in this dimension's code list."""
        try:
            return self._positions[code]
        except (KeyError, TypeError):
            raise TaxonomyViolation(f"{code!r} is not a code of dimension {self.name!r}") from None

    def code_for(self, recorded: Recorded) -> str:
        """The code of one record, for a single-valued dimension with rule first/several/priority/country."""
        rule = self.input
        if rule.rule in ("first", "country"):
            for field_map in rule.fields:
                for raw in _values(recorded, field_map.name):
                    return self._map_one(field_map, raw)
            return _required(rule.missing)
        if rule.rule in ("several", "priority"):
            found = {self._map_one(fm, raw) for fm in rule.fields for raw in _values(recorded, fm.name)}
            if not found:
                return _required(rule.missing)
            if rule.rule == "priority":
                return min(found, key=rule.priority.index)
            return found.pop() if len(found) == 1 else _required(rule.several)
        raise TaxonomyViolation(self._wrong_method("code_for"))

    def codes_for(self, recorded: Recorded) -> tuple[str, ...]:
        """Every code a record counts under, in code-list order (one code unless the dimension is multi-valued)."""
        rule = self.input
        if rule.rule != "each":
            return (self.code_for(recorded),)
        found = {self._map_one(fm, raw) for fm in rule.fields for raw in _values(recorded, fm.name)}
        if found and rule.any_code is not None:
            found.add(rule.any_code)
        return tuple(sorted(found, key=self.index_of))

    def code_for_age(self, age: int | None) -> str:
        """The code for an age in whole years (rule ``age``); ``None`` or a negative age gives the missing code."""
        rule = self.input
        if rule.rule != "age":
            raise TaxonomyViolation(self._wrong_method("code_for_age"))
        if age is not None and age >= 0:
            for band in rule.ranges:
                if band.min_age <= age and (band.max_age is None or age <= band.max_age):
                    return band.code
        return _required(rule.missing)

    def _map_one(self, field_map: FieldMap, raw: str) -> str:
        if self.input.rule == "country":
            return self._map_country(field_map, raw)
        code = field_map.values.get(raw)
        if code is None:
            raise TaxonomyViolation(
                f"value {raw!r} of field {field_map.name} has no code in dimension {self.name!r}; "
                f"the taxonomy accepts: {', '.join(sorted(field_map.values))}"
            )
        return code

    def _map_country(self, field_map: FieldMap, raw: str) -> str:
        value = raw.upper()
        if value in field_map.values:
            return field_map.values[value]
        value = self.input.aliases.get(value, value)
        position = self._positions.get(value)
        if position is not None and self.codes[position].kind == "country":
            return value
        region = self.input.regions.get(value)
        if region is None:
            raise TaxonomyViolation(
                f"value {raw!r} of field {field_map.name} is not an ISO 3166-1 alpha-2 code that dimension "
                f"{self.name!r} maps; correct the record, or record it as unknown"
            )
        return region

    def _wrong_method(self, method: str) -> str:
        use = {"each": "codes_for", "age": "code_for_age"}.get(self.input.rule, "the rule in its note")
        return f"dimension {self.name!r} has input rule {self.input.rule!r}: {method} does not apply, use {use}"


@dataclass(frozen=True, slots=True)
class Table:
    """A dense table: every cell of the product of its dimensions' code lists, in row-major order."""

    name: str
    description: str
    unit: str
    dimensions: tuple[Dimension, ...]
    l1_bound: int
    per_cell_bound: int
    shape: tuple[int, ...] = field(init=False)
    cell_count: int = field(init=False)
    _strides: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = tuple(len(dimension) for dimension in self.dimensions)
        strides = tuple(math.prod(shape[i + 1 :]) for i in range(len(shape)))
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "cell_count", math.prod(shape))
        object.__setattr__(self, "_strides", strides)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(dimension.name for dimension in self.dimensions)

    @property
    def multi_valued(self) -> bool:
        """True if one person can count in several cells because a dimension is multi-valued."""
        return any(dimension.multi_valued for dimension in self.dimensions)

    @property
    def l2_sensitivity_squared(self) -> int:
        """Largest Σx² over contributions with Σx ≤ l1 and every x ≤ per_cell: (l1 // c)·c² + (l1 mod c)²."""
        full, rest = divmod(self.l1_bound, self.per_cell_bound)
        return full * self.per_cell_bound**2 + rest**2

    def cell_index(self, codes: Sequence[str]) -> int:
        """Position in the dense vector of the cell with one code per dimension (row-major)."""
        if isinstance(codes, str) or len(codes) != len(self.dimensions):
            raise TaxonomyViolation(
                f"table {self.name!r} needs one code for each of its dimensions {list(self.dimension_names)}, "
                f"got {codes!r}"
            )
        index = 0
        for dimension, stride, code in zip(self.dimensions, self._strides, codes, strict=True):
            try:
                index += dimension.index_of(code) * stride
            except TaxonomyViolation as e:
                raise TaxonomyViolation(f"table {self.name!r}: {e}") from None
        return index

    def cell_codes(self, index: int) -> tuple[str, ...]:
        """The codes of the cell at ``index`` in the dense vector; inverse of :meth:`cell_index`."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.cell_count:
            raise TaxonomyViolation(
                f"table {self.name!r} has cells 0..{self.cell_count - 1}; {index!r} is not one of them"
            )
        codes = []
        for dimension, stride in zip(self.dimensions, self._strides, strict=True):
            position, index = divmod(index, stride)
            codes.append(dimension.code_names[position])
        return tuple(codes)

    def iter_cells(self) -> Iterator[tuple[str, ...]]:
        """Every cell's codes, in dense (row-major) order."""
        return itertools.product(*(dimension.code_names for dimension in self.dimensions))


@dataclass(frozen=True, slots=True)
class WorkloadQuestion:
    """One question of the coordinators' workload the taxonomy's tables and budget weights were chosen for.

    A *cell* of the question is one combination of codes of ``dimensions`` (no dimension: the total), summed over
    ``months`` months. ``halfwidth`` is the 95 % half-width coordinators need for one such cell at the workload's
    reference number of hotlines, and ``priority`` how much that need weighs against the others. Budget weights
    minimise ``Σ priority · (expected half-width / halfwidth)²`` (:mod:`protocol.allocation`).
    """

    id: str
    description: str
    unit: str
    dimensions: tuple[str, ...]
    months: int
    halfwidth: int
    priority: int


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A validated taxonomy document. Build it with :func:`load_taxonomy`, :func:`parse_taxonomy` or
    :func:`builtin_taxonomy`, never directly."""

    id: str
    version: int
    title: str
    description: str
    dimensions: Mapping[str, Dimension] = field(hash=False)
    tables: Mapping[str, Table] = field(hash=False)
    country_aliases: Mapping[str, str] = field(hash=False)
    country_regions: Mapping[str, str] = field(hash=False)
    content_hash: str
    _canonical: bytes = field(repr=False)
    #: The questions the tables and weights were chosen for (empty in taxonomy v1, which predates them).
    workload: tuple[WorkloadQuestion, ...] = ()
    #: Recorded budget weights: mechanism -> table -> whole-number weight (empty in taxonomy v1).
    budget_weights: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    #: The number of hotlines the workload's half-widths are stated for (0 without a workload).
    workload_hotlines: int = 0

    @property
    def document(self) -> dict[str, Any]:
        """The taxonomy document as a fresh JSON value (a copy: changing it changes nothing here)."""
        value: dict[str, Any] = json.loads(self._canonical)
        return value

    @property
    def total_cells(self) -> int:
        """Cells in one monthly release: the sum over all tables."""
        return sum(table.cell_count for table in self.tables.values())

    def canonical_bytes(self) -> bytes:
        """The RFC 8785 bytes of the document; ``content_hash`` is their SHA-256."""
        return self._canonical

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise TaxonomyViolation(
                f"taxonomy {self.id} has no table {name!r}; its tables are: {', '.join(self.tables)}"
            ) from None

    def dimension(self, name: str) -> Dimension:
        try:
            return self.dimensions[name]
        except KeyError:
            raise TaxonomyViolation(
                f"taxonomy {self.id} has no dimension {name!r}; its dimensions are: {', '.join(self.dimensions)}"
            ) from None


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


@functools.cache
def builtin_taxonomy(version: int = 1) -> Taxonomy:
    """A taxonomy shipped in this package (``protocol/data/taxonomy-v<version>.json``), loaded once.

    Version 1 is the original eight tables; version 2 (:data:`TAXONOMY_V2_ID`) adds the one-cell total, the
    one-way margins and the two-way corridor that coordinators' questions need, with budget weights computed for
    their workload. A hub publishes and accepts both.
    """
    if version not in _DATA_FILES:
        raise TaxonomyViolation(f"this package ships taxonomy versions {sorted(_DATA_FILES)}, not {version!r}")
    name, expected = _DATA_FILES[version]
    data = resources.files("protocol").joinpath("data").joinpath(name).read_bytes()
    taxonomy = parse_taxonomy(data)
    if taxonomy.id != expected:
        raise TaxonomyViolation(f"{name} has id {taxonomy.id!r}, expected {expected!r}")
    return taxonomy


def builtin_taxonomies() -> tuple[Taxonomy, ...]:
    """Every taxonomy shipped in this package, oldest first."""
    return tuple(builtin_taxonomy(version) for version in sorted(_DATA_FILES))


def latest_taxonomy() -> Taxonomy:
    """The newest taxonomy shipped in this package: what a new hub publishes and a new node follows."""
    return builtin_taxonomy(max(_DATA_FILES))


def same_cells(first: Table, second: Table) -> bool:
    """True if two tables (of two taxonomies) have the same unit, bounds, dimensions and code lists, so that their
    cells mean the same and can be summed together. Descriptions and input rules may differ.

    >>> same_cells(builtin_taxonomy(1).table("contacts"), builtin_taxonomy(2).table("contacts"))
    True
    """
    return (
        first.unit == second.unit
        and first.l1_bound == second.l1_bound
        and first.per_cell_bound == second.per_cell_bound
        and first.dimension_names == second.dimension_names
        and all(a.code_names == b.code_names for a, b in zip(first.dimensions, second.dimensions, strict=True))
    )


# ---------------------------------------------------------------- record values


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
