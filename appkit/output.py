# SPDX-License-Identifier: Apache-2.0
"""What a command prints: tables and text for people on a rich console, or one JSON document for scripts."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

__all__ = ["console", "emit_json"]


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); 120 columns when it is not a terminal, so piped output does not wrap."""
    out = Console(highlight=False, stderr=stderr)
    return out if out.is_terminal else Console(highlight=False, stderr=stderr, width=120)


def emit_json(document: Any) -> None:
    """Print ``document`` as the ``--json`` output: indented, UTF-8 as it is (never translated)."""
    print(json.dumps(document, indent=2, ensure_ascii=False))
