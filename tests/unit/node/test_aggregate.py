# SPDX-License-Identifier: Apache-2.0
"""prepare_tables: the month's true tables from an export, their contribution bounds, and what never leaks."""

from __future__ import annotations

import csv
import doctest
import importlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.aggregate import TrueTables, prepare_tables
from node.inputs.errors import InputError
from node.synth import generate_export, profiles
from protocol.taxonomy import Table, builtin_taxonomy

TAXONOMY = builtin_taxonomy()
PERSON_TABLES = sorted(n for n, t in TAXONOMY.tables.items() if t.unit != "contact")


def _csv(path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str] = ("ext_RegistrationDate",)) -> Path:
    columns = list(dict.fromkeys([*columns, *(key for row in rows for key in row)]))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return path


def _prepare(cases: Path, contacts: Path | None = None, period: str = "2025-03", **options: object) -> TrueTables:
    # These tests aggregate: a file without rows is a valid "nobody" here, a row without ext_PersonID a person, and
    # a month among several is fine (the refusals by default are tested in test_hostile_inputs.py and
    # test_checks.py).
    options.setdefault("allow_empty", True)
    options.setdefault("rows_are_persons", True)
    options.setdefault("allow_other_months", True)
    return prepare_tables(cases=cases, contacts=contacts, mapping=None, period=period, taxonomy=TAXONOMY, **options)  # type: ignore[arg-type]


def _cell(table: str, *codes: str) -> int:
    return TAXONOMY.table(table).cell_index(codes)


