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
    ├── InvalidCheckpoint         a signed note or checkpoint is malformed or carries no valid signature
    ├── SecretSharingError        Shamir shares that cannot be made or do not reconstruct (names the rule)
    └── SecureAggregationError    a secure-aggregation round that cannot go on (names the rule)
        ├── UnmaskRefused         a member refuses to unmask: the logged survivor set breaks a rule
        └── ReconstructionFailed  a round's sum cannot be rebuilt from its transcript (names the rule)

Messages name what failed so that a person can act on it (which field, which table, which rule), except for the
two crypto errors: they are opaque on purpose, so that an attacker learns nothing about which check failed.
Nothing secret or decrypted ever appears in an error message.
"""

from __future__ import annotations

__all__ = [
    "N_",
    "DecryptionFailed",
    "InvalidCheckpoint",
    "InvalidProof",
    "InvalidPublicKey",
    "InvalidSignature",
    "MalformedMessage",
    "NonCanonicalEncoding",
    "ProtocolError",
    "ReconstructionFailed",
    "SecretSharingError",
    "SecureAggregationError",
    "SecureGroupViolation",
    "TaxonomyViolation",
    "UnmaskRefused",
    "UnsupportedVersion",
]


def N_(message: str) -> str:
    """Mark ``message`` (a sentence with named placeholders) for extraction into the hub's catalogue: the protocol
    translates nothing, the hub's dashboard shows it translated (:class:`protocol.combination.NotAnswerable`)."""
    return message


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


class SecretSharingError(ProtocolError):
    """Shamir shares that cannot be made (bad threshold, x-coordinates) or do not reconstruct a secret."""


class SecureAggregationError(ProtocolError):
    """A secure-aggregation round, or one member's part of it, that cannot go on; the message names the rule."""


class UnmaskRefused(SecureAggregationError):
    """A member refuses to reveal any share, because the survivor set the hub logged breaks ``rule``.

    ``rule`` is one of ``own-vector-missing``, ``below-threshold``, ``not-in-roster``, ``not-committed``.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class ReconstructionFailed(SecureAggregationError):
    """A round's sum cannot be rebuilt from the logged messages, because of ``rule``.

    ``rule`` is one of ``missing-vector``, ``share-inconsistent``, ``commitment-mismatch``,
    ``agreement-key-mismatch``, ``masks-do-not-cancel``.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
