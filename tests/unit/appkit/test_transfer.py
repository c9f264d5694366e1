# SPDX-License-Identifier: Apache-2.0
"""One request to the hub, read up to a limit (:mod:`appkit.transfer`): each failure comes back named."""

from __future__ import annotations

import doctest

import httpx
import pytest

import appkit.transfer
from appkit.transfer import TransferFailure, exchange


def test_module_examples() -> None:
    assert doctest.testmod(appkit.transfer, raise_on_error=True).attempted > 0


def _raising(error: Exception) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ReadTimeout("slow"), TransferFailure("timeout", "ReadTimeout")),
        (httpx.ConnectError("refused"), TransferFailure("unreachable", "refused")),
        (httpx.ConnectError(""), TransferFailure("unreachable", "ConnectError")),
    ],
)
def test_a_failed_transfer_is_named_not_raised(error: Exception, expected: TransferFailure) -> None:
    assert exchange(_raising(error), "GET", "https://hub.example.org/v1/hub", limit=64) == expected


def test_a_url_httpx_cannot_use_is_a_bad_url() -> None:
    found = exchange(httpx.Client(), "GET", "ftp://hub.example.org/v1/hub", limit=64)
    assert isinstance(found, TransferFailure)
    assert found.kind == "bad-url"


def test_the_answer_is_read_up_to_the_limit_exactly() -> None:
    hub = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(201, content=b"y" * 64)))
    answer = exchange(hub, "POST", "https://hub.example.org/v1/submissions", limit=64, content=b"{}")
    assert not isinstance(answer, TransferFailure)
    assert (answer[0].status_code, len(answer[1])) == (201, 64)
    assert exchange(hub, "POST", "https://hub.example.org/v1/submissions", limit=63) == TransferFailure("too-large")
