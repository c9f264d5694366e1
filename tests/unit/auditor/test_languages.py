# SPDX-License-Identifier: Apache-2.0
"""The auditor's human report in Ukrainian, Romanian and Russian (``--lang``, else the locale environment), the
``--json`` document untranslated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from auditor import i18n, views
from auditor.check_file import FileCheckResult
from auditor.cli import main
from auditor.report import VerifyReport

HUB_KEY = "example.org/log+4e933303+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"


@pytest.fixture
def receipts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "receipts"
    directory.mkdir()
    (directory / "2026-05-r1.json").write_text("{not a receipt", encoding="utf-8")
    return directory


def test_receipts_report_in_ukrainian(receipts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "uk", "receipts", str(receipts), "--hub-key", HUB_KEY]) == 1
    out = capsys.readouterr().out
    assert f"НЕ ПРОЙДЕНО  квитанцій у {receipts}: 1; дійсних: 0, недійсних: 1, не вдалося перевірити: 0" in out
    assert "  НЕ ПРОЙДЕНО 2026-05-r1.json: " in out  # the verdict word translated; the check's own reason is not


def test_the_environment_chooses_and_json_is_never_translated(
    receipts: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "ro_RO.UTF-8")
    assert main(["receipts", str(receipts), "--hub-key", HUB_KEY]) == 1
    assert "1 confirmări în" in capsys.readouterr().out
    assert main(["receipts", str(receipts), "--hub-key", HUB_KEY, "--json"]) == 1
    romanian = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert main(["receipts", str(receipts), "--hub-key", HUB_KEY, "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == romanian
    assert romanian["verdict"] == "FAILED"
    assert main(["receipts", str(receipts), "--hub-key", HUB_KEY]) == 1
    assert "1 receipts in" in capsys.readouterr().out  # C: English


@pytest.mark.parametrize(
    ("language", "verdict", "compared"),
    [
        ("uk", "ПЕРЕВІРЕНО", "рядків або записів: 12, перераховано з підписаного журналу"),
        ("ro", "VERIFICAT", "12 linii sau rânduri, recalculate din jurnalul semnat"),
        ("ru", "ПРОВЕРЕНО", "строк или записей: 12, пересчитано из подписанного журнала"),
    ],
)
def test_check_reports_in_each_language(
    language: str, verdict: str, compared: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Console(record=True, width=200)
    monkeypatch.setattr(views, "console", lambda stderr=False: recorded)
    result = FileCheckResult("answer.csv", "estimates", "csv", "person by period", 7, b"\0" * 32, 12, failures=[])
    try:
        i18n.use(language)
        views.show_file_check(result)
    finally:
        i18n.use("en")
    text = recorded.export_text()
    assert text.startswith(f"{verdict}  answer.csv")
    assert compared in text


def test_verify_report_in_ukrainian_and_english(monkeypatch: pytest.MonkeyPatch) -> None:
    report = VerifyReport(
        hub_url="https://hub.example.org",
        origin="hub.example.org/log",
        log_vkey=HUB_KEY,
        fingerprint="SHA256:abc",
        pinned_how="explicit",
        checkpoint_size=42,
        checkpoint_root=b"\1" * 32,
        entries_total=42,
        entries_new=2,
        hotlines=["la-strada-ua"],
        countries=["UA"],
        submissions=3,
        accepted=3,
        current=3,
        periods=["2026-05", "2026-07"],
        state_saved=True,
    )
    texts = {}
    for language in ("en", "uk"):
        recorded = Console(record=True, width=240)
        monkeypatch.setattr(views, "console", lambda stderr=False, recorded=recorded: recorded)
        try:
            i18n.use(language)
            views.show_verify(report)
        finally:
            i18n.use("en")
        texts[language] = recorded.export_text()
    assert texts["en"].startswith("VERIFIED  hub.example.org/log, checkpoint 42")
    assert "3 of 3 valid, 3 current; periods 2026-05..2026-07 (2)" in texts["en"]
    assert texts["uk"].startswith("ПЕРЕВІРЕНО  hub.example.org/log, контрольна точка 42")
    assert "дійсних 3 із 3, чинних 3; періоди 2026-05..2026-07 (2)" in texts["uk"]
    assert "перевірено 42 (нових: 2, з каталогу стану: 40)" in texts["uk"]
    assert "закріплено через --log-key" in texts["uk"]
