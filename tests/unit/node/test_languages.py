# SPDX-License-Identifier: Apache-2.0
"""The node speaks Ukrainian, Romanian and Russian: ``--lang``, else LANGUAGE, LC_ALL, LC_MESSAGES, LANG (C and
unset: English); ``prepare``'s summary, check and preview are translated, ``--json`` never is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import node.aggregate
from node import i18n, views
from node.aggregate import TrueTables
from node.cli import main
from node.i18n import N_, Text
from node.inputs.errors import InputError, InputProblem
from node.inputs.summary import DimensionShare, FileSummary, InputSummary
from tests.unit.node.fakehub import HUB_URL, FakeHub
from tests.unit.node.nodekit import NOW, Officer, init_and_enroll, make_home, planted_counts

LOCALE = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture
def officer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Officer:
    monkeypatch.setenv("TIPSHARE_NODE_HOME", str(tmp_path / "node-home"))
    monkeypatch.setenv("TIPSHARE_NODE_RETRY_BASE_DELAY", "0")
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)
    counts = planted_counts()

    def planted(**kwargs: Any) -> TrueTables:
        return TrueTables(period=kwargs["period"], counts={name: list(v) for name, v in counts.items()})

    monkeypatch.setattr(node.aggregate, "prepare_tables", planted)
    return Officer(FakeHub(), capsys)


def _export(tmp_path: Path) -> str:
    cases = tmp_path / "cases.csv"
    cases.write_text("placeholder: the input half is replaced by planted counts\n", encoding="utf-8")
    return str(cases)


def test_prepare_speaks_the_language_asked_and_json_stays_english(officer: Officer, tmp_path: Path) -> None:
    init_and_enroll(officer)
    cases = _export(tmp_path)
    code, out, _ = officer("--lang", "uk", "prepare", "--period", "2025-03", cases)
    assert code == 0
    assert "Підготовлено 2025-03, редакція 1: шум згенеровано один раз і збережено" in out
    assert "Нічого не надіслано; випуск чекає на ваше схвалення." in out
    assert "tipshare-node approve --period 2025-03" in out
    english = officer.json("prepare", "--period", "2025-03", cases)
    translated = officer.json("--lang", "ru", "prepare", "--period", "2025-03", cases)
    assert english == translated  # --json: the same document, in English keys and words


def test_status_in_russian(officer: Officer, tmp_path: Path) -> None:
    init_and_enroll(officer)
    officer("prepare", "--period", "2025-03", _export(tmp_path))
    code, out, _ = officer("--lang", "ru", "status")
    assert code == 0
    text = " ".join(out.split())
    assert "Горячая линия" in text
    assert "подготовлен (ждёт одобрения)" in text
    assert "Очередь отправки: пуста." in text


def test_an_errors_next_step_is_translated(officer: Officer) -> None:
    code, _, err = officer("--lang", "uk", "status")  # no node home yet
    assert code == 1
    assert "Спершу виконайте `tipshare-node init --hotline-id <ваш id> --hub <URL хабу>`" in err
    code, _, err = officer("status")
    assert "Run `tipshare-node init --hotline-id <your id> --hub <hub URL>` first" in err


def test_the_check_in_romanian(officer: Officer, tmp_path: Path) -> None:
    init_and_enroll(officer)
    code, out, _ = officer("--lang", "ro", "prepare", "--check", "--period", "2025-03", _export(tmp_path))
    assert code == 0
    assert "Verificare reușită: cases.csv poate fi publicat pentru 2025-03" in " ".join(out.split())


def test_the_locale_environment_chooses_when_no_option(
    officer: Officer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_and_enroll(officer)
    cases = _export(tmp_path)
    monkeypatch.setenv("LANG", "uk_UA.UTF-8")
    monkeypatch.setenv("LC_ALL", "ru_RU.UTF-8")  # LC_ALL before LANG
    _, out, _ = officer("prepare", "--period", "2025-03", cases)
    assert "Подготовлено 2025-03, редакция 1" in out
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # C: English
    _, out, _ = officer("prepare", "--period", "2025-03", cases)
    assert "2025-03 revision 1 was prepared on" in out
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")  # a language the node does not speak: English
    _, out, _ = officer("prepare", "--period", "2025-03", cases)
    assert "2025-03 revision 1 was prepared on" in out


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("uk", "Підсумок експорту за 2025-03 (лише для вас: ніколи не зберігається й не надсилається):"),
        ("ro", "Rezumatul exportului pentru 2025-03 (doar pentru dvs.: nu se stochează și nu se trimite niciodată):"),
        ("ru", "Сводка экспорта за 2025-03 (только для вас: никогда не сохраняется и не отправляется):"),
    ],
)
def test_prepares_summary_is_translated(language: str, expected: str) -> None:
    summary = InputSummary(
        period="2025-03",
        files=(FileSummary("cases.csv", "cases", "csv", "utf-8", 120, 40, 30, 90, (("2025-02", 10),), ()),),
        shares=(DimensionShare("gender", "person", ("vic_Gender",), 3, 1, 30, present=True),),
        mapping=None,
        unit="person-month",
        unit_reasons=(),
    )
    out = Console(record=True, width=200)
    try:
        i18n.use(language)
        views.show_summary(out, summary)
    finally:
        i18n.use("en")
    text = out.export_text()
    assert expected in text
    assert "120" in text  # the numbers, as they were
    assert "2025-02 10" in text


# ---------------------------------------------------------------- refusals of the input checks, as typed

HEADER = "ext_PersonID,ext_RegistrationDate,prs_Gender,hte_Type,hte_Country\n"


class Desk:
    """A node home and real export files (no planted counts): ``tipshare-node prepare`` as the officer types it."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.hub = FakeHub()
        make_home(root / "home", self.hub)
        self.capsys = capsys

    def prepare(self, cases: str, *options: str, mapping: str | None = None, lang: str | None = None) -> Run:
        path = self.root / "cases.csv"
        path.write_text(cases, encoding="utf-8")
        argv = ["--home", str(self.root / "home"), *(["--lang", lang] if lang else [])]
        argv += ["prepare", "--period", "2025-03", str(path), *options]
        if mapping is not None:
            (self.root / "mapping.toml").write_text(mapping, encoding="utf-8")
            argv += ["--mapping", str(self.root / "mapping.toml")]
        self.capsys.readouterr()
        status = main(argv, http_client_factory=self.hub.client_factory(), clock=lambda: NOW)
        out, err = self.capsys.readouterr()
        return Run(status, out, err)


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)
    yield Desk(tmp_path, capsys)
    i18n.use("en")  # the language is the process's: leave English to the next test


