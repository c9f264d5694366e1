# SPDX-License-Identifier: Apache-2.0
"""Canonical bytes: RFC 8785's own examples, the stricter rules tipshare adds (no floats, no duplicates), and the
fast path (the C encoder for ASCII values) agreeing with the full RFC 8785 check on generated encodings."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import event, given, settings
from hypothesis import strategies as st

from protocol.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    _is_ascii_canonical,
    _parse,
    canonical_bytes,
    parse_canonical,
    parse_json,
)
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


# ---------------------------------------------------------------------------------------------- the fast path
#
# parse_canonical and canonical_bytes take the standard library's C encoder when the text is ASCII and fall back
# to the full RFC 8785 encoder otherwise. The reference below is the check without any fast path: parse strictly,
# then compare with rfc8785's bytes. Generated encodings of generated values (key orders, escapes, separators,
# non-ASCII text) must get the same verdict and value from both.


def reference_parse_canonical(data: bytes) -> Any:
    """parse_canonical as it was before the fast path: every input re-encoded by rfc8785."""
    value = parse_json(data)
    try:
        encoded = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise MalformedMessage(str(e)) from e
    if encoded != data:
        raise NonCanonicalEncoding("bytes are not in RFC 8785 canonical form")
    return value


def typed(value: Any) -> Any:
    """A value with its JSON types spelt out (``True`` and ``1``, a list and a tuple, compare unequal)."""
    if isinstance(value, dict):
        return ("object", sorted((k, typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("array", [typed(v) for v in value])
    return (type(value).__name__, value)


def outcome(parse: Callable[[bytes], Any], data: bytes) -> tuple[str, Any]:
    try:
        return ("accepted", typed(parse(data)))
    except NonCanonicalEncoding:
        return ("rejected", NonCanonicalEncoding)
    except MalformedMessage:
        return ("rejected", MalformedMessage)


# Text that exercises every rule: ASCII with controls, quotes and backslashes; the BMP above U+E000 and
# characters outside it (where code-point order and UTF-16 order differ); line separators; U+007F.
characters = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.sampled_from(["\u0080", "\u00e9", "\u2028", "\u20ac", "\ud7ff", "\ue000", "\ufb33", "\uffff"]),
    st.sampled_from(["\U00010000", "\U0001f600", "\U0010ffff"]),
    st.characters(codec="utf-8"),
)
texts = st.text(characters, max_size=6)
# Keys that often share a prefix and differ where UTF-16 and code-point order disagree (U+E000.. vs U+10000..).
keys = texts | st.text(st.sampled_from(["a", "\u00e9", "\ue000", "\ufb33", "\U00010000", "\U0001f600"]), max_size=3)
rich_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.integers(min_value=-3, max_value=300)
    | texts,
    lambda children: st.lists(children, max_size=12) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _u_escape(char: str, upper: bool) -> str:
    units = char.encode("utf-16-be")
    escaped = "".join(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2))
    return escaped.upper().replace("\\U", "\\u") if upper else escaped


def _write_string(text: str, escape: Callable[[str], bool], upper: bool) -> str:
    out = []
    for char in text:
        if escape(char):
            out.append(_u_escape(char, upper))
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char < " ":
            out.append(_u_escape(char, upper))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_ORDERS: dict[str, Callable[[list[str]], list[str]]] = {
    "utf-16": lambda keys: sorted(keys, key=lambda k: k.encode("utf-16-be")),  # RFC 8785
    "code points": sorted,  # Python's sort_keys
    "insertion": lambda keys: keys,
    "reversed": lambda keys: sorted(keys, key=lambda k: k.encode("utf-16-be"), reverse=True),
}
_ESCAPES: dict[str, Callable[[str], bool]] = {
    "none": lambda c: False,  # RFC 8785
    "non-ASCII": lambda c: c > "\x7f",  # ensure_ascii=True: ASCII bytes that decode to non-ASCII text
    "solidus": lambda c: c == "/",
    "some letters": lambda c: c in "aeZ09",
    "everything": lambda c: True,
}


@st.composite
def encodings(draw: st.DrawFn) -> tuple[Any, bytes, bool]:
    """A value, one encoding of it, and whether that encoding is the canonical one."""
    value = draw(rich_values)
    order, escape, upper, (item_sep, key_sep), (before, after) = draw(
        st.just(("utf-16", "none", False, (",", ":"), ("", "")))  # RFC 8785 (a third of the cases)
        | st.tuples(
            st.sampled_from(sorted(_ORDERS)),
            st.sampled_from(sorted(_ESCAPES)),
            st.booleans(),
            st.sampled_from([(",", ":"), (", ", ": "), (",", " :"), (",\n ", ":")]),
            st.sampled_from([("", ""), (" ", ""), ("", "\n"), ("\t", " ")]),
        )
        | st.tuples(
            st.sampled_from(sorted(_ORDERS)),
            st.sampled_from(sorted(_ESCAPES)),
            st.booleans(),
            st.just((",", ":")),
            st.just(("", "")),
        )
    )

    def write(v: Any) -> str:
        if isinstance(v, dict):
            keys = _ORDERS[order](list(v))
            parts = (_write_string(k, _ESCAPES[escape], upper) + key_sep + write(v[k]) for k in keys)
            return "{" + item_sep.join(parts) + "}"
        if isinstance(v, list):
            return "[" + item_sep.join(write(x) for x in v) + "]"
        if isinstance(v, str):
            return _write_string(v, _ESCAPES[escape], upper)
        return json.dumps(v)

    data = (before + write(value) + after).encode("utf-8")
    canonical = data == rfc8785.dumps(value)
    event(f"{'canonical' if canonical else 'non-canonical'}, {'ASCII' if data.isascii() else 'non-ASCII'}")
    return value, data, canonical


@settings(max_examples=400, deadline=None)
@given(encodings())
def test_the_fast_path_agrees_with_the_full_check_on_generated_encodings(case: tuple[Any, bytes, bool]) -> None:
    value, data, canonical = case
    verdict = outcome(parse_canonical, data)
    assert verdict == outcome(reference_parse_canonical, data)
    assert verdict == (("accepted", typed(value)) if canonical else ("rejected", NonCanonicalEncoding))


@settings(max_examples=400, deadline=None)
@given(rich_values, st.data())
def test_the_fast_path_agrees_with_the_full_check_on_edited_bytes(value: Any, data: st.DataObject) -> None:
    """One byte of a canonical encoding inserted, deleted or replaced (duplicates, bad UTF-8, floats, -0, ...)."""
    encoded = bytearray(rfc8785.dumps(value))
    at = data.draw(st.integers(min_value=0, max_value=len(encoded)))
    byte = data.draw(st.sampled_from(b' "\\,:{}[]01-.eE\x00\x7f\xc3\xa9u/a'))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    if edit == "insert":
        encoded.insert(at, byte)
    elif at < len(encoded):
        if edit == "delete":
            del encoded[at]
        else:
            encoded[at] = byte
    edited = bytes(encoded)
    verdict = outcome(parse_canonical, edited)
    event(f"{edit}: {verdict[0]}")
    assert verdict == outcome(reference_parse_canonical, edited)


@settings(max_examples=200, deadline=None)
@given(encodings())
def test_the_fast_path_accepts_only_rfc8785_bytes_and_all_ascii_ones(case: tuple[Any, bytes, bool]) -> None:
    _, data, canonical = case
    try:
        text, parsed = _parse(data)
    except MalformedMessage:
        return
    fast = _is_ascii_canonical(text, parsed)
    if fast:
        assert rfc8785.dumps(parsed) == data  # sound: never accepts what RFC 8785 would not
    if canonical and data.isascii():
        assert fast  # and it is the path every ASCII canonical message takes
    if not data.isascii():
        assert not fast


@settings(max_examples=200, deadline=None)
@given(rich_values | st.tuples(rich_values, texts))
def test_canonical_bytes_equal_rfc8785_for_any_value(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


def test_ascii_messages_never_reach_the_pure_python_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"tables": [{"cells": list(range(-50, 5000)), "name": "t"}], "note": 'quote " back \\ tab \t \x01'}
    encoded = rfc8785.dumps(value)
    calls: list[object] = []
    original = rfc8785.dumps

    def counted(v: Any) -> bytes:
        calls.append(v)
        return original(v)

    monkeypatch.setattr(rfc8785, "dumps", counted)

    assert canonical_bytes(value) == encoded
    assert parse_canonical(encoded) == value
    assert calls == []
    with pytest.raises(NonCanonicalEncoding):
        parse_canonical(encoded.replace(b'"tables"', b'"tables" '))
    assert len(calls) == 1  # a refusal is always decided by the full encoder
    assert parse_canonical('{"a":"é"}'.encode()) == {"a": "é"}
    assert len(calls) == 2  # and non-ASCII text always goes the full way


@pytest.mark.parametrize(
    "data",
    [
        b'{"\\u00e9":1}',  # ASCII bytes, non-ASCII key: escaped needlessly
        b'{"\\ufb33":1,"\\ud83d\\ude00":2}',  # ASCII bytes, code-point order of what they decode to
        '{"\ufb33":1,"\U0001f600":2}'.encode(),  # code-point order (Python's sort_keys), not UTF-16
        b'{"a":"\\u001F"}',  # uppercase hex
        b'{"a":"\\/"}',  # escaped solidus
    ],
)
def test_ascii_lookalikes_of_canonical_text_are_refused(data: bytes) -> None:
    with pytest.raises(NonCanonicalEncoding):
        parse_canonical(data)


def test_the_utf16_key_order_of_non_ascii_keys_is_still_accepted() -> None:
    data = '{"\U0001f600":2,"\ufb33":1}'.encode()
    assert parse_canonical(data) == {"\U0001f600": 2, "\ufb33": 1}


def test_a_lone_surrogate_is_malformed_on_both_paths() -> None:
    with pytest.raises(MalformedMessage, match="cannot be canonicalised"):
        parse_canonical(b'["\\ud800"]')
    with pytest.raises(MalformedMessage, match="cannot be canonicalised"):
        canonical_bytes(["\ud800"])


class _Code(IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0] * 20 + [MAX_SAFE_INTEGER + 1], r"integer at \$\[20\] is outside"),
        ([0] * 20 + [-MAX_SAFE_INTEGER - 1] + [0] * 5, r"integer at \$\[20\] is outside"),
        ({"cells": [1] * 9 + [0.5]}, r"floating-point number at \$\.cells\[9\]"),
        ({"cells": [1] * 9 + [b"x"]}, r"bytes at \$\.cells\[9\] has no JSON form"),
    ],
)
def test_a_long_list_of_integers_names_the_item_that_breaks_the_rule(value: Any, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        canonical_bytes(value)


def test_the_integer_list_shortcut_keeps_the_depth_limit_and_json_types() -> None:
    deepest = [0] * 10
    for _ in range(MAX_DEPTH - 1):
        deepest = [deepest]  # the integers sit at depth MAX_DEPTH
    with pytest.raises(MalformedMessage, match="nested deeper"):
        canonical_bytes(deepest)
    assert canonical_bytes([True] * 5 + [1] * 5) == b"[true,true,true,true,true,1,1,1,1,1]"
    assert canonical_bytes((_Code.ONE,) * 10) == b"[" + b",".join([b"1"] * 10) + b"]"


def test_a_number_of_thousands_of_digits_is_malformed_not_a_crash() -> None:
    for data in (b"9" * 5000, b'{"a":[' + b"1" * 4301 + b"]}", b"-" + b"7" * 10_000):
        with pytest.raises(MalformedMessage, match="thousands of digits"):
            parse_json(data)
