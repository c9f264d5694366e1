# SPDX-License-Identifier: Apache-2.0
"""The access log's hash chain and its signed checkpoints (``tipshare-access-log/1``), shared by hub and auditor.

Every record of the hub's access log carries the hash of the record before it and its own hash::

    hash(record) = SHA-256("tipshare-access-log/1\\n" || prev_hash || canonical_bytes(record.document()))

with ``prev_hash`` 32 zero bytes for the first record. The record's document (:meth:`AccessRecord.document`) is
its fields as the auditor reads them from ``GET /v1/audit/access-log``, in RFC 8785 canonical JSON. Its sequence
number is not hashed: the chain itself is the order, so a record moved elsewhere still verifies on its own but no
longer follows its predecessor (reported as out of order), while a record whose content changed no longer matches
its own hash (reported as edited).

A checkpoint is a C2SP signed note (:mod:`protocol.checkpoint`'s body) under the origin ``<log origin>/access-log``
signed with the hub's log key: the number of records and the hash of the last one. Anything edited, deleted or
reordered at or before a checkpoint's size no longer matches it, even if the chain was recomputed afterwards.

>>> record = AccessRecord(at="2026-11-21T12:00:00Z", token_id=3, role="coordinator", label="desk",
...     countries=("MD",), method="GET", path="/v1/stats/persons_corridor", query="group_by=period",
...     question={"group_by": ["period"]}, status=200, request_id="r-0001abcd")
>>> first = chain_hash(GENESIS, record)
>>> verify_chain([ChainedRecord(1, GENESIS, first, record)]) == []
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from protocol.canonical import canonical_bytes
from protocol.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from protocol.crypto import SigningKey
from protocol.errors import ProtocolError
from protocol.note import NoteSigner, NoteVerifier

__all__ = [
    "CHAIN_DOMAIN",
    "GENESIS",
    "ORIGIN_SUFFIX",
    "AccessRecord",
    "ChainFinding",
    "ChainedRecord",
    "FindingKind",
    "access_log_origin",
    "access_log_signer",
    "access_log_verifier",
    "chain_hash",
    "check_checkpoint",
    "open_access_checkpoint",
    "sign_access_checkpoint",
    "verify_chain",
]

#: Domain separation of the chain's hashes (the version is part of it).
CHAIN_DOMAIN: Final = b"tipshare-access-log/1\n"
#: The ``prev_hash`` of the first record.
GENESIS: Final = bytes(32)
#: Appended to the log's origin to name the access log's checkpoints (and the key name that signs them).
ORIGIN_SUFFIX: Final = "/access-log"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One request as the access log records it (what is hashed; times are ``YYYY-MM-DDTHH:MM:SSZ``)."""

    at: str
    token_id: int
    role: str
    label: str
    countries: tuple[str, ...] | None
    method: str
    path: str
    query: str
    question: Mapping[str, Any] | None
    status: int
    request_id: str | None

    def document(self) -> dict[str, Any]:
        """The hashed fields as a JSON object."""
        return {
            "at": self.at,
            "token_id": self.token_id,
            "role": self.role,
            "label": self.label,
            "countries": list(self.countries) if self.countries is not None else None,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "question": dict(self.question) if self.question is not None else None,
            "status": self.status,
            "request_id": self.request_id,
        }


def chain_hash(previous: bytes, record: AccessRecord) -> bytes:
    """The hash of ``record`` following the record whose hash is ``previous``."""
    if len(previous) != 32:
        raise ValueError(f"a chain hash is 32 bytes, got {len(previous)}")
    return hashlib.sha256(CHAIN_DOMAIN + previous + canonical_bytes(record.document())).digest()


@dataclass(frozen=True, slots=True)
class ChainedRecord:
    """A record as served: its sequence number (1, 2, ...), the hash it follows, its own hash, its fields."""

    seq: int
    prev_hash: bytes
    hash: bytes
    record: AccessRecord