@dataclass(frozen=True)
class Refusal:
    id: str
    cases: str
    mapping: str | None
    english: tuple[str, ...]
    ukrainian: tuple[str, ...]


REFUSALS = (
    Refusal(
        "mapped column missing, a look-alike header",
        "ext_PersonID,ext_RegistrationDate,Gender\nP1,2025-03-04,Female\n",
        '[columns]\n"G\u0435nder" = "prs_Gender"\n',
        ("cases.csv, row 1: expected the column", "the export has no such column", "looks the same"),
        (
            "cases.csv, рядок 1: очікується: стовпець «G\u0435nder», який mapping.toml зіставляє з prs_Gender",
            "в експорті такого стовпця немає (його заголовок «Gender» виглядає так само",
            "1 проблема у вхідних даних; нічого не опубліковано.",
        ),
    ),
    Refusal(
        "no ext_PersonID",
        "ext_RegistrationDate,prs_Gender\n2025-03-04,Female\n2025-03-05,Male\n",
        None,
        ("cases.csv: expected a person identifier column, ext_PersonID",),
        ("cases.csv: очікується: стовпець ідентифікатора особи, ext_PersonID", "--rows-are-persons"),
    ),
    Refusal(
        "the wrong month, naming the months the rows fall in",
        HEADER + "P1,2025-02-04,Female,,\nP2,2025-02-05,Male,,\n",
        None,
        ("persons registered in 2025-03 (--period)", "they were registered in 2025-02"),
        ("особи, зареєстровані в 2025-03 (--period)", "їх зареєстровано в 2025-02", "--allow-empty"),
    ),
    Refusal(
        "records without a value of a dimension",
        HEADER + "".join(f"P{i},2025-03-0{i},,,\n" for i in range(1, 6)) + "P6,2025-03-08,Female,,\n",
        None,
        ("a gender recorded (prs_Gender) for at least a fifth",),
        ("записане значення виміру gender (prs_Gender) принаймні для п’ятої частини", "--allow-unknown"),
    ),
    Refusal(
        "a look-alike value: did you mean",
        HEADER + "P1,2025-03-04,F\u0435male,,\n",
        None,
        ("cases.csv, row 2, column prs_Gender: 'F\u0435male' is not accepted", "did you mean 'Female'?"),
        (
            "cases.csv, рядок 2, стовпець prs_Gender: 'F\u0435male' не приймається; очікується: одне з: Female",
            "можливо, ви мали на увазі 'Female'? У цьому значенні Cyrillic 'е' (U+0435)",
        ),
    ),
    Refusal(
        'a "?" left in the mapping',
        "ext_PersonID,ext_RegistrationDate,Sex\nP1,2025-03-04,F\n",
        '[columns]\nSex = "?"\n',
        ('mapping.toml, [columns] Sex: expected a decision instead of "?"',),
        (
            "MappingError: 1 проблема у файлі відповідності; нічого не опубліковано.",
            'mapping.toml, [columns] Sex: очікується: рішення замість "?"',
            "Виправте файл відповідності",
        ),
    ),
)


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: r.id)
def test_each_input_check_refuses_in_ukrainian_naming_the_same_place(desk: Desk, refusal: Refusal) -> None:
    english = desk.prepare(refusal.cases, mapping=refusal.mapping)
    assert english.status == 1
    for fragment in refusal.english:
        assert fragment in english.err, f"{fragment!r} not in\n{english.err}"
    ukrainian = desk.prepare(refusal.cases, mapping=refusal.mapping, lang="uk")
    assert ukrainian.status == 1
    assert "Traceback" not in ukrainian.err
    for fragment in refusal.ukrainian:
        assert fragment in ukrainian.err, f"{fragment!r} not in\n{ukrainian.err}"
    assert "expected" not in ukrainian.err  # no English left in the lines about the export


