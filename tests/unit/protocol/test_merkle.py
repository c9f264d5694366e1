# SPDX-License-Identifier: Apache-2.0
"""protocol.merkle against the golden vectors, the RFC-literal reference, and systematic mutations."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import InvalidProof, ProtocolError
from protocol.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeID,
    consistency_proof,
    consistency_proof_from_nodes,
    consistency_proof_node_ids,
    inclusion_proof,
    inclusion_proof_from_nodes,
    inclusion_proof_node_ids,
    leaf_hash,
    node_hash,
    nodes_completed_by_append,
    root_hash,
    root_hash_from_nodes,
    root_node_ids,
    verify_consistency,
    verify_inclusion,
)
from tests.unit.protocol.merkle_reference import (
    ref_mth,
    ref_path,
    ref_proof,
    ref_verify_consistency,
    ref_verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "merkle" / "rfc6962.json").read_text(encoding="utf-8")
)
V_ENTRIES = [bytes.fromhex(h) for h in VECTORS["leaf_inputs"]]
V_LEAVES = [leaf_hash(d) for d in V_ENTRIES]

MAX_LEAVES = 1024  # the notes ask for every (i, n) and (m, n) up to about 2**10
ENTRIES = [i.to_bytes(4, "big") for i in range(MAX_LEAVES)]
LEAVES = [leaf_hash(d) for d in ENTRIES]


def _store(leaves: Sequence[bytes]) -> dict[NodeID, bytes]:
    """What the hub's node table holds after appending ``leaves`` one by one."""
    store: dict[NodeID, bytes] = {}
    frontier = CompactRange()
    for h in leaves:
        store.update(frontier.append(h))
    return store


STORE = _store(LEAVES)
V_STORE = _store(V_LEAVES)


@functools.cache
def ref_root(n: int) -> bytes:
    return ref_mth(ENTRIES[:n])


def raises_invalid(call: Any, *args: Any) -> bool:
    try:
        call(*args)
    except InvalidProof:
        return True
    return False


def flip(h: bytes, bit: int) -> bytes:
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


# ------------------------------------------------------------------ Appendix V: golden vectors


def test_leaf_and_node_hashes_match_v1() -> None:
    for name, expected in VECTORS["nodes"].items():
        level, index = int(name[1]), int(name[3])
        assert V_STORE[NodeID(level, index)].hex() == expected, name
        assert root_hash(V_LEAVES[index << level : (index + 1) << level]).hex() == expected, name
    assert [h.hex() for h in V_LEAVES] == [VECTORS["nodes"][f"L0[{i}]"] for i in range(8)]
    assert len(V_STORE) == 15


@pytest.mark.parametrize("n", range(9))
def test_roots_match_v2(n: int) -> None:
    expected = VECTORS["roots"][n]
    assert root_hash(V_LEAVES[:n]).hex() == expected
    assert ref_mth(V_ENTRIES[:n]).hex() == expected
    assert root_hash_from_nodes(n, V_STORE.__getitem__).hex() == expected
    assert CompactRange.from_nodes(n, V_STORE.__getitem__).root().hex() == expected


def test_base64_forms_and_hasher_vectors_v3() -> None:
    assert base64.b64encode(root_hash(V_LEAVES)).decode() == VECTORS["root_base64"]["8"]
    assert base64.b64encode(V_LEAVES[0]).decode() == VECTORS["leaf_hash_base64"]["0"]
    hasher = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == hasher["empty_tree"] == root_hash([]).hex()
    assert leaf_hash(b"").hex() == hasher["empty_leaf"] != hasher["empty_tree"]
    assert leaf_hash(b"L123456").hex() == hasher["leaf_L123456"]
    assert node_hash(b"N123", b"N456").hex() == hasher["children_N123_N456"]


