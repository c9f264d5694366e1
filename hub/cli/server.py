# SPDX-License-Identifier: Apache-2.0
"""Running the hub under uvicorn (``tipshare-hub serve``).

uvicorn starts several worker processes only from an import string, so every worker builds its own app with
:func:`app_from_environment` from the ``TIPSHARE_HUB_*`` environment; :func:`run` first puts the data directory
and database URL the command was given into that environment, so the workers open the hub the command checked.
Run by hand (a process manager, say)::

    TIPSHARE_HUB_DATA_DIR=/srv/tipshare-hub uvicorn --factory hub.cli.server:app_from_environment --workers 4 \
        --http hub.cli.server:NoDelayHTTPProtocol

**TCP_NODELAY.** asyncio turns Nagle's algorithm off only on sockets created with ``proto=IPPROTO_TCP``. With one
worker uvicorn lets asyncio create the listening socket, so accepted connections get ``TCP_NODELAY``; with more it
binds the socket itself with ``socket.socket(family)`` (protocol 0), and every accepted connection kept Nagle's
algorithm: a response written in two pieces waited for the client's delayed ACK, ~40 ms per request.
:class:`NoDelayHTTPProtocol` (uvicorn's own HTTP protocol) sets the option on every TCP connection it is given,
whatever the number of workers.
"""

from __future__ import annotations

import asyncio
import atexit
import errno
import gc
import os
import socket
from typing import TYPE_CHECKING, Any, Final

import uvicorn
from fastapi import FastAPI

from hub.app import create_app
from hub.errors import HubError
from hub.metrics import MULTIPROCESS_ENV, mark_worker_dead, multiprocess_dir, prepare_multiprocess_dir
from hub.server_logs import logging_config, resolve_log_format
from hub.settings import Settings

if TYPE_CHECKING:  # uvicorn types its pick of h11 or httptools as a plain asyncio protocol
    _AutoHTTPProtocol = asyncio.Protocol
else:
    from uvicorn.protocols.http.auto import AutoHTTPProtocol as _AutoHTTPProtocol

__all__ = [
    "APP_FACTORY",
    "HTTP_PROTOCOL",
    "AddressUnusable",
    "NoDelayHTTPProtocol",
    "app_from_environment",
    "check_address",
    "run",
    "uvicorn_options",
    "worker_environment",
]

#: The import string uvicorn's workers load.
APP_FACTORY: Final = "hub.cli.server:app_from_environment"
#: The HTTP protocol every worker serves connections with (an import string, as workers are separate processes).
HTTP_PROTOCOL: Final = "hub.cli.server:NoDelayHTTPProtocol"


class NoDelayHTTPProtocol(_AutoHTTPProtocol):
    """uvicorn's HTTP protocol (h11 or httptools, as uvicorn picks) with ``TCP_NODELAY`` on every TCP connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def app_from_environment() -> FastAPI:
    """The app of the hub that ``TIPSHARE_HUB_*`` describes (what each uvicorn worker builds at start-up).

    Once it is built, everything allocated so far (modules, the app, taxonomies, caches) is moved out of the
    garbage collector's generations (``gc.freeze``): it lives as long as the worker, and a collection pass over it
    during every large answer cost about a fifth of a 3,844-row estimates answer (measured: 353 → 286 ms).
    """
    app = create_app(Settings())
    if multiprocess_dir() is not None:  # its counts stay in the shared directory; its live gauges are dropped
        atexit.register(mark_worker_dead, os.getpid())
    gc.collect()
    gc.freeze()
    return app


def worker_environment(settings: Settings) -> dict[str, str]:
    """The variables that make :func:`app_from_environment` open the hub ``settings`` describes."""
    environment = {"TIPSHARE_HUB_DATA_DIR": str(settings.data_dir.absolute())}
    if settings.database_url is not None:
        environment["TIPSHARE_HUB_DATABASE_URL"] = settings.database_url
    return environment


class AddressUnusable(HubError):
    """``serve`` cannot listen where it was told to: the port is taken, privileged, or not this machine's."""

    code = "address_unusable"
    title = "Cannot listen on this address"


def check_address(settings: Settings) -> None:
    """Refuse, in one sentence an operator can act on, an address ``serve`` could not listen on.

    uvicorn would log ``[Errno 98] error while attempting to bind`` and exit; this binds the address first (with
    ``SO_REUSEADDR``, as uvicorn does, so a port in TIME_WAIT is not mistaken for a taken one) and lets it go.
    """
    shown = f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except socket.gaierror as e:
        raise AddressUnusable(
            f"cannot listen on {shown}: {settings.host!r} is not an address or name of this machine ({e.strerror}); "
            "set --host (TIPSHARE_HUB_HOST) to one of its addresses, e.g. 127.0.0.1"
        ) from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            reason = (
                "another program (perhaps another tipshare-hub serve) is already listening there; stop it, or "
                "choose another port with --port (TIPSHARE_HUB_PORT)"
            )
        elif e.errno == errno.EACCES:
            reason = "this user may not listen on that port (below 1024); use a port above 1024 behind the proxy"
        elif e.errno == errno.EADDRNOTAVAIL:
            reason = "no network interface of this machine has that address; set --host (TIPSHARE_HUB_HOST)"
        else:
            reason = f"{e.strerror or e}"
        raise AddressUnusable(f"cannot listen on {shown}: {reason}") from None


def uvicorn_options(settings: Settings, *, log_level: str = "info") -> dict[str, Any]:
    """The keyword arguments :func:`run` gives ``uvicorn.run`` (tests build the same proxy handling from them)."""
    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "http": HTTP_PROTOCOL,
        "log_level": log_level,
        "log_config": logging_config(resolve_log_format(settings.log_format), level=log_level),
        "access_log": False,  # hub.server_logs.AccessLogMiddleware logs each request, with its id and duration
        "server_header": False,  # no software banner for scanners; /v1/hub says what this is to those who ask
        # X-Forwarded-For / -Proto are believed from these proxies only (never "*", which Settings refuses): the
        # source address rate limits count, Secure cookies and HSTS depend on them.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # An idle keep-alive connection is closed after this long. uvicorn has no timeout for reading a request's
        # headers: the shipped proxies set one (Caddy `read_header`, ingress-nginx `client-header-timeout`).
        "timeout_keep_alive": settings.keep_alive_seconds,
        "timeout_graceful_shutdown": 30,
        # With several workers, uvicorn restarts one that is not serving this long after its start, or that stops
        # answering its health check: 5 s (its default) kills workers that are merely slow to open the hub on a
        # busy machine, in a loop.
        "timeout_worker_healthcheck": 30,
    }


def run(settings: Settings, *, log_level: str = "info") -> None:
    """Serve the hub until interrupted (SIGINT or SIGTERM stop it gracefully); ``serve`` first checks the address
    (:func:`check_address`).

    With more than one worker, the workers count their metrics in a private directory of the data directory
    (:func:`hub.metrics.prepare_multiprocess_dir`, wiped here, before they start), so ``/metrics`` adds them up.
    """
    os.environ.update(worker_environment(settings))
    if settings.workers > 1:
        os.environ[MULTIPROCESS_ENV] = str(prepare_multiprocess_dir(settings.data_dir.absolute()))
    try:
        uvicorn.run(APP_FACTORY, **uvicorn_options(settings, log_level=log_level))
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
