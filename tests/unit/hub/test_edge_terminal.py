# SPDX-License-Identifier: Apache-2.0
"""Names and labels chosen by others reach the operator's terminal escaped: no control sequences, no rich markup."""

from __future__ import annotations

import pytest

from hub.cli import main
from hub.cli.text import cell, markup_safe, printable
from tests.support.hubs import HubUnderTest

HOSTILE = "Evil\x1b[2J\x1b]52;c;ZXZpbA==\x07 [red]x[/red] \u202eexe.gnp\r\n\x9b"


def _cli(hub: HubUnderTest, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    settings = hub.context.settings
    where = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    code = main([*argv, *where], clock=hub.clock)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _assert_escaped(out: str) -> None:
    for raw in ("\x1b", "\x07", "\r", "\x9b", "\u202e"):
        assert raw not in out
    joined = "".join(out.split())  # tables fold long cells over lines
    assert "Evil\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07" in joined
    assert "[red]x[/red]" in joined  # shown literally, not read as markup
    assert "\\u202eexe.gnp\\x0d\\x0a\\x9b" in joined


def test_attack_a_hotline_name_cannot_drive_the_operator_terminal(
    hub: HubUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.enroll("hot-evil", "DE", name=HOSTILE)
    _assert_escaped(_cli(hub, capsys, "hotline", "list"))


def test_attack_a_token_label_cannot_drive_the_operator_terminal(
    hub: HubUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    created = hub.client.post(
        "/v1/admin/tokens", json={"role": "coordinator", "label": HOSTILE}, headers=hub.auth("admin")
    )
    assert created.status_code == 201, created.text
    _assert_escaped(_cli(hub, capsys, "token", "list"))
    revoked = _cli(hub, capsys, "token", "revoke", str(created.json()["id"]))
    assert "\x1b" not in revoked


def test_printable_escapes_controls_and_bidi_but_keeps_letters() -> None:
    assert printable("Ла Страда — café ✓") == "Ла Страда — café ✓"
    assert printable("a\tb\x00c\x7f\u2028\u2066") == "a\\x09b\\x00c\\x7f\\u2028\\u2066"
    assert cell("[bold]x[/bold]").plain == "[bold]x[/bold]"
    assert markup_safe("[bold]x") == "\\[bold]x"
