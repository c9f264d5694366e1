# SPDX-License-Identifier: Apache-2.0
"""A fault-injecting HTTP proxy on 127.0.0.1, to put between a node and a real hub.

>>> with FaultyProxy(("127.0.0.1", hub_port)) as proxy:      # doctest: +SKIP
...     proxy.set("drop_response")     # the hub commits, the node never hears of it
...     ...                            # run tipshare-node submit against proxy.url
...     proxy.heal()                   # from now on every request goes through

Each request's headers are read, then its ``Content-Length`` body (but for ``reset_mid_request``), and the
request is treated as the current fault says:

=======================  ==================================================================================
fault                    what the node sees
=======================  ==================================================================================
``forward``              the hub's answer (the request is sent on with ``Connection: close``, the answer
                         read to its end and passed back)
``refuse``               connection refused: nothing listens on the port (the network is down)
``reply_503``            ``503 Service Unavailable`` from the proxy; the hub never sees the request
``hang``                 nothing: the connection stays open, silent, until the node gives up (its timeout)
``drop_response``        the hub receives and commits the request; the node's connection is reset instead of
                         getting the answer (a response lost on the way back)
``reset_mid_request``    the connection is reset after the request's headers, before its body is read
``hold_before_forward``  nothing, while the request is held: the hub has not seen it (:attr:`held` is set once
                         the request is in; a test kills the node then)
``hold_after_commit``    nothing, while the answer is held: the hub has answered (committed) it (:attr:`held` is
                         set once the hub's answer is in)
=======================  ==================================================================================

Everything is bounded: a held or hanging connection is closed without an answer at the next :meth:`set` (or
:meth:`heal`), at :meth:`close`, or after ``max_hold`` seconds, whichever comes first; every socket has a timeout;
the threads are daemons and :meth:`close` joins them. :attr:`log` records ``(fault, request line)`` of every
request the proxy read.
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress
from types import TracebackType
from typing import Final, Literal, get_args

__all__ = ["Fault", "FaultyProxy"]

Fault = Literal[
    "forward",
    "refuse",
    "reply_503",
    "hang",
    "drop_response",
    "reset_mid_request",
    "hold_before_forward",
    "hold_after_commit",
]
_MAX_HEADER_BYTES: Final = 64 * 1024
_MAX_BODY_BYTES: Final = 64 * 1024 * 1024
_IO_TIMEOUT: Final = 30.0
_UNAVAILABLE: Final = (
    b'{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the proxy plays a failing hub"}'
)


class _ConnectionClosed(Exception):
    """The client closed its connection before a whole request came in."""


class FaultyProxy:
    """A threaded proxy from a free loopback port to ``upstream``; see the module docstring."""

    def __init__(
        self, upstream: tuple[str, int], *, max_hold: float = 30.0, methods: tuple[str, ...] | None = None
    ) -> None:
        self.upstream = upstream
        self.max_hold = max_hold
        #: The request methods a fault applies to (``None``: every request); others are forwarded (and logged as
        #: ``forward``). ``("POST",)`` faults the submissions and lets the node's lookups (``GET /v1/hub``) through.
        self.methods = methods
        self.log: list[tuple[Fault, str]] = []
        #: Set when a request is being held (``hold_before_forward``: it arrived; ``hold_after_commit``: the hub
        #: answered it). Each :meth:`set` makes a fresh event: take it after setting the fault.
        self.held = threading.Event()
        self._fault: Fault = "forward"
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._closed = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self.port = self._listen(0)

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, fault: Fault) -> None:
        """Treat every request from now on as ``fault`` says (``refuse`` stops listening at once); a request held
        or hanging until now is let go."""
        if fault not in get_args(Fault):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self.held = threading.Event()
            self._fault = fault
            if fault == "refuse":
                self._stop_listening()
            elif self._listener is None:
                self._listen(self.port)

    def heal(self) -> None:
        """Back to ``forward``; a held or hanging connection is let go (closed without an answer)."""
        self.set("forward")

    def requests(self, fault: Fault | None = None) -> list[str]:
        """Request lines the proxy read (under ``fault`` only, if given)."""
        with self._lock:
            return [line for seen, line in self.log if fault is None or seen == fault]

    def close(self) -> None:
        self._closed.set()
        self._release.set()
        with self._lock:
            self._stop_listening()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=self.max_hold + _IO_TIMEOUT)

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ listening

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._start(self._accept, listener)
        bound: int = listener.getsockname()[1]
        return bound

    def _stop_listening(self) -> None:
        """Close the listening socket (new connections are refused) and every open client connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for client in list(self._clients):
            _reset(client)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed: the "refuse" fault, or the end
            client.settimeout(_IO_TIMEOUT)
            with self._lock:
                if self._listener is not listener:
                    _reset(client)
                    return
                self._clients.add(client)
                self._start(self._serve, client)

    # ------------------------------------------------------------------ one client connection

    def _serve(self, client: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                head, buffer = _read_head(client, buffer)
                if head is None:
                    return
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                with self._lock:
                    fault, release, held = self._fault, self._release, self.held
                    if self.methods is not None and line.split(" ", 1)[0] not in self.methods:
                        fault = "forward"
                    self.log.append((fault, line))
                if fault == "reset_mid_request":
                    return  # the body is still unread: the connection is reset under the node's feet
                body, buffer = _read_body(client, buffer, _content_length(head))
                if not self._answer(fault, client, head + body, release, held):
                    return
        except (OSError, _ConnectionClosed):
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
            _reset(client)

    def _answer(
        self, fault: Fault, client: socket.socket, request: bytes, release: threading.Event, held: threading.Event
    ) -> bool:
        """Answer one whole request as ``fault`` says; ``False`` ends the connection."""
        if fault == "reply_503":
            client.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
                + f"Content-Length: {len(_UNAVAILABLE)}\r\nConnection: close\r\n\r\n".encode()
                + _UNAVAILABLE
            )
            return False
        if fault in ("hang", "hold_before_forward"):
            if fault == "hold_before_forward":
                held.set()
            release.wait(self.max_hold)
            return False
        answer = self._forward(request)
        if fault == "drop_response":
            return False
        if fault == "hold_after_commit":
            held.set()
            release.wait(self.max_hold)
            return False
        client.sendall(answer)
        return True

    def _forward(self, request: bytes) -> bytes:
        """Send ``request`` to the hub with ``Connection: close`` and read its whole answer."""
        head, _, body = request.partition(b"\r\n\r\n")
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        with socket.create_connection(self.upstream, timeout=_IO_TIMEOUT) as upstream:
            upstream.sendall(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def _read_head(client: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    """``(request head through its blank line, bytes after it)``; ``None`` if the client closed between requests."""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_HEADER_BYTES:
            raise _ConnectionClosed
        chunk = client.recv(65536)
        if not chunk:
            if buffer:
                raise _ConnectionClosed
            return None, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _read_body(client: socket.socket, buffer: bytes, length: int) -> tuple[bytes, bytes]:
    """``(body of ``length`` bytes, bytes after it)``."""
    while len(buffer) < length:
        chunk = client.recv(min(65536, length - len(buffer)))
        if not chunk:
            raise _ConnectionClosed
        buffer += chunk
    return buffer[:length], buffer[length:]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
            if not 0 <= length <= _MAX_BODY_BYTES:
                raise _ConnectionClosed
            return length
        if name.strip().lower() == b"transfer-encoding":
            raise _ConnectionClosed  # node requests always carry a Content-Length
    return 0


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a graceful FIN: the peer sees the connection torn down."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()