def test_hash_domain_separation() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert a != b
    assert node_hash(a, b) != node_hash(b, a)
    assert node_hash(a, b) != leaf_hash(a + b)  # second-preimage resistance needs the prefixes
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_inclusion_vectors_v4(case: dict[str, Any]) -> None:
    index, size, proof = case["index"], case["size"], [bytes.fromhex(h) for h in case["proof"]]
    leaves = V_LEAVES[:size]
    assert inclusion_proof(index, leaves) == proof
    assert inclusion_proof_from_nodes(index, size, V_STORE.__getitem__) == proof
    assert ref_path(index, V_ENTRIES[:size]) == proof
    verify_inclusion(index, size, V_LEAVES[index], proof, bytes.fromhex(VECTORS["roots"][size]))


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}")
def test_consistency_vectors_v4(case: dict[str, Any]) -> None:
    m, n, proof = case["old_size"], case["new_size"], [bytes.fromhex(h) for h in case["proof"]]
    assert consistency_proof(m, V_LEAVES[:n]) == proof
    assert consistency_proof_from_nodes(m, n, V_STORE.__getitem__) == proof
    assert ref_proof(m, V_ENTRIES[:n]) == proof
    roots = VECTORS["roots"]
    verify_consistency(m, n, bytes.fromhex(roots[m]), bytes.fromhex(roots[n]), proof)


@pytest.mark.parametrize("m", range(1, 9))
def test_consistency_with_itself_is_empty(m: int) -> None:
    root = bytes.fromhex(VECTORS["roots"][m])
    assert consistency_proof(m, V_LEAVES[:m]) == []
    assert consistency_proof_from_nodes(m, m, V_STORE.__getitem__) == []
    verify_consistency(m, m, root, root, [])


def test_single_leaf_tree() -> None:
    assert inclusion_proof(0, V_LEAVES[:1]) == []
    verify_inclusion(0, 1, V_LEAVES[0], [], V_LEAVES[0])
    assert root_hash(V_LEAVES[:1]) == V_LEAVES[0]


def test_rfc6962_seven_leaf_worked_example() -> None:
    """RFC 6962 §2.1.3: the audit paths and consistency proofs of the figure, by letter."""
    entries = [bytes([i]) for i in range(7)]
    a, b, c, d, e, f, j = (leaf_hash(x) for x in entries)
    g, h, i = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l = node_hash(g, h), node_hash(i, j)  # noqa: E741 - the RFC's name
    leaves = [a, b, c, d, e, f, j]
    store = _store(leaves)
    assert root_hash(leaves) == node_hash(k, l) == ref_mth(entries)
    for index, path in {0: [b, h, l], 3: [c, g, l], 4: [f, j, k], 6: [i, k]}.items():
        assert inclusion_proof(index, leaves) == path
        assert inclusion_proof_from_nodes(index, 7, store.__getitem__) == path
        verify_inclusion(index, 7, leaves[index], path, node_hash(k, l))
    for m, proof in {3: [c, d, g, l], 4: [l], 6: [i, j, k]}.items():
        assert consistency_proof(m, leaves) == proof
        assert consistency_proof_from_nodes(m, 7, store.__getitem__) == proof
        verify_consistency(m, 7, root_hash(leaves[:m]), node_hash(k, l), proof)


# ------------------------------------------------------------------ pitfalls (notes A.4)


