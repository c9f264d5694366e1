# SPDX-License-Identifier: Apache-2.0
"""A statistics answer as the hub published it (``GET /v1/stats/{table}``), parsed but not trusted.

The answer is read with the contract hub and auditor share (:class:`protocol.api.StatsAnswer`); only the fields
the auditor compares are kept. A missing, unknown or mistyped field makes the whole answer
:class:`~auditor.errors.HubResponseInvalid`, since a statistic that cannot be read cannot be checked. Every number
is recomputed from the log all the same (:mod:`auditor.stats`): sharing the shape is not trusting the content.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from auditor.errors import HubResponseInvalid
from auditor.i18n import T_
from protocol.api import StatsAnswer, StatsRow
from protocol.errors import ProtocolError
from protocol.messages import b64decode

__all__ = [
    "PublishedCheckpoint",
    "PublishedStats",
    "collector_paused",
    "parse_stats",
    "validation_problems",
]


@dataclass(frozen=True, slots=True)
class PublishedCheckpoint:
    """The checkpoint an answer says it was computed from (``note`` is ``None`` while the log is empty)."""

    size: int
    root_hash: bytes
    note: str | None


@dataclass(frozen=True, slots=True)
class PublishedStats:
    table: str
    taxonomy_id: str
    taxonomy_hash: str
    group_by: tuple[str, ...]
    scope_level: str
    scope_code: str | None
    #: The countries a country-limited token's answer covers (``None``: no limit).
    scope_countries: tuple[str, ...] | None
    period_from: str
    period_to: str
    periods_with_data: tuple[str, ...]
    checkpoint: PublishedCheckpoint
    #: The rows as the shared contract reads them (:class:`protocol.api.StatsRow`).
    rows: tuple[StatsRow, ...]
    #: Dimension -> the codes the answer kept (none: every code).
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def parse_stats(body: bytes | str | Any, *, what: str) -> PublishedStats:
    """Parse a statistics answer (its JSON bytes, or a document already read from JSON) with the shared contract
    (:class:`protocol.api.StatsAnswer`, strictly: no number from a string), in one pass through pydantic-core;
    :class:`HubResponseInvalid` naming ``what`` if it does not fit."""
    try:
        if not isinstance(body, bytes | bytearray | str):
            body = json.dumps(body)
        with collector_paused():
            return _published(StatsAnswer.model_validate_json(body, strict=True))
    except ValidationError as e:
        raise HubResponseInvalid(
            T_("the hub's answer to {what} cannot be read: {error}", what=what, error=validation_problems(e))
        ) from None
    except (ValueError, ProtocolError) as e:  # a document json cannot write; a root hash that is not base64
        raise HubResponseInvalid(T_("the hub's answer to {what} cannot be read: {error}", what=what, error=e)) from None


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an answer is read: its tens of thousands of new, acyclic row objects would
    set off collections that walk every object the auditor holds, about half the time of a large answer. (The
    auditor reads answers in one thread; the collector runs again right after.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _published(answer: StatsAnswer) -> PublishedStats:
    """The fields the auditor compares, from a parsed answer (the root hash decoded)."""
    checkpoint = answer.checkpoint
    return PublishedStats(
        table=answer.table,
        taxonomy_id=answer.taxonomy.id,
        taxonomy_hash=answer.taxonomy.hash,
        group_by=tuple(answer.group_by),
        scope_level=answer.scope.level,
        scope_code=answer.scope.code,
        scope_countries=None if answer.scope.countries is None else tuple(answer.scope.countries),
        period_from=answer.period_from,
        period_to=answer.period_to,
        periods_with_data=tuple(answer.periods_with_data),
        checkpoint=PublishedCheckpoint(
            size=checkpoint.size,
            root_hash=b64decode(checkpoint.root_hash, what="checkpoint root hash"),
            note=checkpoint.note,
        ),
        rows=tuple(answer.rows),
        filters=MappingProxyType({name: tuple(codes) for name, codes in answer.filters.items()}),
    )


def validation_problems(error: ValidationError, most: int = 6) -> str:
    """The first problems pydantic found, on one line: ``rows.3.estimate: Input should be a valid integer``."""
    found = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'answer'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    ]
    more = f"; and {len(found) - most} more" if len(found) > most else ""
    return "; ".join(found[:most]) + more
