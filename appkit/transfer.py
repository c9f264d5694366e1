# SPDX-License-Identifier: Apache-2.0
"""One request to the hub, its answer read up to a size limit: what node and auditor do for every call.

A transfer that fails comes back as a :class:`TransferFailure` naming what went wrong (``kind``) rather than as an
exception, so that each app raises its own error, in its own words and language:

* ``too-large``: the answer went past the limit (reading stops there: a hostile hub cannot fill the memory);
* ``timeout``: no answer in time (``detail``: the kind of timeout);
* ``bad-url``: the URL cannot be used at all (``detail``: why);
* ``unreachable``: the connection failed (``detail``: the transport's reason).

>>> import httpx
>>> hub = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 10)))
>>> response, body = exchange(hub, "GET", "https://hub.example.org/v1/hub", limit=64)
>>> (response.status_code, body)
(200, b'xxxxxxxxxx')
>>> exchange(hub, "GET", "https://hub.example.org/v1/hub", limit=8)
TransferFailure(kind='too-large', detail='')
>>> [is_busy(status) for status in (200, 404, 408, 429, 503)]
[False, False, True, True, True]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

__all__ = ["TransferFailure", "exchange", "is_busy"]


@dataclass(frozen=True, slots=True)
class TransferFailure:
    """Why a request got no usable answer (see the module docstring)."""

    kind: Literal["too-large", "timeout", "bad-url", "unreachable"]
    detail: str = ""


def exchange(
    http: httpx.Client, method: str, url: str, *, limit: int, **request: Any
) -> tuple[httpx.Response, bytes] | TransferFailure:
    """Send one request (``request``: httpx's keyword arguments) and read its answer, at most ``limit`` bytes."""
    try:
        with http.stream(method, url, **request) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    return TransferFailure("too-large")
    except httpx.TimeoutException as e:
        return TransferFailure("timeout", type(e).__name__)
    except httpx.UnsupportedProtocol as e:
        return TransferFailure("bad-url", str(e))
    except httpx.TransportError as e:
        return TransferFailure("unreachable", str(e) or type(e).__name__)
    return response, bytes(body)


def is_busy(status: int) -> bool:
    """An answer that says "try again later": 408, 429 or any 5xx."""
    return status in (408, 429) or 500 <= status <= 599
