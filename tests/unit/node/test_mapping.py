# SPDX-License-Identifier: Apache-2.0
"""The column mapping file: validation against the taxonomy, and an export read through a mapping."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from node.aggregate import prepare_tables
from node.inputs.errors import InputError, MappingError
from node.inputs.fields import FieldCatalog
from node.inputs.mapping import DEFAULT_SEPARATORS, ColumnMapping, load_mapping, parse_mapping
from node.inputs.rules import code_for, codes_for
from protocol.taxonomy import builtin_taxonomy

EXAMPLE = Path(__file__).resolve().parents[3] / "node" / "inputs" / "example-mapping.toml"
TAXONOMY = builtin_taxonomy()
CATALOG = FieldCatalog.from_taxonomy(TAXONOMY)


def _parse(text: str) -> ColumnMapping:
    return parse_mapping(text, catalog=CATALOG, source="mapping.toml")


def _problems(text: str) -> list[tuple[str | None, str]]:
    with pytest.raises(MappingError) as caught:
        _parse(text)
    return [(p.column, p.expected) for p in caught.value.problems]


def test_the_example_mapping_is_valid_and_shipped_beside_the_code() -> None:
    mapping = load_mapping(EXAMPLE, catalog=CATALOG)
    assert mapping.encoding == "cp1251"
    assert mapping.delimiter == ";"
    assert mapping.date_format == "%d.%m.%Y"
    assert mapping.columns["Стать"] == "prs_Gender"
    assert mapping.columns["Прізвище"] == ""
    assert mapping.values["prs_Gender"]["невідомо"] == ()
    assert mapping.values["vic_TypeOfExploitation"]["обидві"] == ("SexualExploitation", "ForcedLabour")
    assert mapping.values["prs_Citizenship"]["Namibia"] == ("NA",)


def test_an_empty_mapping_changes_nothing() -> None:
    mapping = _parse("")
    assert mapping.field_for("prs_Gender") == "prs_Gender"
    assert mapping.separators == DEFAULT_SEPARATORS
    assert mapping.encoding is mapping.delimiter is mapping.date_format is None


def test_codes_stand_for_the_value_that_gives_them() -> None:
    mapping = _parse(
        """
        [values.prs_Gender]
        K = "F"
        M = "M"
        [values.vic_MethodsOfControl]
        "groźby" = "meansThreats"
        [values.prs_Citizenship]
        "ukraina" = "ua"
        "grecja" = "el"
        """
    )
    gender = TAXONOMY.dimension("gender")
    assert code_for(gender, {"prs_Gender": mapping.values["prs_Gender"]["K"]}) == "F"
    assert code_for(gender, {"prs_Gender": mapping.values["prs_Gender"]["M"]}) == "M"
    control = TAXONOMY.dimension("control_flag")
    assert codes_for(control, {"vic_MethodsOfControl": mapping.values["vic_MethodsOfControl"]["groźby"]}) == (
        "meansThreats",
        "_any_info",
    )
    assert mapping.values["prs_Citizenship"] == {"ukraina": ("UA",), "grecja": ("EL",)}


def test_an_ambiguous_code_is_refused_with_the_values_to_choose_from() -> None:
    [(where, expected)] = _problems('[values.vic_TypeOfExploitation]\n"praca" = "labour"\n')
    assert where == "[values.vic_TypeOfExploitation] praca"
    assert "ForcedLabour" in expected
    assert "ChildLabour" in expected


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        """
        version = 2
        [options]
        encoding = "klingon"
        delimiter = "x"
        date_format = "%H:%M"
        separators = [";;"]
        colour = "red"
        [columns]
        "Płeć" = "prs_Gendr"
        "Sex" = "prs_Gender"
        "Gender" = "prs_Gender"
        "Age" = 42
        [values.prs_Gendr]
        a = "F"
        [values.prs_Birthdate]
        a = "2020-01-01"
        [values.prs_Gender]
        a = "Femme"
        b = 3
        [values.prs_Citizenship]
        c = "Ukraine"
        [values.vic_TraffickingStatus]
        d = "Victim"
        """
    )
    assert sorted(where for where, _ in problems) == sorted(
        [
            "[version]",
            "[columns] Gender",
            "[columns] Age",
            "[columns] Płeć",
            "[values.prs_Gendr]",
            "[values.prs_Birthdate]",
            "[values.prs_Gender] a",
            "[values.prs_Gender] b",
            "[values.prs_Citizenship] c",
            "[values.vic_TraffickingStatus] d",
            "[options] encoding",
            "[options] delimiter",
            "[options] date_format",
            "[options] separators",
            "[options] colour",
        ]
    )
    expected = dict(problems)
    assert "one column per field" in expected["[columns] Gender"]
    assert "no value list" in expected["[values.prs_Birthdate]"]
    assert "PossibleVictimOfTrafficking" in expected["[values.vic_TraffickingStatus] d"]


def test_not_toml_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="valid TOML"):
        _parse("[columns\n")
    path = tmp_path / "mapping.toml"
    path.write_bytes('[columns]\n"Płeć" = "prs_Gender"\n'.encode("cp1250"))
    with pytest.raises(MappingError, match="UTF-8") as caught:
        load_mapping(path, catalog=CATALOG)
    assert "mapping file" in caught.value.diagnostics()
    with pytest.raises(MappingError, match="readable"):
        load_mapping(tmp_path / "missing.toml", catalog=CATALOG)


def test_values_table_named_after_an_export_column_gets_a_hint() -> None:
    [(_, expected)] = _problems('[columns]\n"Płeć" = "prs_Gender"\n[values."Płeć"]\nK = "Feminine"\n')
    assert "maps to prs_Gender: use that" in expected


# ---------------------------------------------------------------- an export read through a mapping

MAPPING = """
[options]
delimiter = ";"
date_format = "%d.%m.%Y"
separators = [";", ","]

