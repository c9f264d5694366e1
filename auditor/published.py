# SPDX-License-Identifier: Apache-2.0
"""A statistics answer as the hub published it (``GET /v1/stats/{table}``), parsed but not trusted.

Only the fields the auditor compares are kept; a missing or mistyped one makes the whole answer
:class:`~auditor.errors.HubResponseInvalid`, since a statistic that cannot be read cannot be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from auditor.errors import HubResponseInvalid
from auditor.i18n import T_
from protocol.errors import ProtocolError
from protocol.messages import b64decode

__all__ = ["PublishedCheckpoint", "PublishedRow", "PublishedStats", "parse_stats"]


@dataclass(frozen=True, slots=True)
class PublishedCheckpoint:
    """The checkpoint an answer says it was computed from (``note`` is ``None`` while the log is empty)."""

    size: int
    root_hash: bytes
    note: str | None


@dataclass(frozen=True, slots=True)
class PublishedRow:
    keys: Mapping[str, str] = field(hash=False)
    estimate: int | None
    ci95_low: int | None
    ci95_high: int | None
    std: float | None
    interval_method: str | None
    hotlines_reporting: int
    hotlines_expected: int
    obs_status: str
    wide_interval: bool


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
    rows: tuple[PublishedRow, ...]
    #: Dimension -> the codes the answer kept (none: every code).
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def parse_stats(value: Any, *, what: str) -> PublishedStats:
    """Parse the JSON of a statistics answer; :class:`HubResponseInvalid` naming ``what`` if it does not fit."""
    try:
        data = _dict(value, "answer")
        taxonomy = _dict(data.get("taxonomy"), "taxonomy")
        scope = _dict(data.get("scope"), "scope")
        checkpoint = _dict(data.get("checkpoint"), "checkpoint")
        countries = scope.get("countries")
        return PublishedStats(
            table=_text(data, "table"),
            taxonomy_id=_text(taxonomy, "id"),
            taxonomy_hash=_text(taxonomy, "hash"),
            group_by=_texts(data.get("group_by"), "group_by"),
            scope_level=_text(scope, "level"),
            scope_code=_optional_text(scope, "code"),
            scope_countries=None if countries is None else _texts(countries, "scope.countries"),
            period_from=_text(data, "period_from"),
            period_to=_text(data, "period_to"),
            periods_with_data=_texts(data.get("periods_with_data"), "periods_with_data"),
            checkpoint=PublishedCheckpoint(
                size=_int(checkpoint, "size"),
                root_hash=b64decode(_text(checkpoint, "root_hash"), what="checkpoint root hash"),
                note=_optional_text(checkpoint, "note"),
            ),
            rows=tuple(_row(row) for row in _list(data.get("rows"), "rows")),
            filters=MappingProxyType(
                {
                    str(name): _texts(codes, f"filters.{name}")
                    for name, codes in _dict(data.get("filters", {}), "filters").items()
                }
            ),
        )
    except (_Invalid, ProtocolError) as e:
        raise HubResponseInvalid(T_("the hub's answer to {what} cannot be read: {error}", what=what, error=e)) from None


class _Invalid(HubResponseInvalid):
    """One field of the answer does not fit (re-raised as :class:`HubResponseInvalid` naming the route)."""


def _row(value: Any) -> PublishedRow:
    row = _dict(value, "row")
    keys = _dict(row.get("keys"), "row keys")
    if not all(isinstance(code, str) for code in keys.values()):
        raise _Invalid("row keys must map names to codes")
    method = row.get("interval_method")
    std = row.get("std")
    if std is not None and (isinstance(std, bool) or not isinstance(std, int | float)):
        raise _Invalid("std must be a number")
    wide = row.get("wide_interval")
    if not isinstance(wide, bool):
        raise _Invalid("wide_interval must be true or false")
    return PublishedRow(
        keys=MappingProxyType(dict(keys)),
        estimate=_optional_int(row, "estimate"),
        ci95_low=_optional_int(row, "ci95_low"),
        ci95_high=_optional_int(row, "ci95_high"),
        std=None if std is None else float(std),
        interval_method=method if isinstance(method, str) else None,
        hotlines_reporting=_int(row, "hotlines_reporting"),
        hotlines_expected=_int(row, "hotlines_expected"),
        obs_status=_text(row, "obs_status"),
        wide_interval=wide,
    )


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f"{what} is not a list")
    return value


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise _Invalid(f"{name} is missing or not a string")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{name} is not a string")
    return value


def _texts(value: Any, what: str) -> tuple[str, ...]:
    items = _list(value, what)
    if not all(isinstance(item, str) for item in items):
        raise _Invalid(f"{what} is not a list of strings")
    return tuple(items)


def _int(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(f"{name} is missing or not an integer")
    return value


def _optional_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(f"{name} is not an integer")
    return value
