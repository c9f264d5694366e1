# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub serve --workers 2`` turns Nagle's algorithm off on every connection it accepts.

With more than one worker uvicorn binds the listening socket itself with protocol 0, and asyncio then leaves
``TCP_NODELAY`` off on accepted connections: every response waited ~40 ms for the client's delayed ACK. The hub
serves with :class:`hub.cli.server.NoDelayHTTPProtocol`, which sets it. Rather than time requests, the test looks at
the socket option itself: it borrows (``pidfd_getfd``, Linux 5.6+) the very socket each worker accepted for the
test's connections and reads ``TCP_NODELAY`` from it.
"""

from __future__ import annotations

import ctypes
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from hub.cli import server as cli_serve
from hub.settings import Settings
from hub.setup import initialise_hub
from tests.support.backends import fresh_database_url
from tools.served_hub import ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN = "hub.test.tipshare/nodelay"
_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture
CONNECTIONS = 12


def test_serve_runs_uvicorn_with_the_no_delay_protocol(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    monkeypatch.setenv("TIPSHARE_HUB_DATA_DIR", "restored by monkeypatch afterwards")

    cli_serve.run(Settings(data_dir=tmp_path, workers=2))

    (options,) = calls
    assert options["workers"] == 2
    # What each worker does with it (uvicorn.Config.load): its name in uvicorn's table, or an import string.
    protocol = import_from_string(HTTP_PROTOCOLS.get(options["http"], options["http"]))
    assert protocol is cli_serve.NoDelayHTTPProtocol
    assert issubclass(cli_serve.NoDelayHTTPProtocol, AutoHTTPProtocol)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[ServedHub]:
    """A hub on the session's backend, served by two worker processes."""
    data_dir = tmp_path / "hub"
    with fresh_database_url() as database_url:
        context = initialise_hub(Settings(data_dir=data_dir, database_url=database_url), origin=ORIGIN)
        context.engine.dispose()
        with served_hub(data_dir, database_url=database_url, workers=2) as served:
            yield served


def test_every_connection_a_worker_accepts_has_tcp_nodelay(two_workers: ServedHub) -> None:
    port = int(two_workers.url.rsplit(":", 1)[1])
    with ExitStack() as stack:
        clients = [stack.enter_context(closing(socket.create_connection(("127.0.0.1", port), timeout=10)))]
        for _ in range(CONNECTIONS - 1):
            clients.append(stack.enter_context(closing(socket.create_connection(("127.0.0.1", port), timeout=10))))
        for client in clients:  # one request on each, so a worker has accepted it and answered
            assert _get(client, "/healthz").startswith(b"HTTP/1.1 200 "), two_workers.log_tail()
        peers = {client.getsockname(): client for client in clients}
        accepted = _accepted_sockets(sorted(two_workers.worker_cpu_ticks()), set(peers))

        assert set(accepted) == set(peers), "every connection was found in the worker that accepted it"
        assert {peer: nodelay for peer, (_, nodelay) in accepted.items()} == dict.fromkeys(peers, 1)
        for client in clients:  # and the connections keep working (keep-alive, both workers' apps)
            assert _get(client, "/v1/hub").startswith(b"HTTP/1.1 200 ")


def _get(client: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 request on a keep-alive connection; the whole response (status line, headers, body)."""
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = client.recv(65536)
        assert chunk, f"the hub closed the connection: {response!r}"
        response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = client.recv(65536)
        assert chunk, "the hub closed the connection mid-response"
        body += chunk
    return head + b"\r\n\r\n" + body


def _accepted_sockets(children: list[int], peers: set[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int]]:
    """For each client address in ``peers``: the process (of the server's ``children``) that holds its accepted
    socket, and that socket's ``TCP_NODELAY``, read from a duplicate of the worker's file descriptor."""
    found: dict[tuple[str, int], tuple[int, int]] = {}
    for pid in children:
        pidfd = os.pidfd_open(pid)
        try:
            for name in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                        continue
                except OSError:
                    continue  # closed meanwhile
                duplicate = _pidfd_getfd(pidfd, int(name))
                with closing(socket.socket(fileno=duplicate)) as borrowed:
                    if borrowed.family != socket.AF_INET or borrowed.type != socket.SOCK_STREAM:
                        continue
                    try:
                        peer = borrowed.getpeername()
                    except OSError:
                        continue  # the listening socket
                    if peer in peers:
                        found[peer] = (pid, borrowed.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            os.close(pidfd)
    return found


def _pidfd_getfd(pidfd: int, fd: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    duplicate: int = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
    if duplicate < 0:
        error = ctypes.get_errno()
        pytest.skip(f"cannot inspect the workers' sockets here (pidfd_getfd: {os.strerror(error)})")
    return duplicate
