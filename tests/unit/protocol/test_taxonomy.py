# SPDX-License-Identifier: Apache-2.0
"""Taxonomy v1: the shipped document, the loader's validation, dense cell order and the input mappings."""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.canonical import canonical_bytes
from protocol.errors import MalformedMessage, ProtocolError, TaxonomyViolation
from protocol.taxonomy import (
    TAXONOMY_V1_ID,
    Code,
    Dimension,
    InputRule,
    Table,
    Taxonomy,
    builtin_taxonomies,
    builtin_taxonomy,
    latest_taxonomy,
    load_taxonomy,
    parse_taxonomy,
    same_cells,
)
from protocol.taxonomy import builtin as taxonomy_builtin
from protocol.taxonomy import document as taxonomy_document
from tests.support.htcds import COUNTRY_DIMENSIONS, HTCDS_TYPE_OF_EXPLOITATION

#: Taxonomy v1 is frozen once published: a change to taxonomy-v1.json changes this hash and needs a new version.
V1_CONTENT_HASH = "sha256:3060713c9bdbc2d718f771194e894b044417eb6539c9e3d4f9c7f89ae2cefd79"

DIMENSIONS = (
    "age_band", "age_group", "channel", "citizenship", "contact_type", "control_flag", "country_of_exploitation",
    "cross_border", "exploitation_group", "exploitation_type", "gender", "recruiter_relation", "recruitment_channel",
)  # fmt: skip

EXPECTED_TABLES = {
    # name: (unit, dimensions, l1, per_cell, cell count)
    "persons_corridor": ("person", ("citizenship", "country_of_exploitation", "exploitation_group"), 1, 1, 62 * 62 * 5),
    "persons_demography": ("person", ("gender", "age_band", "exploitation_type"), 1, 1, 4 * 10 * 14),
    "persons_destination_demo": ("person", ("country_of_exploitation", "gender", "age_group"), 1, 1, 62 * 4 * 3),
    "persons_origin_demo": ("person", ("citizenship", "gender", "age_group"), 1, 1, 62 * 4 * 3),
    "persons_recruitment": ("person", ("exploitation_group", "recruiter_relation", "recruitment_channel"), 1, 1, 75),
    "persons_control": ("person", ("exploitation_group", "control_flag"), 9, 1, 5 * 9),
    "cases_opened": ("case", ("exploitation_type", "cross_border"), 2, 1, 14 * 3),
    "contacts": ("contact", ("channel", "contact_type"), 3, 3, 8 * 9),
}


@pytest.fixture(scope="module")
def v1() -> Taxonomy:
    return builtin_taxonomy()


def v1_document() -> dict[str, Any]:
    return builtin_taxonomy().document


# ---------------------------------------------------------------- the shipped document


def test_builtin_taxonomy_is_v1_and_loaded_once(v1: Taxonomy) -> None:
    assert v1.id == TAXONOMY_V1_ID
    assert v1.version == 1
    assert builtin_taxonomy() is v1
    assert v1.title
    assert v1.description


def test_content_hash_is_sha256_of_canonical_bytes(v1: Taxonomy) -> None:
    expected = "sha256:" + hashlib.sha256(canonical_bytes(v1.document)).hexdigest()
    assert v1.content_hash == expected
    assert v1.canonical_bytes() == canonical_bytes(v1.document)
    assert v1.content_hash == V1_CONTENT_HASH, "taxonomy v1 changed: publish a new version instead"


def test_package_file_parses_to_the_same_taxonomy(v1: Taxonomy) -> None:
    data = resources.files("protocol").joinpath("data").joinpath("taxonomy-v1.json").read_bytes()
    assert parse_taxonomy(data).content_hash == v1.content_hash
    assert parse_taxonomy(v1.canonical_bytes()) == v1
    assert load_taxonomy(v1.document) == v1


