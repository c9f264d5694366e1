# SPDX-License-Identifier: Apache-2.0
"""``tipshare-node mapping init``: a draft mapping from an export, guesses only where clear, "?" elsewhere."""

from __future__ import annotations

import doctest
import tomllib
from pathlib import Path

import pytest

import node.scaffold
from node.cli import main
from tests.unit.node.fakehub import FakeHub
from tests.unit.node.nodekit import NOW, make_home
from tests.unit.node.test_hostile_inputs import (
    ROMANIAN_CASES,
    UKRAINIAN_HEADER,
    UKRAINIAN_ROWS,
    snapshot,
    table,
)

A_NAME = "Олена Петренко"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), http_client_factory=FakeHub().client_factory(), clock=lambda: NOW)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    make_home(root, FakeHub())
    return root


def _ukrainian(tmp_path: Path) -> Path:
    header = (*UKRAINIAN_HEADER, "ПІБ")
    rows = [(*row, A_NAME if i == 0 else f"Особа {i}") for i, row in enumerate(UKRAINIAN_ROWS * 3)]
    path = tmp_path / "cases.csv"
    path.write_bytes(table(header, rows).encode("cp1251"))
    return path


def test_the_draft_guesses_fields_and_country_codes_and_asks_the_rest(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    export = _ukrainian(tmp_path)
    code, out, err = _run(capsys, "--home", str(home), "mapping", "init", str(export))
    assert code == 0, err
    draft = tomllib.loads(out)
    assert draft["options"] == {"encoding": "cp1251", "delimiter": ","}
    assert draft["columns"] == {
        "Номер особи": "ext_PersonID",
        "Номер справи": "ext_CaseID",
        "Дата реєстрації": "ext_RegistrationDate",
        "Стать": "prs_Gender",
        "Громадянство": "prs_Citizenship",
        "Вид експлуатації": "vic_TypeOfExploitation",
        "Країна експлуатації": "vic_LocationOfExploitation",
        "Примітки": "?",
        "ПІБ": "?",
    }
    assert draft["values"]["prs_Citizenship"] == {"Україна": "UA", "Молдова": "MD"}  # pycountry's uk names
    assert draft["values"]["vic_LocationOfExploitation"] == {"Польща": "PL", "Німеччина": "DE"}
    assert draft["values"]["prs_Gender"] == {"жінка": "?", "чоловіча": "?"}
    assert A_NAME not in out  # a value seen fewer than three times is never written
    assert "Особа 1" not in out

    # As drafted it is refused; decided, the export passes the checks.
    mapping = tmp_path / "mapping.toml"
    code, _, err = _run(capsys, "--home", str(home), "mapping", "init", str(export), "--out", str(mapping))
    assert code == 0, err
    assert "decisions to make" in err
    before = snapshot(home)
    check = ("--home", str(home), "prepare", "--check", "--period", "2025-03", str(export), "--mapping", str(mapping))
    code, _, err = _run(capsys, *check)
    assert code == 1
    assert "MappingError" in err
    assert 'expected a decision instead of "?"' in err
    decided = (
        mapping.read_text(encoding="utf-8")
        .replace('"Примітки" = "?"', '"Примітки" = ""')
        .replace('"ПІБ" = "?"', '"ПІБ" = ""')
        .replace('"жінка" = "?"', '"жінка" = "Female"')
        .replace('"чоловіча" = "?"', '"чоловіча" = "Male"')
        .replace('"трудова" = "?"', '"трудова" = "ForcedLabour"')
        .replace('"сексуальна" = "?"', '"сексуальна" = "SexualExploitation"')
    )
    assert '= "?"' not in decided
    mapping.write_text(decided, encoding="utf-8")
    code, out, err = _run(capsys, *check)
    assert code == 0, err
    assert out.startswith("Check passed: cases.csv can be released for 2025-03")
    assert snapshot(home) == before
    code, _, err = _run(capsys, "--home", str(home), "mapping", "init", str(export), "--out", str(mapping))
    assert code == 2
    assert "the draft never replaces a file" in err


def test_romanian_names_with_cedillas_find_their_codes(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    export = tmp_path / "ro.csv"
    export.write_bytes((ROMANIAN_CASES + ROMANIAN_CASES.split("\r\n", 1)[1] * 2).encode("cp1250"))
    code, out, err = _run(capsys, "--home", str(home), "mapping", "init", str(export))
    assert code == 0, err
    draft = tomllib.loads(out)
    assert draft["columns"]["Cetăţenie"] == "prs_Citizenship"
    assert draft["columns"]["Ţara exploatării"] == "vic_LocationOfExploitation"
    assert draft["values"]["prs_Citizenship"] == {"România": "RO", "Republica Moldova": "MD"}
    assert draft["values"]["vic_LocationOfExploitation"] == {"Spania": "ES", "Italia": "IT"}


def test_russian_and_look_alike_values(tmp_path: Path) -> None:
    assert [node.scaffold.country_code(n) for n in ("Германия", "Молдавия", "Польша", "Германия ")] == [
        "DE",
        "MD",
        "PL",
        "DE",
    ]
    result = doctest.testmod(node.scaffold, optionflags=doctest.ELLIPSIS)
    assert (result.attempted, result.failed) == (1, 0)


def test_a_draft_needs_no_node_home(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    export = _ukrainian(tmp_path)
    code, out, err = _run(capsys, "--home", str(tmp_path / "none"), "mapping", "init", str(export))
    assert code == 0, err
    assert '"Стать" = "prs_Gender"' in out
    assert not (tmp_path / "none").exists()
