# SPDX-License-Identifier: Apache-2.0
"""Errors of ``hub``: one root, :class:`HubError`, whose messages say what to do next.

The tree::

    HubError
"""

from __future__ import annotations

__all__ = ["HubError"]


class HubError(Exception):
    """Root of every error raised by ``hub``."""

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        return f"{type(self).__name__}: {self}"
