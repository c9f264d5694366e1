# SPDX-License-Identifier: Apache-2.0
"""The auditor's human report in Ukrainian, Romanian and Russian (``--lang``, else the locale environment), the
``--json`` document untranslated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import delete

from auditor import i18n, views
from auditor.access_log import chain_message
from auditor.check_file import FileCheckResult
from auditor.cli import main
from auditor.entries import plausibility_reason
from auditor.findings import Check, Failure
from auditor.i18n import T_, Joined
from auditor.report import VerifyReport
from auditor.witnessing import describe_verdict
from hub.db import write_session
from hub.models import AccessRecord, LogLeaf
from protocol.cosignature import WitnessVerdict
from protocol.plausibility import Implausible
from tests.support.auditkit import HUB_URL, Run, Wire, populate, run_cli
from tests.support.hubs import HubUnderTest, start_hub

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
    # The verdict word and the check's reason translated (what the shared protocol code adds stays English).
    assert "  НЕ ПРОЙДЕНО 2026-05-r1.json: квитанція не проходить перевірку: " in out


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
    assert romanian["results"][0]["message"].startswith("the receipt does not verify: ")
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


# ------------------------------------------------------------------ findings, --report and --json of a tampered log


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    """The honest log of :func:`~tests.support.auditkit.populate` with log leaf 7 deleted from the hub's
    database (as in ``tests/integration/test_auditor_tamper.py``): verify fails with an ``entries`` finding, and a
    ``key`` finding for the submission signed with the key the deleted rotation introduced."""
    for started in start_hub(tmp_path_factory.mktemp("hub")):
        populate(started)
        with write_session(started.context.sessions) as session:
            session.execute(delete(LogLeaf).where(LogLeaf.index == 7))
        yield started


def _verify(hub: HubUnderTest, state: Path, language: str, *argv: str) -> Run:
    """``tipshare-audit --lang LANGUAGE verify …`` against ``hub``."""
    args = ["--lang", language, "verify", "--hub", HUB_URL, "--token", hub.tokens["auditor"], "--state", str(state)]
    return run_cli([*args, "--region-only", *argv], wire=Wire(hub), clock=hub.clock)


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


def test_a_finding_is_said_in_russian_under_its_english_check_code(
    tampered: HubUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    english = _verify(tampered, tmp_path / "en", "en")
    russian = _verify(tampered, tmp_path / "ru", "ru")
    assert english.code == russian.code == 1
    assert (
        "✗ entries  the hub did not serve 1 of the entries 0..12 its checkpoint commits to: 7; the tree" in english.out
    )
    assert (
        "✗ entries  хаб не выдал 1 из записей 0..12, которые обязуется содержать его контрольная точка: 7; дерево "
        "невозможно восстановить" in russian.out
    )
    assert "✗ key  запись 8, горячая линия ua-a: ua-a 2026-10 редакция 1: ключ " in russian.out
    assert "не зарегистрирован для горячей линии ua-a в журнале до этой записи" in russian.out
    assert "the hub did not serve" not in russian.out
    assert "не сравнивалось: журнал не прошёл проверку" in russian.out  # why the statistics were skipped, too


def test_the_json_document_is_the_same_in_every_language(
    tampered: HubUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    documents = {}
    for language in ("en", "uk", "ro", "ru"):
        run = _verify(tampered, tmp_path / language, language, "--json")
        assert run.code == 1
        documents[language] = run.document
    assert documents["uk"] == documents["ro"] == documents["ru"] == documents["en"]
    finding, key = documents["ru"]["failures"]
    assert (finding["check"], key["check"]) == ("entries", "key")
    assert finding["message"].startswith("the hub did not serve 1 of the entries 0..12")


def test_the_report_summary_is_translated_and_its_machine_fields_are_not(
    tampered: HubUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    for language in ("en", "uk"):
        run = _verify(
            tampered, tmp_path / f"state-{language}", language, "--report", str(tmp_path / f"{language}.json")
        )
        assert run.code == 1
    english, ukrainian = (json.loads((tmp_path / f"{language}.json").read_text("utf-8")) for language in ("en", "uk"))
    english.pop("generated_at"), ukrainian.pop("generated_at")
    assert ukrainian == english  # the JSON file: keys, check codes and messages as --json
    summary = (tmp_path / "uk.md").read_text("utf-8")
    assert summary.startswith("# tipshare audit: FAILED\n")  # the verdict word stays the machine one
    assert "## Порушення (2)" in summary
    assert "| check | where | what |" in summary  # the table's header row stays English
    assert (
        "| entries |  | хаб не видав 1 із записів 0..12, які зобов'язується містити його контрольна точка: 7" in summary
    )
    assert "| key | запис 8, гаряча лінія ua-a | ua-a 2026-10 редакція 1: ключ " in summary
    assert "- **Статистика**: не порівняно: журнал не пройшов перевірку" in summary
    assert "the hub did not serve" not in summary
    assert "| entries |  | the hub did not serve 1 of the entries 0..12" in (tmp_path / "en.md").read_text("utf-8")


def test_nested_findings_translate_every_part_and_keep_their_english_form() -> None:
    submission = T_("{hotline} {period} revision {revision}", hotline="ua-a", period="2026-09", revision=1)
    found = T_(
        "{submission}: {problem}",
        submission=submission,
        problem=Joined(
            [
                T_(
                    "{field} published {published}, recomputed {recomputed}",
                    field="estimate",
                    published=3,
                    recomputed=4,
                ),
                T_("the signature does not verify with key {key}", key="k1"),
            ],
            "; ",
        ),
    )
    assert (
        found
        == "ua-a 2026-09 revision 1: estimate published 3, recomputed 4; the signature does not verify with key k1"
    )
    failure = Failure(Check.SIGNATURE, found, index=7, hotline_id="ua-a")
    try:
        i18n.use("uk")
        said, where = i18n.translated(failure.message), failure.where()
    finally:
        i18n.use("en")
    assert said == (
        "ua-a 2026-09 редакція 1: estimate: опубліковано 3, перераховано 4; підпис не перевіряється ключем k1"
    )
    assert where == "запис 7, гаряча лінія ua-a"
    assert failure.document()["message"] == str(found)  # --json: English
    assert i18n.translated(found) == found  # English: the sentence itself


def test_access_log_findings_of_the_shared_chain_check_are_said_in_the_language() -> None:
    english = "record 5 does not follow record 4: records were reordered, or deleted and renumbered, before it"
    message = chain_message(english)
    assert message == english
    try:
        i18n.use("ro")
        said = i18n.translated(message)
    finally:
        i18n.use("en")
    assert said == (
        "înregistrarea 5 nu urmează înregistrării 4: înregistrările dinaintea ei au fost reordonate sau șterse și "
        "renumerotate"
    )
    assert chain_message("something new") == "something new"


def test_a_policy_violation_keeps_the_protocol_s_english_and_is_said_from_its_rule_elsewhere() -> None:
    english = "ua-a 2026-09 r1: the release declares a spend of rho = 1, over the hotline's period cap of 1/2"
    error = Implausible(english, rule="period_cap", limit="1/2", value="1")
    reason = plausibility_reason(error, english)
    found = T_(
        "{rule} (limit {limit}, found {value}): {reason}", rule="period_cap", limit="1/2", value="1", reason=reason
    )
    assert found == f"period_cap (limit 1/2, found 1): {english}"
    assert i18n.translated(found) == found  # English: the protocol's own sentence
    try:
        i18n.use("ru")
        said = i18n.translated(found)
    finally:
        i18n.use("en")
    assert (
        said == "period_cap (предел 1/2, найдено 1): выпуск заявляет расход 1, сверх предела периода горячей линии 1/2"
    )
    unknown = Implausible(english, rule="another_rule", limit="1", value="2")
    assert plausibility_reason(unknown, english) == english


def test_who_cosigned_a_checkpoint_is_said_in_the_language() -> None:
    verdict = WitnessVerdict(signed=("w1",), missing=("w2",), quorum=2)
    problem = T_("checkpoint {size} is {verdict}: refusing to rely on it", size=9, verdict=describe_verdict(verdict))
    assert problem == "checkpoint 9 is cosigned by w1 (1 of 2; 2 required); not by w2: refusing to rely on it"
    try:
        i18n.use("uk")
        said = i18n.translated(problem)
    finally:
        i18n.use("en")
    assert (
        said == "контрольна точка 9: співпідписано: w1 (1 із 2; потрібно 2); бракує: w2; покладатися на неї відмовлено"
    )


def test_access_log_verify_speaks_the_language_and_keeps_the_finding_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    for hub in start_hub(tmp_path / "hub"):
        for month in range(1, 4):
            response = hub.client.get(
                "/v1/completeness", params={"period_from": f"2026-0{month}"}, headers=hub.auth("coordinator")
            )
            assert response.status_code in (200, 400), response.text
        with write_session(hub.context.sessions) as session:
            session.execute(delete(AccessRecord).where(AccessRecord.seq == 2))
        argv = ["access-log", "verify", "--hub", HUB_URL, "--token", hub.tokens["auditor"]]
        argv += ["--log-key", hub.log_key.vkey]
        ukrainian = run_cli(["--lang", "uk", *argv], wire=Wire(hub), clock=hub.clock)
        english = run_cli(argv, wire=Wire(hub), clock=hub.clock)
        as_json = run_cli(["--lang", "uk", *argv, "--json"], wire=Wire(hub), clock=hub.clock)
    assert ukrainian.code == english.code == as_json.code == 1
    assert ukrainian.out.startswith("журнал доступу НЕ ПРОЙДЕНО: записів ")
    assert "  запис 2: deleted: записи 2 відсутні: їх видалено" in ukrainian.out
    assert english.out.startswith("access log FAILED: ")
    assert "  record 2: deleted: record(s) 2 are missing: deleted" in english.out
    assert [(f["kind"], f["message"]) for f in as_json.document["findings"]] == [
        ("deleted", "record(s) 2 are missing: deleted")
    ]


def test_the_scopes_compared_are_said_in_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    report = VerifyReport(hub_url="https://hub.example.org", origin="hub.example.org/log", checkpoint_size=3)
    report.stats.answers, report.stats.rows, report.stats.tables = 2, 5, {"contacts"}
    report.stats.scopes = {T_("region"), T_("country {country}", country="UA")}
    recorded = Console(record=True, width=240)
    monkeypatch.setattr(views, "console", lambda stderr=False: recorded)
    try:
        i18n.use("ru")
        views.show_verify(report)
    finally:
        i18n.use("en")
    assert "охваты регион, страна UA" in recorded.export_text()
    assert report.document()["statistics"]["scopes"] == ["country UA", "region"]  # --json: English
