# SPDX-License-Identifier: Apache-2.0
"""Errors of ``auditor``: one root, :class:`AuditError`, whose messages say what to do next.

The tree::

    AuditError
"""

from __future__ import annotations

__all__ = ["AuditError"]


class AuditError(Exception):
    """Root of every error raised by ``auditor``."""

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        return f"{type(self).__name__}: {self}"