def test_hash_ignores_key_order_but_not_code_order(v1: Taxonomy) -> None:
    def reverse_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: reverse_keys(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_keys(item) for item in value]
        return value

    assert load_taxonomy(reverse_keys(v1.document)).content_hash == v1.content_hash
    doc = v1.document
    codes = doc["dimensions"]["gender"]["codes"]
    codes[0], codes[1] = codes[1], codes[0]
    reordered = load_taxonomy(doc)
    assert reordered.content_hash != v1.content_hash
    assert reordered.table("persons_demography").cell_codes(0)[0] == "M"


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_hash_changes_when_a_code_changes(v1: Taxonomy, dimension: str) -> None:
    renamed = v1.document
    old = renamed["dimensions"][dimension]["codes"][-1]["code"]
    _replace_values(renamed["dimensions"][dimension], old, old + "x")
    changed = load_taxonomy(renamed)
    assert changed.content_hash != v1.content_hash
    assert changed.dimension(dimension).code_names[-1] == old + "x"

    relabelled = v1.document
    relabelled["dimensions"][dimension]["codes"][0]["label"] += " (changed)"
    assert load_taxonomy(relabelled).content_hash != v1.content_hash


def test_document_is_a_copy(v1: Taxonomy) -> None:
    doc = v1.document
    doc["tables"].clear()
    assert v1.document["tables"]
    assert len(v1.tables) == len(EXPECTED_TABLES)


def test_document_holds_no_floats(v1: Taxonomy) -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(v1.document)


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_required_tables(v1: Taxonomy, name: str) -> None:
    unit, dimensions, l1, per_cell, cells = EXPECTED_TABLES[name]
    table = v1.table(name)
    assert table.unit == unit
    assert table.dimension_names == dimensions
    assert (table.l1_bound, table.per_cell_bound) == (l1, per_cell)
    assert table.cell_count == cells == len(list(table.iter_cells()))
    assert table.shape == tuple(len(v1.dimension(d)) for d in dimensions)
    assert len(table.dimensions) <= 3
    assert table.multi_valued == (name == "persons_control")


def test_table_set_and_total_cells(v1: Taxonomy) -> None:
    assert set(v1.tables) == set(EXPECTED_TABLES)
    assert v1.total_cells == sum(spec[-1] for spec in EXPECTED_TABLES.values()) == 21502
    used = {d for table in v1.tables.values() for d in table.dimension_names}
    assert used == set(v1.dimensions) == set(DIMENSIONS), "every dimension is used by some table"


def test_unknown_table_and_dimension_are_named(v1: Taxonomy) -> None:
    with pytest.raises(TaxonomyViolation, match=r"no table 'persons_everything'.*persons_corridor"):
        v1.table("persons_everything")
    with pytest.raises(TaxonomyViolation, match="no dimension 'shoe_size'"):
        v1.dimension("shoe_size")


def test_code_conventions(v1: Taxonomy) -> None:
    demography = v1.table("persons_demography")
    assert v1.dimension("age_band").code_names == (
        "0-8", "9-17", "18-20", "21-23", "24-26", "27-29", "30-38", "39-47", "48+", "unknown",
    )  # fmt: skip
    assert v1.dimension("gender").code_names == ("F", "M", "X", "U")
    assert set(HTCDS_TYPE_OF_EXPLOITATION) < set(demography.dimensions[2].code_names)
    assert v1.dimension("exploitation_group").code_names == ("sexual", "labour", "other", "multiple", "unknown")
    assert v1.dimension("control_flag").code_names[-1] == "_any_info"
    for dimension in v1.dimensions.values():
        for code in dimension.codes:
            assert code.code.isascii(), (dimension.name, code)
            assert code.label.strip(), (dimension.name, code)


def test_country_dimensions_share_their_country_and_region_codes(v1: Taxonomy) -> None:
    citizenship, exploitation = (v1.dimension(name) for name in COUNTRY_DIMENSIONS)

    def by_kind(dimension: Dimension, kind: str) -> list[str]:
        return [code.code for code in dimension.codes if code.kind == kind]

    for kind in ("country", "region"):
        assert by_kind(citizenship, kind) == by_kind(exploitation, kind)
    assert by_kind(citizenship, "special") == ["XX", "ZZ"]
    assert by_kind(exploitation, "special") == ["XN", "ZZ"]
    countries = by_kind(citizenship, "country")
    assert 40 <= len(countries) + len(by_kind(citizenship, "region")) <= 62
    region_of_interest = "UA MD RO BG PL BY RU GE AM AZ KZ KG TJ TM UZ LT LV EE CZ SK HU RS BA ME MK AL XK HR SI"
    destinations = "DE IT ES FR GB NL BE AT GR CY PT IE SE DK FI NO CH TR IL AE SA QA US"
    assert set(countries) == set(region_of_interest.split()) | set(destinations.split())
    assert all(len(region) == 3 and region.isdigit() for region in by_kind(citizenship, "region"))


