# SPDX-License-Identifier: Apache-2.0
"""Canonical bytes: the only way tipshare turns a value into bytes that are hashed or signed.

Canonical form is RFC 8785 (JSON Canonicalization Scheme) as implemented by ``rfc8785``, restricted further:
**no floating-point numbers anywhere**. Noise scales and privacy budgets travel as decimal strings, counts as
integers within the interoperable range ±(2**53 - 1), so every implementation in every language produces the
same bytes.

>>> canonical_bytes({"b": [1, 2], "a": "x"})
b'{"a":"x","b":[1,2]}'
>>> parse_canonical(b'{"a":"x","b":[1,2]}')
{'a': 'x', 'b': [1, 2]}
>>> parse_canonical(b'{"b":[1,2],"a":"x"}')
Traceback (most recent call last):
...
protocol.errors.NonCanonicalEncoding: bytes are not in RFC 8785 canonical form
"""

from __future__ import annotations

import json
from typing import Any, Final

import rfc8785

from protocol.errors import MalformedMessage, NonCanonicalEncoding

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "canonical_bytes", "parse_canonical", "parse_json"]

#: Largest integer every JSON implementation represents exactly (I-JSON, RFC 7493).
MAX_SAFE_INTEGER: Final = 2**53 - 1
#: Levels of nesting accepted in untrusted JSON (protocol messages need fewer than 8).
MAX_DEPTH: Final = 32


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 bytes of ``value``; refuse floats, non-string keys and unsafe integers."""
    _check_value(value, depth=0, path="$")
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:  # pragma: no cover - _check_value rejects these first
        raise MalformedMessage(f"value cannot be canonicalised: {e}") from e


def parse_json(data: bytes) -> Any:
    """Parse untrusted JSON strictly: UTF-8 only, no duplicate keys, no NaN/Infinity, no floats, bounded depth."""
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise MalformedMessage(f"not UTF-8 at byte {e.start}") from None
    if text.startswith("\ufeff"):
        raise MalformedMessage("a byte-order mark is not allowed")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as e:
        raise MalformedMessage(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise MalformedMessage(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    _check_value(value, depth=0, path="$")
    return value


def parse_canonical(data: bytes) -> Any:
    """Parse JSON and insist that ``data`` is exactly its canonical encoding (so what was signed is what is read)."""
    value = parse_json(data)
    if canonical_bytes(value) != data:
        raise NonCanonicalEncoding("bytes are not in RFC 8785 canonical form")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedMessage(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _no_float(literal: str) -> Any:
    raise MalformedMessage(f"floating-point number {literal} is not allowed; use an integer or a decimal string")


def _no_constant(literal: str) -> Any:
    raise MalformedMessage(f"{literal} is not valid JSON")


def _check_value(value: Any, *, depth: int, path: str) -> None:
    if depth >= MAX_DEPTH:
        raise MalformedMessage(f"JSON nested deeper than {MAX_DEPTH} levels at {path}")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MalformedMessage(f"integer at {path} is outside ±(2**53 - 1)")
        return
    if isinstance(value, float):
        raise MalformedMessage(f"floating-point number at {path}; use an integer or a decimal string")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, depth=depth + 1, path=f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MalformedMessage(f"object key {key!r} at {path} is not a string")
            _check_value(item, depth=depth + 1, path=f"{path}.{key}")
        return
    raise MalformedMessage(f"value of type {type(value).__name__} at {path} has no JSON form")
