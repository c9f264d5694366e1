# SPDX-License-Identifier: Apache-2.0
"""RFC 6962 / RFC 9162 Merkle trees: hashes, proofs, proof verification, and a node scheme for storage.

The tree is the one of RFC 6962 §2.1 (SHA-256, ``0x00`` leaf prefix, ``0x01`` node prefix); its shape is
fixed by the number of leaves. Every function here takes *leaf hashes* (:func:`leaf_hash` of the entry
bytes), never raw entries.

Two ways to produce proofs, which always give identical results:

* **From the list of leaf hashes** (:func:`root_hash`, :func:`inclusion_proof`, :func:`consistency_proof`):
  O(n) hashing, for tests, monitors and a full audit (``fsck``) that rebuilds the tree.
* **From stored perfect subtrees** (for the hub). A *perfect node* :class:`NodeID` ``(level, index)`` is
  the hash of the aligned, complete subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.
  Such a hash never changes once its last leaf is appended, so the hub keeps one table keyed by
  ``(level, index)`` and inserts, for each appended leaf, the nodes that append completes
  (:meth:`CompactRange.append` or :func:`nodes_completed_by_append`: the leaf itself plus one node per
  trailing one-bit of the leaf index, about two rows per leaf on average). Every root and proof of every
  tree size up to the current one is then a fold of O(log n) stored nodes: the ``*_node_ids`` functions
  say which ones to fetch (one batched query), the ``*_from_nodes`` functions assemble the result.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step (including step 4.b.ii) and raises
:class:`~protocol.errors.InvalidProof`. An inclusion proof does not bind the tree size on its own: always
take ``(tree_size, root)`` from one verified checkpoint.

>>> leaves = [leaf_hash(bytes([i])) for i in range(7)]
>>> root = root_hash(leaves)
>>> verify_inclusion(3, 7, leaves[3], inclusion_proof(3, leaves), root)
>>> verify_consistency(4, 7, root_hash(leaves[:4]), root, consistency_proof(4, leaves))
>>> store = {}
>>> frontier = CompactRange()
>>> for h in leaves:
...     store.update(frontier.append(h))
>>> frontier.root() == root_hash_from_nodes(7, store.__getitem__) == root
True
>>> inclusion_proof_from_nodes(3, 7, store.__getitem__) == inclusion_proof(3, leaves)
True
>>> verify_inclusion(4, 7, leaves[3], inclusion_proof(3, leaves), root)
Traceback (most recent call last):
...
protocol.errors.InvalidProof: inclusion proof does not lead to the expected root hash
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from protocol.errors import InvalidProof

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "GetNode",
    "NodeID",
    "consistency_proof",
    "consistency_proof_from_nodes",
    "consistency_proof_node_ids",
    "inclusion_proof",
    "inclusion_proof_from_nodes",
    "inclusion_proof_node_ids",
    "leaf_hash",
    "node_hash",
    "nodes_completed_by_append",
    "root_hash",
    "root_hash_from_nodes",
    "root_node_ids",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
#: ``MTH({})``: the root hash of the empty tree, SHA-256 of nothing.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


@dataclass(frozen=True, slots=True, order=True)
class NodeID:
    """A perfect subtree: leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaves."""

    level: int
    index: int

    @property
    def begin(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level


#: Looks up the stored hash of a perfect node (e.g. ``dict.__getitem__`` of a ``{NodeID: hash}`` mapping).
GetNode = Callable[[NodeID], bytes]


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# ------------------------------------------------------------------ from the list of leaf hashes


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of the tree whose leaf hashes are ``leaf_hashes``, in O(n) time and O(log n) memory."""
    frontier = CompactRange()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path (RFC 6962 ``PATH``) of leaf ``index`` in the tree of all ``leaf_hashes``."""
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf index {index} is outside a tree of size {len(leaf_hashes)}")
    return _sibling_path(_levels(leaf_hashes), 0, index)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 ``PROOF(old_size, D[n])`` for the tree of all ``leaf_hashes`` (empty if the sizes match).

    ``old_size`` 0 raises :class:`ValueError`: the empty tree is consistent with every tree and has no
    proof, so callers handle it before asking.
    """
    if not 0 < old_size <= len(leaf_hashes):
        raise ValueError(f"no consistency proof from size {old_size} to size {len(leaf_hashes)}")
    if old_size == len(leaf_hashes):
        return []
    levels = _levels(leaf_hashes)
    # The old tree's last perfect node; the proof is its path up the new tree, preceded by the node
    # itself unless it is the whole old tree (old_size a power of two).
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    head = [levels[level][index]] if index else []
    return head + _sibling_path(levels, level, index)


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, bottom up; an unpaired last node is carried up unchanged."""
    for h in leaf_hashes:
        _check_hash_arg(h)
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def _sibling_path(levels: list[list[bytes]], level: int, index: int) -> list[bytes]:
    path = []
    for row in levels[level:-1]:
        if index ^ 1 < len(row):
            path.append(row[index ^ 1])
        index >>= 1
    return path


# ------------------------------------------------------------------ from stored perfect nodes


class CompactRange:
    """The frontier of an append-only tree: the perfect nodes covering leaves ``[0, size)``.

    One node per one-bit of ``size``, largest (leftmost) first. The hub rebuilds it with
    :meth:`from_nodes`, calls :meth:`append` per new leaf and stores every node it returns.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a compact range of size {size} has {max(size, 0).bit_count()} hashes")
        for h in hashes:
            _check_hash_arg(h)
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def from_nodes(cls, size: int, get_node: GetNode) -> CompactRange:
        return cls(size, [get_node(node) for node in root_node_ids(size)])

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[NodeID, bytes]]:
        """Append one leaf hash; return the perfect nodes it completes (the leaf first, then upwards)."""
        _check_hash_arg(leaf)
        index, level, h = self._size, 0, leaf
        completed = [(NodeID(0, index), h)]
        while index & 1:
            h = node_hash(self._hashes.pop(), h)
            level, index = level + 1, index >> 1
            completed.append((NodeID(level, index), h))
        self._hashes.append(h)
        self._size += 1
        return completed

    def root(self) -> bytes:
        return _fold(self._hashes)


