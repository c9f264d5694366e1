# SPDX-License-Identifier: Apache-2.0
"""Reading exports: encodings of the region, CSV dialects, JSON shapes, and every way a file can be broken."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from node.inputs.errors import InputError, InputProblem, ProblemLog, shown_value
from node.inputs.readers import Limits, decode, guess_windows_codepage, open_input

UKRAINIAN = "Київ: звернення через гарячу лінію - повторне звернення матері"
RUSSIAN = "Москва - звонок на горячую линию"
POLISH = "Zgłoszenie z Łodzi: pracownik sezonowy - ciężka praca bez żadnych dokumentów"
CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy"


def _rows(path: Path, **options: object) -> tuple[tuple[str, ...], list[tuple[int, list[object]]]]:
    source = open_input(path, **options)  # type: ignore[arg-type]
    return source.columns, [(n, list(cells)) for n, cells in source.rows()]


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- encodings


def test_utf8_with_byte_order_mark_does_not_pollute_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(codecs.BOM_UTF8 + "ext_PersonID,Notes\n1,Łódź\n".encode())
    columns, rows = _rows(path)
    assert columns == ("ext_PersonID", "Notes")
    assert rows == [(2, ["1", "Łódź"])]
    assert open_input(path).encoding == "utf-8-sig"


def test_utf16_excel_unicode_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cases.txt"
    path.write_bytes("ext_PersonID\tNotes\r\n7\tКиїв\r\n".encode("utf-16"))
    columns, rows = _rows(path)
    assert columns == ("ext_PersonID", "Notes")
    assert rows == [(2, ["7", "Київ"])]


@pytest.mark.parametrize(
    ("text", "codepage"), [(UKRAINIAN, "cp1251"), (RUSSIAN, "cp1251"), (POLISH, "cp1250"), (CZECH, "cp1250")]
)
def test_windows_code_pages_are_told_apart(tmp_path: Path, text: str, codepage: str) -> None:
    path = _write(tmp_path, "cases.csv", f"ext_PersonID;Notes\r\n1;{text}\r\n", codepage)
    source = open_input(path)
    assert source.encoding == codepage
    assert [list(cells) for _, cells in source.rows()] == [["1", text]]


def test_cyrillic_free_text_in_cp1251_with_coded_columns(tmp_path: Path) -> None:
    body = f"ext_PersonID,prs_Gender,prs_Citizenship,Notes\r\n1,Feminine,UA,{UKRAINIAN}\r\n2,Male,MD,{RUSSIAN}\r\n"
    path = _write(tmp_path, "cases.csv", body, "cp1251")
    _, rows = _rows(path)
    assert rows[1] == (3, ["2", "Male", "MD", RUSSIAN])


def test_unclear_code_page_asks_for_the_flag(tmp_path: Path) -> None:
    # one Cyrillic word and one Polish word: no clear majority either way
    data = b"a,b\r\n" + "Київ".encode("cp1251") + b"," + "Łódź".encode("cp1250") + b"\r\n"
    assert guess_windows_codepage(data) is None
    path = tmp_path / "cases.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match="--encoding cp1251 or --encoding cp1250") as caught:
        open_input(path)
    assert "not UTF-8" in caught.value.diagnostics()
    assert open_input(path, encoding="cp1251").columns == ("a", "b")


def test_a_byte_only_one_code_page_defines_decides() -> None:
    # 0x81 is a letter in Windows-1251 and undefined in Windows-1250, whatever the words look like
    assert guess_windows_codepage("Łódź".encode("cp1250") + b"\x81") == "cp1251"


def test_bytes_no_code_page_defines_are_an_error_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(b"a,b\r\n1,2\r\nx\x98y,3\r\n")  # 0x98 is undefined in both code pages
    with pytest.raises(InputError, match="on line 3"):
        open_input(path)


def test_explicit_encoding_wins_and_is_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "cases.csv", "a\r\nŁódź\r\n", "cp1250")
    _, rows = _rows(path, encoding="cp1250")
    assert rows == [(2, ["Łódź"])]
    with pytest.raises(InputError, match="known text encoding"):
        open_input(path, encoding="klingon")
    with pytest.raises(InputError, match=r"utf-8 text; byte 0xa3 on line 2") as caught:
        open_input(path, encoding="utf-8")
    assert caught.value.problems[0].row == 2


def test_byte_order_mark_contradicting_the_given_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"a\n1\n")
    with pytest.raises(InputError, match="byte-order mark"):
        open_input(path, encoding="cp1251")
    assert open_input(path, encoding="utf-8").columns == ("a",)


def test_decode_prefers_utf8() -> None:
    assert decode("Київ".encode(), name="x") == ("Київ", "utf-8")


# ---------------------------------------------------------------- CSV dialects and cells


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_taken_from_the_header(tmp_path: Path, delimiter: str) -> None:
    header = delimiter.join(["ext_PersonID", "prs_Gender", "prs_Citizenship"])
    row = delimiter.join(["1", "Feminine", "UA"])
    path = _write(tmp_path, "cases.csv", f"{header}\n{row}\n")
    columns, rows = _rows(path)
    assert columns == ("ext_PersonID", "prs_Gender", "prs_Citizenship")
    assert rows == [(2, ["1", "Feminine", "UA"])]


def test_semicolon_csv_with_quoted_multiselect_and_line_breaks(tmp_path: Path) -> None:
    text = 'ext_PersonID;vic_TypeOfExploitation;Notes\r\n1;"ForcedLabour;SexualExploitation";"two\nlines"\r\n2;;x\r\n'
    _, rows = _rows(_write(tmp_path, "cases.csv", text))
    # rows are numbered by record, as a spreadsheet shows them, not by physical line
    assert rows == [(2, ["1", "ForcedLabour;SexualExploitation", "two\nlines"]), (3, ["2", "", "x"])]


def test_na_formulas_and_spaces_are_passed_on_as_text(tmp_path: Path) -> None:
    _, rows = _rows(_write(tmp_path, "cases.csv", "prs_Citizenship,prs_Gender,Notes\nNA, Female ,=1+2\n"))
    assert rows == [(2, ["NA", " Female ", "=1+2"])]


def test_delimiter_can_be_forced(tmp_path: Path) -> None:
    columns, _ = _rows(_write(tmp_path, "cases.csv", "a;b,c\n1;2,3\n"), delimiter=",")
    assert columns == ("a;b", "c")


def test_blank_lines_are_skipped_and_ragged_rows_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "cases.csv", "a,b\n1,2\n\n3,4,5\n6\n7,8\n")
    problems = ProblemLog()
    source = open_input(path, problems=problems)
    assert [(n, list(c)) for n, c in source.rows()] == [(2, ["1", "2"]), (6, ["7", "8"])]
    error = problems.error()
    assert [(p.row, p.expected) for p in error.problems] == [
        (4, "2 cells like the header; this row has 3"),
        (5, "2 cells like the header; this row has 1"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("a,b,a\n1,2,3\n", "repeated"),
    ],
)
def test_bad_headers(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected) as caught:
        open_input(_write(tmp_path, "cases.csv", text))
    assert caught.value.problems[0].row == 1


def test_malformed_quoting_names_the_row(tmp_path: Path) -> None:
    source = open_input(_write(tmp_path, "cases.csv", 'a,b\n1,2\n3,"x"y\n5,6\n'))
    with pytest.raises(InputError, match="well-formed CSV") as caught:
        list(source.rows())
    assert caught.value.problems[-1].row == 3


def test_nul_bytes_are_refused_with_their_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NUL") as caught:
        open_input(_write(tmp_path, "cases.csv", "a,b\n1,2\n3,\x00\n"))
    assert caught.value.problems[0].row == 3


def test_a_spreadsheet_given_as_csv_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4)
    with pytest.raises(InputError):
        list(open_input(path).rows())


def test_huge_cell_is_an_error(tmp_path: Path) -> None:
    source = open_input(_write(tmp_path, "cases.csv", "a,b\n1," + "x" * 200_000 + "\n"))
    with pytest.raises(InputError, match="field larger than field limit") as caught:
        list(source.rows())
    assert caught.value.problems[-1].row == 2


def test_size_limits(tmp_path: Path) -> None:
    path = _write(tmp_path, "cases.csv", "a,b\n" + "1,2\n" * 50)
    with pytest.raises(InputError, match="at most 100 bytes"):
        open_input(path, limits=Limits(max_bytes=100))
    with pytest.raises(InputError, match="at most 10 rows"):
        list(open_input(path, limits=Limits(max_rows=10)).rows())
    with pytest.raises(InputError, match="at most 1 columns"):
        open_input(path, limits=Limits(max_columns=1))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="a readable file"):
        open_input(tmp_path / "nope.csv")


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("wrap", [None, "records", "cases", "contacts"])
def test_json_list_or_wrapped_list(tmp_path: Path, wrap: str | None) -> None:
    records = [
        {"ext_PersonID": 1, "prs_Citizenship": ["MD", "RO"], "prs_Gender": "Female"},
        {"ext_PersonID": "2", "prs_Gender": None, "Notes": "Київ"},
    ]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(records if wrap is None else {wrap: records}, ensure_ascii=False), encoding="utf-8")
    source = open_input(path)
    assert source.format == "json"
    assert source.columns == ("ext_PersonID", "prs_Citizenship", "prs_Gender", "Notes")
    assert [(n, list(c)) for n, c in source.rows()] == [
        (1, ["1", ["MD", "RO"], "Female", None]),
        (2, ["2", None, None, "Київ"]),
    ]


def test_json_is_recognised_by_content(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.dat", '  [{"a": "NA"}]')
    assert [list(c) for _, c in open_input(path).rows()] == [["NA"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"a": 1}', "valid JSON"),
        ('{"a": 1}', 'a JSON list of records, or an object with a "records"'),
        ('{"records": [], "cases": []}', "a JSON list of records"),
        ('{"records": [], "records": []}', "'records' is repeated"),
        ("[" * 100_000 + "]" * 100_000, "JSON"),
    ],
)
def test_broken_json_is_an_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        open_input(_write(tmp_path, "cases.json", text))


def test_a_repeated_key_is_named_by_record_and_key(tmp_path: Path) -> None:
    problems = ProblemLog()
    path = _write(tmp_path, "cases.json", '[{"a": "1"}, {"a": "1", "b": "2", "a": "3"}]')
    source = open_input(path, problems=problems)
    assert [n for n, _ in source.rows()] == [1]
    (problem,) = problems.error().problems
    assert (problem.where(), problem.expected) == (
        "cases.json, record 2, field a",
        "each key once per object; this one is repeated, so its value is ambiguous",
    )


def test_json_values_of_the_wrong_shape_are_reported_by_record_and_field(tmp_path: Path) -> None:
    text = json.dumps([{"a": "x"}, 5, {"a": {"nested": 1}}, {"a": True}, {"a": [1, ["deep"]]}, {"a": 2.5}])
    problems = ProblemLog()
    source = open_input(_write(tmp_path, "cases.json", text), problems=problems)
    assert [n for n, _ in source.rows()] == [1]
    error = problems.error()
    assert [(p.row, p.column) for p in error.problems] == [(2, None), (3, "a"), (4, "a"), (5, "a"), (6, "a")]
    assert error.problems[0].where() == "cases.json, record 2"
    assert error.problems[1].where() == "cases.json, record 3, field a"


# ---------------------------------------------------------------- errors


def test_values_reach_the_screen_but_never_str_or_repr() -> None:
    problem = InputProblem("cases.csv", 7, "prs_Gender", "one of Feminine, Masculine", value="Жінка")
    error = InputError([problem])
    assert "Жінка" in error.diagnostics()
    assert "Жінка" not in str(error)
    assert "Жінка" not in repr(error)
    assert "Жінка" not in repr(problem)
    assert "Жінка" not in str(problem)
    assert "cases.csv, row 7, column prs_Gender" in str(error)


def test_shown_values_are_short_and_cannot_drive_a_terminal() -> None:
    assert shown_value("\x1b[2J\x07evil") == "\\x1b[2J\\x07evil"
    assert len(shown_value("x" * 1000)) == 40


def test_diagnostics_group_repeated_problems_and_count_the_rest() -> None:
    problems = [InputProblem("c.csv", row, "prs_Gender", "one of F", value="Femme") for row in range(2, 12)]
    problems += [InputProblem("c.csv", row, f"col{row}", "a date", value="x") for row in range(100)]
    text = InputError(problems).diagnostics()
    assert "(rows 2, 3, 4, 5, 6 and 5 more)" in text
    assert "110 problems" in text
    assert "more problems not shown" in text


def test_a_large_file_is_judged_on_a_sample_and_still_checked_whole() -> None:
    """The encoding is decided on a sample (the start, and around the first byte that is not UTF-8), then every
    byte is checked: damage far into a large UTF-8 file is still damage, and a code-page file whose letters start
    late is still that code page."""
    line = "1;Київ, звернення матері;Одеса\r\n"
    utf8 = ("id;notes;city\r\n" + line * 120_000).encode()  # 4.6 MB
    damaged = utf8[: len(utf8) - 50] + b"\xff" + utf8[len(utf8) - 50 :]
    damage = r"expected utf-8 text; byte 0xff on line 120001 is not \(the rest of the file"
    with pytest.raises(InputError, match=damage):
        decode(damaged, name="cases.csv")
    late = ("id;notes;city\r\n" + "1;first call;Chisinau\r\n" * 200_000 + line * 50).encode("cp1251")
    assert decode(late, name="cases.csv")[1] == "cp1251"
    undefined = late[:-10] + b"\x98" + late[-10:]  # a byte Windows-1251 leaves undefined, at the very end
    with pytest.raises(InputError, match="byte 0x98 on line 200051"):
        decode(undefined, name="cases.csv")
