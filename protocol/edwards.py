# SPDX-License-Identifier: Apache-2.0
"""Which rule a 32-byte Ed25519 public key breaks, if any: canonical encoding, on the curve, prime order.

:func:`protocol.crypto.check_public_key` asks libsodium first (``crypto_core_ed25519_is_valid_point``) and this
module only to say *why* a key is refused, in words an operator can act on. The arithmetic is the textbook
one (RFC 8032, section 5.1.3 decoding; extended twisted Edwards coordinates), on Python integers: slow and not
constant time, which does not matter for public keys.

The rules, in the order they are checked:

1. ``y < p``: the encoding of y is canonical (the 19 values ``p .. 2^255 - 1`` also encode ``0 .. 18``);
2. ``on the curve``: some x satisfies ``-x² + y² = 1 + d·x²·y²``;
3. ``sign of x = 0``: x = 0 has one encoding only, with the sign bit clear;
4. ``not of small order``: ``[8]P`` is not the identity (the eight points of order 1, 2, 4 or 8);
5. ``no torsion component``: ``[L]P`` is the identity (P lies in the prime-order subgroup).

>>> base = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")
>>> broken_rule(base) is None
True
>>> broken_rule(bytes(32))          # y = 0: the point (√-1, 0), of order 4
'is a point of small order (order 4)'
"""

from __future__ import annotations

from typing import Final

__all__ = ["ORDER", "broken_rule"]

_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)
#: The order L of the prime-order subgroup.
ORDER: Final = 2**252 + 27742317777372353535851937790883648493

_Point = tuple[int, int, int, int]
_IDENTITY: Final[_Point] = (0, 1, 1, 0)


def _add(a: _Point, b: _Point) -> _Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * _D * t1 * t2 % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: _Point) -> _Point:
    result = _IDENTITY
    addend = point
    while scalar:
        if scalar & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        scalar >>= 1
    return result


def _is_identity(point: _Point) -> bool:
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


def _decode(raw: bytes) -> _Point | str:
    """The point ``raw`` encodes, or the rule it breaks (rules 1 to 3)."""
    encoded = int.from_bytes(raw, "little")
    sign, y = encoded >> 255, encoded & (2**255 - 1)
    if y >= _P:
        return f"has a non-canonical encoding: y = p + {y - _P} is not reduced modulo p = 2^255 - 19"
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if (v * x * x - u) % _P != 0:
        x = x * _SQRT_M1 % _P
        if (v * x * x - u) % _P != 0:
            return "is not a point on the Ed25519 curve (no x fits its y)"
    if x == 0 and sign:
        return "has a non-canonical encoding: x = 0 with the sign bit set"
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def broken_rule(raw: bytes) -> str | None:
    """The first rule the 32-byte encoding ``raw`` breaks (a phrase after "the key ..."), or ``None``."""
    if len(raw) != 32:
        return f"is {len(raw)} bytes long, not 32"
    point = _decode(raw)
    if isinstance(point, str):
        return point
    multiple, order = point, 1
    while order <= 8:
        if _is_identity(multiple):
            return f"is a point of small order (order {order})"
        multiple, order = _add(multiple, multiple), order * 2
    if not _is_identity(_multiply(ORDER, point)):
        return "is not in the prime-order subgroup (it has a small-order torsion component)"
    return None
