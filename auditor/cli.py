# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit``: the offline verifier: checks signatures, the log and published statistics."""

from __future__ import annotations

from importlib.metadata import version as distribution_version

import typer

from auditor.errors import AuditError
from protocol.errors import ProtocolError
from protocol.messages import PROTOCOL_VERSION

__all__ = ["app", "main"]

app = typer.Typer(
    name="tipshare-audit",
    help="tipshare auditor: the offline verifier: checks signatures, the log and published statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the tipshare version and the protocol version this build speaks."""
    typer.echo(f"tipshare {distribution_version('tipshare')} ({PROTOCOL_VERSION})")


@app.callback()
def _root() -> None:
    """tipshare auditor."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tipshare-audit``; returns the process exit status.

    Errors a person can act on (AuditError, ProtocolError) are printed as one clear paragraph on stderr with exit
    status 1; anything else is a bug and is allowed to crash with its traceback.
    """
    try:
        app(args=argv, prog_name="tipshare-audit", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (AuditError, ProtocolError) as e:
        typer.echo(e.diagnostics(), err=True)
        return 1
    return 0
