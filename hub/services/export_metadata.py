# SPDX-License-Identifier: Apache-2.0
"""What every exported file says about itself: its question in columns and in its file name.

Every CSV and SDMX-CSV file the hub writes (``/v1/stats``, ``/v1/estimates``, ``/v1/completeness`` with
``format=csv``, the ``/v1/exports/…`` SDMX-CSV messages and the dashboard's exports) repeats on every line the
question it answers (unit or table, grouping, filters, period range, scope), the checkpoint it was computed from
and the interval method, and is sent under a name that says the same, so that a file found later on a disk can be
read, and recomputed by ``tipshare-audit check FILE``, without its URL:

>>> export_filename("estimates", "persons", ("corridor",), {"exploitation_group": ("labour",)},
...     "2026-01", "2026-06", "region", 1234, "csv")
'tipshare-estimates-persons-by-corridor-exploitation_group=labour-2026-01..2026-06-region-cp1234.csv'

File names are ASCII (letters, digits, ``-``, ``_``, ``=``, ``+``, ``.``; anything else becomes ``-``) and at most
:data:`MAX_FILENAME` characters: a long filter list is cut, never the period, scope, checkpoint or extension.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["MAX_FILENAME", "export_filename", "filters_text", "group_by_text"]

#: The longest file name the hub sends (most file systems take 255 bytes).
MAX_FILENAME: Final = 180

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_=+.-]+")


def filters_text(filters: Mapping[str, Sequence[str]]) -> str:
    """``exploitation_group=labour; citizenship=MD,UA`` (the API's codes); empty without filters."""
    return "; ".join(f"{name}={','.join(codes)}" for name, codes in filters.items())


def group_by_text(group_by: Sequence[str]) -> str:
    """``period,citizenship``; empty for a total."""
    return ",".join(group_by)


def export_filename(
    kind: str,
    name: str,
    group_by: Sequence[str],
    filters: Mapping[str, Sequence[str]],
    period_from: str,
    period_to: str,
    scope: str,
    checkpoint_size: int,
    extension: str,
) -> str:
    """``tipshare-<kind>-<name>-by-<keys>-<filters>-<from>..<to>-<scope>-cp<size>.<extension>``, safe as a file
    name (see the module docstring). ``name`` is empty for completeness; ``scope`` as the CSV writes it."""

    def safe(text: str) -> str:
        return _UNSAFE.sub("-", text).strip("-.")

    head = [f"tipshare-{kind}"] + ([safe(name)] if name else [])
    if group_by:
        head.append("by-" + safe("+".join(group_by)))
    elif kind != "completeness":
        head.append("total")
    tail = [f"{period_from}..{period_to}", safe(scope), f"cp{checkpoint_size}"]
    middle = [safe(f"{key}={'+'.join(codes)}") for key, codes in filters.items()]
    suffix = "-" + "-".join(tail) + "." + extension
    stem = "-".join(head + middle)
    room = MAX_FILENAME - len(suffix)
    if len(stem) > room:
        stem = stem[:room].rstrip("-._=+")
    return stem + suffix