def _verify_inclusion_without_step_4bii(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """The broken variant the notes warn about (A.4.2); used only to show the border tests can fail."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        r = node_hash(p, r) if fn & 1 or fn == sn else node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


@pytest.mark.parametrize(("index", "size"), [(2, 3), (4, 5), (4, 6), (5, 6), (6, 7)])
def test_right_border_leaves_of_non_power_of_two_trees(index: int, size: int) -> None:
    proof = inclusion_proof(index, LEAVES[:size])
    assert proof == ref_path(index, ENTRIES[:size])
    verify_inclusion(index, size, LEAVES[index], proof, ref_root(size))
    assert not _verify_inclusion_without_step_4bii(index, size, LEAVES[index], proof, ref_root(size))
    # The same leaves seen through a consistency proof from the border leaf's tree.
    proof = consistency_proof(index + 1, LEAVES[:size])
    verify_consistency(index + 1, size, ref_root(index + 1), ref_root(size), proof)


def test_inclusion_proof_alone_does_not_bind_tree_size() -> None:
    """Notes A.4.1: 16 of the 36 (index, size <= 8) proofs also verify when told size + 1.

    Such a claim is false (no such tree of size + 1 is known), yet it verifies because it has exactly the
    shape RFC 6962 prescribes for size + 1: the reference verifier accepts the same 16. This is why the
    (size, root) pair must come from one signed checkpoint.
    """
    also_verifies = []
    for size in range(1, 9):
        for index in range(size):
            proof, root = inclusion_proof(index, LEAVES[:size]), ref_root(size)
            ours = not raises_invalid(verify_inclusion, index, size + 1, LEAVES[index], proof, root)
            assert ours == ref_verify_inclusion(index, size + 1, LEAVES[index], proof, root)
            if ours:
                also_verifies.append((index, size))
    assert len(also_verifies) == 16
    assert {(0, 3), (0, 5), (3, 5), (0, 6), (3, 6), (0, 7), (5, 7)} <= set(also_verifies)
    assert (2, 3) not in also_verifies


# ------------------------------------------------------------------ exhaustive small trees


def test_every_inclusion_proof_up_to_48_leaves() -> None:
    for size in range(1, 49):
        root = ref_root(size)
        assert root_hash(LEAVES[:size]) == root == root_hash_from_nodes(size, STORE.__getitem__)
        for index in range(size):
            proof = inclusion_proof(index, LEAVES[:size])
            assert proof == ref_path(index, ENTRIES[:size])
            assert proof == inclusion_proof_from_nodes(index, size, STORE.__getitem__)
            verify_inclusion(index, size, LEAVES[index], proof, root)


def test_every_consistency_proof_up_to_48_leaves() -> None:
    for n in range(1, 49):
        for m in range(1, n + 1):
            proof = consistency_proof(m, LEAVES[:n])
            assert proof == ref_proof(m, ENTRIES[:n]) == consistency_proof_from_nodes(m, n, STORE.__getitem__)
            assert len(proof) <= (n - 1).bit_length() + 1
            verify_consistency(m, n, ref_root(m), ref_root(n), proof)


# ------------------------------------------------------------------ properties

sizes = st.integers(min_value=1, max_value=MAX_LEAVES)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def old_and_new_size(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(min_value=1, max_value=new)), new


@settings(max_examples=300, deadline=None)
@given(index_and_size())
def test_inclusion_proofs_agree_and_verify(case: tuple[int, int]) -> None:
    index, size = case
    proof = inclusion_proof(index, LEAVES[:size])
    assert proof == ref_path(index, ENTRIES[:size])
    assert proof == inclusion_proof_from_nodes(index, size, STORE.__getitem__)
    assert set(inclusion_proof_node_ids(index, size)) <= set(STORE)
    assert len(inclusion_proof_node_ids(index, size)) <= 2 * size.bit_length()  # O(log n) lookups
    verify_inclusion(index, size, LEAVES[index], proof, root_hash(LEAVES[:size]))
    assert root_hash(LEAVES[:size]) == ref_root(size)


@settings(max_examples=300, deadline=None)
@given(old_and_new_size())
def test_consistency_proofs_agree_and_verify(case: tuple[int, int]) -> None:
    m, n = case
    proof = consistency_proof(m, LEAVES[:n])
    assert proof == ref_proof(m, ENTRIES[:n])
    assert proof == consistency_proof_from_nodes(m, n, STORE.__getitem__)
    assert len(consistency_proof_node_ids(m, n)) <= 2 * n.bit_length()
    verify_consistency(m, n, ref_root(m), ref_root(n), proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=MAX_LEAVES - 1), st.integers(min_value=0, max_value=40))
def test_resumed_compact_range_and_stateless_append_store_the_same_nodes(start: int, extra: int) -> None:
    """The hub's two ways to append: a frontier rebuilt from storage, or one lookup per left sibling."""
    end = min(start + extra, MAX_LEAVES)
    frontier = CompactRange.from_nodes(start, STORE.__getitem__)
    assert frontier.size == start
    assert frontier.hashes == tuple(STORE[node] for node in root_node_ids(start))
    for i in range(start, end):
        completed = frontier.append(LEAVES[i])
        assert completed == nodes_completed_by_append(i, LEAVES[i], STORE.__getitem__)
        for node, h in completed:
            assert STORE[node] == h == ref_mth(ENTRIES[node.begin : node.end])
        assert frontier.root() == ref_root(i + 1)


def test_the_node_table_holds_exactly_the_perfect_subtrees() -> None:
    expected = {NodeID(level, i) for level in range(MAX_LEAVES.bit_length()) for i in range(MAX_LEAVES >> level)}
    assert set(STORE) == expected
    assert len(STORE) < 2 * MAX_LEAVES


# ------------------------------------------------------------------ mutations


def _inclusion_mutations(index: int, size: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(claims that are false and must be rejected, claims whose verdict must match the reference)."""
    leaf, proof, root = LEAVES[index], inclusion_proof(index, LEAVES[:size]), ref_root(size)
    other_leaf = LEAVES[index + 1] if index + 1 < MAX_LEAVES else LEAVES[index - 1]
    must_fail: list[tuple[Any, ...]] = [
        (index, size, other_leaf, proof, root),
        (index, size, leaf, proof, flip(root, 0)),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, [*proof, proof[-1]] if proof else [leaf], root),
        (index + 1, size, leaf, proof, root),
        (index - 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, index, leaf, proof, root),
    ]
    if proof:
        must_fail.append((index, size, leaf, proof[:-1], root))
        must_fail.append((index, size, leaf, [], root))
    for j, p in enumerate(proof):
        for bit in (0, 7, 100, 255):
            must_fail.append((index, size, leaf, [*proof[:j], flip(p, bit), *proof[j + 1 :]], root))
    compare_to_reference = [(index, s, leaf, proof, root) for s in {size * 2, size // 2, size + 1, size - 1}]
    return must_fail, compare_to_reference


def _check_inclusion_mutations(index: int, size: int) -> None:
    must_fail, compare = _inclusion_mutations(index, size)
    for claim in must_fail:
        assert raises_invalid(verify_inclusion, *claim), claim[:2]
    for claim in compare:
        assert raises_invalid(verify_inclusion, *claim) != ref_verify_inclusion(*claim), claim[:2]


def _check_consistency_mutations(m: int, n: int) -> None:
    proof, old, new = consistency_proof(m, LEAVES[:n]), ref_root(m), ref_root(n)
    must_fail: list[tuple[Any, ...]] = [
        (m, n, flip(old, 3), new, proof),
        (m, n, old, flip(new, 3), proof),
        (m, n, old, new, [*proof, new]),
        (m, n, old, new, [old, *proof]),
    ]
    if m < n:
        must_fail += [
            (m, n, new, old, proof),  # swapped roots
            (m, n, old, new, proof[:-1]),
            (m, n, old, new, []),
            (n, m, new, old, proof),
        ]
        for j, p in enumerate(proof):
            for bit in (0, 9, 255):
                must_fail.append((m, n, old, new, [*proof[:j], flip(p, bit), *proof[j + 1 :]]))
    for claim in must_fail:
        assert raises_invalid(verify_consistency, *claim), claim[:2]
    for m2, n2 in {(m + 1, n), (m - 1, n), (m, n + 1), (m, n - 1), (m, 2 * n), (m, n // 2)}:
        claim = (m2, n2, old, new, proof)
        assert raises_invalid(verify_consistency, *claim) != ref_verify_consistency(*claim), (m2, n2)


def test_every_mutation_of_small_proofs() -> None:
    for size in range(1, 34):
        for index in range(size):
            _check_inclusion_mutations(index, size)
        for m in range(1, size + 1):
            _check_consistency_mutations(m, size)


@settings(max_examples=200, deadline=None)
@given(index_and_size())
def test_inclusion_mutations_are_rejected(case: tuple[int, int]) -> None:
    _check_inclusion_mutations(*case)


@settings(max_examples=200, deadline=None)
@given(old_and_new_size())
def test_consistency_mutations_are_rejected(case: tuple[int, int]) -> None:
    _check_consistency_mutations(*case)


# ------------------------------------------------------------------ argument checking


GOOD = LEAVES[0]


@pytest.mark.parametrize(
    "args",
    [
        (0, 0, GOOD, [], GOOD),  # empty tree has no leaves
        (1, 1, GOOD, [], GOOD),  # index == size
        (5, 3, GOOD, [], GOOD),
        (-1, 3, GOOD, [GOOD], GOOD),
        (0, -1, GOOD, [], GOOD),
        (0, 1, b"", [], b""),  # golden probe single-entry/empty-root-and-leaf
        (0, 1, GOOD[:31], [], GOOD[:31]),
        (0, 1, GOOD, [], GOOD + b"\x00"),
        (0, 2, GOOD, [GOOD[:31]], GOOD),
        (0, 2, GOOD, [b""], GOOD),
    ],
)
def test_verify_inclusion_rejects_bad_arguments(args: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidProof):
        verify_inclusion(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, EMPTY_ROOT, EMPTY_ROOT, []), "from the empty tree"),
        ((0, 5, EMPTY_ROOT, GOOD, []), "from the empty tree"),
        ((0, 5, EMPTY_ROOT, GOOD, [GOOD]), "from the empty tree"),
        ((4, 3, GOOD, GOOD, [GOOD]), "larger than new size"),
        ((-1, 3, GOOD, GOOD, [GOOD]), "negative"),
        ((1, -3, GOOD, GOOD, [GOOD]), "negative"),
        ((3, 3, GOOD, GOOD, [GOOD]), "must be empty"),
        ((3, 3, GOOD, LEAVES[1], []), "different root hashes"),
        ((3, 5, GOOD, LEAVES[1], []), "empty"),
        ((3, 5, b"", LEAVES[1], [GOOD]), "old root must be 32 bytes"),
        ((3, 5, GOOD, GOOD * 2, [GOOD]), "new root must be 32 bytes"),
        ((3, 5, GOOD, GOOD, [GOOD, b"\x00" * 31]), "proof element 1"),
    ],
)
def test_verify_consistency_rejects_bad_arguments(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidProof, match=message):
        verify_consistency(*args)


def test_invalid_proof_is_a_protocol_error() -> None:
    assert issubclass(InvalidProof, ProtocolError)


def test_generators_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(3, LEAVES[:3])
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(-1, LEAVES[:3])
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof_from_nodes(0, 0, STORE.__getitem__)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(0, LEAVES[:3])
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(4, LEAVES[:3])
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof_from_nodes(0, 3, STORE.__getitem__)
    with pytest.raises(ValueError, match="32 bytes"):
        root_hash([GOOD, b"short"])
    with pytest.raises(ValueError, match="32 bytes"):
        inclusion_proof(0, [GOOD, b"short"])
    with pytest.raises(ValueError, match="hashes"):
        CompactRange(3, [GOOD])
    with pytest.raises(ValueError, match="negative"):
        root_node_ids(-1)
    with pytest.raises(ValueError, match="negative"):
        nodes_completed_by_append(-1, GOOD, STORE.__getitem__)


def test_root_node_ids_is_the_compact_range() -> None:
    assert root_node_ids(0) == []
    assert root_node_ids(13) == [NodeID(3, 0), NodeID(2, 2), NodeID(0, 12)]
    assert [(n.begin, n.end) for n in root_node_ids(6)] == [(0, 4), (4, 6)]
    assert inclusion_proof_node_ids(2, 3) == [NodeID(1, 0)]
    assert consistency_proof_node_ids(6, 7) == [NodeID(1, 2), NodeID(0, 6), NodeID(2, 0)]
