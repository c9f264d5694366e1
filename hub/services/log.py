# SPDX-License-Identifier: Apache-2.0
"""The transparency log: an append-only RFC 6962 Merkle tree whose checkpoints the hub signs.

Storage: ``log_leaves`` (the entries), ``log_nodes`` (hashes of complete perfect subtrees, written once when
their last leaf arrives) and ``log_checkpoints`` (every signed note handed out). Roots and proofs of any past
tree size are folds of O(log n) stored nodes (see :mod:`protocol.merkle`).

Rules this service keeps:

* one writer at a time: :meth:`append` must run inside a write session (``BEGIN IMMEDIATE`` on SQLite, an
  advisory lock on PostgreSQL), so several hub workers cannot fork the log;
* before a checkpoint is signed, the new tree is proven consistent with the last signed checkpoint (from the
  stored nodes): if that fails, nothing is signed and :class:`~hub.errors.LogIntegrityError` is raised;
* the leaves table and the latest checkpoint agree on the size, or the append is refused;
* entry times never go back along the log: whoever builds an entry dates it with :meth:`entry_time`, inside the
  write session (so under the writer lock), which is never earlier than the entry before, even when a worker
  read its clock before another worker appended (auditors flag a backdated entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from hub.errors import BadRequest, LogIntegrityError, NotFound
from hub.models import HubMeta, LogCheckpoint, LogLeaf, LogNode
from protocol.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from protocol.errors import InvalidCheckpoint, InvalidProof
from protocol.merkle import (
    EMPTY_ROOT,
    NodeID,
    consistency_proof_from_nodes,
    consistency_proof_node_ids,
    inclusion_proof_from_nodes,
    inclusion_proof_node_ids,
    leaf_hash,
    nodes_completed_by_append,
    root_hash_from_nodes,
    root_node_ids,
    verify_consistency,
)
from protocol.note import NoteSigner

__all__ = ["Appended", "TransparencyLog"]


@dataclass(frozen=True, slots=True)
class Appended:
    index: int
    leaf_hash: bytes
    checkpoint: LogCheckpoint


class TransparencyLog:
    """The hub's log, bound to one database session and the hub's log signer."""

    def __init__(self, session: Session, *, signer: NoteSigner) -> None:
        self._session = session
        self._signer = signer
        self._nodes: dict[NodeID, bytes] = {}

    @property
    def origin(self) -> str:
        return self._signer.name

    # ------------------------------------------------------------------------------------------- reading

    def latest_checkpoint(self) -> LogCheckpoint | None:
        return self._session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)).first()

    def size(self) -> int:
        latest = self.latest_checkpoint()
        return 0 if latest is None else latest.size

    def checkpoint_at(self, size: int) -> LogCheckpoint:
        checkpoint = self._session.get(LogCheckpoint, size)
        if checkpoint is None:
            raise NotFound(f"the hub never signed a checkpoint of size {size}")
        return checkpoint

    def signed_by_current_key(self, note: str) -> bool:
        """Whether a stored checkpoint note carries this hub's current log key's signature (not only an older
        key's, from before a key handover)."""
        try:
            open_checkpoint(note, self._signer.verifier, origin=self.origin)
        except InvalidCheckpoint:
            return False
        return True

    def entries(self, start: int, end: int) -> list[LogLeaf]:
        """Leaves ``start <= index < end``."""
        query = select(LogLeaf).where(LogLeaf.index >= start, LogLeaf.index < end).order_by(LogLeaf.index)
        return list(self._session.scalars(query))

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._check_size(tree_size)
        if not 0 <= index < tree_size:
            raise BadRequest(f"leaf index {index} is not in a tree of size {tree_size}")
        self._load(inclusion_proof_node_ids(index, tree_size))
        return inclusion_proof_from_nodes(index, tree_size, self._get)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Proof that the tree of size ``first`` is a prefix of the tree of size ``second``.

        From the empty tree (``first == 0``) and between equal sizes the proof is empty.
        """
        self._check_size(second)
        if not 0 <= first <= second:
            raise BadRequest(f"no consistency proof from size {first} to size {second}")
        if first in (0, second):
            return []
        self._load(consistency_proof_node_ids(first, second))
        return consistency_proof_from_nodes(first, second, self._get)

    def root_at(self, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        self._load(root_node_ids(size))
        return root_hash_from_nodes(size, self._get)

    # ------------------------------------------------------------------------------------------- writing

    def entry_time(self, now: datetime) -> datetime:
        """The time to date the next entry with: ``now``, or the last entry's time if that is later (a clock read
        before another worker appended, or a clock set back). Call it under the writer lock, then append."""
        last = self._session.scalars(select(LogLeaf.appended_at).order_by(LogLeaf.index.desc()).limit(1)).first()
        return now if last is None or last <= now else last

    def append(self, data: bytes, *, kind: str, now: datetime, cosigners: Sequence[NoteSigner] = ()) -> Appended:
        """Append one entry and sign the new checkpoint. The caller holds the writer lock.

        ``cosigners`` sign the checkpoint too (a key handover's new log key). A process whose log key the log has
        handed over from refuses to append (it was not restarted after ``tipshare-hub keys rotate``).
        """
        handed_over_to = self._session.get(HubMeta, "log_vkey")
        if handed_over_to is not None and handed_over_to.value != self._signer.verifier.vkey:
            raise LogIntegrityError(
                "this hub process still holds a log key the log has handed over from; restart the hub to load "
                "the new key"
            )
        previous = self.latest_checkpoint()
        size = 0 if previous is None else previous.size
        last = self._session.scalar(select(func.max(LogLeaf.index)))
        stored = 0 if last is None else last + 1
        if stored != size:
            raise LogIntegrityError(f"the log holds {stored} leaves but its last checkpoint has size {size}")
        hashed = leaf_hash(data)
        self._session.add(LogLeaf(index=size, leaf_hash=hashed, data=data, kind=kind, appended_at=now))
        index, left_siblings = size, []
        level = 0
        while index & 1:
            left_siblings.append(NodeID(level, index - 1))
            level, index = level + 1, index >> 1
        self._load(left_siblings)
        completed = nodes_completed_by_append(size, hashed, self._get)
        for node, value in completed:
            self._session.add(LogNode(level=node.level, index=node.index, hash=value))
            self._nodes[node] = value
        new_size = size + 1
        root = self.root_at(new_size)
        if previous is not None:
            try:
                verify_consistency(
                    previous.size, new_size, previous.root_hash, root, self.consistency_proof_unchecked(size, new_size)
                )
            except InvalidProof as e:
                raise LogIntegrityError(f"refusing to sign: the new tree does not extend checkpoint {size}") from e
        checkpoint = LogCheckpoint(
            size=new_size,
            root_hash=root,
            note=sign_checkpoint(Checkpoint(self.origin, new_size, root), self._signer, *cosigners),
            signed_at=now,
        )
        self._session.add(checkpoint)
        self._session.flush()
        return Appended(index=size, leaf_hash=hashed, checkpoint=checkpoint)

    def consistency_proof_unchecked(self, first: int, second: int) -> list[bytes]:
        """Consistency proof for sizes that need not be signed yet (used while appending)."""
        self._load(consistency_proof_node_ids(first, second))
        return consistency_proof_from_nodes(first, second, self._get)

    # ------------------------------------------------------------------------------------------- helpers

    def _check_size(self, tree_size: int) -> None:
        if tree_size < 0 or tree_size > self.size():
            raise BadRequest(f"tree size {tree_size} is larger than the log ({self.size()} entries)")

    def _load(self, ids: list[NodeID]) -> None:
        missing = [node for node in ids if node not in self._nodes]
        if not missing:
            return
        keys = [(node.level, node.index) for node in missing]
        rows = self._session.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).where(tuple_(LogNode.level, LogNode.index).in_(keys))
        )
        for level, index, value in rows:
            self._nodes[NodeID(level, index)] = value

    def _get(self, node: NodeID) -> bytes:
        try:
            return self._nodes[node]
        except KeyError:
            raise LogIntegrityError(f"the log is missing its stored node {node}") from None
