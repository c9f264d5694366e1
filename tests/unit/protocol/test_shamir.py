# SPDX-License-Identifier: Apache-2.0
"""Shamir t-of-n: a hand-checkable vector, the field, properties, refusals."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import SecretSharingError
from protocol.shamir import (
    PRIME,
    SHARE_SIZE,
    Share,
    reconstruct,
    recover_secret,
    split,
    split_secret,
)


def _stream(seed: bytes) -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: hashlib.shake_256(seed + next(counter).to_bytes(4, "big")).digest(n)


def _is_probable_prime(n: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def test_the_field_is_the_smallest_prime_above_2_256() -> None:
    assert _is_probable_prime(PRIME)
    assert not any(_is_probable_prime(2**256 + k) for k in range(1, 297))
    assert PRIME.bit_length() == 257
    assert PRIME.bit_length() <= SHARE_SIZE * 8


def test_hand_checkable_vector() -> None:
    """f(x) = 1234 + 166x + 94x^2 mod 1613 (the textbook example): shares at 1..6, any 3 give 1234."""
    draws = iter([(166).to_bytes(18, "big"), (94).to_bytes(18, "big")])
    shares = split(1234, threshold=3, xs=range(1, 7), randomness=lambda n: next(draws), prime=1613)
    assert [(s.x, s.y) for s in shares] == [(1, 1494), (2, 329), (3, 965), (4, 176), (5, 1188), (6, 775)]
    for subset in itertools.combinations(shares, 3):
        assert reconstruct(subset, threshold=3, prime=1613) == 1234


@settings(max_examples=25, deadline=None)
@given(
    secret=st.binary(min_size=32, max_size=32),
    n=st.integers(2, 12),
    data=st.data(),
)
def test_any_t_of_n_reconstruct_a_32_byte_secret(secret: bytes, n: int, data: st.DataObject) -> None:
    t = data.draw(st.integers(1, n))
    shares = split_secret(secret, threshold=t, xs=list(range(1, n + 1)), randomness=_stream(secret))
    chosen = data.draw(st.lists(st.sampled_from(shares), min_size=t, max_size=n, unique=True))
    assert recover_secret(chosen, threshold=t) == secret


def test_fewer_than_t_shares_are_consistent_with_every_secret() -> None:
    """In GF(11), 2-of-3 shares of a 3-of-n sharing: over all polynomials, every secret is equally likely."""
    prime, xs = 11, [1, 2, 3]
    seen: dict[tuple[int, int], Counter[int]] = {}
    for secret, a1, a2 in itertools.product(range(prime), repeat=3):
        draws = iter([a1.to_bytes(17, "big"), a2.to_bytes(17, "big")])
        shares = split(secret, threshold=3, xs=xs, randomness=lambda n, d=draws: next(d), prime=prime)
        seen.setdefault((shares[0].y, shares[1].y), Counter())[secret] += 1
    assert len(seen) == prime * prime
    for counts in seen.values():
        assert set(counts) == set(range(prime))
        assert set(counts.values()) == {1}


def test_a_tampered_share_beyond_t_is_found() -> None:
    secret = bytes(range(32))
    shares = split_secret(secret, threshold=3, xs=[1, 2, 3, 4, 5], randomness=_stream(b"t"))
    bad = (*shares[:4], Share(x=5, y=(shares[4].y + 1) % PRIME))
    with pytest.raises(SecretSharingError, match="x = 5 does not lie on the polynomial"):
        recover_secret(bad, threshold=3)
    assert recover_secret(bad[:4], threshold=3) == secret


def test_a_tampered_share_within_t_changes_the_secret() -> None:
    """With exactly t shares nothing can be cross-checked: the value changes (the round's commitments catch it)."""
    secret = bytes(range(32))
    shares = split_secret(secret, threshold=3, xs=[1, 2, 3], randomness=_stream(b"u"))
    bad = (shares[0], shares[1], Share(x=3, y=(shares[2].y + 1) % PRIME))
    assert reconstruct(bad, threshold=3) != int.from_bytes(secret, "big")


def test_a_value_beyond_32_bytes_is_no_secret() -> None:
    shares = split(2**256 + 5, threshold=2, xs=[1, 2], randomness=_stream(b"w"))
    with pytest.raises(SecretSharingError, match="no 32-byte secret"):
        recover_secret(shares, threshold=2)


def test_share_bytes_round_trip() -> None:
    share = Share(x=4, y=PRIME - 1)
    assert Share.from_y_bytes(4, share.y_bytes()) == share
    with pytest.raises(SecretSharingError, match="33 bytes"):
        Share.from_y_bytes(4, bytes(32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xs": [1, 2, 2]}, "same x-coordinate"),
        ({"xs": [0, 1, 2]}, "x-coordinate is 1"),
        ({"xs": [1, 2, PRIME]}, "x-coordinate is 1"),
        ({"threshold": 4}, "threshold must be 1 to the number of shares"),
        ({"threshold": 0}, "threshold must be 1"),
        ({"secret": PRIME}, "not an element"),
        ({"secret": -1}, "not an element"),
        ({"randomness": lambda n: bytes(n - 1)}, "returned 48 bytes, 49"),
    ],
)
def test_split_refusals(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"secret": 5, "threshold": 2, "xs": [1, 2, 3], "randomness": _stream(b"r")}
    with pytest.raises(SecretSharingError, match=message):
        split(**(arguments | kwargs))  # type: ignore[arg-type]


def test_reconstruct_refusals() -> None:
    shares = split(5, threshold=3, xs=[1, 2, 3, 4], randomness=_stream(b"s"))
    with pytest.raises(SecretSharingError, match="2 shares cannot reconstruct a secret shared 3-of-n"):
        reconstruct(shares[:2], threshold=3)
    with pytest.raises(SecretSharingError, match="same x-coordinate"):
        reconstruct([shares[0], shares[1], shares[0]], threshold=3)
    with pytest.raises(SecretSharingError, match="x-coordinate is 1"):
        reconstruct([Share(x=0, y=5), shares[1], shares[2]], threshold=3)
    with pytest.raises(SecretSharingError, match="not an element of the field"):
        reconstruct([Share(x=9, y=PRIME), shares[1], shares[2]], threshold=3)
    with pytest.raises(SecretSharingError, match="at least 1"):
        reconstruct(shares, threshold=0)
    with pytest.raises(SecretSharingError, match="32 bytes"):
        split_secret(bytes(31), threshold=2, xs=[1, 2], randomness=_stream(b"v"))
