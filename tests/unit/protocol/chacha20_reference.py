# SPDX-License-Identifier: Apache-2.0
"""RFC 8439 §2.3 ChaCha20 block function, written from the RFC's text: a test reference only.

It exists so that the keystream protocol.crypto takes from libsodium's AEAD can be checked, for any key, against
an independent reading of the standard. Never used outside the tests.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF


def _rotl(v: int, c: int) -> int:
    return ((v << c) & _MASK) | (v >> (32 - c))


def _quarter(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & _MASK
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & _MASK
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & _MASK
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & _MASK
    s[b] = _rotl(s[b] ^ s[c], 7)


def block(key: bytes, counter: int, nonce: bytes) -> bytes:
    """One 64-byte ChaCha20 block (RFC 8439 §2.3.1)."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += [*list(struct.unpack("<8I", key)), counter, *list(struct.unpack("<3I", nonce))]
    working = list(state)
    for _ in range(10):
        _quarter(working, 0, 4, 8, 12)
        _quarter(working, 1, 5, 9, 13)
        _quarter(working, 2, 6, 10, 14)
        _quarter(working, 3, 7, 11, 15)
        _quarter(working, 0, 5, 10, 15)
        _quarter(working, 1, 6, 11, 12)
        _quarter(working, 2, 7, 8, 13)
        _quarter(working, 3, 4, 9, 14)
    return struct.pack("<16I", *((w + s) & _MASK for w, s in zip(working, state, strict=True)))


def keystream(key: bytes, nonce: bytes, length: int, *, counter: int = 1) -> bytes:
    out = b"".join(block(key, counter + i, nonce) for i in range((length + 63) // 64))
    return out[:length]
