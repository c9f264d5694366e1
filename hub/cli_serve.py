# SPDX-License-Identifier: Apache-2.0
"""Running the hub under uvicorn (``tipshare-hub serve``).

uvicorn starts several worker processes only from an import string, so every worker builds its own app with
:func:`app_from_environment` from the ``TIPSHARE_HUB_*`` environment; :func:`run` first puts the data directory
and database URL the command was given into that environment, so the workers open the hub the command checked.
Run by hand (a process manager, say)::

    TIPSHARE_HUB_DATA_DIR=/srv/tipshare-hub uvicorn --factory hub.cli_serve:app_from_environment --workers 4
"""

from __future__ import annotations

import copy
import os
from typing import Any, Final

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from hub.app import create_app
from hub.settings import Settings

__all__ = ["APP_FACTORY", "app_from_environment", "run", "worker_environment"]

#: The import string uvicorn's workers load.
APP_FACTORY: Final = "hub.cli_serve:app_from_environment"


def app_from_environment() -> FastAPI:
    """The app of the hub that ``TIPSHARE_HUB_*`` describes (what each uvicorn worker builds at start-up)."""
    return create_app(Settings())


def worker_environment(settings: Settings) -> dict[str, str]:
    """The variables that make :func:`app_from_environment` open the hub ``settings`` describes."""
    environment = {"TIPSHARE_HUB_DATA_DIR": str(settings.data_dir.absolute())}
    if settings.database_url is not None:
        environment["TIPSHARE_HUB_DATABASE_URL"] = settings.database_url
    return environment


def run(settings: Settings, *, log_level: str = "info") -> None:
    """Serve the hub until interrupted (SIGINT or SIGTERM stop it gracefully)."""
    os.environ.update(worker_environment(settings))
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=log_level,
        log_config=_log_config(),
        server_header=False,  # no software banner for scanners; /v1/hub says what this is to those who ask
        timeout_graceful_shutdown=30,
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the access log on stderr too: stdout carries only what the command prints."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config
