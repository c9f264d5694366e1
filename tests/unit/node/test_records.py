# SPDX-License-Identifier: Apache-2.0
"""Rows to persons and contacts: checking every value, merging a person's rows, events, dates and cases."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from node.inputs.coding import Coder, age_at
from node.inputs.errors import InputError, ProblemLog
from node.inputs.fields import FieldCatalog
from node.inputs.mapping import ColumnMapping
from node.inputs.readers import open_input
from node.inputs.records import UNKNOWN, Contact, Person, read_contacts, read_persons
from protocol.taxonomy import builtin_taxonomy

TAXONOMY = builtin_taxonomy()
CATALOG = FieldCatalog.from_taxonomy(TAXONOMY)


def _csv(path: Path, rows: Sequence[dict[str, str]], *, delimiter: str = ",") -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(columns)
        writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return path


def _persons(path: Path, *, allow_unknown: bool = False) -> list[Person]:
    problems = ProblemLog()
    persons = read_persons(
        open_input(path, problems=problems),
        catalog=CATALOG,
        mapping=ColumnMapping(),
        allow_unknown=allow_unknown,
        problems=problems,
    )
    problems.raise_if_any()
    return persons


def _contacts(path: Path) -> list[Contact]:
    problems = ProblemLog()
    contacts = read_contacts(
        open_input(path, problems=problems),
        catalog=CATALOG,
        mapping=ColumnMapping(),
        allow_unknown=False,
        problems=problems,
    )
    problems.raise_if_any()
    return contacts


def _problems(path: Path, **options: bool) -> list[tuple[int | None, str | None, str | None, str]]:
    with pytest.raises(InputError) as caught:
        _persons(path, **options)
    return [(p.row, p.column, p.value, p.expected) for p in caught.value.problems]


def _codes(person: Person) -> dict[str, tuple[str, ...]]:
    return Coder(TAXONOMY).person(person)


BASE = {"ext_PersonID": "P1", "ext_RegistrationDate": "2025-03-04"}


# ---------------------------------------------------------------- values


def test_dirty_but_valid_values_are_read_as_the_taxonomy_says(tmp_path: Path) -> None:
    [person] = _persons(
        _csv(
            tmp_path / "c.csv",
            [
                {
                    **BASE,
                    "prs_Gender": "  Female ",
                    "prs_Citizenship": " ua ; MD",
                    "vic_TypeOfExploitation": "ForcedLabour|ForcedBegging",
                    "vic_MethodsOfControl": "DebtBondage; TakesEarnings ;Other",
                    "vic_LocationOfExploitation": "el",
                    "prs_Birthdate": "2000-03-05",
                    "ext_RegistrationDate": "2025-03-04T10:30:00Z",
                }
            ],
        )
    )
    assert person.values["prs_Citizenship"] == ("UA", "MD")
    codes = _codes(person)
    assert codes["gender"] == ("F",)
    assert codes["citizenship"] == ("UA",)
    assert codes["country_of_exploitation"] == ("GR",)
    assert codes["exploitation_type"] == ("Multiple",)
    assert codes["exploitation_group"] == ("labour",)
    assert codes["control_flag"] == ("meansDebtBondageEarnings", "_any_info")
    assert codes["age_band"] == ("24-26",)  # 24 on 2025-03-04, 25 the next day
    assert codes["age_group"] == ("adult",)
    assert codes["cross_border"] == ("international",)


def test_na_is_namibia_and_blank_is_missing(tmp_path: Path) -> None:
    persons = _persons(
        _csv(
            tmp_path / "c.csv",
            [
                {**BASE, "ext_PersonID": "1", "prs_Citizenship": "NA", "vic_LocationOfExploitation": "NA"},
                {**BASE, "ext_PersonID": "2", "prs_Citizenship": "", "vic_LocationOfExploitation": ""},
            ],
        )
    )
    namibian, unknown = (_codes(p) for p in persons)
    assert namibian["citizenship"] == ("002",)
    assert namibian["cross_border"] == ("domestic",)  # the recorded ISO codes are compared, before bucketing
    assert unknown["citizenship"] == ("ZZ",)
    assert unknown["country_of_exploitation"] == ("ZZ",)
    assert unknown["gender"] == ("U",)
    assert unknown["control_flag"] == ()  # nothing recorded: not counted in that table


def test_json_arrays_are_multiselect_values(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text(
        json.dumps(
            {
                "cases": [
                    {**BASE, "prs_Citizenship": ["md", "RO"], "vic_TypeOfExploitation": ["SexualExploitation"]},
                ]
            }
        ),
        encoding="utf-8",
    )
    [person] = _persons(path)
    assert _codes(person)["citizenship"] == ("MD",)
    assert _codes(person)["exploitation_group"] == ("sexual",)


def test_every_invalid_value_is_reported_with_file_row_column_and_expectation(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "cases.csv",
        [
            {**BASE, "ext_PersonID": "1", "prs_Gender": "Femme"},
            {**BASE, "ext_PersonID": "2", "prs_Citizenship": "Ukraine;UA", "prs_Gender": "Male"},
            {
                **BASE,
                "ext_PersonID": "3",
                "vic_TypeOfExploitation": "=cmd|' /C calc'!A0",
                "ext_RegistrationDate": "31/03/2025",
            },
            {**BASE, "ext_PersonID": "4", "vic_TraffickingStatus": "victim", "prs_Birthdate": "1990-02-30"},
            {**BASE, "ext_PersonID": "5", "prs_Citizenship": "UK"},
        ],
    )
    problems = _problems(path)
    # a formula is one invalid value, even with a separator inside
    assert [(row, column, value) for row, column, value, _ in problems] == [
        (2, "prs_Gender", "Femme"),
        (3, "prs_Citizenship", "Ukraine"),
        (4, "ext_RegistrationDate", "31/03/2025"),
        (4, "vic_TypeOfExploitation", "=cmd|' /C calc'!A0"),
        (5, "vic_TraffickingStatus", "victim"),
        (5, "prs_Birthdate", "1990-02-30"),
        (6, "prs_Citizenship", "UK"),
    ]
    expected = {column: text for _, column, _, text in problems}
    assert expected["prs_Gender"].startswith("one of ")
    assert "Feminine" in expected["prs_Gender"]
    assert expected["ext_RegistrationDate"] == "a date YYYY-MM-DD"
    assert "ISO 3166-1 alpha-2" in expected["prs_Citizenship"]


def test_allow_unknown_maps_unlisted_values_to_the_missing_codes(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "cases.csv",
        [
            {
                **BASE,
                "prs_Gender": "Femme",
                "prs_Citizenship": "Ukraine",
                "vic_MethodsOfControl": "Threats;DebtBondage",
                "vic_TraffickingStatus": "victim",
                "prs_Birthdate": "yesterday",
                "hte_Type": "exploitation",
                "hte_Country": "PL",
                "vic_TypeOfExploitation": "Sex;ForcedLabour",
            }
        ],
    )
    [person] = _persons(path, allow_unknown=True)
    assert person.counts
    assert person.status == UNKNOWN
    assert person.birthdate is None
    codes = _codes(person)
    assert codes["gender"] == ("U",)
    assert codes["citizenship"] == ("ZZ",)
    assert codes["control_flag"] == ("meansDebtBondageEarnings", "_any_info")
    assert codes["country_of_exploitation"] == ("ZZ",)  # the event's type is unknown: the event is left out
    assert codes["exploitation_type"] == ("NotSpecified",)
    assert codes["age_band"] == ("unknown",)


def test_allow_unknown_does_not_excuse_a_registration_date(tmp_path: Path) -> None:
    path = _csv(tmp_path / "cases.csv", [{**BASE, "ext_RegistrationDate": "soon"}])
    assert [(row, column) for row, column, _, _ in _problems(path, allow_unknown=True)] == [(2, "ext_RegistrationDate")]


# ---------------------------------------------------------------- persons


def test_rows_of_one_person_are_merged(tmp_path: Path) -> None:
    persons = _persons(
        _csv(
            tmp_path / "c.csv",
            [
                {
                    **BASE,
                    "prs_Gender": "Female",
                    "vic_MethodsOfControl": "DebtBondage",
                    "vic_TypeOfExploitation": "ForcedLabour",
                },
                {
                    **BASE,
                    "prs_Gender": "Feminine",
                    "vic_MethodsOfControl": "FalsePromises",
                    "vic_TypeOfExploitation": "SexualExploitation",
                    "ext_RegistrationDate": "2025-02-27",
                },
                {**BASE, "ext_PersonID": "P2"},
            ],
        )
    )
    assert [p.key for p in persons] == ["P1", "P2"]
    first = persons[0]
    assert first.registered.isoformat() == "2025-02-27"  # the earliest date of the person's rows
    codes = _codes(first)
    assert codes["gender"] == ("F",)
    assert codes["control_flag"] == ("meansDebtBondageEarnings", "meansFalsePromises", "_any_info")
    assert codes["exploitation_group"] == ("multiple",)


def test_without_a_person_id_column_every_row_is_a_person(tmp_path: Path) -> None:
    persons = _persons(_csv(tmp_path / "c.csv", [{"ext_RegistrationDate": "2025-01-01"}] * 3))
    assert [p.key for p in persons] == ["row 2", "row 3", "row 4"]
    assert len({p.case for p in persons}) == 3


def test_a_missing_person_id_is_a_problem(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", [BASE, {**BASE, "ext_PersonID": " "}])
    assert [(row, column) for row, column, _, _ in _problems(path)] == [(3, "ext_PersonID")]


def test_latest_exploitation_event_gives_the_country(tmp_path: Path) -> None:
    rows = [
        {**BASE, "hte_Type": "Exploitation", "hte_Country": "DE", "hte_Date": "2024-06-01"},
        {**BASE, "hte_Type": "Exploitation", "hte_Country": "TR", "hte_Date": "2024-01-01"},
        {**BASE, "hte_Type": "Recruitment", "hte_Country": "UA", "hte_Date": "2024-12-01"},
        {**BASE, "hte_Type": "Exploitation", "hte_Country": "RU"},  # undated: the earliest
        {
            **BASE,
            "hte_Type": "Transit",
            "hte_Country": "PL",
            "hte_Date": "2024-12-31",
            "vic_LocationOfExploitation": "IT",
        },
    ]
    [person] = _persons(_csv(tmp_path / "c.csv", rows))
    assert person.values["hte_Country"] == ("DE",)
    assert _codes(person)["country_of_exploitation"] == ("DE",)


def test_location_of_exploitation_when_no_exploitation_event(tmp_path: Path) -> None:
    rows = [
        {**BASE, "hte_Type": "Recruitment", "hte_Country": "UA", "vic_LocationOfExploitation": "xn"},
    ]
    [person] = _persons(_csv(tmp_path / "c.csv", rows))
    codes = _codes(person)
    assert codes["country_of_exploitation"] == ("XN",)
    assert codes["cross_border"] == ("unknown",)


def test_an_event_country_needs_its_type(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", [{**BASE, "hte_Country": "PL"}, {**BASE, "hte_Country": "PL", "hte_Type": ""}])
    assert [(row, column) for row, column, _, _ in _problems(path)] == [(2, "hte_Type"), (3, "hte_Type")]


def test_registration_date_falls_back_to_the_referral_date(tmp_path: Path) -> None:
    [person] = _persons(_csv(tmp_path / "c.csv", [{"ext_PersonID": "1", "cas_IncomingReferralDate": "2025-05-06"}]))
    assert person.registered.isoformat() == "2025-05-06"


def test_registration_date_is_required(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", [{"ext_PersonID": "1", "prs_Gender": "Male"}])
    assert [expected for _, _, _, expected in _problems(path)] == [
        "a registration date column: ext_RegistrationDate or cas_IncomingReferralDate"
    ]
    path = _csv(tmp_path / "c.csv", [BASE, {**BASE, "ext_PersonID": "2", "ext_RegistrationDate": ""}])
    [(row, column, _, expected)] = _problems(path)
    assert (row, column) == (3, "ext_RegistrationDate")
    assert "on at least one row of each person" in expected


def test_status(tmp_path: Path) -> None:
    persons = _persons(
        _csv(
            tmp_path / "c.csv",
            [
                {**BASE, "ext_PersonID": "1", "vic_TraffickingStatus": "NotAVictimOfTrafficking"},
                {**BASE, "ext_PersonID": "2", "vic_TraffickingStatus": "PossibleVictimOfTrafficking"},
                {**BASE, "ext_PersonID": "3"},
            ],
        )
    )
    assert [p.counts for p in persons] == [False, True, True]


def test_a_person_belongs_to_one_case(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", [{**BASE, "ext_CaseID": "C1"}, {**BASE, "ext_CaseID": "C2"}])
    [(row, column, value, expected)] = _problems(path)
    assert (row, column, value) == (3, "ext_CaseID", "C2")
    assert "one case per person" in expected


def test_a_case_opens_once(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "c.csv",
        [
            {**BASE, "ext_CaseID": "C1", "ext_CaseOpenedDate": "2025-03-01"},
            {**BASE, "ext_PersonID": "P2", "ext_CaseID": "C1", "ext_CaseOpenedDate": "2025-03-02"},
            {**BASE, "ext_PersonID": "P3", "ext_CaseID": "C1"},
        ],
    )
    [(row, column, value, expected)] = _problems(path)
    assert (row, column, value) == (3, "ext_CaseOpenedDate", "2025-03-02")
    assert "(2025-03-01)" in expected


def test_unknown_ext_columns_are_reported_other_columns_ignored(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "c.csv", [{**BASE, "ext_Registrationdate": "2025-01-01", "Notes": "=1+2", "prs_FirstName": "x"}]
    )
    [(row, column, _, expected)] = _problems(path)
    assert (row, column) == (1, "ext_Registrationdate")
    assert "ext_RegistrationDate" in expected


def test_the_problem_log_keeps_a_bounded_number_but_counts_all(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", [{**BASE, "ext_PersonID": str(i), "prs_Gender": f"G{i}"} for i in range(3000)])
    with pytest.raises(InputError) as caught:
        _persons(path)
    assert caught.value.total == 3000
    assert len(caught.value.problems) == 2000
    assert "3,000 problems" in caught.value.diagnostics()


# ---------------------------------------------------------------- contacts and ages


def test_contacts(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "contacts.csv",
        [
            {
                "ext_ContactorID": "C1",
                "ext_ContactDate": "2025-03-01",
                "ext_ContactChannel": "phone",
                "ext_ContactType": "General Information",
            },
            {
                "ext_ContactorID": "",
                "ext_ContactDate": "2025-03-02",
                "ext_ContactChannel": "",
                "ext_ContactType": "tip",
            },
        ],
    )
    first, second = _contacts(path)
    assert (first.contactor, second.contactor) == ("id C1", "row 3")
    assert Coder(TAXONOMY).contact(TAXONOMY.table("contacts").dimensions, first) == {
        "channel": ("phone",),
        "contact_type": ("information",),
    }
    missing = _csv(tmp_path / "bad.csv", [{"ext_ContactorID": "C1", "ext_ContactDate": "", "ext_ContactType": "call"}])
    with pytest.raises(InputError) as caught:
        _contacts(missing)
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "ext_ContactType"), (2, "ext_ContactDate")]
    with pytest.raises(InputError, match="a contact date column"):
        _contacts(_csv(tmp_path / "none.csv", [{"ext_ContactChannel": "phone"}]))


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        ("2000-03-05", "2025-03-04", 24),
        ("2000-03-05", "2025-03-05", 25),
        ("2000-02-29", "2025-02-28", 24),
        ("2025-04-01", "2025-03-01", -1),
    ],
)
def test_age_in_whole_years(born: str, on: str, age: int) -> None:
    from datetime import date

    assert age_at(date.fromisoformat(born), date.fromisoformat(on)) == age
