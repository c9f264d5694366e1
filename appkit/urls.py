# SPDX-License-Identifier: Apache-2.0
"""The rule a hub's URL follows, for every client (node and auditor word their refusals their own way): reached
over ``https://``, or plain ``http://`` on this machine only (:func:`protocol.hosts.is_this_machine`).

>>> hub_url(" https://hub.example.org/ "), hub_url("http://127.0.0.1:8750")
(('https://hub.example.org', None), ('http://127.0.0.1:8750', None))
>>> [hub_url(url)[1] for url in ("ftp://hub.example.org", "https://hub.example.org/?a=1", "http://[::1", "http://hub.org")]
['malformed', 'malformed', 'malformed', 'plaintext']
"""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import urlsplit

from protocol.hosts import is_this_machine

__all__ = ["MALFORMED", "PLAINTEXT", "hub_url"]

#: Not an ``http(s)://`` URL of a host, or one with a query or fragment.
MALFORMED: Final = "malformed"
#: Plain ``http://`` to another machine: a token would cross the network in clear.
PLAINTEXT: Final = "plaintext"


def hub_url(url: str) -> tuple[str, Literal["malformed", "plaintext"] | None]:
    """``url`` without surrounding blanks and trailing slashes, and the rule it breaks (:data:`MALFORMED`,
    :data:`PLAINTEXT`), or None."""
    text = url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:
        return text, MALFORMED
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return text, MALFORMED
    if parts.scheme == "http" and not is_this_machine(parts.hostname):
        return text, PLAINTEXT
    return text, None
