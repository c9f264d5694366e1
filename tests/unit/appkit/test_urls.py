# SPDX-License-Identifier: Apache-2.0
"""The hub URL rule node and auditor share (:mod:`appkit.urls`)."""

from __future__ import annotations

import doctest

import pytest

import appkit.urls
from appkit.urls import MALFORMED, PLAINTEXT, hub_url


def test_module_examples() -> None:
    assert doctest.testmod(appkit.urls, raise_on_error=True).attempted > 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hub.example.org", ("https://hub.example.org", None)),
        ("https://hub.example.org:8443/base//", ("https://hub.example.org:8443/base", None)),
        ("http://localhost:8750/", ("http://localhost:8750", None)),
        ("http://[::1]:8750", ("http://[::1]:8750", None)),
        ("hub.example.org", ("hub.example.org", MALFORMED)),
        ("https://", ("https:", MALFORMED)),
        ("https://hub.example.org/#top", ("https://hub.example.org/#top", MALFORMED)),
        ("http://10.0.0.5:8750", ("http://10.0.0.5:8750", PLAINTEXT)),
        ("http://hub.localhost.example.org", ("http://hub.localhost.example.org", PLAINTEXT)),
    ],
)
def test_only_https_or_plain_http_on_this_machine_is_a_hub_url(url: str, expected: tuple[str, str | None]) -> None:
    assert hub_url(url) == expected
