# SPDX-License-Identifier: Apache-2.0
"""Encoding signed cells in Z/2^64 with the offset; the no-wrap rule; packing; the roster's checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from protocol.errors import SecureAggregationError
from protocol.secagg.encoding import (
    DEFAULT_OFFSET,
    MODULUS,
    add_mod,
    check_no_wrap,
    decode_sum,
    encode,
    pack,
    sub_mod,
    unpack,
)
from protocol.secagg.messages import MAX_MEMBERS, RoundRoster, digest
from tests.unit.protocol.secagg_round import make_roster

OFFSET = 1000


@settings(max_examples=50)
@given(
    vectors=st.integers(1, 6).flatmap(
        lambda length: st.lists(
            st.lists(st.integers(-OFFSET, OFFSET), min_size=length, max_size=length), min_size=1, max_size=8
        )
    ),
    masks=st.lists(st.integers(0, MODULUS - 1), min_size=8, max_size=8),
)
def test_masked_encodings_sum_to_the_exact_signed_sum(vectors: list[list[int]], masks: list[int]) -> None:
    """Masks that cancel (+m by one member, -m by another) leave the exact signed total, whatever the masks."""
    length = len(vectors[0])
    total = [0] * length
    for i, vector in enumerate(vectors):
        encoded = encode(vector, offset=OFFSET)
        mask = [masks[i % 8]] * length
        total = add_mod(total, add_mod(encoded, mask))
        total = sub_mod(total, mask)
    assert decode_sum(total, count=len(vectors), offset=OFFSET) == [sum(col) for col in zip(*vectors, strict=True)]


def test_extremes_do_not_wrap() -> None:
    n = MODULUS // (2 * DEFAULT_OFFSET) - 1  # the largest group the default offset allows
    check_no_wrap(members=n, offset=DEFAULT_OFFSET)
    top = n * 2 * DEFAULT_OFFSET
    assert top < MODULUS
    assert decode_sum([top, 0], count=n, offset=DEFAULT_OFFSET) == [n * DEFAULT_OFFSET, -n * DEFAULT_OFFSET]
    with pytest.raises(SecureAggregationError, match="would wrap"):
        check_no_wrap(members=n + 1, offset=DEFAULT_OFFSET)


@pytest.mark.parametrize("value", [OFFSET + 1, -OFFSET - 1])
def test_a_value_beyond_the_offset_is_refused(value: int) -> None:
    with pytest.raises(SecureAggregationError, match=f"cell 1 is {value}, outside ±{OFFSET}"):
        encode([0, value], offset=OFFSET)


def test_a_total_no_honest_members_make_is_refused() -> None:
    with pytest.raises(SecureAggregationError, match="masks do not cancel"):
        decode_sum([2 * 3 * OFFSET + 1], count=3, offset=OFFSET)
    with pytest.raises(SecureAggregationError, match="offset must be positive"):
        check_no_wrap(members=3, offset=0)


def test_pack_round_trip_and_length() -> None:
    vector = [0, 1, MODULUS - 1, 2**40]
    data = pack(vector)
    assert data[:16] == bytes(8) + b"\x01" + bytes(7)
    assert unpack(data, length=4) == vector
    with pytest.raises(SecureAggregationError, match="32 bytes, got 31"):
        unpack(data[:-1], length=4)


def test_roster_refuses_duplicates_a_high_threshold_and_a_huge_offset() -> None:
    roster, _ = make_roster(4, threshold=3, length=2)
    fields = roster.model_dump()
    # the roster's own bounds already keep every round from wrapping: 1000 members at the largest offset
    check_no_wrap(members=MAX_MEMBERS, offset=2**53 - 1)
    with pytest.raises(ValidationError, match="less than or equal to 9007199254740991"):
        RoundRoster.model_validate(fields | {"offset": 2**53}, strict=False)
    with pytest.raises(ValidationError, match="appears twice"):
        RoundRoster.model_validate(fields | {"members": [fields["members"][0]] * 4}, strict=False)
    with pytest.raises(ValidationError, match="above the 4 members"):
        RoundRoster.model_validate(fields | {"threshold": 5}, strict=False)
    with pytest.raises(ValidationError, match="not above half of the 4 members"):
        RoundRoster.model_validate(fields | {"threshold": 2}, strict=False)
    assert RoundRoster.from_canonical(roster.canonical_bytes()) == roster
    assert digest(roster).startswith("sha256:")
    assert roster.index("hotline-02") == 3
