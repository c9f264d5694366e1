# SPDX-License-Identifier: Apache-2.0
"""The two kinds of mask and the keys they come from, shared by members (who add them) and by anyone who
reconstructs a round (who removes them).

* **Self-mask** of member u: ``expand(KDF(b_u, self-mask, group, period, round, [u]))``, from u's fresh 32-byte
  seed b_u. Its commitment, ``KDF(b_u, self-mask-commitment, ..., [u])``, is published with u's shares, so a
  reconstructed seed can be checked.
* **Pairwise mask** of u and v: ``expand(KDF(X25519(a_u, A_v), mask, group, period, round, [first, second]))``
  with the pair in roster order; the earlier member adds it, the later one subtracts it, so it cancels in the
  sum. a_u, A_v are the members' *round* agreement keys.

``expand`` is :func:`protocol.crypto.expand_mod` with k = 64, ``KDF`` is :func:`protocol.crypto.derive_key`.
"""

from __future__ import annotations

from protocol.crypto import derive_key, expand_mod, kdf_context
from protocol.secagg.encoding import MODULUS_BITS
from protocol.secagg.messages import RoundRoster

__all__ = ["pair_sign", "pairwise_mask", "self_mask", "self_mask_commitment"]


def _context(roster: RoundRoster, purpose: str, members: tuple[str, ...]) -> bytes:
    return kdf_context(
        purpose=purpose, group=roster.group, period=roster.period, round_number=roster.round, members=members
    )


def self_mask(seed: bytes, *, roster: RoundRoster, member: str) -> list[int]:
    """Member ``member``'s self-mask for this round, from its seed."""
    key = derive_key(seed, _context(roster, "self-mask", (member,)))
    return expand_mod(key, roster.vector_length, MODULUS_BITS)


def self_mask_commitment(seed: bytes, *, roster: RoundRoster, member: str) -> bytes:
    """The 32 bytes that bind a member to its self-mask seed (published with its shares)."""
    return derive_key(seed, _context(roster, "self-mask-commitment", (member,)))


def _ordered(roster: RoundRoster, a: str, b: str) -> tuple[str, str]:
    return (a, b) if roster.index(a) < roster.index(b) else (b, a)


def pair_sign(roster: RoundRoster, member: str, other: str) -> int:
    """+1 if ``member`` comes before ``other`` in the roster (it adds the pair's mask), else -1."""
    return 1 if roster.index(member) < roster.index(other) else -1


def pairwise_mask(shared_secret: bytes, *, roster: RoundRoster, a: str, b: str) -> list[int]:
    """The mask of the pair {a, b} from their X25519 shared secret (the same whichever of them computes it)."""
    key = derive_key(shared_secret, _context(roster, "mask", _ordered(roster, a, b)))
    return expand_mod(key, roster.vector_length, MODULUS_BITS)
