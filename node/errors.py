# SPDX-License-Identifier: Apache-2.0
"""Errors of ``node``: one root, :class:`NodeError`, whose messages say what to do next.

The tree::

    NodeError
"""

from __future__ import annotations

__all__ = ["NodeError"]


class NodeError(Exception):
    """Root of every error raised by ``node``."""

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        return f"{type(self).__name__}: {self}"
