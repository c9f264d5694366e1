# SPDX-License-Identifier: Apache-2.0
"""protocol.sdmx_codes: the SDMX codes of taxonomy codes, one rule at a time, and back within a dimension."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import MalformedMessage
from protocol.sdmx_codes import SDMX_ID, SdmxCodes, sdmx_code


@pytest.mark.parametrize(
    ("code", "sdmx"),
    [
        ("48+", "Y_GE48"),
        ("0+", "Y_GE0"),
        ("18-20", "Y18-20"),
        ("002", "M49_002"),
        ("_any_info", "ANY_INFO"),
        ("_T", "T"),
        ("UA", "UA"),
        ("labour", "labour"),
        ("a b/c", "a_b_c"),
        ("-1", "X_-1"),
        ("1-", "X_1-"),
        ("é", "X__"),
        ("", "X_"),
        ("_0", "X_0"),  # a reserved-looking code whose rest starts with a digit still starts with a letter
    ],
)
def test_each_rule_gives_its_known_answer(code: str, sdmx: str) -> None:
    assert sdmx_code(code) == sdmx


@given(st.text(max_size=12))
def test_every_code_becomes_a_valid_sdmx_id(code: str) -> None:
    assert SDMX_ID.fullmatch(sdmx_code(code))


def test_a_dimension_reads_its_codes_back() -> None:
    codes = SdmxCodes(["0-8", "9-17", "48+", "002", "_any_info"])
    assert [codes.code_of(codes.sdmx_of(c)) for c in ("0-8", "9-17", "48+", "002", "_any_info")] == [
        "0-8",
        "9-17",
        "48+",
        "002",
        "_any_info",
    ]
    assert codes.sdmx_of("48+") == "Y_GE48"
    assert codes.sdmx_of("65+") == "Y_GE65"  # a code outside the dimension follows the same rules
    with pytest.raises(MalformedMessage, match="'Y_GE65' is the SDMX code of no code of this dimension"):
        codes.code_of("Y_GE65")


def test_two_codes_of_a_dimension_that_would_share_an_sdmx_code_are_refused() -> None:
    assert SdmxCodes(["a b", "a b"]).code_of("a_b") == "a b"  # the same code twice is one code
    with pytest.raises(MalformedMessage, match="codes 'a b' and 'a/b' would share the SDMX code 'a_b'"):
        SdmxCodes(["a b", "a/b"])
    with pytest.raises(MalformedMessage, match="codes '_T' and 'T' would share the SDMX code 'T'"):
        SdmxCodes(["_T", "T"])
