# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit --help`` and the errors that stop a run speak the auditor's language: ``--lang`` (read from the
command line before click parses it), else the locale environment; English by default, and ``--json`` never
translated. The technical detail inside an error (the hub's words, an OS error) stays as it came."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from auditor import i18n
from auditor.cli import main
from auditor.client import ClientSettings
from auditor.errors import protocol_diagnostics
from auditor.state import StateStore
from protocol.errors import MalformedMessage
from tests.support.auditkit import run_cli

LOCALE = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def _no_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TIPSHARE_AUDIT_TOKEN", raising=False)


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The help as typed, its panels' borders and line breaks taken out (a wrapped cell reads as one line)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return re.sub(r"[│╭╮╰╯─\s]+", " ", out)


def test_verify_help_in_russian(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "--lang", "ru", "verify", "--help")
    assert "Проверить хаб: его журнал, каждую подачу в нём, а также статистику и оценки, которые он публикует." in text
    assert "URL хаба." in text  # an option's help
    assert "Проверить каждую запись заново вместо продолжения" in text
    assert "--recheck" in text  # option names stay as typed
    assert "--state" in text
    assert "Usage:" in text  # click's own words: English


def test_the_apps_and_a_groups_help_follow_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "uk_UA.UTF-8")
    text = _help(capsys, "--help")
    assert "аудитор tipshare: офлайн-перевірник" in text
    assert "Запустити свідка: співпідписувати контрольні точки хабу" in text  # the witness group, in the list
    text = _help(capsys, "--lang=ro", "witness", "serve", "--help")  # --lang=X wins over the environment
    assert "Portul pe care se ascultă." in text
    monkeypatch.delenv("LC_ALL")
    assert "Port to listen on." in _help(capsys, "witness", "serve", "--help")


class _Unreachable:
    def factory(self, settings: ClientSettings) -> httpx.Client:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        return httpx.Client(transport=httpx.MockTransport(refuse), timeout=settings.timeout)


def test_a_hub_that_cannot_be_reached_is_said_in_ukrainian(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["verify", "--hub", "https://hub.example.org", "--token", "t", "--state", str(state)]
    run = run_cli(["--lang", "uk", *args], wire=_Unreachable())  # type: ignore[arg-type]
    assert run.code == 2
    assert run.err.startswith("HubUnreachable: не вдається зв’язатися з хабом за адресою https://hub.example.org")
    assert "connection refused" in run.err  # httpx's words, as they came
    assert "Не вдалося зв’язатися з хабом: нічого не перевірено." in run.err
    assert "порада: Перевірте URL хабу й мережу, потім запустіть ту саму команду знову." in run.err
    english = run_cli(args, wire=_Unreachable())  # type: ignore[arg-type]
    assert english.err.startswith("HubUnreachable: cannot reach the hub at https://hub.example.org")
    assert "hint: Check the hub URL and your network" in english.err
    assert "nothing was verified" not in english.err  # English keeps its one-paragraph diagnostics
    with StateStore.open(state) as store:
        assert store.pinned() is None


def test_a_key_that_is_not_a_vkey_and_a_hub_url_in_clear_are_said_in_ukrainian(tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    receipt.write_text("{}", encoding="utf-8")
    run = run_cli(["--lang", "uk", "receipt", str(receipt), "--hub-key", "not-a-key"])
    assert run.code == 2
    assert run.err.startswith("UsageError: --hub-key не є ключем перевірки журналу")
    assert "Аудитор не може використати аргумент, файл чи ключ, які йому дали: нічого не перевірено." in run.err
    assert "порада: Він має вигляд origin+keyid+base64" in run.err
    args = ["verify", "--hub", "http://hub.example.org", "--token", "t", "--state", str(tmp_path / "state")]
    run = run_cli(["--lang", "uk", *args], wire=_Unreachable())  # type: ignore[arg-type]
    assert run.code == 2
    assert "UsageError: 'http://hub.example.org' не зашифровано: звичайний http:// надіслав би ваш токен" in run.err
    assert "порада: Використайте адресу хабу https://" in run.err


def test_a_protocol_error_keeps_its_english_text_and_is_explained_in_the_language() -> None:
    error = MalformedMessage("receipt: field 'checkpoint' is missing")
    i18n.use("en")  # a run before this test may have left another language
    assert (
        protocol_diagnostics(error) == "MalformedMessage: receipt: field 'checkpoint' is missing"
    )  # English: as before
    try:
        i18n.use("ro")
        text = protocol_diagnostics(error)
    finally:
        i18n.use("en")
    assert text.startswith("MalformedMessage: receipt: field 'checkpoint' is missing\n")
    assert "Codul comun al protocolului a refuzat ce este numit mai sus: nu s-a mai verificat nimic." in text
