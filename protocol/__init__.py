# SPDX-License-Identifier: Apache-2.0
"""tipshare protocol (``tipshare/1``): the pure library that node, hub and auditor share.

No I/O, no network, no database, no clock: time is passed in. The modules, by concern:

========================  =====================================================================
``protocol.errors``        the error tree (root :class:`ProtocolError`)
``protocol.taxonomy``      the taxonomy: dimensions, code lists, tables, dense cell order, hash
``protocol.messages``      payload, envelope, log entries, receipt (frozen pydantic models)
``protocol.canonical``     RFC 8785 canonical bytes, strict JSON parsing
``protocol.crypto``        keys, domain-separated Ed25519, sealed boxes, envelopes, X25519 agreement, the
                           secure-aggregation KDF, expander and share seal (only PyNaCl user)
``protocol.shamir``        Shamir t-of-n secret sharing over the smallest prime field above 2^256
``protocol.secagg``        secure aggregation: encoding, masks, a member's steps, reconstruction, audit
``protocol.edwards``       which rule an invalid Ed25519 public key breaks (canonical, on the curve, prime order)
``protocol.validation``    a payload checked against its taxonomy and its privacy declaration
``protocol.merkle``        RFC 6962 / 9162 Merkle tree, proofs and their verification
``protocol.note``          C2SP signed notes (Ed25519)
``protocol.checkpoint``    C2SP tlog checkpoints
``protocol.cosignature``   C2SP witness cosignatures, the add-checkpoint request, k-of-n witness policies
``protocol.receipt``       receipts: offline proof that a submission is in the log
``protocol.withdrawal``    the operator's signed withdrawal of a submission (a log entry)
``protocol.handover``      hub key handovers: signed by the old and new log key, followed from a pinned key
``protocol.accuracy``      variance and intervals of discrete Laplace / Gaussian noise and sums
``protocol.combination``   a question answered from every table that can answer it (least squares)
``protocol.bounds``        intervals of weighted sums of noise: exact, or provably conservative
``protocol.estimation``    the rows of an answer: publishing rules, p-values, Benjamini–Hochberg ranks
``protocol.allocation``    budget weights that minimise the expected error of the workload
``protocol.api``           response models of the HTTP API shared by hub, auditor and dashboard
========================  =====================================================================

See ``protocol/README.md`` for the whole round trip as runnable examples.
"""

from __future__ import annotations

from protocol.errors import (
    DecryptionFailed,
    InvalidCheckpoint,
    InvalidProof,
    InvalidSignature,
    MalformedMessage,
    NonCanonicalEncoding,
    ProtocolError,
    TaxonomyViolation,
    UnsupportedVersion,
)
from protocol.messages import PROTOCOL_VERSION

__all__ = [
    "PROTOCOL_VERSION",
    "DecryptionFailed",
    "InvalidCheckpoint",
    "InvalidProof",
    "InvalidSignature",
    "MalformedMessage",
    "NonCanonicalEncoding",
    "ProtocolError",
    "TaxonomyViolation",
    "UnsupportedVersion",
]
