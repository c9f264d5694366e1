# SPDX-License-Identifier: Apache-2.0
"""Canonical bytes: RFC 8785's own examples, and the stricter rules tipshare adds (no floats, no duplicates)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from protocol.canonical import MAX_DEPTH, MAX_SAFE_INTEGER, canonical_bytes, parse_canonical, parse_json
from protocol.errors import MalformedMessage, NonCanonicalEncoding

# RFC 8785 §3.2.3: keys sort by their UTF-16 code units, so the emoji (a surrogate pair, D83D...) sorts
# before U+FB33 although its code point is larger.
RFC8785_SORTING_INPUT = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC8785_SORTING_ORDER = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]

# RFC 8785 Appendix B: IEEE 754 doubles and their canonical text. tipshare refuses floats in signed data, but
# the canonicaliser we depend on must still be conformant (a regression there would be silent otherwise).
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
]


def test_rfc8785_key_sorting_example() -> None:
    encoded = canonical_bytes(RFC8785_SORTING_INPUT)
    assert list(json.loads(encoded)) == RFC8785_SORTING_ORDER
    assert parse_canonical(encoded) == RFC8785_SORTING_INPUT


def test_rfc8785_string_and_literal_example() -> None:
    # §3.2.2 without its "numbers" member (tipshare has no floats): escapes only what JSON requires.
    value = {"string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/", "literals": [None, True, False]}
    expected = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'.encode()
    assert canonical_bytes(value) == expected


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS)
def test_rfc8785_number_serialisation_of_the_dependency(bits: str, text: str) -> None:
    number = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert rfc8785.dumps(number) == text.encode()


@pytest.mark.parametrize("value", [1.5, {"a": [0.0]}, {"scale": 3.4641016151377544}])
def test_floats_are_refused_in_canonical_bytes(value: Any) -> None:
    with pytest.raises(MalformedMessage, match="floating-point"):
        canonical_bytes(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1,"a":2}', "duplicate JSON key 'a'"),
        (b'{"a":1.0}', "floating-point number 1.0"),
        (b'{"a":1e3}', "floating-point number 1e3"),
        (b'{"a":NaN}', "NaN is not valid JSON"),
        (b'{"a":-Infinity}', "-Infinity is not valid JSON"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"a":"\xff"}', "not UTF-8 at byte 6"),
        (b'{"a":', "not valid JSON"),
        (b'{"a":9007199254740992}', "outside"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    ],
)
def test_untrusted_json_is_parsed_strictly(data: bytes, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        parse_json(data)


def test_depth_limit_is_exact() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(MalformedMessage):
        parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # unsorted
        b'{"a": 2}',  # whitespace
        b'{"a":"\\u00e9"}',  # needless escape
        b'{"a":2}\n',  # trailing newline
        b'{"a":-0}',  # negative zero
        b'{"a":02}',  # not JSON at all
    ],
)
def test_non_canonical_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_canonical(data)


def test_non_canonical_is_its_own_error() -> None:
    with pytest.raises(NonCanonicalEncoding):
        parse_canonical(b'{"b":1,"a":2}')


def test_safe_integer_bounds() -> None:
    assert canonical_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"
    with pytest.raises(MalformedMessage, match="outside"):
        canonical_bytes([MAX_SAFE_INTEGER + 1])


def test_non_string_keys_and_unknown_types_are_refused() -> None:
    with pytest.raises(MalformedMessage, match="not a string"):
        canonical_bytes({1: "a"})
    with pytest.raises(MalformedMessage, match="no JSON form"):
        canonical_bytes({"a": b"bytes"})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@given(json_values)
def test_canonical_round_trip(value: Any) -> None:
    encoded = canonical_bytes(value)
    assert parse_canonical(encoded) == value
    assert canonical_bytes(parse_canonical(encoded)) == encoded


@given(json_values)
def test_canonical_bytes_do_not_depend_on_key_insertion_order(value: Any) -> None:
    def reversed_keys(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reversed_keys(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reversed_keys(x) for x in v]
        return v

    assert canonical_bytes(reversed_keys(value)) == canonical_bytes(value)
