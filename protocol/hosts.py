# SPDX-License-Identifier: Apache-2.0
"""Which host names mean "this machine": where plain ``http://`` is acceptable (and nowhere else).

>>> [is_this_machine(host) for host in ("localhost", "127.0.0.1", "127.8.0.1", "::1", "hub.example.org", "10.0.0.5")]
[True, True, True, True, False, False]
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_this_machine"]


def is_this_machine(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ``::1``); a name that merely resolves there is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