@pytest.mark.parametrize(
    "module",
    ["node.aggregate", "node.inputs.readers", "node.inputs.encodings", "node.synth.generator", "node.synth.profiles"],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------- the synthetic truth, reproduced


@pytest.mark.parametrize("profile", [p.name for p in profiles()])
@pytest.mark.parametrize("seed", [11, 12])
def test_synthetic_truth_is_reproduced_exactly(tmp_path: Path, profile: str, seed: int) -> None:
    export = generate_export(out_dir=tmp_path, profile=profile, months=3, seed=seed, start="2025-11")
    truth = export.truth()
    assert export.periods == ("2025-11", "2025-12", "2026-01")
    for period in (*export.periods, "2026-02"):
        tables = _prepare(export.cases, export.contacts, period)
        expected = truth.get(period) or {n: [0] * t.cell_count for n, t in TAXONOMY.tables.items()}
        for name, counts in tables.counts.items():
            assert counts == expected[name], f"{profile} seed {seed}: {name} differs in {period}"
        assert sum(tables.counts["persons_corridor"]) == sum(expected["persons_corridor"])


def test_clean_synthetic_export_too(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="ro", months=2, seed=3, dirty=False)
    for period in export.periods:
        assert dict(_prepare(export.cases, export.contacts, period).counts) == export.truth()[period]


def test_invalid_rows_are_reported_and_nothing_is_returned(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="pl", months=2, seed=5, invalid_rows=7)
    with pytest.raises(InputError) as caught:
        _prepare(export.cases, export.contacts, "2025-01")
    found = {(p.file, p.row, p.column, p.value) for p in caught.value.problems}
    assert found == {("cases.csv", cell.row, cell.column, cell.value) for cell in export.invalid}
    assert all(p.expected for p in caught.value.problems)
    tables = _prepare(export.cases, export.contacts, "2025-01", allow_unknown=True)
    assert sum(tables.counts["persons_corridor"]) > 0


# ---------------------------------------------------------------- which tables, which persons


def test_tables_and_what_their_repr_shows(tmp_path: Path) -> None:
    cases = _csv(tmp_path / "c.csv", [{"ext_RegistrationDate": "2025-03-04", "prs_Citizenship": "UA"}] * 7)
    contacts = _csv(tmp_path / "k.csv", [{"ext_ContactDate": "2025-03-04", "ext_ContactChannel": "phone"}] * 5)
    without = _prepare(cases)
    assert sorted(without.counts) == PERSON_TABLES
    tables = _prepare(cases, contacts)
    assert sorted(tables.counts) == sorted(TAXONOMY.tables)
    for name, counts in tables.counts.items():
        assert len(counts) == TAXONOMY.table(name).cell_count
    assert sum(tables.counts["persons_corridor"]) == 7
    assert sum(tables.counts["contacts"]) == 5
    for text in (repr(tables), str(tables), f"{tables}", f"{tables!r}"):
        assert text == f"TrueTables(period='2025-03', tables={sorted(TAXONOMY.tables)})"
        assert "7" not in text
        assert "5" not in text.replace("2025", "")


def test_only_persons_registered_in_the_period_count(tmp_path: Path) -> None:
    cases = _csv(
        tmp_path / "c.csv",
        [
            {"ext_PersonID": "1", "ext_RegistrationDate": "2025-02-28"},
            {"ext_PersonID": "2", "ext_RegistrationDate": "2025-03-01"},
            {"ext_PersonID": "3", "ext_RegistrationDate": "2025-03-31 23:59"},
            {"ext_PersonID": "4", "ext_RegistrationDate": "2025-04-01"},
            {"ext_PersonID": "5", "ext_RegistrationDate": "2024-03-15"},
            {
                "ext_PersonID": "6",
                "ext_RegistrationDate": "2025-03-15",
                "vic_TraffickingStatus": "NotAVictimOfTrafficking",
            },
            {"ext_PersonID": "2", "ext_RegistrationDate": "2025-03-01"},  # the same person twice
        ],
    )
    assert sum(_prepare(cases).counts["persons_demography"]) == 2
    assert sum(_prepare(cases, period="2025-02").counts["persons_demography"]) == 1
    assert sum(_prepare(cases, period="2025-04").counts["cases_opened"]) == 1


@pytest.mark.parametrize("period", ["2025-3", "2025-13", "March", "2025-03-01", ""])
def test_period_must_be_a_month(tmp_path: Path, period: str) -> None:
    with pytest.raises(InputError, match="YYYY-MM"):
        _prepare(_csv(tmp_path / "c.csv", []), period=period)


def test_cases_count_once_in_their_opening_month_from_the_months_persons(tmp_path: Path) -> None:
    base = {"ext_RegistrationDate": "2025-03-10", "hte_Type": "Exploitation"}
    cases = _csv(
        tmp_path / "c.csv",
        [
            # C1: two persons, one international and one domestic, two forms -> one case, Multiple, international
            {
                **base,
                "ext_PersonID": "a",
                "ext_CaseID": "C1",
                "prs_Citizenship": "UA",
                "hte_Country": "PL",
                "vic_TypeOfExploitation": "ForcedLabour",
                "ext_CaseOpenedDate": "2025-03-09",
            },
            {
                **base,
                "ext_PersonID": "b",
                "ext_CaseID": "C1",
                "prs_Citizenship": "PL",
                "hte_Country": "PL",
                "vic_TypeOfExploitation": "SexualExploitation",
            },
            # C2: opened in February, a person added in March: not a case opened in March
            {**base, "ext_PersonID": "c", "ext_CaseID": "C2", "ext_CaseOpenedDate": "2025-02-20"},
            # C3: only a person who is not a victim: no case
            {**base, "ext_PersonID": "d", "ext_CaseID": "C3", "vic_TraffickingStatus": "NotAVictimOfTrafficking"},
            # C4: its only person is registered in April: not in March
            {
                **base,
                "ext_PersonID": "e",
                "ext_CaseID": "C4",
                "ext_RegistrationDate": "2025-04-02",
                "ext_CaseOpenedDate": "2025-03-30",
            },
            # no case id: the person is a case of their own
            {
                **base,
                "ext_PersonID": "f",
                "prs_Citizenship": "MD",
                "hte_Country": "MD",
                "vic_TypeOfExploitation": "ForcedBegging",
            },
        ],
    )
    counts = _prepare(cases).counts["cases_opened"]
    expected = [0] * TAXONOMY.table("cases_opened").cell_count
    expected[_cell("cases_opened", "Multiple", "international")] = 1
    expected[_cell("cases_opened", "ForcedBegging", "domestic")] = 1
    assert counts == expected


def test_contacts_are_capped_per_contactor_in_date_order(tmp_path: Path) -> None:
    rows = [
        {
            "ext_ContactorID": "A",
            "ext_ContactDate": f"2025-03-{day:02d}",
            "ext_ContactChannel": channel,
            "ext_ContactType": "tip",
        }
        for day, channel in [(20, "sms"), (3, "phone"), (9, "phone"), (1, "chat"), (15, "email")]
    ]
    rows += [{"ext_ContactorID": "", "ext_ContactDate": "2025-03-02", "ext_ContactChannel": "sms"}] * 4
    rows += [{"ext_ContactorID": "B", "ext_ContactDate": "2025-02-28", "ext_ContactChannel": "sms"}] * 5
    contacts = _csv(tmp_path / "k.csv", rows)
    cases = _csv(tmp_path / "c.csv", [])
    counts = _prepare(cases, contacts).counts["contacts"]
    expected = [0] * TAXONOMY.table("contacts").cell_count
    expected[_cell("contacts", "chat", "tip")] = 1  # A's three earliest: 1st, 3rd, 9th
    expected[_cell("contacts", "phone", "tip")] = 2
    expected[_cell("contacts", "sms", "unknown")] = 4  # anonymous contacts are contactors of their own
    assert counts == expected


def test_progress_is_reported(tmp_path: Path) -> None:
    export = generate_export(out_dir=tmp_path, profile="ua", months=1, seed=2, persons_per_month=4000)
    calls: list[tuple[int, int]] = []
    _prepare(export.cases, export.contacts, "2025-01", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 2
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1][0] == calls[-1][1] >= export.case_rows + export.contact_rows


# ---------------------------------------------------------------- contribution bounds


def _difference(a: Sequence[int], b: Sequence[int]) -> tuple[int, int]:
    diffs = [abs(x - y) for x, y in zip(a, b, strict=True)]
    return sum(diffs), max(diffs, default=0)


_FORMS = ["ForcedLabour", "SexualExploitation", "ForcedBegging", "ForcedMarriage", "Other"]
_METHODS = [
    "DebtBondage",
    "TakesEarnings",
    "PhysicalThreats",
    "SexualAbuse",
    "FalsePromises",
    "WithholdsDocuments",
    "ExcessiveWorkingHours",
    "PsychoactiveSubstance",
    "RestrictsMovement",
    "Other",
    "UsesChildren",
]
_PERSON = st.fixed_dictionaries(
    {
        "ext_CaseID": st.sampled_from(["", "C1", "C2", "C3"]),
        "ext_RegistrationDate": st.sampled_from(["2025-03-01", "2025-03-31", "2025-04-01"]),
        "vic_TraffickingStatus": st.sampled_from(["", "NotAVictimOfTrafficking", "ActualVictimOfTrafficking"]),
        "prs_Gender": st.sampled_from(["", "Feminine", "Male", "NonConforming"]),
        "prs_Birthdate": st.sampled_from(["", "2012-06-01", "1990-01-01", "1950-12-31"]),
        "prs_Citizenship": st.sampled_from(["", "UA", "md", "NA", "VN", "XX", "UA;PL"]),
        "vic_LocationOfExploitation": st.sampled_from(["", "PL", "UA", "XN", "DE"]),
        "vic_TypeOfExploitation": st.lists(st.sampled_from(_FORMS), max_size=3).map(";".join),
        "vic_MethodsOfControl": st.lists(st.sampled_from(_METHODS), max_size=11).map("|".join),
        "vic_MethodOfRecruitment": st.sampled_from(["", "AtWork", "ThroughOnlineSocialNetworks"]),
        "vic_RelationshipToTrafficker": st.sampled_from(["", "Familial", "Unaquainted"]),
        "rows": st.integers(min_value=1, max_value=2),
    }
)
_OPENED = {"C1": "2025-03-01", "C2": "", "C3": "2025-02-15"}


def _person_rows(persons: Sequence[dict[str, object]]) -> list[dict[str, str]]:
    rows = []
    for i, person in enumerate(persons):
        row = {k: str(v) for k, v in person.items() if k != "rows"}
        row["ext_PersonID"] = f"P{i}"
        row["ext_CaseOpenedDate"] = _OPENED.get(row["ext_CaseID"], "")
        rows.extend([row] * int(str(person["rows"])))
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PERSON, min_size=1, max_size=7))
def test_one_person_changes_no_table_by_more_than_its_bounds(persons: list[dict[str, object]]) -> None:
    # Every value drawn is valid, so --allow-unknown changes no count here; it lets a few random persons be mostly
    # unknown in a dimension (refused by default, test_hostile_inputs.py).
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        full = _prepare(_csv(folder / "all.csv", _person_rows(persons)), allow_unknown=True).counts
        for i in range(len(persons)):
            rows = [r for r in _person_rows(persons) if r["ext_PersonID"] != f"P{i}"]
            without = _prepare(_csv(folder / f"without-{i}.csv", rows), allow_unknown=True).counts
            for name in PERSON_TABLES:
                table: Table = TAXONOMY.table(name)
                l1, largest = _difference(full[name], without[name])
                assert l1 <= table.l1_bound, (name, l1)
                assert largest <= table.per_cell_bound, (name, largest)


