# SPDX-License-Identifier: Apache-2.0
"""protocol.checkpoint: C2SP checkpoint bodies and signed checkpoint notes."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.checkpoint import MAX_TREE_SIZE, Checkpoint, open_checkpoint, sign_checkpoint
from protocol.crypto import SigningKey
from protocol.errors import InvalidCheckpoint
from protocol.merkle import EMPTY_ROOT, leaf_hash, root_hash
from protocol.note import NoteSigner, open_note, sign_note

ORIGIN = "example.org/hub-test"
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
BODY_8 = "example.org/hub-test\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"  # notes Appendix V.6
CP_8 = Checkpoint(ORIGIN, 8, ROOT_8)

LOG = NoteSigner(ORIGIN, SigningKey(bytes([7]) * 32))
WITNESS = NoteSigner("witness.example/w1", SigningKey(bytes([8]) * 32))
OTHER_LOG = NoteSigner("example.org/other-log", SigningKey(bytes([9]) * 32))


# ------------------------------------------------------------------ bodies


def test_body_of_the_8_leaf_vector_tree() -> None:
    leaves = [leaf_hash(bytes.fromhex(h)) for h in ("", "00", "10", "2021", "3031", "40414243")]
    leaves += [leaf_hash(bytes.fromhex("5051525354555657")), leaf_hash(bytes(range(0x60, 0x70)))]
    assert root_hash(leaves) == ROOT_8
    assert CP_8.body() == BODY_8
    assert Checkpoint.parse_body(BODY_8) == CP_8


def test_body_layout_follows_transparency_dev_marshal() -> None:
    """formats TestMarshal's layout (origin, decimal size, standard base64 with padding), 32-byte roots."""
    root = bytes(range(32))
    assert Checkpoint("Log", 123, root).body() == "Log\n123\n" + base64.b64encode(root).decode() + "\n"
    assert Checkpoint("Banana", 9944, root).body().startswith("Banana\n9944\nAAECAwQF")
    assert Checkpoint("Log", 0, EMPTY_ROOT).body() == "Log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"


@pytest.mark.parametrize(
    "body",
    [
        "Log\n123\nYmFuYW5hcw==\n",  # formats TestMarshal vector: "bananas" is not a 32-byte root
        "Banana\n9944\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
    ],
)
def test_marshal_vectors_with_non_sha256_roots_are_refused(body: str) -> None:
    with pytest.raises(InvalidCheckpoint, match="32 bytes"):
        Checkpoint.parse_body(body)


def test_extension_lines_are_kept_in_order() -> None:
    body = BODY_8 + "ext one\nsecond — extension\n"
    cp = Checkpoint.parse_body(body)
    assert cp.extensions == ("ext one", "second — extension")
    assert dataclasses.replace(cp, extensions=()) == CP_8
    assert cp.body() == body


def test_largest_tree_size() -> None:
    body = f"{ORIGIN}\n{MAX_TREE_SIZE}\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    assert Checkpoint.parse_body(body).size == 2**64 - 1


B64 = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty"),
        pytest.param(f"{ORIGIN}\n8\n", id="too-few-lines"),
        pytest.param(f"{ORIGIN}\n", id="one-line"),
        pytest.param(f"\n8\n{B64}\n", id="empty-origin"),
        pytest.param(f"{ORIGIN}\n8\n{B64}", id="root-line-missing-newline"),
        pytest.param(f"{ORIGIN}\nbananas\n{B64}\n", id="non-numeric-size"),
        pytest.param(f"{ORIGIN}\n-8\n{B64}\n", id="negative-size"),
        pytest.param(f"{ORIGIN}\n+8\n{B64}\n", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n08\n{B64}\n", id="leading-zero"),
        pytest.param(f"{ORIGIN}\n00\n{B64}\n", id="double-zero"),
        pytest.param(f"{ORIGIN}\n 8\n{B64}\n", id="space-before-size"),
        pytest.param(f"{ORIGIN}\n8 \n{B64}\n", id="space-after-size"),
        pytest.param(f"{ORIGIN}\n1_000\n{B64}\n", id="underscore-size"),
        pytest.param(f"{ORIGIN}\n\u0668\n{B64}\n", id="arabic-indic-digit"),
        pytest.param(f"{ORIGIN}\n\n{B64}\n", id="empty-size"),
        pytest.param(f"{ORIGIN}\n{2**64}\n{B64}\n", id="size-too-large-for-uint64"),
        pytest.param(f"{ORIGIN}\n{'9' * 5000}\n{B64}\n", id="size-beyond-int-digit-limit"),
        pytest.param(f"{ORIGIN}\n8\nnot base64!\n", id="non-base64-root"),
        pytest.param(f"{ORIGIN}\n8\n{B64.rstrip('=')}\n", id="unpadded-root"),
        pytest.param(f"{ORIGIN}\n8\n{B64[:-2]}h=\n", id="non-canonical-base64-root"),
        pytest.param(f"{ORIGIN}\n8\n{base64.b64encode(bytes(31)).decode()}\n", id="31-byte-root"),
        pytest.param(f"{ORIGIN}\n8\n{base64.b64encode(bytes(33)).decode()}\n", id="33-byte-root"),
        pytest.param(f"{ORIGIN}\n8\n\n", id="empty-root"),
        pytest.param(f"{ORIGIN}\n8\n{B64}\n\n", id="empty-extension-line"),
        pytest.param(f"{ORIGIN}\r\n8\n{B64}\n", id="cr-in-origin"),
        pytest.param(f"{ORIGIN}\n8\r\n{B64}\n", id="crlf-size"),
        pytest.param(f"{ORIGIN}\n8\n{B64}\next\tension\n", id="tab-in-extension"),
        pytest.param(f"{ORIGIN}\ud800\n8\n{B64}\n", id="lone-surrogate"),
    ],
)
def test_parse_body_rejects(body: str) -> None:
    with pytest.raises(InvalidCheckpoint):
        Checkpoint.parse_body(body)


