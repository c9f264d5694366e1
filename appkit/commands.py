# SPDX-License-Identifier: Apache-2.0
"""One way to run a command of ``tipshare-node``, ``tipshare-hub`` or ``tipshare-audit``.

Each app's ``main`` builds its state (a :class:`CommandState`: what every command is handed, with the
dependencies tests inject) and calls :func:`run`, which

* chooses the language from the raw arguments (``--help`` is written before any command runs) and says every help
  text in it;
* runs the command, click's way (its usage errors exit 2, ``--help`` exits 0);
* turns an error a person can act on into one paragraph on stderr and the app's exit status, through the app's
  ``reports`` (the first whose type matches); with ``-vv`` it raises instead, with its traceback. Any other
  exception is a bug and is allowed to crash;
* removes the log handlers the root options attached.

>>> from pathlib import Path
>>> app = typer.Typer(add_completion=False)
>>> add_version_command(app, "tipshare-protocol/1")
>>> @app.command()
... def fail() -> None:
...     raise ValueError("the period 2026-13 is not a month")
>>> run(app, ["fail"], program="demo", state=CommandState(), catalogue=Catalogue("demo", Path(".")),
...     reports=[(ValueError, lambda e: (f"error: {e}", 7))])   # stderr: error: the period 2026-13 is not a month
7
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as distribution_version
from typing import Annotated, Any, TypeVar

import typer

from appkit.languages import Catalogue, language_from, language_in, translate_help

__all__ = [
    "CommandState",
    "LangOption",
    "Report",
    "add_version_command",
    "run",
    "state_of",
]

#: How an app says an error a person can act on: the paragraph for stderr and the exit status.
Report = Callable[[Any], tuple[str, int]]

LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the messages for people: en, uk, ro or ru (default: LANGUAGE, LC_ALL, LC_MESSAGES, LANG). "
        "--json output is never translated.",
        show_default=False,
    ),
]


@dataclass
class CommandState:
    """What ``main`` hands every command: the clock (tests pass theirs), the root options' verbosity, and the log
    handlers they attached (removed when the command ends). Each app extends it with its own dependencies."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    verbosity: int = 0
    #: The loggers the root options configured: each with the handler added and the level to restore.
    handlers: list[tuple[logging.Logger, logging.Handler, int]] = field(default_factory=list)

    def start(self, catalogue: Catalogue, *, lang: str | None, verbose: int) -> None:
        """What every root callback does first: speak ``--lang`` (else the environment) and keep ``-v``'s count."""
        catalogue.use(language_from(lang, os.environ))
        self.verbosity = verbose

    def log_to_stderr(self, names: Iterable[str], level: int | Callable[[str], int]) -> None:
        """Write the records of the loggers ``names`` at ``level`` (or ``level(name)``) and above to stderr, for this
        command only."""
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        for name in names:
            logger = logging.getLogger(name)
            self.handlers.append((logger, handler, logger.level))
            logger.addHandler(handler)
            logger.setLevel(level(name) if callable(level) else level)

    def close(self) -> None:
        """Remove the log handlers this command attached and give each logger its level back."""
        for logger, handler, level in self.handlers:
            logger.removeHandler(handler)
            logger.setLevel(level)
        self.handlers.clear()


State = TypeVar("State", bound=CommandState)


def state_of(ctx: typer.Context, kind: type[State]) -> State:
    """The state ``main`` handed the command running in ``ctx``."""
    state = ctx.find_root().obj
    if not isinstance(state, kind):  # pragma: no cover - main always passes one
        raise RuntimeError(f"{ctx.find_root().info_name} commands run through their app's main")
    return state


def add_version_command(app: typer.Typer, protocol_version: str) -> None:
    """Give ``app`` the ``version`` command every program has."""

    def version() -> None:
        """Print the tipshare version and the protocol version this build speaks."""
        typer.echo(f"tipshare {distribution_version('tipshare')} ({protocol_version})")

    app.command("version")(version)


def run(
    app: typer.Typer,
    argv: Sequence[str] | None,
    *,
    program: str,
    state: CommandState,
    catalogue: Catalogue | None,
    reports: Sequence[tuple[type[BaseException], Report]],
) -> int:
    """Run one command line of ``app`` (``argv``; None: the process's) and return the exit status. Without a
    ``catalogue`` the program speaks English only."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    if catalogue is not None:
        catalogue.use(language_in(args, os.environ))
        translate_help(command, catalogue.gettext)
    try:
        command.main(args=args, prog_name=program, standalone_mode=True, obj=state)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:
        for kind, report in reports:
            if isinstance(e, kind):
                if state.verbosity >= 2:
                    raise
                text, status = report(e)
                typer.echo(text, err=True)
                return status
        raise
    finally:
        state.close()
    return 0
