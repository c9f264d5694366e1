# SPDX-License-Identifier: Apache-2.0
"""The one way the three programs run a command: language, errors to exit statuses, log handlers, version."""

from __future__ import annotations

import doctest
import logging
from pathlib import Path

import pytest
import typer

import appkit.commands
import appkit.languages
import appkit.problems
from appkit.commands import CommandState, LangOption, add_version_command, run, state_of
from appkit.languages import Catalogue

NODE_LOCALES = Path(__file__).resolve().parents[3] / "node" / "locale"


class Refused(Exception):
    pass


class Broken(Exception):
    pass


def _app() -> tuple[typer.Typer, list[CommandState]]:
    app = typer.Typer(add_completion=False)
    seen: list[CommandState] = []

    @app.callback()
    def root(
        ctx: typer.Context,
        verbose: int = typer.Option(0, "--verbose", "-v", count=True),
        lang: LangOption = None,
    ) -> None:
        state = state_of(ctx, CommandState)
        state.start(CATALOGUE, lang=lang, verbose=verbose)
        if verbose:
            state.log_to_stderr(["appkit-test"], logging.INFO)
        seen.append(state)

    @app.command()
    def refuse() -> None:
        raise Refused("the month is not over")

    @app.command()
    def crash() -> None:
        raise Broken("a bug")

    @app.command()
    def fine() -> None:
        typer.echo("done")

    add_version_command(app, "tipshare-protocol/9")
    return app, seen


CATALOGUE = Catalogue("node", NODE_LOCALES)
REPORTS = [(Refused, lambda e: (f"refused: {e}", 3))]


def test_module_examples() -> None:
    for module in (appkit.commands, appkit.languages, appkit.problems):
        result = doctest.testmod(module)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__


def test_a_report_says_the_error_on_stderr_with_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = _app()
    assert run(app, ["refuse"], program="t", state=CommandState(), catalogue=CATALOGUE, reports=REPORTS) == 3
    assert capsys.readouterr().err == "refused: the month is not over\n"


def test_with_vv_the_error_is_raised_with_its_traceback() -> None:
    app, _ = _app()
    with pytest.raises(Refused):
        run(app, ["-vv", "refuse"], program="t", state=CommandState(), catalogue=CATALOGUE, reports=REPORTS)


def test_an_error_no_report_names_is_a_bug_and_crashes() -> None:
    app, _ = _app()
    with pytest.raises(Broken):
        run(app, ["crash"], program="t", state=CommandState(), catalogue=CATALOGUE, reports=REPORTS)


def test_success_usage_errors_and_help_keep_clicks_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = _app()
    state = CommandState()
    assert run(app, ["fine"], program="t", state=state, catalogue=CATALOGUE, reports=REPORTS) == 0
    assert capsys.readouterr().out == "done\n"
    assert run(app, ["no-such-command"], program="t", state=state, catalogue=CATALOGUE, reports=REPORTS) == 2
    assert run(app, ["--help"], program="t", state=state, catalogue=CATALOGUE, reports=REPORTS) == 0


def test_the_log_handlers_of_a_command_are_removed_when_it_ends() -> None:
    app, seen = _app()
    logger = logging.getLogger("appkit-test")
    logger.setLevel(logging.ERROR)
    before = list(logger.handlers)
    assert run(app, ["-v", "fine"], program="t", state=CommandState(), catalogue=CATALOGUE, reports=REPORTS) == 0
    assert seen[0].verbosity == 1
    assert logger.handlers == before
    assert logger.level == logging.ERROR, "the logger's own level comes back"
    assert seen[0].handlers == []


def test_version_names_the_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = _app()
    assert run(app, ["version"], program="t", state=CommandState(), catalogue=CATALOGUE, reports=REPORTS) == 0
    out = capsys.readouterr().out
    assert out.startswith("tipshare ")
    assert out.rstrip().endswith("(tipshare-protocol/9)")


def test_the_language_of_the_command_line_is_spoken_before_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = Catalogue("node", NODE_LOCALES)
    app, _ = _app()
    monkeypatch.setenv("LANGUAGE", "en")
    run(app, ["--lang", "uk", "fine"], program="t", state=CommandState(), catalogue=catalogue, reports=REPORTS)
    said = catalogue.gettext("Print the tipshare version and the protocol version this build speaks.")
    assert said != "Print the tipshare version and the protocol version this build speaks."
    catalogue.use("de")  # not spoken: English
    assert catalogue.gettext("Print the tipshare version and the protocol version this build speaks.").startswith(
        "Print"
    )
