# SPDX-License-Identifier: Apache-2.0
r"""Canonical bytes: the only way tipshare turns a value into bytes that are hashed or signed.

Canonical form is RFC 8785 (JSON Canonicalization Scheme) as implemented by ``rfc8785``, restricted further:
**no floating-point numbers anywhere**. Noise scales and privacy budgets travel as decimal strings, counts as
integers within the interoperable range ±(2**53 - 1), so every implementation in every language produces the
same bytes.

**Fast path.** ``rfc8785`` encodes in pure Python (tens of milliseconds for a full release). For a value whose
strings and keys are all ASCII, the standard library's C encoder (``json.dumps`` with sorted keys, no whitespace,
``ensure_ascii=False``) writes exactly the RFC 8785 bytes: the same escapes (``\"``, ``\\``, ``\b \f \n \r \t``,
other controls as lowercase ``\u00xx``, everything else literal), the same key order (for ASCII, code points and
UTF-16 code units sort alike) and, with floats refused, the same numbers. Because that encoder writes every
non-ASCII character literally, an ASCII result proves the value was all ASCII; so :func:`canonical_bytes` uses
the C encoder's result when it is ASCII, and :func:`parse_canonical` accepts ASCII input that equals it. Every
other case (non-ASCII text, where key order by UTF-16 code units differs from code points) takes the full
RFC 8785 path, so the fast path never changes a result, only its cost.

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
#: Lists up to this length are checked item by item; longer ones first try the all-integers shortcut.
_SHORT_LIST: Final = 8


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 bytes of ``value``; refuse floats, non-string keys and unsafe integers."""
    _check_value(value, depth=0, path="$")
    text = _c_encoding(value)
    if text.isascii():
        return text.encode("ascii")  # all ASCII: byte for byte what RFC 8785 writes (module docstring)
    return _rfc8785_bytes(value)


def parse_json(data: bytes) -> Any:
    """Parse untrusted JSON strictly: UTF-8 only, no duplicate keys, no NaN/Infinity, no floats, bounded depth."""
    return _parse(data)[1]


def parse_canonical(data: bytes) -> Any:
    """Parse JSON and insist that ``data`` is exactly its canonical encoding (so what was signed is what is read)."""
    text, value = _parse(data)
    if not _is_ascii_canonical(text, value) and _rfc8785_bytes(value) != data:
        raise NonCanonicalEncoding("bytes are not in RFC 8785 canonical form")
    return value


def _parse(data: bytes) -> tuple[str, Any]:
    """``data`` decoded, and the value it holds, both checked (see :func:`parse_json`)."""
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
    except ValueError:  # int() refuses literals of more than 4,300 digits (CPython's limit), long before ours
        raise MalformedMessage("a number of thousands of digits, far outside the allowed integer range") from None
    _check_value(value, depth=0, path="$")
    return text, value


def _is_ascii_canonical(text: str, value: Any) -> bool:
    """True if ``text`` is ASCII and the C encoder writes ``value`` as exactly ``text``: then ``text`` is RFC 8785.

    ``False`` proves nothing (non-ASCII text, or not canonical): the caller decides with the full encoder.
    """
    return text.isascii() and _c_encoding(value) == text


def _c_encoding(value: Any) -> str:
    """The standard library's C encoding of a checked value; RFC 8785 whenever it is ASCII (module docstring)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _rfc8785_bytes(value: Any) -> bytes:
    """The full RFC 8785 encoding of a value :func:`_check_value` accepted."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:  # a lone surrogate (``"\\ud800"`` parses): no UTF-8 form
        raise MalformedMessage(f"value cannot be canonicalised: {e}") from e


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


def _all_safe_ints(items: list[Any] | tuple[Any, ...]) -> bool:
    """Every item a plain ``int`` (not ``bool``, not a subclass) within ±(2**53 - 1)."""
    return set(map(type, items)) == {int} and min(items) >= -MAX_SAFE_INTEGER and max(items) <= MAX_SAFE_INTEGER


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
        if len(value) > _SHORT_LIST and depth + 1 < MAX_DEPTH and _all_safe_ints(value):
            return  # a released table's cells: checked in C; the loop below names the culprit otherwise
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
