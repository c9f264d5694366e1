# SPDX-License-Identifier: Apache-2.0
"""Settings of the node that vary per machine, from ``TIPSHARE_NODE_*`` environment variables.

What belongs to the hotline (its id, the hub and its pinned keys, the privacy budget) lives in the node home's
``config.toml`` (see :mod:`node.home`); this module holds only where that home is and how patiently the node
talks to the hub. Nothing is read at import time: :func:`load_settings` builds a fresh object on every call.

>>> settings = NodeSettings(home=Path("/tmp/example-node"))
>>> settings.home.name, settings.retry_attempts
('example-node', 4)

================================  =========  ===========================================================
variable                          default    meaning
================================  =========  ===========================================================
``TIPSHARE_NODE_HOME``            see below  the node home (config, key, ledger, outbox, receipts)
``TIPSHARE_NODE_CONNECT_TIMEOUT`` 10         seconds to open a connection to the hub
``TIPSHARE_NODE_TIMEOUT``         60         seconds to wait for the hub's answer (slow links need more)
``TIPSHARE_NODE_RETRY_ATTEMPTS``  4          attempts per release in one ``submit``/``sync`` run
``TIPSHARE_NODE_RETRY_BASE_DELAY`` 2         first pause between attempts; doubles each time, with jitter
``TIPSHARE_NODE_RETRY_MAX_DELAY`` 300        longest pause between two attempts
``TIPSHARE_NODE_RETRY_MAX_WAIT``  120        longest pause one run waits; a longer one ends the run
================================  =========  ===========================================================

The default home is the per-user application directory (``typer.get_app_dir("tipshare-node")``: on Linux
``~/.config/tipshare-node``, on Windows ``%APPDATA%\\tipshare-node``, on macOS
``~/Library/Application Support/tipshare-node``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import typer
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from node.errors import ConfigError
from node.i18n import N_, Text

__all__ = ["APP_NAME", "ENV_PREFIX", "NodeSettings", "default_home", "load_settings"]

APP_NAME: Final = "tipshare-node"
ENV_PREFIX: Final = "TIPSHARE_NODE_"


def default_home() -> Path:
    """The per-user application directory of ``tipshare-node``."""
    return Path(typer.get_app_dir(APP_NAME))


class NodeSettings(BaseSettings):
    """Per-machine settings; every field can be set as ``TIPSHARE_NODE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    home: Path = Field(default_factory=default_home)
    connect_timeout: float = Field(default=10.0, gt=0, le=600)
    timeout: float = Field(default=60.0, gt=0, le=3600)
    retry_attempts: int = Field(default=4, ge=1, le=100)
    retry_base_delay: float = Field(default=2.0, ge=0, le=3600)
    retry_max_delay: float = Field(default=300.0, ge=0, le=86_400)
    retry_max_wait: float = Field(default=120.0, ge=0, le=86_400)


def load_settings(*, home: Path | None = None) -> NodeSettings:
    """Read the settings from the environment; ``home`` (from ``--home``) wins over ``TIPSHARE_NODE_HOME``."""
    try:
        settings = NodeSettings()
    except ValidationError as e:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in e.errors(include_url=False)
        )
        raise ConfigError(Text(N_("invalid environment setting: %(problems)s"), problems=problems)) from None
    if home is not None:
        settings = settings.model_copy(update={"home": home})
    return settings