def nodes_completed_by_append(leaf_index: int, leaf: bytes, get_node: GetNode) -> list[tuple[NodeID, bytes]]:
    """Like :meth:`CompactRange.append`, fetching the left siblings (at most log2 n) from storage."""
    _check_hash_arg(leaf)
    if leaf_index < 0:
        raise ValueError("a leaf index is never negative")
    index, level, h = leaf_index, 0, leaf
    completed = [(NodeID(0, index), h)]
    while index & 1:
        h = node_hash(get_node(NodeID(level, index - 1)), h)
        level, index = level + 1, index >> 1
        completed.append((NodeID(level, index), h))
    return completed


def root_node_ids(size: int) -> list[NodeID]:
    """The perfect nodes whose fold is the root of the tree of ``size`` leaves (its compact range)."""
    if size < 0:
        raise ValueError("a tree size is never negative")
    return _perfect_nodes(0, size)


def inclusion_proof_node_ids(index: int, size: int) -> list[NodeID]:
    """Every perfect node :func:`inclusion_proof_from_nodes` will look up, for one batched fetch."""
    return [n for begin, end in _inclusion_ranges(index, size) for n in _perfect_nodes(begin, end)]


def consistency_proof_node_ids(old_size: int, new_size: int) -> list[NodeID]:
    """Every perfect node :func:`consistency_proof_from_nodes` will look up, for one batched fetch."""
    ranges = _consistency_ranges(old_size, new_size)
    return [n for begin, end in ranges for n in _perfect_nodes(begin, end)]


def root_hash_from_nodes(size: int, get_node: GetNode) -> bytes:
    return _fold([get_node(n) for n in root_node_ids(size)])