# ---------------------------------------------------------------- dense order


def test_every_cell_round_trips_in_dense_order(v1: Taxonomy) -> None:
    for table in v1.tables.values():
        for index, codes in enumerate(table.iter_cells()):
            assert table.cell_index(codes) == index
            assert table.cell_codes(index) == codes


@given(data=st.data())
def test_random_cells_round_trip(data: st.DataObject) -> None:
    table = builtin_taxonomy().table(data.draw(st.sampled_from(sorted(EXPECTED_TABLES))))
    codes = tuple(data.draw(st.sampled_from(dimension.code_names)) for dimension in table.dimensions)
    index = table.cell_index(codes)
    assert 0 <= index < table.cell_count
    assert table.cell_codes(index) == codes
    assert table.cell_index(list(codes)) == index


def test_row_major_order_on_a_small_table(v1: Taxonomy) -> None:
    cases = v1.table("cases_opened")
    assert cases.shape == (14, 3)
    assert cases.cell_codes(0) == ("SexualExploitation", "domestic")
    assert cases.cell_codes(1) == ("SexualExploitation", "international")
    assert cases.cell_codes(2) == ("SexualExploitation", "unknown")
    assert cases.cell_codes(3) == ("ForcedLabour", "domestic")
    assert cases.cell_index(["NotSpecified", "unknown"]) == 41

    tiny = load_taxonomy(_tiny_document())
    assert list(tiny.table("t").iter_cells()) == [
        ("a1", "b1", "c1"), ("a1", "b1", "c2"), ("a1", "b2", "c1"), ("a1", "b2", "c2"), ("a1", "b3", "c1"),
        ("a1", "b3", "c2"), ("a2", "b1", "c1"), ("a2", "b1", "c2"), ("a2", "b2", "c1"), ("a2", "b2", "c2"),
        ("a2", "b3", "c1"), ("a2", "b3", "c2"),
    ]  # fmt: skip
    assert tiny.table("t").cell_index(["a2", "b1", "c2"]) == 1 * 6 + 0 * 2 + 1


def test_cell_lookups_reject_bad_input(v1: Taxonomy) -> None:
    corridor = v1.table("persons_corridor")
    with pytest.raises(TaxonomyViolation, match="needs one code for each of its dimensions"):
        corridor.cell_index(["UA", "PL"])
    with pytest.raises(TaxonomyViolation, match="needs one code"):
        corridor.cell_index("UAP")
    with pytest.raises(
        TaxonomyViolation, match="table 'persons_corridor': 'XN' is not a code of dimension 'citizenship'"
    ):
        corridor.cell_index(["XN", "PL", "labour"])
    for bad in (-1, corridor.cell_count, True):
        with pytest.raises(TaxonomyViolation, match=r"has cells 0\.\.19219"):
            corridor.cell_codes(bad)


# ---------------------------------------------------------------- sensitivity


def _brute_force_l2_squared(l1: int, per_cell: int) -> int:
    """Largest Σx² over non-negative integer vectors with Σx ≤ l1 and each x ≤ per_cell."""
    best = 0
    for length in range(1, l1 + 1):
        for xs in itertools.product(range(per_cell + 1), repeat=length):
            if sum(xs) <= l1:
                best = max(best, sum(x * x for x in xs))
    return best


@pytest.mark.parametrize(("l1", "per_cell"), [(l1, c) for l1 in range(1, 8) for c in range(1, l1 + 1)])
def test_l2_sensitivity_matches_brute_force(l1: int, per_cell: int) -> None:
    dimension = Dimension(name="d", description="d", codes=(Code("a", "A"),), input=InputRule(rule="first"))
    table = Table(
        name="t", description="t", unit="contact", dimensions=(dimension,), l1_bound=l1, per_cell_bound=per_cell
    )
    assert table.l2_sensitivity_squared == _brute_force_l2_squared(l1, per_cell)


def test_builtin_sensitivities(v1: Taxonomy) -> None:
    assert {name: t.l2_sensitivity_squared for name, t in v1.tables.items()} == {
        "cases_opened": 2, "contacts": 9, "persons_control": 9, "persons_corridor": 1, "persons_demography": 1,
        "persons_destination_demo": 1, "persons_origin_demo": 1, "persons_recruitment": 1,
    }  # fmt: skip


