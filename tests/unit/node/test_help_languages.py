# SPDX-License-Identifier: Apache-2.0
"""``tipshare-node --help`` and the errors that stop a run speak the officer's language: ``--lang`` (read from the
command line before click parses it), else the locale environment; English by default. Click's own words
("Usage:", "Options", "Show this message and exit.") stay English: click ships no translations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import opendp.prelude as dp
import pytest

import node.aggregate
from node import i18n
from node.aggregate import TrueTables
from node.cli import main
from node.errors import protocol_diagnostics
from protocol.errors import TaxonomyViolation
from tests.unit.node.fakehub import FakeHub
from tests.unit.node.nodekit import Officer, init_and_enroll, planted_counts

LOCALE = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def _no_locale(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIPSHARE_NODE_HOME", str(tmp_path / "node-home"))
    monkeypatch.setenv("TIPSHARE_NODE_RETRY_BASE_DELAY", "0")
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The help as typed, its panels' borders and line breaks taken out (a wrapped cell reads as one line)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return re.sub(r"[│╭╮╰╯─\s]+", " ", out)


def test_the_apps_help_in_ukrainian(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "--lang", "uk", "--help")
    assert "вузол tipshare: сторона гарячої лінії: перетворює експорт справ на підписаний місячний випуск" in text
    assert "Домашня тека вузла (типово: TIPSHARE_NODE_HOME" in text  # an option's help
    assert "Перевірити експорт, побудувати таблиці місяця" in text  # a command's help in the list
    assert "Файли відповідності стовпців: `mapping init EXPORT` створює чернетку." in text  # a group's help
    assert "--home" in text  # option and command names stay as typed
    assert "prepare" in text
    assert "Usage:" in text  # click's own words: English


def test_prepares_help_follows_lang_in_romanian(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "ro_RO.UTF-8")
    text = _help(capsys, "prepare", "--help")
    assert "Verifică exportul, construiește tabelele lunii" in text
    assert "Exportul cazurilor (HTCDS CSV sau JSON)." in text  # the argument
    assert "Luna, YYYY-MM." in text  # an option shared by several commands
    assert "Doar citește și verifică exportul și arată rezumatul lui" in text
    assert "--period" in text


def test_help_stays_english_by_default_and_after_another_language(capsys: pytest.CaptureFixture[str]) -> None:
    _help(capsys, "--lang", "ru", "prepare", "--help")
    text = _help(capsys, "prepare", "--help")  # the same process: the command tree is built anew for each run
    assert "The case export (HTCDS CSV or JSON)." in text
    assert "Only read and check the export and show its summary: no noise, no budget spent." in text
    text = _help(capsys, "--lang=uk", "mapping", "init", "--help")  # --lang=X and a subcommand of a group
    assert "Записати чернетку до цього файлу (ніколи поверх наявного); типово: вивести її." in text


@pytest.fixture
def officer(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Officer:
    counts = planted_counts()

    def planted(**kwargs: Any) -> TrueTables:
        return TrueTables(period=kwargs["period"], counts={name: list(v) for name, v in counts.items()})

    monkeypatch.setattr(node.aggregate, "prepare_tables", planted)
    return Officer(FakeHub(), capsys)


def test_an_opendp_failure_says_what_to_do_in_ukrainian_and_keeps_opendps_words(
    officer: Officer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_and_enroll(officer)
    cases = tmp_path / "cases.csv"
    cases.write_text("placeholder: the input half is replaced by planted counts\n", encoding="utf-8")

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise dp.OpenDPException("FailedFunction", "no scale satisfies the bound")

    monkeypatch.setattr(dp, "binary_search_param", fails)
    code, _, err = officer("--lang", "uk", "prepare", "--period", "2025-03", str(cases))
    assert code == 1
    assert "NoiseError: OpenDP не зміг відкалібрувати шум таблиці" in err
    assert "no scale satisfies the bound" in err  # OpenDP's detail, as it came
    assert "Нічого не збережено, і бюджет не витрачено. Будь ласка, повідомте про це розробникам tipshare." in err
    code, _, err = officer("prepare", "--period", "2025-03", str(cases))
    assert code == 1
    assert "NoiseError: OpenDP could not calibrate the noise of table" in err
    assert "Nothing was stored and no budget was spent." in err


def test_a_protocol_error_keeps_its_english_text_and_says_the_next_step_in_the_language() -> None:
    error = TaxonomyViolation("dimension 'gender' has no missing code")
    i18n.use("en")  # a run before this test may have left another language
    try:
        i18n.use("ru")
        text = protocol_diagnostics(error)
    finally:
        i18n.use("en")
    assert text.startswith("TaxonomyViolation: dimension 'gender' has no missing code\n")
    assert "Протокол отклонил то, что названо выше: ничего не отправлено." in text
    assert protocol_diagnostics(error).endswith("then tell your hub operator what is shown above.")
