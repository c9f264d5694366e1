# SPDX-License-Identifier: Apache-2.0
"""Shamir secret sharing, t of n, over the prime field of ``PRIME = 2**256 + 297``.

Secure aggregation shares two 32-byte secrets per member and round (a self-mask seed and a mask-agreement
secret, :mod:`protocol.secagg`). No maintained Python library fits: pycryptodome's ``Shamir`` works in
GF(2^128) and so shares 16-byte secrets only, and the other packages are unmaintained or shares of mnemonics. So
this is a small module, tested with a hand-checkable vector and properties: ``PRIME`` is the smallest prime
above 2^256 (the tests check it), large enough for any 32-byte secret.

* A share is ``(x, y)`` with ``x`` the recipient's 1-based index in the round's roster; ``x = 0`` would be the
  secret itself and is refused, as are duplicate x-coordinates and values outside the field.
* :func:`split` draws the polynomial's coefficients from ``randomness`` (a callable returning bytes; protocol
  code never draws its own), each as ``randomness(n)`` read big-endian mod the prime, n being 16 bytes more than
  the field (48 for ``PRIME``), so the bias from the reduction is below 2^-128.
* :func:`reconstruct` interpolates at 0 from the ``threshold`` shares of lowest x, and refuses when any further
  share does not lie on the same polynomial (a tampered or mistaken share is found, not silently used).

>>> draws = iter([bytes(16) + bytes([5])])      # one coefficient: 17 bytes for an 11-element field
>>> shares = split(7, threshold=2, xs=[1, 2, 3], randomness=lambda n: next(draws), prime=11)
>>> [(s.x, s.y) for s in shares]           # f(x) = 7 + 5x mod 11
[(1, 1), (2, 6), (3, 0)]
>>> reconstruct(shares[1:], threshold=2, prime=11)
7
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from protocol.errors import SecretSharingError

__all__ = [
    "PRIME",
    "SECRET_SIZE",
    "SHARE_SIZE",
    "Share",
    "reconstruct",
    "recover_secret",
    "split",
    "split_secret",
]

#: The field: the smallest prime above 2^256.
PRIME: Final = 2**256 + 297
#: Bytes of a secret shared with :func:`split_secret`.
SECRET_SIZE: Final = 32
#: Bytes of a share's y-coordinate in :meth:`Share.y_bytes` (big-endian, fits any element of the field).
SHARE_SIZE: Final = 33
#: Extra random bytes per coefficient beyond the field's size (bias of the reduction below 2^-128).
_EXTRA: Final = 16


@dataclass(frozen=True, slots=True)
class Share:
    """One point ``(x, y)`` of a sharing polynomial; ``x`` is the holder's 1-based roster index."""

    x: int
    y: int

    def y_bytes(self) -> bytes:
        """The y-coordinate as :data:`SHARE_SIZE` big-endian bytes (only for shares of the default field)."""
        return self.y.to_bytes(SHARE_SIZE, "big")

    @classmethod
    def from_y_bytes(cls, x: int, data: bytes) -> Share:
        if len(data) != SHARE_SIZE:
            raise SecretSharingError(f"a share's value is {SHARE_SIZE} bytes, got {len(data)}")
        return cls(x=x, y=int.from_bytes(data, "big"))


def _check_xs(xs: Sequence[int], prime: int) -> None:
    for x in xs:
        if not 0 < x < prime:
            raise SecretSharingError(f"a share's x-coordinate is 1 to the field size - 1, got {x}")
    if len(set(xs)) != len(xs):
        raise SecretSharingError("two shares have the same x-coordinate; each holder has its own roster index")


def _random_element(randomness: Callable[[int], bytes], prime: int) -> int:
    size = (prime.bit_length() + 7) // 8 + _EXTRA
    data = randomness(size)
    if len(data) != size:
        raise SecretSharingError(f"the randomness source returned {len(data)} bytes, {size} were asked for")
    return int.from_bytes(data, "big") % prime


def split(
    secret: int,
    *,
    threshold: int,
    xs: Sequence[int],
    randomness: Callable[[int], bytes],
    prime: int = PRIME,
) -> tuple[Share, ...]:
    """Shares of ``secret`` at ``xs``, any ``threshold`` of which reconstruct it and fewer reveal nothing."""
    if not 0 <= secret < prime:
        raise SecretSharingError("the secret is not an element of the field")
    if not 1 <= threshold <= len(xs):
        raise SecretSharingError(f"the threshold must be 1 to the number of shares ({len(xs)}), got {threshold}")
    _check_xs(xs, prime)
    coefficients = [secret] + [_random_element(randomness, prime) for _ in range(threshold - 1)]
    return tuple(Share(x=x, y=_evaluate(coefficients, x, prime)) for x in xs)


def _evaluate(coefficients: Sequence[int], x: int, prime: int) -> int:
    y = 0
    for c in reversed(coefficients):
        y = (y * x + c) % prime
    return y


def _interpolate(points: Sequence[Share], at: int, prime: int) -> int:
    """The value at ``at`` of the polynomial of degree < len(points) through ``points`` (Lagrange)."""
    total = 0
    for j, pj in enumerate(points):
        numerator, denominator = 1, 1
        for m, pm in enumerate(points):
            if m != j:
                numerator = numerator * (at - pm.x) % prime
                denominator = denominator * (pj.x - pm.x) % prime
        total = (total + pj.y * numerator * pow(denominator, -1, prime)) % prime
    return total


def reconstruct(shares: Sequence[Share], *, threshold: int, prime: int = PRIME) -> int:
    """The secret behind at least ``threshold`` shares; refuses shares that do not lie on one polynomial."""
    if threshold < 1:
        raise SecretSharingError(f"the threshold is at least 1, got {threshold}")
    if len(shares) < threshold:
        raise SecretSharingError(f"{len(shares)} shares cannot reconstruct a secret shared {threshold}-of-n")
    _check_xs([s.x for s in shares], prime)
    for s in shares:
        if not 0 <= s.y < prime:
            raise SecretSharingError(f"the share at x = {s.x} is not an element of the field")
    ordered = sorted(shares, key=lambda s: s.x)
    basis, extra = ordered[:threshold], ordered[threshold:]
    for s in extra:
        if _interpolate(basis, s.x, prime) != s.y:
            raise SecretSharingError(f"the share at x = {s.x} does not lie on the polynomial of the others")
    return _interpolate(basis, 0, prime)


def split_secret(
    secret: bytes, *, threshold: int, xs: Sequence[int], randomness: Callable[[int], bytes]
) -> tuple[Share, ...]:
    """:func:`split` for a 32-byte secret (read big-endian, so below 2^256 < :data:`PRIME`)."""
    if len(secret) != SECRET_SIZE:
        raise SecretSharingError(f"a shared secret is {SECRET_SIZE} bytes, got {len(secret)}")
    return split(int.from_bytes(secret, "big"), threshold=threshold, xs=xs, randomness=randomness)


def recover_secret(shares: Sequence[Share], *, threshold: int) -> bytes:
    """The 32-byte secret behind shares made by :func:`split_secret`."""
    value = reconstruct(shares, threshold=threshold)
    if value >> (8 * SECRET_SIZE):
        raise SecretSharingError("the shares reconstruct a value that is no 32-byte secret: a share is wrong")
    return value.to_bytes(SECRET_SIZE, "big")