# ---------------------------------------------------------------- invalid documents

Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets doc[path] (a dotted path; integers index lists, one past the end appends)."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list) and int(last) == len(target):
            target.append(value)
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]

    return mutate


def _second_multi_valued_dimension(doc: dict[str, Any]) -> None:
    doc["dimensions"]["control_flag_copy"] = copy.deepcopy(doc["dimensions"]["control_flag"])
    doc["tables"]["persons_control"]["dimensions"].append("control_flag_copy")


def _add_listed_country_to_regions(doc: dict[str, Any]) -> None:
    doc["countries"]["regions"]["UA"] = "150"


def _empty_region(doc: dict[str, Any]) -> None:
    doc["countries"]["regions"] = {k: v for k, v in doc["countries"]["regions"].items() if v != "009"}


def _no_country(doc: dict[str, Any]) -> None:
    """No countries block, and the country dimensions list regions only."""
    del doc["countries"]
    for dimension in doc["dimensions"].values():
        if dimension["input"]["rule"] == "country":
            dimension["codes"] = [code for code in dimension["codes"] if code.get("kind") != "country"]


INVALID: list[tuple[str, Mutation, str]] = [
    ("wrong type", _set("type", "payload"), "type 'payload'; expected \"taxonomy\""),
    ("version zero", _set("version", 0), "taxonomy version must be an integer from 1"),
    ("version bool", _set("version", True), "taxonomy version must be an integer"),
    ("id without version", _set("id", "tipshare-taxonomy/2"), "must end with its version, /1"),
    ("id pattern", _set("id", "Tipshare Taxonomy/1"), "taxonomy id 'Tipshare Taxonomy/1' does not match"),
    ("unknown top-level key", _set("colour", "red"), r"taxonomy document has unknown key\(s\): colour"),
    ("missing tables", _delete("tables"), r"lacks required key\(s\): tables"),
    ("float", _set("tables.contacts.contribution.l1", 3.0), "cannot be canonicalised: floating-point"),
    ("empty title", _set("title", " "), "taxonomy title must be a non-empty string"),
    ("note not a string", _set("notes.0", 7), r"notes\[0\] must be a non-empty string"),
    ("unknown unit described", _set("units.household", "x"), r"units has unknown key\(s\): household"),
    ("unknown rule described", _set("input_rules.magic", "x"), r"input_rules has unknown key\(s\): magic"),
    ("rule not described", _delete("input_rules.age"), "input rule 'age', which input_rules does not describe"),
    ("unit not described", _delete("units.contact"), "counts unit 'contact', which the document's units do not"),
    ("no dimensions", _set("dimensions", {}), "defines no dimensions"),
    ("dimension name", _set("dimensions.Gender", {}), "dimension name 'Gender' does not match"),
    ("duplicate code", _set("dimensions.gender.codes.1.code", "F"), "dimension 'gender' lists code 'F' twice"),
    ("non-ASCII code", _set("dimensions.gender.codes.0.code", "Ž"), r"dimension 'gender' codes\[0\] 'Ž' does not"),
    ("code with space", _set("dimensions.gender.codes.0.code", "F M"), "'F M' does not match"),
    ("empty label", _set("dimensions.gender.codes.0.label", ""), "code 'F' label must be a non-empty string"),
    ("unknown code key", _set("dimensions.gender.codes.0.colour", "red"), r"has unknown key\(s\): colour"),
    ("no codes", _set("dimensions.gender.codes", []), "dimension 'gender' codes has 0 entries"),
    ("bad kind", _set("dimensions.citizenship.codes.0.kind", "planet"), "code 'AE' has kind 'planet'"),
    ("kind outside countries", _set("dimensions.gender.codes.0.kind", "country"), "only the country rule uses"),
    ("missing kind", _delete("dimensions.citizenship.codes.0.kind"), "code 'AE' needs a kind"),
    ("country code pattern", _set("dimensions.citizenship.codes.0.code", "ARE"), "code 'ARE' of kind country must"),
    ("unknown rule", _set("dimensions.gender.input.rule", "magic"), "dimension 'gender' input has rule 'magic'"),
    ("rule key missing", _set("dimensions.gender.input.rule", "several"), r"lacks required key\(s\): several"),
    ("rule key extra", _set("dimensions.gender.input.several", "X"), r"input has unknown key\(s\): several"),
    ("missing not a code", _set("dimensions.gender.input.missing", "N"), "input missing is 'N', which is not a code"),
    (
        "maps to unknown code",
        _set("dimensions.gender.input.fields.0.values.Feminine", "W"),
        "maps prs_Gender value 'Feminine' to 'W', which is not a code",
    ),
    ("value with space", _set("dimensions.gender.input.fields.0.values. Feminine", "F"), "surrounding white space"),
    ("lower-case country value", _set("dimensions.citizenship.input.fields.0.values.xx", "XX"), "and upper-case"),
    (
        "field twice",
        _set("dimensions.gender.input.fields.1", {"field": "prs_Gender", "values": {"Man": "M"}}),
        "lists field prs_Gender twice",
    ),
    ("field name", _set("dimensions.gender.input.fields.0.field", "prs Gender"), "field 'prs Gender' does not match"),
    ("no fields", _set("dimensions.gender.input.fields", []), "input fields has 0 entries"),
    ("empty values", _set("dimensions.gender.input.fields.0.values", {}), "every field needs at least one value"),
    (
        "priority incomplete",
        _set("dimensions.recruitment_channel.input.priority", ["online", "offline"]),
        r"priority lacks \['unknown'\]",
    ),
    ("priority repeats", _set("dimensions.recruitment_channel.input.priority.1", "online"), "distinct codes"),
    ("age gap", _set("dimensions.age_group.input.ranges.1.min", 19), r"ranges\[1\] starts at 19"),
    ("age open middle", _delete("dimensions.age_group.input.ranges.0.max"), "only the last age range"),
    ("age closed end", _set("dimensions.age_group.input.ranges.1.max", 130), "only the last age range"),
    ("age missing in ranges", _set("dimensions.age_group.input.missing", "adult"), "'adult' is also an age range"),
    ("derived from unknown", _set("dimensions.cross_border.input.from.0", "nationality"), "derived from 'nationality'"),
    ("region unknown", _set("countries.regions.VN", "142"), "maps 'VN' to '142', which is not a region"),
    ("listed and regioned", _add_listed_country_to_regions, "'UA' is listed in dimension 'citizenship' and also"),
    ("empty region", _empty_region, r"regions \['009'\] of dimension 'citizenship' have no country"),
    ("region key pattern", _set("countries.regions.vn", "035"), "countries regions key 'vn' does not match"),
    ("alias to nowhere", _set("countries.aliases.EL", "QQ"), "countries alias 'EL' -> 'QQ'"),
    ("alias shadows country", _set("countries.aliases.UA", "GB"), "alias 'UA' is listed as a country"),
    ("no tables", _set("tables", {}), "defines no tables"),
    ("table name", _set("tables.Persons", {}), "table name 'Persons' does not match"),
    ("unknown dimension", _set("tables.contacts.dimensions.0", "caller_role"), "uses dimension 'caller_role', which"),
    ("repeated dimension", _set("tables.contacts.dimensions.1", "channel"), "uses dimension 'channel' twice"),
    (
        "four dimensions",
        _set("tables.persons_demography.dimensions", ["gender", "age_band", "exploitation_type", "age_group"]),
        "table 'persons_demography' dimensions has 4 entries; it needs 0..3",
    ),
    ("bad unit", _set("tables.contacts.unit", "household"), "table 'contacts' has unit 'household'"),
    ("zero l1", _set("tables.contacts.contribution.l1", 0), "contribution l1 must be an integer from 1"),
    ("string l1", _set("tables.contacts.contribution.l1", "3"), "contribution l1 must be an integer"),
    ("per_cell above l1", _set("tables.contacts.contribution.per_cell", 4), "per_cell bound 4 exceeds l1 bound 3"),
    ("single-valued l1", _set("tables.persons_corridor.contribution.l1", 2), r"l1 bound \(2\) must equal"),
    ("multi-valued l1", _set("tables.persons_control.contribution.l1", 10), "exceeds per_cell 1 times the 9 codes"),
    ("two multi-valued", _second_multi_valued_dimension, "more than one multi-valued dimension"),
    ("unknown table key", _set("tables.contacts.owner", "me"), r"table 'contacts' has unknown key\(s\): owner"),
    (
        "age range unknown",
        _set("dimensions.age_group.input.ranges.0.code", "teen"),
        r"ranges\[0\] code 'teen' is not a",
    ),
    (
        "age range twice",
        _set("dimensions.age_group.input.ranges.1.code", "child"),
        "code 'child' is not a code of the dimension, or is used twice",
    ),
    (
        "alias is a region key",
        _set("countries.aliases.AD", "FR"),
        r"aliases \['AD'\] are also keys of countries regions",
    ),
    ("no country at all", _no_country, "'citizenship' uses the country rule, but no country is listed or mapped"),
    ("note not a string", _set("tables.contacts.note", 5), "table 'contacts' note must be a non-empty string, not 5"),
    ("object expected", _set("tables.contacts.contribution", 3), "table 'contacts' contribution must be a JSON object"),
    (
        "array expected",
        _set("tables.contacts.dimensions", "channel"),
        "table 'contacts' dimensions must be a JSON array",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [pytest.param(m, msg, id=name) for name, m, msg in INVALID])
def test_invalid_documents_are_rejected(mutate: Mutation, message: str) -> None:
    doc = v1_document()
    mutate(doc)
    with pytest.raises(TaxonomyViolation, match=message):
        load_taxonomy(doc)


def test_a_table_note_and_the_countries_description_are_optional() -> None:
    doc = v1_document()
    doc["tables"]["contacts"]["note"] = "channels as the hotlines name them"
    del doc["countries"]["description"]
    taxonomy = load_taxonomy(doc)
    assert taxonomy.document["tables"]["contacts"]["note"] == "channels as the hotlines name them"
    assert taxonomy.country_aliases == builtin_taxonomy().country_aliases


def test_a_workload_question_naming_a_dimension_twice_is_refused() -> None:
    doc = builtin_taxonomy(2).document
    question = doc["workload"]["questions"][1]
    question["dimensions"] = [*question["dimensions"], question["dimensions"][0]]
    with pytest.raises(TaxonomyViolation, match=r"workload questions\[1\] names a dimension twice"):
        load_taxonomy(doc)


def test_a_shipped_file_with_another_id_than_its_version_expects_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taxonomy_builtin, "_DATA_FILES", {1: ("taxonomy-v2.json", TAXONOMY_V1_ID)})
    builtin_taxonomy.cache_clear()
    try:
        with pytest.raises(
            TaxonomyViolation, match=r"taxonomy-v2\.json has id 'tipshare-taxonomy/2', expected 'tipshare"
        ):
            builtin_taxonomy(1)
    finally:
        builtin_taxonomy.cache_clear()