_CONTACT = st.fixed_dictionaries(
    {
        "ext_ContactorID": st.sampled_from(["", "A", "B"]),
        "ext_ContactDate": st.sampled_from(["2025-03-01", "2025-03-02", "2025-03-30", "2025-04-01"]),
        "ext_ContactChannel": st.sampled_from(["", "phone", "sms"]),
        "ext_ContactType": st.sampled_from(["", "tip", "Crisis"]),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_CONTACT, min_size=1, max_size=12))
def test_one_contactor_changes_the_contacts_table_by_at_most_c(contacts: list[dict[str, str]]) -> None:
    table = TAXONOMY.table("contacts")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        cases = _csv(folder / "c.csv", [])
        every = _csv(folder / "all.csv", contacts, columns=["ext_ContactDate"])
        full = _prepare(cases, every, allow_unknown=True).counts["contacts"]  # every value drawn is valid
        for contactor in ("A", "B"):
            rest = [c for c in contacts if c["ext_ContactorID"] != contactor]
            without = _prepare(cases, _csv(folder / "rest.csv", rest, columns=["ext_ContactDate"]), allow_unknown=True)
            l1, largest = _difference(full, without.counts["contacts"])
            assert l1 <= table.l1_bound
            assert largest <= table.per_cell_bound


# ---------------------------------------------------------------- broken input, privacy


