# SPDX-License-Identifier: Apache-2.0
"""The operator's self-check of the transparency log (``tipshare-hub log verify``).

It rebuilds the Merkle tree from every stored leaf and holds it against what the hub signed:

* the leaves are numbered ``0 .. n-1`` without gaps, each stored leaf hash is the hash of the stored data, and
  each leaf parses as a log entry of the kind recorded next to it;
* every stored checkpoint carries a valid signature by the hub's log key of its time (after a key handover entry,
  which must be signed by the key before it, the new one) and commits to the root of exactly its first ``size``
  leaves, so no entry was changed after any checkpoint was handed out;
* every withdrawal entry carries a valid signature by the hub's log key of its time;
* the latest checkpoint covers every stored leaf, and the stored subtree hashes (what proofs are built from)
  fold to the same root.

It trusts the hub's key files, so it is a quick check for the operator, not an audit: auditors verify the same
log independently, with the published vkey, over the HTTP API.

>>> from hub.services.logcheck import check_log   # doctest: +SKIP
>>> check_log(session, signer=context.log_signer).ok   # doctest: +SKIP
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import HubError
from hub.models import LogCheckpoint, LogLeaf
from hub.services.handover import handover_indices
from hub.services.log import TransparencyLog
from protocol.checkpoint import open_checkpoint
from protocol.errors import ProtocolError
from protocol.handover import verify_handover
from protocol.merkle import EMPTY_ROOT, CompactRange, leaf_hash
from protocol.messages import HubKeyHandoverEntry, SubmissionWithdrawnEntry, parse_log_entry
from protocol.note import NoteSigner, NoteVerifier
from protocol.withdrawal import verify_withdrawal

__all__ = ["LogCheck", "check_log"]

#: Problems listed one by one; beyond this many, only their number is given.
_MAX_LISTED: Final = 20


@dataclass(frozen=True, slots=True)
class LogCheck:
    """What the self-check found: the rebuilt tree, how many checkpoints it checked, and any problems."""

    origin: str
    size: int
    root_hash: bytes
    checkpoints: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class _Problems:
    def __init__(self) -> None:
        self.listed: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.listed) < _MAX_LISTED:
            self.listed.append(text)

    def summary(self) -> tuple[str, ...]:
        more = self.count - len(self.listed)
        return (*self.listed, f"... and {more} more problems") if more else tuple(self.listed)


def check_log(session: Session, *, signer: NoteSigner) -> LogCheck:
    """Check the whole log in ``session`` against the checkpoints ``signer`` (the hub's log key) signed."""
    verifier = signer.verifier
    key = _first_log_key(session, verifier)
    problems = _Problems()
    checkpoints = {row.size: row for row in session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)).all()}
    frontier = CompactRange()
    rows = session.execute(
        select(LogLeaf.index, LogLeaf.leaf_hash, LogLeaf.data, LogLeaf.kind)
        .order_by(LogLeaf.index)
        .execution_options(yield_per=1000)
    )
    for position, (index, stored_hash, data, kind) in enumerate(rows):
        if index != position:
            problems.add(f"entry {position} is missing (the next stored entry is {index})")
        rebuilt = leaf_hash(data)
        handed_over: NoteVerifier | None = None
        if rebuilt != stored_hash:
            problems.add(
                f"entry {index}: its data does not hash to its stored leaf hash (it was changed after logging)"
            )
        try:
            entry = parse_log_entry(data)
        except (ProtocolError, ValueError):
            problems.add(f"entry {index}: its data is not a well-formed log entry")
        else:
            if entry.kind != kind:
                problems.add(f"entry {index}: its data is a {entry.kind} entry but it is recorded as {kind}")
            if isinstance(entry, SubmissionWithdrawnEntry):
                try:
                    verify_withdrawal(entry, [key])
                except ProtocolError:
                    problems.add(f"entry {index}: the withdrawal's signature does not verify with this hub's log key")
            if isinstance(entry, HubKeyHandoverEntry):
                handed_over = _handover(index, entry, key, problems)
        frontier.append(rebuilt)
        if (checkpoint := checkpoints.get(frontier.size)) is not None:
            _check_checkpoint(checkpoint, frontier.root(), key, problems)
        key = handed_over or key
    size, root = frontier.size, frontier.root() if frontier.size else EMPTY_ROOT
    for beyond in (s for s in checkpoints if s > size):
        problems.add(f"the checkpoint of size {beyond} covers entries the database does not hold")
    latest = max(checkpoints, default=0)
    if latest < size:
        problems.add(f"the log holds {size} entries but its latest checkpoint has size {latest}")
    if size:
        try:
            from_nodes = TransparencyLog(session, signer=signer).root_at(size)
        except HubError as e:
            problems.add(f"the stored subtree hashes are incomplete: {e}")
        else:
            if from_nodes != root:
                problems.add("the stored subtree hashes (used for proofs) do not fold to the rebuilt root")
    return LogCheck(
        origin=verifier.name, size=size, root_hash=root, checkpoints=len(checkpoints), problems=problems.summary()
    )


def _first_log_key(session: Session, current: NoteVerifier) -> NoteVerifier:
    """The log key the log started with: the previous key of the first handover, or the current key."""
    indices = handover_indices(session)
    first = session.get(LogLeaf, indices[0]) if indices else None
    if first is None:
        return current
    try:
        entry = parse_log_entry(first.data)
        return NoteVerifier.from_vkey(entry.previous_log_vkey) if isinstance(entry, HubKeyHandoverEntry) else current
    except ProtocolError:
        return current


def _handover(index: int, entry: HubKeyHandoverEntry, key: NoteVerifier, problems: _Problems) -> NoteVerifier | None:
    try:
        return verify_handover(entry, trusted=key)
    except ProtocolError as e:
        problems.add(f"entry {index}: {e}")
        return None


def _check_checkpoint(checkpoint: LogCheckpoint, rebuilt_root: bytes, key: NoteVerifier, problems: _Problems) -> None:
    size = checkpoint.size
    try:
        signed = open_checkpoint(checkpoint.note, key, origin=key.name)
    except ProtocolError:
        problems.add(f"checkpoint {size}: its signature does not verify with this hub's log key of that time")
        return
    if signed.size != size or signed.root_hash != checkpoint.root_hash:
        problems.add(f"checkpoint {size}: the signed note does not match the stored size and root")
    if signed.root_hash != rebuilt_root:
        problems.add(f"checkpoint {size}: it signs a root other than the root of the first {size} stored entries")