def test_a_dimension_looks_up_its_codes() -> None:
    gender = builtin_taxonomy().dimensions["gender"]
    first = gender.codes[0]
    assert gender.code(first.code) is first
    assert gender.code("no-such-code") is None


def test_too_many_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taxonomy_document, "MAX_CELLS_PER_TABLE", 10_000)
    with pytest.raises(TaxonomyViolation, match="table 'persons_corridor' has 19220 cells; at most 10000"):
        load_taxonomy(v1_document())


def test_not_a_document() -> None:
    with pytest.raises(TaxonomyViolation, match="is a JSON object, not list"):
        load_taxonomy([])  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage, match="not valid JSON"):
        parse_taxonomy(b"{")
    with pytest.raises(MalformedMessage, match="floating-point"):
        parse_taxonomy(b'{"version": 1.0}')
    assert issubclass(TaxonomyViolation, ProtocolError)


def test_tiny_document_is_valid() -> None:
    tiny = load_taxonomy(_tiny_document())
    assert tiny.id == "example/3"
    assert tiny.table("t").cell_count == 12
    assert tiny.country_regions == {}


# ---------------------------------------------------------------- helpers


def _tiny_document() -> dict[str, Any]:
    def dimension(prefix: str, n: int) -> dict[str, Any]:
        codes = [f"{prefix}{i}" for i in range(1, n + 1)]
        return {
            "description": prefix,
            "codes": [{"code": code, "label": code.upper()} for code in codes],
            "input": {
                "rule": "first",
                "fields": [{"field": prefix, "values": {c: c for c in codes}}],
                "missing": codes[0],
            },
        }

    return {
        "type": "taxonomy",
        "id": "example/3",
        "version": 3,
        "title": "tiny",
        "description": "three small dimensions",
        "units": {"contact": "one contact"},
        "input_rules": {"first": "the first value"},
        "dimensions": {"a": dimension("a", 2), "b": dimension("b", 3), "c": dimension("c", 2)},
        "tables": {
            "t": {
                "description": "t",
                "unit": "contact",
                "dimensions": ["a", "b", "c"],
                "contribution": {"l1": 2, "per_cell": 1},
            }
        },
    }


