# SPDX-License-Identifier: Apache-2.0
"""RFC 6962 §2.1, read literally: recursive MTH, PATH and PROOF/SUBPROOF over the raw entries ``D[n]``.

Used only by the tests, to cross-check :mod:`protocol.merkle` (like transparency-dev's
``testonly/reference_test.go``). Deliberately slow and independent: it does not import the module it checks.
The two ``ref_verify_*`` functions invert the same recursive definitions, so a proof is accepted exactly
when it has the structure the RFC prescribes for the claimed sizes.

>>> ref_path(0, [b"a"])
[]
>>> len(ref_proof(3, [bytes([i]) for i in range(7)]))
4
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n])."""
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _k(n)
    return _sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(entries)
    assert 0 <= m < n
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n."""
    assert 0 < m <= len(entries)
    return _subproof(m, entries, True)


def _subproof(m: int, entries: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if whole else [ref_mth(entries)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, entries[:k], whole), ref_mth(entries[k:])]
    return [*_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def ref_verify_inclusion(m: int, n: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` has PATH's shape for (m, n) and hashes ``leaf_hash`` up to ``root``."""
    if not 0 <= m < n:
        return False

    def up(m: int, n: int, proof: Sequence[bytes]) -> bytes | None:
        if n == 1:
            return leaf_hash if not proof else None
        if not proof:
            return None
        k, sibling = _k(n), proof[-1]
        if m < k:
            below = up(m, k, proof[:-1])
            return None if below is None else _node(below, sibling)
        below = up(m - k, n - k, proof[:-1])
        return None if below is None else _node(sibling, below)

    return up(m, n, proof) == root


def ref_verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True when ``proof`` has PROOF's shape for (m, n) and yields both roots (0 < m <= n)."""
    if not 0 < m <= n:
        return False

    def up(m: int, n: int, whole: bool, proof: Sequence[bytes]) -> tuple[bytes, bytes] | None:
        if m == n:
            if whole:
                return (old_root, old_root) if not proof else None
            return (proof[0], proof[0]) if len(proof) == 1 else None
        if not proof:
            return None
        k, sibling = _k(n), proof[-1]
        if m <= k:
            below = up(m, k, whole, proof[:-1])
            return None if below is None else (below[0], _node(below[1], sibling))
        below = up(m - k, n - k, False, proof[:-1])
        if below is None:
            return None
        return _node(sibling, below[0]), _node(sibling, below[1])

    return up(m, n, True, proof) == (old_root, new_root)