FindingKind = Literal[
    "edited", "deleted", "out_of_order", "checkpoint_mismatch", "checkpoint_beyond_log", "checkpoint_invalid"
]


@dataclass(frozen=True, slots=True)
class ChainFinding:
    """Something wrong with the chain: what, at which sequence number, in words an auditor can act on."""

    kind: FindingKind
    seq: int
    message: str = field(compare=False)


def verify_chain(
    records: Iterable[ChainedRecord], *, previous: bytes = GENESIS, first_seq: int = 1
) -> list[ChainFinding]:
    """Check records served in sequence order: each matches its own hash, follows the one before it, and no
    sequence number is missing. Each problem is reported once, at the sequence number where it shows."""
    findings: list[ChainFinding] = []
    expected = first_seq
    for item in records:
        if item.seq > expected:
            missing = f"{expected}" if item.seq == expected + 1 else f"{expected} to {item.seq - 1}"
            findings.append(ChainFinding("deleted", expected, f"record(s) {missing} are missing: deleted"))
        elif item.seq < expected:
            findings.append(
                ChainFinding("out_of_order", item.seq, f"record {item.seq} is served after record {expected - 1}")
            )
        if chain_hash(item.prev_hash, item.record) != item.hash:
            findings.append(
                ChainFinding("edited", item.seq, f"record {item.seq} does not match its hash: it was edited")
            )
        elif item.prev_hash != previous and item.seq == expected:
            findings.append(
                ChainFinding(
                    "out_of_order",
                    item.seq,
                    f"record {item.seq} does not follow record {item.seq - 1}: records were reordered, or deleted "
                    "and renumbered, before it",
                )
            )
        previous = item.hash
        expected = max(expected, item.seq + 1)
    return findings


def check_checkpoint(checkpoint: Checkpoint, hashes: Mapping[int, bytes]) -> ChainFinding | None:
    """Whether the record at the checkpoint's size has the checkpoint's hash (``hashes``: seq -> served hash)."""
    if checkpoint.size == 0:
        return None
    served = hashes.get(checkpoint.size)
    if served is None:
        return ChainFinding(
            "checkpoint_beyond_log",
            checkpoint.size,
            f"a checkpoint signs {checkpoint.size} records but record {checkpoint.size} is not served: records "
            "were deleted",
        )
    if served != checkpoint.root_hash:
        return ChainFinding(
            "checkpoint_mismatch",
            checkpoint.size,
            f"the signed checkpoint of {checkpoint.size} records does not match record {checkpoint.size}: a record "
            f"at or before {checkpoint.size} was edited, deleted or reordered after it was signed",
        )
    return None


def access_log_origin(log_origin: str) -> str:
    """The origin line (and key name) of the access log's checkpoints."""
    return log_origin + ORIGIN_SUFFIX


def access_log_signer(log_origin: str, key: SigningKey) -> NoteSigner:
    """The log's key under the access log's name."""
    return NoteSigner(access_log_origin(log_origin), key)


def access_log_verifier(log_verifier: NoteVerifier) -> NoteVerifier:
    """The log's verifier under the access log's name: the same key, so a pinned log key checks both."""
    return NoteVerifier(access_log_origin(log_verifier.name), log_verifier.key)


def sign_access_checkpoint(signer: NoteSigner, size: int, head: bytes) -> str:
    """A checkpoint of the first ``size`` records, ``head`` the hash of the last (``GENESIS`` for none)."""
    return sign_checkpoint(Checkpoint(signer.name, size, head), signer)


def open_access_checkpoint(note: str, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    """Verify a checkpoint with any of the log's verifiers (already under the access log's name)."""
    error: ProtocolError | None = None
    for verifier in verifiers:
        try:
            return open_checkpoint(note, verifier)
        except ProtocolError as e:  # the next key may verify it; the last error is raised
            error = e
    if error is None:
        raise ValueError("no key to verify the access log checkpoint with")
    raise error