def inclusion_proof_from_nodes(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Same as :func:`inclusion_proof` for a tree of ``size`` leaves, in O(log n) node lookups."""
    return [_range_hash(b, e, get_node) for b, e in _inclusion_ranges(index, size)]


def consistency_proof_from_nodes(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """Same as :func:`consistency_proof`, in O(log n) node lookups."""
    return [_range_hash(b, e, get_node) for b, e in _consistency_ranges(old_size, new_size)]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose ``MTH`` form ``PATH(index, D[size])``, walking RFC 6962 §2.1.1 top-down."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges, begin, end = [], 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    return ranges[::-1]


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose ``MTH`` form ``PROOF(old_size, D[new_size])`` (RFC 6962 §2.1.2)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    ranges, begin, end, whole_old_tree = [], 0, new_size, True
    while end != old_size:
        k = _split(end - begin)
        if old_size - begin <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin, whole_old_tree = begin + k, False
    if not whole_old_tree:
        ranges.append((begin, end))
    return ranges[::-1]


def _perfect_nodes(begin: int, end: int) -> list[NodeID]:
    """Split ``[begin, end)`` (with ``begin`` aligned, as every RFC 6962 subtree is) into perfect nodes."""
    nodes, width = [], end - begin
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            if begin & ((1 << level) - 1):  # pragma: no cover - every caller's range is an RFC 6962 subtree
                raise ValueError(f"range starting at {begin} is not an RFC 6962 subtree")
            nodes.append(NodeID(level, begin >> level))
            begin += 1 << level
    return nodes


def _range_hash(begin: int, end: int, get_node: GetNode) -> bytes:
    return _fold([get_node(n) for n in _perfect_nodes(begin, end)])


def _fold(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a tree given its compact range: fold right to left."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): the ``k`` of RFC 6962 §2.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash_arg(h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ValueError(f"a leaf or node hash is {HASH_SIZE} bytes, got {len(h)}")


# ------------------------------------------------------------------ verification (RFC 9162)


def verify_inclusion(index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is leaf ``index`` of the tree of ``tree_size`` leaves with hash ``root``.

    RFC 9162 §2.1.3.2. Returns ``None`` on success and raises :class:`InvalidProof` otherwise.
    """
    if index < 0 or tree_size < 0:
        raise InvalidProof("leaf index and tree size must not be negative")
    if index >= tree_size:
        raise InvalidProof(f"leaf index {index} is not below tree size {tree_size}")
    _check_hashes(leaf=leaf, root=root, proof=proof)
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InvalidProof("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:  # step 4.b.ii: skip levels where our node has no sibling
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("inclusion proof is shorter than the tree is deep")
    if not hmac.compare_digest(r, root):
        raise InvalidProof("inclusion proof does not lead to the expected root hash")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``.

    RFC 9162 §2.1.4.2. ``old_size`` 0 is refused, as transparency-dev/merkle does: the empty tree is
    consistent with every tree, so the caller accepts it without a proof (C2SP tlog-witness) and never
    asks. Equal sizes need an empty proof and equal roots.
    """
    if old_size < 0 or new_size < 0:
        raise InvalidProof("tree sizes must not be negative")
    if old_size > new_size:
        raise InvalidProof(f"old size {old_size} is larger than new size {new_size}")
    _check_hashes(old_root=old_root, new_root=new_root, proof=proof)
    if old_size == 0:
        raise InvalidProof("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if proof:
            raise InvalidProof("a consistency proof between equal sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise InvalidProof(f"two different root hashes for the same size {old_size}")
        return
    if not proof:
        raise InvalidProof("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: a power of two is its own first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("consistency proof is shorter than the tree is deep")
    if not hmac.compare_digest(fr, old_root):
        raise InvalidProof("consistency proof does not lead to the old root hash")
    if not hmac.compare_digest(sr, new_root):
        raise InvalidProof("consistency proof does not lead to the new root hash")


def _check_hashes(*, proof: Sequence[bytes], **named: bytes) -> None:
    for what, h in named.items():
        if len(h) != HASH_SIZE:
            raise InvalidProof(f"{what.replace('_', ' ')} must be {HASH_SIZE} bytes, got {len(h)}")
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise InvalidProof(f"proof element {i} must be {HASH_SIZE} bytes, got {len(p)}")