def test_garbage_is_an_input_error_not_a_crash(tmp_path: Path) -> None:
    garbage = tmp_path / "cases.csv"
    garbage.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(InputError):
        _prepare(garbage)
    broken = tmp_path / "cases.json"
    broken.write_text('{"records": [{"ext_RegistrationDate": "2025-03-01"}, ', encoding="utf-8")
    with pytest.raises(InputError, match="valid JSON"):
        _prepare(broken)


def test_problems_of_both_files_are_reported_together(tmp_path: Path) -> None:
    cases = _csv(tmp_path / "c.csv", [{"ext_RegistrationDate": "2025-03-01", "prs_Gender": "F"}])
    contacts = _csv(tmp_path / "k.csv", [{"ext_ContactDate": "2025-03-01", "ext_ContactChannel": "telephone"}])
    with pytest.raises(InputError) as caught:
        _prepare(cases, contacts)
    assert [(p.file, p.column) for p in caught.value.problems] == [
        ("c.csv", "prs_Gender"),
        ("k.csv", "ext_ContactChannel"),
    ]


def test_nothing_is_written_and_nothing_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    export = generate_export(out_dir=tmp_path, profile="bg", months=1, seed=4)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    with caplog.at_level(logging.DEBUG):
        _prepare(export.cases, export.contacts, "2025-01")
        with pytest.raises(InputError):
            _prepare(_csv(tmp_path / "bad.csv", [{"ext_RegistrationDate": "2025-01-01", "prs_Gender": "Femme"}]))
    assert caplog.records == []
    after = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir() if p.name != "bad.csv")
    assert before == after


@pytest.mark.slow
def test_a_100k_row_export_is_prepared_exactly(tmp_path: Path) -> None:
    """A large export's counts are the truth (its speed is measured by ``make bench``, not asserted here)."""
    started = time.perf_counter()
    export = generate_export(out_dir=tmp_path, profile="ua", months=12, seed=1, persons_per_month=6600)
    generated = time.perf_counter()
    tables = _prepare(export.cases, export.contacts, "2025-06", progress=lambda done, total: None)
    prepared = time.perf_counter()
    assert export.case_rows >= 100_000
    assert dict(tables.counts) == export.truth()["2025-06"]
    print(  # timing only: no count is printed
        f"\n{export.case_rows:,} case rows + {export.contact_rows:,} contact rows: "
        f"generated in {generated - started:.2f} s, prepared in {prepared - generated:.2f} s"
    )
