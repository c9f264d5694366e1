# SPDX-License-Identifier: Apache-2.0
"""A member's vector as elements of Z/2^k, and the sum back as signed integers.

A member's input (its v2 tables' cells in canonical order, each a true count plus its noise share) is a vector
of signed integers. Masks live in Z/2^k with k = :data:`MODULUS_BITS` = 64, so each cell is encoded with the
round's public ``offset``: ``e = x + offset``, refused unless ``0 <= e <= 2 * offset``. The survivors' encoded
cells then sum to at most ``2 * n * offset``, and the round's roster is refused unless that is below 2^k: the
sum never wraps, so ``sum(e) mod 2^k`` *is* ``sum(e)`` and the decoded total is exact (the proof, with the
bound on counts and the tail of the noise, is in docs/secure-aggregation.md).

>>> encoded = encode([-3, 0, 5], offset=10)
>>> encoded
[7, 10, 15]
>>> decode_sum([(a + b) % MODULUS for a, b in zip(encoded, encode([1, 1, 1], offset=10), strict=True)],
...            count=2, offset=10)
[-2, 1, 6]
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from protocol.errors import SecureAggregationError

__all__ = [
    "DEFAULT_OFFSET",
    "MODULUS",
    "MODULUS_BITS",
    "add_mod",
    "check_no_wrap",
    "decode_sum",
    "encode",
    "pack",
    "sub_mod",
    "unpack",
]

#: Bits of the masking group Z/2^k.
MODULUS_BITS: Final = 64
MODULUS: Final = 2**MODULUS_BITS
_MASK: Final = MODULUS - 1
#: The offset a roster uses unless it says otherwise: 2^40 leaves room for 2^23 members (docs: no-wrap proof).
DEFAULT_OFFSET: Final = 2**40


def check_no_wrap(*, members: int, offset: int) -> None:
    """Refuse a round whose ``members`` encoded vectors could sum past 2^k: needs ``2 * members * offset < 2^k``."""
    if offset < 1:
        raise SecureAggregationError(f"the encoding offset must be positive, got {offset}")
    if members < 1 or 2 * members * offset >= MODULUS:
        raise SecureAggregationError(
            f"{members} members with offset {offset} could make a sum of 2^{MODULUS_BITS} or more, which would "
            "wrap; use a smaller offset or a smaller group"
        )


def encode(values: Sequence[int], *, offset: int) -> list[int]:
    """Each value plus ``offset``; refuses (names the first) a value outside ``[-offset, offset]``."""
    encoded = [v + offset for v in values]
    limit = 2 * offset
    for i, e in enumerate(encoded):
        if not 0 <= e <= limit:
            raise SecureAggregationError(
                f"cell {i} is {values[i]}, outside ±{offset}: the round's sum could wrap, so this member refuses "
                "to mask it (a count that large is a fault in the tables, not a real month)"
            )
    return encoded


def decode_sum(total: Sequence[int], *, count: int, offset: int) -> list[int]:
    """The signed sum of ``count`` members' values from the sum of their encodings mod 2^k.

    Refuses a total that no ``count`` honest encodings make (above ``2 * count * offset``): the masks did not
    cancel, or a vector was changed.
    """
    check_no_wrap(members=count, offset=offset)
    limit = 2 * count * offset
    for i, t in enumerate(total):
        if not 0 <= t <= limit:
            raise SecureAggregationError(
                f"cell {i} of the unmasked sum is outside what {count} members can send: the masks do not cancel "
                "(a masked vector or a revealed share is wrong)"
            )
    shift = count * offset
    return [t - shift for t in total]


def add_mod(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Element-wise ``a + b mod 2^k``."""
    return [(x + y) & _MASK for x, y in zip(a, b, strict=True)]


def sub_mod(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Element-wise ``a - b mod 2^k``."""
    return [(x - y) & _MASK for x, y in zip(a, b, strict=True)]


def pack(vector: Sequence[int]) -> bytes:
    """A vector of Z/2^k as little-endian uint64s (the bytes a masked submission carries in base64)."""
    return struct.pack(f"<{len(vector)}Q", *vector)


def unpack(data: bytes, *, length: int) -> list[int]:
    """The inverse of :func:`pack`; refuses bytes of another length than ``length`` elements."""
    if len(data) != 8 * length:
        raise SecureAggregationError(f"a masked vector of {length} cells is {8 * length} bytes, got {len(data)}")
    return list(struct.unpack(f"<{length}Q", data))
