# SPDX-License-Identifier: Apache-2.0
"""Every error the protocol library raises.

The tree (everything derives from :class:`ProtocolError`)::

    ProtocolError
    ├── MalformedMessage          bytes or fields that do not parse as the message they claim to be
    │   ├── NonCanonicalEncoding  valid JSON, but not the RFC 8785 bytes of its own value
    │   └── InvalidPublicKey      32 bytes that are not a canonical, prime-order Ed25519 point (names the rule)
    ├── UnsupportedVersion        a protocol version or message type this library does not speak
    ├── TaxonomyViolation         a taxonomy document, or data checked against one, breaks a rule
    ├── SecureGroupViolation      a secure group's threshold or noise shares cannot give its declared guarantee
    ├── InvalidSignature          a signature does not verify (deliberately says nothing more)
    ├── DecryptionFailed          a sealed box does not open (deliberately says nothing more)
    ├── InvalidProof              a Merkle inclusion or consistency proof does not verify
    └── InvalidCheckpoint         a signed note or checkpoint is malformed or carries no valid signature

Messages name what failed so that a person can act on it (which field, which table, which rule), except for the
two crypto errors: they are opaque on purpose, so that an attacker learns nothing about which check failed.
Nothing secret or decrypted ever appears in an error message.
"""

from __future__ import annotations

__all__ = [
    "DecryptionFailed",
    "InvalidCheckpoint",
    "InvalidProof",
    "InvalidPublicKey",
    "InvalidSignature",
    "MalformedMessage",
    "NonCanonicalEncoding",
    "ProtocolError",
    "SecureGroupViolation",
    "TaxonomyViolation",
    "UnsupportedVersion",
]


class ProtocolError(Exception):
    """Root of every error raised by :mod:`protocol`."""

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        return f"{type(self).__name__}: {self}"


class MalformedMessage(ProtocolError):
    """Bytes or fields that do not form a valid message of the expected kind."""


class NonCanonicalEncoding(MalformedMessage):
    """JSON that parses, but whose bytes are not the RFC 8785 canonical form of its value."""


class InvalidPublicKey(MalformedMessage):
    """An Ed25519 public key that is not a canonical encoding of a point of the prime-order subgroup.

    Not opaque: a public key is public, and the message names the rule it breaks so that whoever typed or
    published it can act (:mod:`protocol.edwards`).
    """


class UnsupportedVersion(ProtocolError):
    """A protocol version or message type that this library does not implement."""


class TaxonomyViolation(ProtocolError):
    """A taxonomy document is invalid, or data does not fit the taxonomy it names."""


class SecureGroupViolation(ProtocolError):
    """A secure group's threshold, or the noise shares of its round, cannot give the guarantee it declares."""


class InvalidSignature(ProtocolError):
    """A signature did not verify. Opaque on purpose: the message never says why."""

    def __init__(self, message: str = "signature verification failed") -> None:
        super().__init__(message)


class DecryptionFailed(ProtocolError):
    """A sealed box could not be opened. Opaque on purpose: the message never says why."""

    def __init__(self, message: str = "decryption failed") -> None:
        super().__init__(message)


class InvalidProof(ProtocolError):
    """A Merkle inclusion or consistency proof does not verify against the given roots."""


class InvalidCheckpoint(ProtocolError):
    """A signed note or checkpoint is malformed, or no trusted key signed it."""
