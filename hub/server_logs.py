# SPDX-License-Identifier: Apache-2.0
"""The served hub's logs: one JSON object per line for a log collector, or text for a person at a terminal.

``tipshare-hub serve`` logs as JSON when its standard error is not a terminal (a container, a service manager) or
when told (``--log-format json``, ``TIPSHARE_HUB_LOG_FORMAT=json``); as text on a terminal or with ``text``.
Every line has ``time`` (UTC, RFC 3339 with milliseconds), ``level``, ``logger``, ``message``, ``request_id``
(the request being answered, as in its ``X-Request-ID`` header and its problem details; ``null`` outside a
request) and ``pid`` (the worker process). The access log (logger ``tipshare.access``, one line per answered
request, written by :class:`AccessLogMiddleware`) adds ``method``, ``path`` (as sent, without the query),
``status``, ``duration_ms`` and ``client``::

    {"time": "2026-12-07T01:02:03.456Z", "level": "INFO", "logger": "tipshare.access",
     "message": "GET /v1/hub 200", "request_id": "5f0c...", "pid": 4242, "method": "GET", "path": "/v1/hub",
     "status": 200, "duration_ms": 1.9, "client": "127.0.0.1"}
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, Final, Literal, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.request_id import current_request_id

__all__ = [
    "ACCESS_LOGGER",
    "AccessLogMiddleware",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "logging_config",
    "resolve_log_format",
]

LogFormat = Literal["auto", "json", "text"]
ACCESS_LOGGER: Final = "tipshare.access"
#: The fields an access line adds, in this order.
_ACCESS_FIELDS: Final = ("method", "path", "status", "duration_ms", "client")
_access = logging.getLogger(ACCESS_LOGGER)


def resolve_log_format(chosen: LogFormat, stream: TextIO | None = None) -> Literal["json", "text"]:
    """``auto``: text on a terminal, JSON anywhere else."""
    if chosen != "auto":
        return chosen
    stream = stream or sys.stderr
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "pid": record.process,  # which worker
        }
        for name in _ACCESS_FIELDS:
            if hasattr(record, name):
                document[name] = getattr(record, name)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=True, separators=(", ", ": "), default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message [request id]``, for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None) or current_request_id()
        return f"{text} [{request_id}]" if request_id else text


def logging_config(log_format: Literal["json", "text"], *, level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn and the hub: everything on standard error, one format.

    uvicorn's own access log is off (``serve`` passes ``access_log=False``): :class:`AccessLogMiddleware` writes a
    line with the request id and duration instead.
    """
    formatter = {"()": f"{__name__}.{'JsonFormatter' if log_format == 'json' else 'TextFormatter'}"}
    handler = {"class": "logging.StreamHandler", "formatter": "hub", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["hub"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hub": formatter},
        "handlers": {"hub": handler},
        "loggers": {
            "uvicorn": logger,
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "hub": logger,
            "tipshare": logger,
        },
    }


class AccessLogMiddleware:
    """Pure ASGI, inside :class:`~hub.request_id.RequestIdMiddleware`: one ``tipshare.access`` line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _access.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before it answers

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client")
            raw_path = scope.get("raw_path")  # as sent (percent-encoded): no decoded control characters in the log
            path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else scope.get("path", "")
            _access.info(
                "%s %s %d",
                scope.get("method", ""),
                path,
                status,
                extra={
                    "method": scope.get("method", ""),
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "client": client[0] if client else None,
                },
            )