[columns]
"Nr osoby" = "ext_PersonID"
"Data rejestracji" = "ext_RegistrationDate"
"Płeć" = "prs_Gender"
"Obywatelstwo" = "prs_Citizenship"
"Forma wyzysku" = "vic_TypeOfExploitation"
"Kraj wyzysku" = "vic_LocationOfExploitation"
"Data urodzenia" = "prs_Birthdate"
"Uwagi" = ""

[values.prs_Gender]
K = "F"
M = "Masculine"
"?" = ""

[values.prs_Citizenship]
Ukraina = "UA"
Polska = "PL"

[values.vic_TypeOfExploitation]
praca = "ForcedLabour"
seks = "SexualExploitation"
"praca i seks" = ["ForcedLabour", "SexualExploitation"]
"""


def _export(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            "Nr osoby",
            "Data rejestracji",
            "Płeć",
            "Obywatelstwo",
            "Forma wyzysku",
            "Kraj wyzysku",
            "Data urodzenia",
            "Uwagi",
        ]
    )
    writer.writerows(rows)
    return out.getvalue().encode("cp1250")


def test_an_export_in_another_language_and_code_page_through_a_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    cases = tmp_path / "sprawy.csv"
    cases.write_bytes(
        _export(
            [
                ["1", "03.02.2025", "K", "Ukraina", "praca", "pl", "01.06.1990", "Zgłoszenie z Łodzi"],
                ["2", "17.02.2025", "M", "Polska", "praca i seks", "DE", "", "Łódź, żadnych dokumentów"],
                ["3", "28.02.2025", "?", "Ukraina", "seks,praca", "PL", "12.12.2010", "Świętokrzyskie"],
                ["4", "01.03.2025", "K", "Ukraina", "seks", "PL", "", "następny miesiąc"],
            ]
        )
    )
    tables = prepare_tables(cases=cases, contacts=None, mapping=mapping, period="2025-02", taxonomy=TAXONOMY)
    corridor = TAXONOMY.table("persons_corridor")
    expected = [0] * corridor.cell_count
    expected[corridor.cell_index(("UA", "PL", "labour"))] += 1
    expected[corridor.cell_index(("PL", "DE", "multiple"))] += 1
    expected[corridor.cell_index(("UA", "PL", "multiple"))] += 1
    assert tables.counts["persons_corridor"] == expected
    demography = TAXONOMY.table("persons_demography")
    counts = tables.counts["persons_demography"]
    assert counts[demography.cell_index(("F", "30-38", "ForcedLabour"))] == 1
    assert counts[demography.cell_index(("M", "unknown", "Multiple"))] == 1
    assert counts[demography.cell_index(("U", "9-17", "Multiple"))] == 1
    assert sum(counts) == 3


def test_an_unmapped_value_names_the_export_column_and_the_field(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    cases = tmp_path / "sprawy.csv"
    cases.write_bytes(_export([["1", "03.02.2025", "Kobieta", "Ukraina", "praca", "PL", "2025-01-01", ""]]))
    with pytest.raises(InputError) as caught:
        prepare_tables(cases=cases, contacts=None, mapping=mapping, period="2025-02", taxonomy=TAXONOMY)
    problems = caught.value.problems
    assert not isinstance(caught.value, MappingError)  # the mapping is fine; the export is not
    assert [(p.row, p.column) for p in problems] == [(2, "Płeć (prs_Gender)"), (2, "Data urodzenia (prs_Birthdate)")]
    assert problems[1].expected == "a date like 31.12.2025 (%d.%m.%Y, from the mapping)"