def test_non_canonical_root_decodes_to_the_same_bytes() -> None:
    """So the case above is rejected for its form alone (Python's base64 would accept it)."""
    assert base64.b64decode(B64[:-2] + "h=") == ROOT_8


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, ROOT_8, ()),
        ("a\nb", 1, ROOT_8, ()),
        (ORIGIN, -1, ROOT_8, ()),
        (ORIGIN, 2**64, ROOT_8, ()),
        (ORIGIN, True, ROOT_8, ()),
        (ORIGIN, 1, ROOT_8[:31], ()),
        (ORIGIN, 1, ROOT_8, ("",)),
        (ORIGIN, 1, ROOT_8, ("a\nb",)),
    ],
)
def test_invalid_checkpoints_cannot_be_built(fields: tuple[str, int, bytes, tuple[str, ...]]) -> None:
    with pytest.raises(InvalidCheckpoint):
        Checkpoint(*fields)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_parse_body_accepts_only_its_own_serialization(text: str) -> None:
    """Strict parsing: whatever parses re-serializes to exactly the same text; the rest is rejected."""
    try:
        cp = Checkpoint.parse_body(text)
    except InvalidCheckpoint:
        return
    assert cp.body() == text


@settings(max_examples=100, deadline=None)
@given(
    origin=st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=30),
    size=st.integers(min_value=0, max_value=MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
)
def test_body_round_trip(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    assert Checkpoint.parse_body(cp.body()) == cp


# ------------------------------------------------------------------ signed checkpoints


def test_sign_and_open() -> None:
    note = sign_checkpoint(CP_8, LOG)
    assert note.startswith(BODY_8 + "\n\u2014 example.org/hub-test ")
    assert open_checkpoint(note, LOG.verifier) == CP_8
    assert open_checkpoint(note.encode("utf-8"), LOG.verifier, origin=ORIGIN) == CP_8


def test_witness_cosignatures_are_ignored() -> None:
    note = sign_note(CP_8.body(), [LOG, WITNESS])
    assert open_checkpoint(note, LOG.verifier, origin=ORIGIN) == CP_8
    assert open_note(note, [WITNESS.verifier]).signers == (WITNESS.name,)


def test_unexpected_origin_is_rejected() -> None:
    with pytest.raises(InvalidCheckpoint, match="not the expected"):
        open_checkpoint(sign_checkpoint(CP_8, LOG), LOG.verifier, origin="example.org/another")


def test_signature_by_another_key_is_rejected() -> None:
    impostor = NoteSigner(ORIGIN, SigningKey(bytes([99]) * 32))  # right name, wrong key
    with pytest.raises(InvalidCheckpoint, match="no trusted key"):
        open_checkpoint(sign_checkpoint(CP_8, impostor), LOG.verifier)
    with pytest.raises(InvalidCheckpoint, match="no trusted key"):
        open_checkpoint(sign_checkpoint(CP_8, LOG), OTHER_LOG.verifier)


def test_key_name_must_be_the_origin() -> None:
    with pytest.raises(ValueError, match="named after the origin"):
        sign_checkpoint(CP_8, OTHER_LOG)
    # Even validly signed, a checkpoint whose origin is not the key's name is refused.
    foreign = Checkpoint("example.org/someone-else", 8, ROOT_8)
    with pytest.raises(InvalidCheckpoint, match="not the log key's name"):
        open_checkpoint(sign_note(foreign.body(), [OTHER_LOG]), OTHER_LOG.verifier)


def test_signed_but_malformed_body_is_rejected() -> None:
    note = sign_note(f"{ORIGIN}\n08\n{B64}\n", [LOG])
    with pytest.raises(InvalidCheckpoint, match="leading zeros"):
        open_checkpoint(note, LOG.verifier)


def test_tampered_size_is_rejected() -> None:
    note = sign_checkpoint(CP_8, LOG).replace("\n8\n", "\n9\n", 1)
    with pytest.raises(InvalidCheckpoint, match="does not verify"):
        open_checkpoint(note, LOG.verifier)


SIGNED = sign_note(CP_8.body(), [LOG, WITNESS]).encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(SIGNED) - 1), value=st.integers(0, 255))
def test_any_single_byte_change_is_rejected_or_harmless(position: int, value: int) -> None:
    """Changing one byte either breaks the note or leaves exactly the same checkpoint (e.g. in the
    witness's ignored signature line); it never yields a different checkpoint or another exception."""
    mutated = SIGNED[:position] + bytes([value]) + SIGNED[position + 1 :]
    try:
        cp = open_checkpoint(mutated, LOG.verifier, origin=ORIGIN)
    except InvalidCheckpoint:
        return
    assert cp == CP_8
    assert position >= SIGNED.index(WITNESS.name.encode()) or mutated == SIGNED


def test_every_byte_of_the_log_part_matters() -> None:
    """Exhaustively: flipping any bit of the body or the log's signature line is rejected."""
    log_part_end = SIGNED.index("\u2014 witness".encode())
    for position in range(log_part_end):
        for bit in (0, 5):
            mutated = SIGNED[:position] + bytes([SIGNED[position] ^ (1 << bit)]) + SIGNED[position + 1 :]
            with pytest.raises(InvalidCheckpoint):
                open_checkpoint(mutated, LOG.verifier)
