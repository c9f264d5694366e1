# SPDX-License-Identifier: Apache-2.0
"""Synthetic exports: profiles, determinism, realistic and dirty-but-valid values, an independent truth."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import pytest

from node.aggregate import prepare_tables
from node.errors import NodeError
from node.synth import SynthError, UnknownProfile, generate_export, profile, profiles
from node.synth import generator as generator_module
from protocol.taxonomy import builtin_taxonomy

TAXONOMY = builtin_taxonomy()


def _rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter))


def test_profiles_cover_the_region() -> None:
    listed = profiles()
    assert len(listed) >= 6
    assert {p.country for p in listed} >= {"UA", "MD", "RO", "PL", "BG", "GE"}
    assert all(p.description and p.hotline_id for p in listed)
    assert len({p.hotline_id for p in listed}) == len(listed)
    for p in listed:
        for weights in (p.citizenships, p.groups, *p.destinations.values()):
            assert sum(w for _, w in weights) == pytest.approx(1.0)
    with pytest.raises(UnknownProfile, match="profiles are: ua, md"):
        profile("xx")
    assert issubclass(UnknownProfile, NodeError)


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first = generate_export(out_dir=tmp_path / "a", profile="md", months=2, seed=9)
    second = generate_export(out_dir=tmp_path / "b", profile="md", months=2, seed=9)
    generate_export(out_dir=tmp_path / "c", profile="md", months=2, seed=10)
    for name in ("cases.csv", "contacts.csv", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    assert first.case_rows == second.case_rows


def test_truth_file_is_dense_and_names_its_taxonomy(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="ge", months=3, seed=1, start="2024-12", hotline_id="ge-test")
    document = json.loads(export.truth_path.read_text(encoding="utf-8"))
    assert document["type"] == "tipshare-synth-truth"
    assert document["hotline_id"] == export.hotline_id == "ge-test"
    assert document["taxonomy"] == {"id": TAXONOMY.id, "hash": TAXONOMY.content_hash}
    assert list(document["periods"]) == ["2024-12", "2025-01", "2025-02"]
    for tables in document["periods"].values():
        assert sorted(tables) == sorted(TAXONOMY.tables)
        for name, counts in tables.items():
            assert len(counts) == TAXONOMY.table(name).cell_count
            assert all(isinstance(c, int) and c >= 0 for c in counts)


def test_volume_is_configurable_and_realistic_by_default(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path / "small", profile="ge", months=1, seed=1)
    persons = sum(export.truth()["2025-01"]["persons_corridor"])
    assert 10 <= persons <= 300
    big = generate_export(
        out_dir=tmp_path / "big", profile="ge", months=1, seed=1, persons_per_month=2000, contacts_per_month=50
    )
    assert big.case_rows > 2000
    assert 40 <= big.contact_rows <= 80


def test_corridors_follow_the_profile(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="ua", months=6, seed=3)
    corridor = TAXONOMY.table("persons_corridor")
    totals: dict[tuple[str, str], int] = {}
    for tables in export.truth().values():
        for index, count in enumerate(tables["persons_corridor"]):
            if count:
                citizenship, country, _ = corridor.cell_codes(index)
                totals[citizenship, country] = totals.get((citizenship, country), 0) + count
    top = sorted(totals, key=lambda k: -totals[k])[:4]
    assert ("UA", "PL") in top
    assert all(citizenship == "UA" for citizenship, _ in top)


def test_dirty_values_are_there(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="md", months=3, seed=2)
    rows = _rows(export.cases)
    citizenship = [r["prs_Citizenship"] for r in rows]
    assert any(c != c.strip() for c in citizenship)
    assert any(c.strip().islower() for c in citizenship)
    assert any(";" in c or "|" in c for c in citizenship)
    assert {r["prs_Gender"].strip() for r in rows} >= {"Female", "Feminine", "Woman", "Male", "Masculine"}
    assert any(r["prs_Citizenship"] == "" for r in rows)
    ids = [r["ext_PersonID"] for r in rows]
    assert len(ids) > len(set(ids))  # persons with several rows (events, duplicates)
    assert any(r["hte_Type"] == "Recruitment" for r in rows)
    assert any("\n" in r["Notes"] for r in rows)


def test_clean_values_when_asked(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="bg", months=2, seed=2, dirty=False)
    for row in _rows(export.cases):
        for column, value in row.items():
            if column != "Notes":
                assert value == value.strip()
        assert row["prs_Citizenship"] == row["prs_Citizenship"].upper()


def test_profile_specific_export_shapes(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="pl", months=1, seed=1)
    header = export.cases.read_text(encoding="utf-8").split("\r\n", 1)[0]
    assert header.startswith("ext_PersonID;ext_CaseID;cas_IncomingReferralDate;")


def test_invalid_rows_are_where_the_export_says(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="ua", months=1, seed=1, invalid_rows=5)
    assert len(export.invalid) == 5
    records = list(csv.DictReader(export.cases.read_text(encoding="utf-8").splitlines(keepends=True)))
    for cell in export.invalid:
        assert records[cell.row - 2][cell.column] == cell.value


@pytest.mark.parametrize("module", ["generator", "oracle", "population", "profiles"])
def test_the_generator_never_uses_the_code_it_checks(module: str) -> None:
    path = Path(generator_module.__file__).with_name(f"{module}.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(name.startswith(("node.inputs", "node.aggregate")) for name in imported)
    assert "code_for" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "options", [{"months": 0}, {"start": "2025-13"}, {"persons_per_month": 0}, {"invalid_rows": -1}]
)
def test_unusable_parameters_are_a_node_error(tmp_path: Path, options: dict[str, object]) -> None:
    arguments: dict[str, object] = {"out_dir": tmp_path, "profile": "ua", "months": 1, "seed": 1, **options}
    with pytest.raises(SynthError):
        generate_export(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", [p.name for p in profiles()])
def test_the_v2_truth_is_what_the_node_counts(tmp_path: Path, profile: str) -> None:
    """Every table of taxonomy v2, computed by the generator's own reading of the rules, equals what the node's input
    code counts in the export; and the one-cell total is the sum of every other (single-valued) person table."""
    v2 = builtin_taxonomy(2)
    export = generate_export(out_dir=tmp_path, profile=profile, months=2, seed=21, taxonomy=v2)
    document = json.loads(export.truth_path.read_text(encoding="utf-8"))
    assert document["taxonomy"] == {"id": v2.id, "hash": v2.content_hash}
    for period in export.periods:
        truth = export.truth()[period]
        assert sorted(truth) == sorted(v2.tables)
        counted = prepare_tables(cases=export.cases, contacts=export.contacts, mapping=None, period=period, taxonomy=v2)
        assert dict(counted.counts) == truth, f"{profile} {period}"
        (total,) = truth["persons_total"]
        assert total > 0
        for name, table in v2.tables.items():
            if table.unit == "person" and not table.multi_valued:
                assert sum(truth[name]) == total, name
