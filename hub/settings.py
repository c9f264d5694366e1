# SPDX-License-Identifier: Apache-2.0
"""Hub settings: one :class:`Settings`, read from ``TIPSHARE_HUB_*`` environment variables (or passed in by tests).

Built in :func:`hub.app.create_app` and by the CLI, never at import time.

======================================  ===========================================================
``TIPSHARE_HUB_DATA_DIR``                where keys (``keys/``) and the default SQLite file live
``TIPSHARE_HUB_DATABASE_URL``            SQLAlchemy URL; default ``sqlite:///<data dir>/hub.sqlite``
``TIPSHARE_HUB_MAX_BODY_BYTES``          largest accepted request body (default 4 MiB)
``TIPSHARE_HUB_DEADLINE_DAYS``           a period's release is on time if received within this many days after
                                         the period ends (default 15)
``TIPSHARE_HUB_ENTRIES_PAGE_MAX``        most log entries one ``GET /v1/log/entries`` returns (default 1000)
``TIPSHARE_HUB_EARLIEST_PERIOD``         oldest period a submission may report (default ``2000-01``)
``TIPSHARE_HUB_HOST`` / ``_PORT``        where ``tipshare-hub serve`` listens (default 127.0.0.1:8750)
``TIPSHARE_HUB_WORKERS``                 uvicorn worker processes for ``serve`` (default 1)
``TIPSHARE_HUB_FORWARDED_ALLOW_IPS``     proxies whose ``X-Forwarded-For``/``-Proto`` are believed: comma-separated
                                         addresses or networks of the proxy (default ``127.0.0.1``; ``*`` is
                                         refused). The source address rate limits count, and the
                                         scheme that makes cookies ``Secure`` and sends HSTS, come from these.
``TIPSHARE_HUB_LOG_FORMAT``              how ``serve`` logs: ``json`` (one object a line), ``text``, or ``auto``
                                         (default: text on a terminal, JSON otherwise)
``TIPSHARE_HUB_RATE_LIMITS``             ``on`` (default) or ``off`` (only behind a proxy that limits)
``TIPSHARE_HUB_RATE_LIMIT_STORE``        where the rate limits count: ``database`` (default; every worker and every
                                         hub on the database share one allowance) or ``memory`` (each worker its own)
``TIPSHARE_HUB_RATE_SUBMISSIONS``        submissions and secure rounds' messages a minute per source address (120)
``TIPSHARE_HUB_RATE_HOTLINE``            submissions a minute per hotline, once verified (default 60)
``TIPSHARE_HUB_RATE_QUERIES``            statistics and dashboard requests a minute per token or session
                                         (default 600; a source address gets twice that)
``TIPSHARE_HUB_RATE_AUDIT``              log, proof and audit requests a minute per token (default 6000)
``TIPSHARE_HUB_RATE_ADMIN``              admin requests a minute per token (default 120)
``TIPSHARE_HUB_MAX_PERIODS_PER_DAY``     distinct months one hotline may submit in 24 hours (default 36)
``TIPSHARE_HUB_MAX_REVISIONS_PER_DAY``   submissions (revisions of any month) one hotline may make in 24 hours
                                         (default 72)
``TIPSHARE_HUB_MAX_REQUEST_BYTES``       largest body of any request but a submission (default 64 KiB); both caps
                                         are enforced before a route reads a byte (:mod:`hub.limits`)
``TIPSHARE_HUB_DOCS``                    ``true`` (default) serves the API reference at ``/docs`` from the hub's
                                         own files; ``false`` turns it off (``/openapi.json`` stays)
``TIPSHARE_HUB_KEEP_ALIVE_SECONDS``      how long ``serve`` keeps an idle connection open (default 5)
``TIPSHARE_HUB_ACCESS_SIGN_EVERY``       sign a checkpoint of the access log's chain every this many records
                                         (default 100; 0: only on ``tipshare-hub access-log checkpoint``)
======================================  ===========================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/tipshare-hub``, or ``~/.local/share/tipshare-hub``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tipshare-hub"


class Settings(BaseSettings):
    """Everything the hub reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="TIPSHARE_HUB_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    max_body_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = 4 * 1024 * 1024
    deadline_days: Annotated[int, Field(ge=0, le=366)] = 15
    entries_page_max: Annotated[int, Field(ge=1, le=100_000)] = 1000
    earliest_period: Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")] = "2000-01"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8750
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    forwarded_allow_ips: str = "127.0.0.1"
    log_format: Literal["auto", "json", "text"] = "auto"
    rate_limits: bool = True
    rate_limit_store: Literal["database", "memory"] = "database"
    rate_submissions: Annotated[int, Field(ge=1, le=1_000_000)] = 120
    rate_hotline: Annotated[int, Field(ge=1, le=1_000_000)] = 60
    rate_queries: Annotated[int, Field(ge=1, le=1_000_000)] = 600
    rate_audit: Annotated[int, Field(ge=1, le=1_000_000)] = 6000
    rate_admin: Annotated[int, Field(ge=1, le=1_000_000)] = 120
    max_periods_per_day: Annotated[int, Field(ge=1, le=100_000)] = 36
    max_revisions_per_day: Annotated[int, Field(ge=1, le=100_000)] = 72
    # The edge: body caps, the API reference, idle connections (hub.limits, hub.docs, hub.cli.server).
    max_request_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024
    docs: bool = True
    keep_alive_seconds: Annotated[int, Field(ge=1, le=300)] = 5
    # Secure-aggregation rounds (hub.services.secure_rounds): days each member step stays open.
    round_shares_days: Annotated[int, Field(ge=1, le=60)] = 3
    round_masked_days: Annotated[int, Field(ge=1, le=60)] = 3
    round_reveal_days: Annotated[int, Field(ge=1, le=60)] = 3
    # The access log's signed checkpoints (hub.access_edge).
    access_sign_every: Annotated[int, Field(ge=0, le=1_000_000)] = 100

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _named_proxies_only(cls, value: str) -> str:
        if "*" in (part.strip() for part in value.split(",")):
            raise ValueError(
                "`*` would believe the X-Forwarded-For any client sends, and so the address rate limits count: name "
                "the proxy's own address or network instead (e.g. 127.0.0.1, or the proxy network's 172.30.250.0/29)"
            )
        return value

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.sqlite'}"
