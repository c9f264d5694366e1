# SPDX-License-Identifier: Apache-2.0
"""The hub's answers as a client reads them: RFC 9457 problem details made safe to print, and who is asking.

Every answer that is not a success may carry an ``application/problem+json`` body with the hub's ``code``, its
``detail`` (or ``title``) and, for some refusals, the fields that say why (``rule``, ``limit``, ``value``). Text from
the hub reaches a terminal: control characters are replaced and its length bounded (:func:`clean_text`).

>>> body = json.dumps({"code": "conflict", "detail": "revision 2\\x1b[31m"}).encode()
>>> refusal = read_problem(409, "application/problem+json", body)
>>> refusal.line
'HTTP 409 conflict: revision 2 [31m'
>>> read_problem(502, "text/html", b"<html>").line
'HTTP 502'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from types import MappingProxyType
from typing import Any, Final

__all__ = ["Problem", "clean_text", "read_problem", "user_agent"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Problem:
    """An answer's status and what its problem body says (empty strings when it says nothing)."""

    status: int
    #: The hub's problem code (``conflict``, ``implausible_release`` …), cleaned; ``""`` without one.
    code: str = ""
    #: Its ``detail``, else its ``title``, cleaned; ``""`` without one.
    detail: str = ""
    #: The whole problem object as sent (not cleaned): the extra fields some refusals carry.
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def line(self) -> str:
        """``HTTP 403 forbidden: detail``: the status with what the problem says, for one line of a message."""
        line = f"HTTP {self.status}"
        if self.code:
            line += f" {self.code}"
        if self.detail:
            line += f": {self.detail}"
        return line

    def text(self, name: str, limit: int = 60) -> str | None:
        """The problem's field ``name`` as clean text, or None if it has no such string field."""
        value = self.fields.get(name)
        return clean_text(value, limit) if isinstance(value, str) else None


def read_problem(status: int, content_type: str, body: bytes) -> Problem:
    """What an answer with ``status`` and ``body`` says, read as a problem when its content type is JSON."""
    if "json" not in content_type:
        return Problem(status)
    try:
        data = json.loads(body)
    except ValueError:
        return Problem(status)
    if not isinstance(data, dict):
        return Problem(status)
    code = data.get("code")
    detail = data.get("detail") or data.get("title")
    return Problem(
        status,
        clean_text(code, 80) if isinstance(code, str) else "",
        clean_text(detail) if isinstance(detail, str) else "",
        MappingProxyType(data),
    )


def clean_text(text: str, limit: int = 300) -> str:
    """Text from the hub made safe for a terminal: no control characters, at most ``limit`` characters."""
    cleaned = _CONTROL.sub(" ", text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def user_agent(program: str) -> str:
    """The ``User-Agent`` a program's requests carry: ``tipshare-node/1.4.0`` (the hub's logs tell them apart)."""
    try:
        return f"{program}/{distribution_version('tipshare')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return program
