# SPDX-License-Identifier: Apache-2.0
"""The node speaks Ukrainian, Romanian and Russian: ``--lang``, else LANGUAGE, LC_ALL, LC_MESSAGES, LANG (C and
unset: English); ``prepare``'s summary, check and preview are translated, ``--json`` never is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import node.aggregate
from node import i18n, views
from node.aggregate import TrueTables
from node.inputs.summary import DimensionShare, FileSummary, InputSummary
from tests.unit.node.fakehub import FakeHub
from tests.unit.node.nodekit import Officer, init_and_enroll, planted_counts

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
