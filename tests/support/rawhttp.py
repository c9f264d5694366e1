# SPDX-License-Identifier: Apache-2.0
"""HTTP/1.1 by hand over a loopback socket, for requests no well-behaved client sends.

httpx (rightly) will not declare a Content-Length it does not send, leave a chunked body unfinished, or put both
Content-Length and Transfer-Encoding on one request. Hostile clients do, so tests of a served hub write the bytes
themselves:

>>> head = request_head("POST", "/v1/submissions", [("Content-Type", "application/json"), ("Content-Length", "9")])
>>> head.splitlines()[0]
b'POST /v1/submissions HTTP/1.1'
>>> chunked([b"ab", b"c"], finished=True)
b'2\\r\\nab\\r\\n1\\r\\nc\\r\\n0\\r\\n\\r\\n'

:func:`exchange` sends the bytes, optionally half-closes (the client's end-of-file), and reads one response: until
its Content-Length is complete or the server closes. Every wait is bounded by ``timeout``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RawResponse", "chunked", "exchange", "request_head"]


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One response as read off the socket; ``status`` is None if the server closed without answering."""

    status: int | None
    headers: dict[str, str]
    body: bytes

    @property
    def status_code(self) -> int | None:  # the httpx spelling, so response checks take either
        return self.status

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def request_head(method: str, path: str, headers: Sequence[tuple[str, str | bytes]], host: str = "hub.test") -> bytes:
    """The request line and headers, ending in the blank line (header values may be raw bytes)."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host.encode()]
    for name, value in headers:
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunked(chunks: Iterable[bytes], *, finished: bool) -> bytes:
    """A chunked transfer coding of ``chunks``; without the last (empty) chunk unless ``finished``."""
    coded = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for chunk in chunks if chunk)
    return coded + (b"0\r\n\r\n" if finished else b"")


def exchange(url: str, data: bytes, *, half_close: bool = False, timeout: float = 30.0) -> RawResponse:
    """Send ``data`` to the server at ``url`` on a fresh connection and read one response."""
    where = urlsplit(url)
    assert where.hostname in ("127.0.0.1", "::1", "localhost"), "loopback only"
    with socket.create_connection((where.hostname, where.port or 80), timeout=timeout) as connection:
        connection.sendall(data)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while not _complete(received):
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return _parse(received)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = _headers(head).get("content-length")
    return length is not None and len(body) >= int(length)


def _headers(head: bytes) -> dict[str, str]:
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _parse(received: bytes) -> RawResponse:
    if not received:
        return RawResponse(None, {}, b"")
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return RawResponse(status, _headers(head), body)