def _replace_values(value: Any, old: str, new: str) -> None:
    """Replace, in place, every string *value* (never a key) equal to ``old`` inside ``value``."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if item == old:
            value[key] = new
        else:
            _replace_values(item, old, new)


# ---------------------------------------------------------------- taxonomy v2


def test_v2_is_shipped_beside_v1_and_keeps_its_dimensions() -> None:
    v1, v2 = builtin_taxonomy(1), builtin_taxonomy(2)
    assert (v2.id, v2.version) == ("tipshare-taxonomy/2", 2)
    assert builtin_taxonomies() == (v1, v2)
    assert latest_taxonomy() is v2
    assert v2.document["dimensions"] == v1.document["dimensions"]
    assert set(v2.tables) == {
        "persons_total",
        "persons_citizenship",
        "persons_destination",
        "persons_exploitation_group",
        "persons_exploitation_type",
        "persons_corridor_2way",
        "persons_gender_age",
        "persons_corridor",
        "persons_sex_age_form",
        "persons_recruitment",
        "persons_control",
        "cases_opened",
        "contacts",
    }
    assert [q.id for q in v2.workload][:5] == ["total", "citizenship", "destination", "corridor", "corridor_half_year"]
    assert v2.workload_hotlines == 5
    assert sorted(v2.budget_weights) == ["discrete_gaussian", "discrete_laplace"]
    with pytest.raises(TaxonomyViolation, match="ships taxonomy versions"):
        builtin_taxonomy(3)


def test_a_table_without_dimensions_has_one_cell() -> None:
    total = builtin_taxonomy(2).table("persons_total")
    assert (total.shape, total.cell_count, total.dimension_names) == ((), 1, ())
    assert list(total.iter_cells()) == [()]
    assert total.cell_index([]) == 0
    assert total.cell_codes(0) == ()
    assert total.l2_sensitivity_squared == 1


def test_same_cells_compares_dimensions_codes_unit_and_bounds() -> None:
    v1, v2 = builtin_taxonomy(1), builtin_taxonomy(2)
    assert same_cells(v1.table("persons_corridor"), v2.table("persons_corridor"))
    assert not same_cells(v1.table("persons_demography"), v2.table("persons_gender_age"))
    doc = v2.document
    doc["tables"]["contacts"]["contribution"] = {"l1": 2, "per_cell": 2}
    assert not same_cells(v1.table("contacts"), load_taxonomy(doc).table("contacts"))


def _v2(mutate: Mutation) -> dict[str, Any]:
    doc = builtin_taxonomy(2).document
    mutate(doc)
    return doc


V2_INVALID: list[tuple[str, Mutation, str]] = [
    ("question on an unknown dimension", _set("workload.questions.0.dimensions", ["planet"]), "dimension"),
    (
        "question no table answers",
        _set("workload.questions.0.dimensions", ["channel", "gender"]),
        r"no person table carries all of \['channel', 'gender'\]",
    ),
    ("question id twice", _set("workload.questions.1.id", "total"), "question id 'total' is used twice"),
    ("question of no unit", _set("workload.questions.0.unit", "victim"), "unit 'victim'"),
    ("zero months", _set("workload.questions.0.months", 0), "months must be an integer from 1 to 120"),
    ("a weight for no table", _set("budget.weights.discrete_gaussian.planets", 3), r"unknown \['planets'\]"),
    ("a table without weight", _delete("budget.weights.discrete_laplace.contacts"), r"missing \['contacts'\]"),
    ("unknown mechanism", _set("budget.weights.gaussian", {}), "mechanism 'gaussian'"),
    ("weight out of range", _set("budget.weights.discrete_gaussian.contacts", 0), "from 1 to 1000"),
]


@pytest.mark.parametrize(("mutate", "message"), [pytest.param(m, msg, id=name) for name, m, msg in V2_INVALID])
def test_invalid_workloads_and_weights_are_rejected(mutate: Mutation, message: str) -> None:
    with pytest.raises(TaxonomyViolation, match=message):
        load_taxonomy(_v2(mutate))