def test_the_locale_environment_translates_a_refusal(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "ro_RO.UTF-8")
    cases = HEADER + "".join(f"P{i},2025-03-04,F\u0435male,,\n" for i in range(1, 10))
    run = desk.prepare(cases)
    assert run.status == 1
    assert run.err.startswith("InputError: 9 probleme în datele de intrare; nu s-a publicat nimic.")
    assert "cases.csv, coloana prs_Gender: 'F\u0435male' nu este acceptat; se aștepta: una dintre: Female" in run.err
    assert "ați vrut să scrieți 'Female'?" in run.err
    assert "(rândurile 2, 3, 4, 5, 6 și încă 4)" in run.err


def test_json_is_the_same_document_in_every_language(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = HEADER + "P1,2025-03-04,Female,Exploitation,RO\nP2,2025-03-05,Male,Exploitation,PL\n"
    documents = [desk.prepare(cases, "--check", "--json", lang=lang) for lang in (None, "uk", "ru")]
    monkeypatch.setenv("LANG", "ro_RO.UTF-8")
    documents.append(desk.prepare(cases, "--check", "--json"))
    assert all(run.status == 0 for run in documents), [run.err for run in documents]
    assert len({run.out for run in documents}) == 1
    json.loads(documents[0].out)


def test_an_input_errors_str_stays_english_in_any_language() -> None:
    problem = InputProblem("cases.csv", 7, "prs_Gender", Text(N_("a date YYYY-MM-DD")), "x")
    try:
        i18n.use("uk")
        error = InputError([problem])
        first = "cases.csv, row 7, column prs_Gender: a value is not accepted; expected a date YYYY-MM-DD"
        assert str(error) == f"1 problem in the input; the first: {first}"
        assert "рядок 7, стовпець prs_Gender: 'x' не приймається" in error.diagnostics()
    finally:
        i18n.use("en")


# ---------------------------------------------------------------- the other commands


def test_the_other_commands_speak_ukrainian(officer: Officer, tmp_path: Path) -> None:
    code, out, _ = officer("--lang", "uk", "init", "--hotline-id", "la-strada-md", "--hub", HUB_URL)
    assert code == 0
    assert "Вузол налаштовано для гарячої лінії la-strada-md" in out
    assert "оператору хабу телефоном чи особисто" in out
    init_and_enroll(officer)  # the same home again: the line to enroll
    code, _, err = officer("--lang", "uk", "init", "--hotline-id", "another", "--hub", HUB_URL)
    assert err.startswith("AlreadyInitialised: ")
    assert "уже налаштовано для гарячої лінії la-strada-md" in err
    cases = _export(tmp_path)
    code, _, err = officer("--lang", "uk", "submit", "--period", "2025-03")
    assert code == 1
    assert err.startswith("NoSuchRelease: для 2025-03 нічого не підготовлено\n")
    assert "Спершу підготуйте його" in err
    code, _, err = officer("--lang", "uk", "prepare", "--period", "2026-03", cases)  # the clock is in March 2026
    assert err.startswith("PeriodNotOver: 2026-03 ще не закінчився\n")
    officer("prepare", "--period", "2025-03", cases)
    code, out, _ = officer("--lang", "uk", "submit")
    assert "Нічого надсилати: жоден випуск не схвалено." in out
    code, _, err = officer("--lang", "uk", "submit", "--period", "2025-03")
    assert err.startswith("NotApproved: 2025-03, редакцію 1, підготовлено, але не схвалено; нічого не надіслано\n")
    assert "Якщо вона правильна: `tipshare-node approve --period 2025-03`" in err
    code, out, _ = officer("--lang", "uk", "approve", "--period", "2025-03")
    assert code == 0
    assert "Схвалено 2025-03, редакцію 1" in " ".join(out.split())
    code, out, _ = officer("--lang", "uk", "discard", "--period", "2025-03", "--yes")
    assert code == 0
    assert "Відкинуто 2025-03, редакцію 1" in " ".join(out.split())
    code, out, _ = officer("--lang", "ru", "budget")
    assert code == 0
    assert "Сколько один выпуск тратит на таблицу" in out
    code, out, _ = officer("--lang", "ro", "witnesses")
    assert "Nu este necesar niciun martor" in " ".join(out.split())
    assert officer.json("--lang", "uk", "budget") == officer.json("budget")  # --json: never translated


def test_an_errors_first_line_is_translated_and_english_by_default(officer: Officer) -> None:
    code, _, err = officer("--lang", "ru", "status")  # no node home yet
    assert code == 1
    assert err.startswith("NotInitialised: в ")
    assert "не настроен ни один узел tipshare" in err.splitlines()[0]
    code, _, err = officer("status")
    assert err.startswith("NotInitialised: no tipshare node is set up in ")
