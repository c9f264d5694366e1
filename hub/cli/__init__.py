# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub``: the central service: verified ingest, transparency log, regional statistics.

The operator's life with the hub::

    tipshare-hub init --origin hub.example.org/tipshare        # once: keys, database, identity
    tipshare-hub serve --host 127.0.0.1 --port 8750 --workers 4  # behind a TLS proxy
    tipshare-hub hotline add --line "la-strada-md ed25519:..." --name "La Strada Moldova" --country MD
    tipshare-hub token create --role coordinator --label "IOM Chisinau" --countries MD,UA
    tipshare-hub taxonomy list                                  # what the hub accepts; which one new nodes follow
    tipshare-hub log verify

Every command takes ``--data-dir`` and ``--database-url`` (default: ``TIPSHARE_HUB_DATA_DIR``,
``TIPSHARE_HUB_DATABASE_URL``; see :mod:`hub.settings`). Results go to stdout (``--json`` for scripts), logs and
warnings to stderr. Errors an operator can act on (:class:`~hub.errors.HubError`,
:class:`~protocol.errors.ProtocolError`) print their diagnostics and exit 1; ``-vv`` shows the traceback instead.
Anything else is a bug and crashes.

One module per command group, each a thin layer that parses options, calls a service and prints
(:mod:`hub.cli.views`); :mod:`hub.cli.common` holds what they share (the state ``main`` passes, the common options,
:func:`~hub.cli.common.open_hub`)::

    identity.py   init, identity                 db.py          db upgrade / current / downgrade
    serve.py      serve (server.py: uvicorn)     hotlines.py    hotline add / rotate-key / revoke-key / list
    policy.py     hotline policy / backfill      tokens.py      token create / list / revoke
    taxonomies.py taxonomy list / current        log.py         log checkpoint / verify
    rollups.py    rollups check / rebuild        submissions.py submission withdraw
    witness.py    witness add / remove / ...     access.py      access-log checkpoint
    keys.py       keys rotate                    groups.py      group ..., round ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer

from appkit.commands import add_version_command, run
from hub.cli.access import access_log_app
from hub.cli.common import AlreadyInitialised, InvalidSettings, SchemaOutOfDate, State, state_of
from hub.cli.db import db_app
from hub.cli.groups import group_app, round_app
from hub.cli.hotlines import hotline_app
from hub.cli.identity import identity, init
from hub.cli.keys import keys_app
from hub.cli.log import log_app
from hub.cli.rollups import rollups_app
from hub.cli.serve import serve
from hub.cli.submissions import submission_app
from hub.cli.taxonomies import taxonomy_app
from hub.cli.tokens import token_app
from hub.cli.witness import witness_app
from hub.errors import HubError
from protocol.errors import ProtocolError
from protocol.messages import PROTOCOL_VERSION

__all__ = ["AlreadyInitialised", "InvalidSettings", "SchemaOutOfDate", "app", "main"]

app = typer.Typer(
    name="tipshare-hub",
    help="tipshare hub: the central service: verified ingest, transparency log, regional statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# In the order ``--help`` lists them: the commands, then the groups.
add_version_command(app, PROTOCOL_VERSION)
for _command in (init, identity, serve):
    app.command()(_command)
for _group, _name in (
    (db_app, "db"),
    (hotline_app, "hotline"),
    (token_app, "token"),
    (log_app, "log"),
    (taxonomy_app, "taxonomy"),
    (rollups_app, "rollups"),
    (submission_app, "submission"),
    (witness_app, "witness"),
    (access_log_app, "access-log"),
    (keys_app, "keys"),
    (group_app, "group"),
    (round_app, "round"),
):
    app.add_typer(_group, name=_name)


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="More on stderr: -v hub and migration logs, -vv SQL and tracebacks."
        ),
    ] = 0,
) -> None:
    """tipshare hub: set up, run and operate the central service."""
    state = state_of(ctx)
    state.verbosity = verbose
    if verbose:
        names = ("hub", "alembic", "sqlalchemy.engine") if verbose >= 2 else ("hub", "alembic")
        state.log_to_stderr(
            names, lambda name: logging.INFO if verbose == 1 or name == "sqlalchemy.engine" else logging.DEBUG
        )


def main(argv: list[str] | None = None, *, clock: Callable[[], datetime] | None = None) -> int:
    """Entry point of ``tipshare-hub``; returns the process exit status.

    Errors an operator can act on (HubError, ProtocolError, and file-system errors such as a read-only or full data
    directory) are printed as one clear paragraph on stderr with exit
    status 1 (with ``-vv`` they are raised, with their traceback); anything else is a bug and is allowed to crash.
    Tests pass ``clock`` to control the time the hub records.
    """
    state = State()
    if clock is not None:
        state.clock = clock
    return run(
        app,
        argv,
        program="tipshare-hub",
        state=state,
        catalogue=None,
        reports=[
            (HubError, lambda e: (e.diagnostics(), 1)),
            (ProtocolError, lambda e: (e.diagnostics(), 1)),
            (OSError, _storage_report),
        ],
    )


def _storage_report(e: OSError) -> tuple[str, int]:
    """A data directory that is read-only, full or not a directory: the operator's to fix."""
    where = f" {e.filename}" if e.filename else ""
    return (
        f"Cannot write or read{where}: {e.strerror or e}. Check that the hub's user may write its data directory "
        "and that the file system is writable and has free space.",
        1,
    )
