# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub serve``: check the hub, then run it under uvicorn (:mod:`hub.cli.server`, loaded by this
command only)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, SchemaOutOfDate, open_hub, settings_for, state_of
from hub.migrate import current_revision, head_revision
from protocol.hosts import is_this_machine

__all__ = ["LogFormatChoice", "serve"]


class LogFormatChoice(StrEnum):
    auto = "auto"
    json = "json"
    text = "text"


LogFormatOption = Annotated[
    LogFormatChoice | None,
    typer.Option(
        "--log-format",
        help="json: one JSON object a line (time, level, logger, message, request_id); text; auto (default: "
        "TIPSHARE_HUB_LOG_FORMAT or auto, text on a terminal and JSON otherwise).",
        show_default=False,
    ),
]


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: TIPSHARE_HUB_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to listen on (default: TIPSHARE_HUB_PORT or 8750)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="Worker processes (default: TIPSHARE_HUB_WORKERS or 1)."),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run the hub's HTTP API with uvicorn until interrupted. Put a TLS proxy in front of it."""
    from hub.cli.server import check_address, run  # uvicorn is loaded by this command only

    state = state_of(ctx)
    settings = settings_for(
        data_dir, database_url, host=host, port=port, workers=workers, log_format=log_format and log_format.value
    )
    with open_hub(state, settings.data_dir, settings.database_url) as context:  # refuse before uvicorn starts
        origin = context.origin
        current, head = current_revision(context.engine), head_revision(context.engine)
        context.check_writable()  # a hub that cannot store a submission must not look healthy
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at schema revision {current}, this build needs {head}: back the database up, then "
            "run `tipshare-hub db upgrade`"
        )
    check_address(settings)  # a port in use is one sentence, not uvicorn's [Errno 98]
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{shown_host}:{settings.port}"
    plural = "s" if settings.workers != 1 else ""
    typer.echo(f"Serving hub {origin} on {url} ({settings.workers} worker{plural}); Ctrl+C stops it.")
    if not is_this_machine(settings.host):
        views.error_console().print(
            f"Warning: {url} is plain HTTP on a network interface. Hotlines and coordinators must reach the hub "
            "through a TLS proxy; listen on 127.0.0.1 behind the proxy unless the proxy runs elsewhere.",
            soft_wrap=True,
        )
    run(settings, log_level="debug" if state.verbosity >= 2 else "info")
