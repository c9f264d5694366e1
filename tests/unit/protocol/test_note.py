# SPDX-License-Identifier: Apache-2.0
"""protocol.note: C2SP signed notes, against the spec's own example and malformed inputs."""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocol.crypto import SigningKey
from protocol.errors import InvalidCheckpoint, MalformedMessage, ProtocolError
from protocol.note import (
    MAX_SIGNATURES,
    NoteSigner,
    NoteVerifier,
    VerifiedNote,
    note_key_id,
    open_note,
    sign_note,
    vkey_for,
)

# C2SP signed-note.md example (notes Appendix V.6).
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

ALICE = NoteSigner("alice.example/log", SigningKey(bytes([1]) * 32))
BOB = NoteSigner("bob.example/witness", SigningKey(bytes([2]) * 32))
CAROL = NoteSigner("carol.example/witness", SigningKey(bytes([3]) * 32))
TEXT = "tipshare test note\nsecond line\n"


# ------------------------------------------------------------------ the spec's example


def test_spec_vkey_parses_and_round_trips() -> None:
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.vkey == SPEC_VKEY
    assert vkey_for(verifier.name, verifier.key) == SPEC_VKEY
    assert note_key_id("example.com/foo", verifier.key) == bytes.fromhex("530d903a")


def test_spec_note_verifies() -> None:
    opened = open_note(SPEC_NOTE, [NoteVerifier.from_vkey(SPEC_VKEY)])
    assert opened == VerifiedNote(text="This is an example message.\n", signers=("example.com/foo",))
    assert open_note(SPEC_NOTE.encode("utf-8"), [NoteVerifier.from_vkey(SPEC_VKEY)]) == opened


@pytest.mark.parametrize(
    "tampered",
    [
        SPEC_NOTE.replace("example message", "example messagE"),
        SPEC_NOTE.replace("This", "this"),
        SPEC_NOTE.replace("Uw2QOkn8", "Uw2QOkn9"),  # signature byte
        SPEC_NOTE.replace("IneyaQM=", "IneyaQE="),  # last signature byte
        SPEC_NOTE.replace("Uw2Q", "Uw3Q"),  # key ID: now an unknown key, so no known signature
        SPEC_NOTE.replace("example.com/foo U", "example.com/fop U"),  # key name
    ],
)
def test_one_changed_byte_in_the_spec_note_is_rejected(tampered: str) -> None:
    assert tampered != SPEC_NOTE
    with pytest.raises(InvalidCheckpoint):
        open_note(tampered, [NoteVerifier.from_vkey(SPEC_VKEY)])


# ------------------------------------------------------------------ vkeys and names


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong key ID
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # upper-case hex
        "example.com/fo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # name not hashed in ID
        "example.com/foo+530d903a+BOkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type 0x04, not Ed25519
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  # bad base64
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U",  # 32 bytes, no type
        "example.com/foo+530d903a",
        "example.com/foo",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # empty name
        "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "",
    ],
)
def test_bad_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(MalformedMessage):
        NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\nb", "a\u00a0b", "a\u2003b", "a\x00b"])
def test_bad_key_names_are_rejected(name: str) -> None:
    key = SigningKey(bytes(32))
    with pytest.raises(MalformedMessage):
        NoteSigner(name, key)
    with pytest.raises(MalformedMessage):
        vkey_for(name, key.verify_key)


def test_verifier_equality_and_signer_properties() -> None:
    assert ALICE.verifier == NoteVerifier.from_vkey(ALICE.verifier.vkey)
    assert ALICE.verifier != BOB.verifier
    assert len({ALICE.verifier, NoteVerifier.from_vkey(ALICE.verifier.vkey)}) == 1
    assert ALICE.key_id == ALICE.verifier.key_id
    assert len(ALICE.key_id) == 4
    assert "<secret>" in repr(ALICE)
    assert ALICE.name == "alice.example/log"


# ------------------------------------------------------------------ round trips


def test_round_trip_with_one_signer() -> None:
    note = sign_note(TEXT, [ALICE])
    assert note.startswith(TEXT + "\n\u2014 alice.example/log ")
    assert note.count("\n") == TEXT.count("\n") + 2
    assert open_note(note, [ALICE.verifier]) == VerifiedNote(TEXT, ("alice.example/log",))


def test_round_trip_with_several_signers_in_order() -> None:
    note = sign_note(TEXT, [ALICE, BOB, CAROL])
    verifiers = [CAROL.verifier, ALICE.verifier, BOB.verifier]
    assert open_note(note, verifiers).signers == (ALICE.name, BOB.name, CAROL.name)
    assert open_note(note, [BOB.verifier]).signers == (BOB.name,)


def test_text_may_contain_blank_lines_and_non_ascii() -> None:
    text = "Ognuno sta solo sul cuor della terra\n\ned è subito sera.\n\n"
    assert open_note(sign_note(text, [ALICE]), [ALICE.verifier]).text == text


def test_signatures_from_unknown_keys_are_ignored() -> None:
    # Same name as Alice but another key (so another key ID); and Alice's key under another name.
    impostor = NoteSigner(ALICE.name, SigningKey(bytes([9]) * 32))
    renamed = NoteSigner("alice.example/other", SigningKey(bytes([1]) * 32))
    note = sign_note(TEXT, [BOB, impostor, renamed, ALICE])
    assert open_note(note, [ALICE.verifier]).signers == (ALICE.name,)
    # A cosignature-like line of another type and length from an unknown key is skipped unparsed.
    cosig = base64.b64encode(b"\x12\x34\x56\x78" + bytes(72)).decode()
    note = sign_note(TEXT, [ALICE]) + f"\u2014 witness.example {cosig}\n"
    assert open_note(note, [ALICE.verifier]).signers == (ALICE.name,)


def test_a_note_signed_only_by_unknown_keys_is_rejected() -> None:
    with pytest.raises(InvalidCheckpoint, match="no trusted key"):
        open_note(sign_note(TEXT, [BOB, CAROL]), [ALICE.verifier])
    with pytest.raises(InvalidCheckpoint, match="no trusted key"):
        open_note(sign_note(TEXT, [BOB]), [])


def test_a_failing_signature_from_a_known_key_rejects_the_whole_note() -> None:
    good = sign_note(TEXT, [ALICE])
    other = sign_note("another text\n", [ALICE])
    forged = good + other.split("\n\n")[1]  # Alice's valid signature over another text
    with pytest.raises(InvalidCheckpoint, match="does not verify"):
        open_note(forged, [ALICE.verifier])
    short = base64.b64encode(ALICE.key_id + bytes(10)).decode()  # right key ID, wrong length
    with pytest.raises(InvalidCheckpoint, match="does not verify"):
        open_note(good + f"\u2014 {ALICE.name} {short}\n", [ALICE.verifier])


def test_a_repeated_signature_counts_once() -> None:
    note = sign_note(TEXT, [ALICE, ALICE])
    assert open_note(note, [ALICE.verifier]).signers == (ALICE.name,)


def test_up_to_max_signatures_are_accepted_and_more_rejected() -> None:
    unknown = sign_note(TEXT, [BOB]).split("\n\n")[1]
    signed = sign_note(TEXT, [ALICE])
    assert open_note(signed + unknown * 15, [ALICE.verifier]).signers == (ALICE.name,)  # 16: spec minimum
    assert open_note(signed + unknown * (MAX_SIGNATURES - 1), [ALICE.verifier]).signers == (ALICE.name,)
    with pytest.raises(InvalidCheckpoint, match="at most"):
        open_note(signed + unknown * MAX_SIGNATURES, [ALICE.verifier])


def test_ambiguous_trusted_keys_are_a_configuration_error() -> None:
    impostor = NoteVerifier(ALICE.name, BOB.verifier.key)
    # A real key-ID collision takes about 2**32 key generations; forge one by overwriting the slot.
    object.__setattr__(impostor, "_key_id", ALICE.key_id)
    with pytest.raises(ValueError, match="share the name and key ID"):
        open_note(sign_note(TEXT, [ALICE]), [ALICE.verifier, ALICE.verifier, impostor])


# ------------------------------------------------------------------ malformed notes

GOOD = sign_note(TEXT, [ALICE])
SIG_LINE = GOOD.split("\n\n")[1]
SIG_B64 = SIG_LINE.rsplit(" ", 1)[1].rstrip("\n")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Same 68 bytes, but with a non-zero unused bit in the last character before the padding.
NON_CANONICAL_B64 = SIG_B64[:-2] + _ALPHABET[_ALPHABET.index(SIG_B64[-2]) | 1] + "="


@pytest.mark.parametrize(
    "note",
    [
        pytest.param(GOOD.replace("\n\n", "\n"), id="missing-blank-line"),
        pytest.param(GOOD[:-1], id="missing-final-newline"),
        pytest.param(GOOD + "\n", id="trailing-blank-line"),
        pytest.param(TEXT + "\n", id="no-signature-lines"),
        pytest.param(GOOD.replace("\n", "\r\n"), id="crlf"),
        pytest.param(GOOD.replace("second", "sec\tond"), id="tab-in-text"),
        pytest.param(GOOD.replace("second", "sec\x00ond"), id="nul-in-text"),
        pytest.param(GOOD.replace("second", "sec\x1bond"), id="escape-in-text"),
        pytest.param(GOOD[:-1] + "\r\n", id="cr-in-signature-block"),
        pytest.param(GOOD.replace("\u2014 ", "- "), id="hyphen-not-em-dash"),
        pytest.param(GOOD.replace("\u2014 ", "\u2014"), id="no-space-after-dash"),
        pytest.param(GOOD.replace("\u2014 ", "\u2014  "), id="two-spaces-after-dash"),
        pytest.param(GOOD.replace(f"{ALICE.name} ", f"{ALICE.name}  "), id="two-spaces-before-signature"),
        pytest.param(GOOD.replace(f"{ALICE.name} ", f"{ALICE.name}"), id="no-space-before-signature"),
        pytest.param(GOOD.replace(f" {SIG_B64}", " "), id="empty-signature"),
        pytest.param(GOOD.replace(SIG_B64, SIG_B64.rstrip("=")), id="unpadded-base64"),
        pytest.param(GOOD.replace(SIG_B64, SIG_B64[:-2] + "!="), id="bad-base64-character"),
        pytest.param(GOOD.replace(SIG_B64, NON_CANONICAL_B64), id="non-canonical-base64"),
        pytest.param(GOOD.replace(SIG_B64, "AAAA"), id="key-id-only-3-bytes"),
        pytest.param(GOOD.replace(SIG_B64, "AAAAAA=="), id="key-id-4-bytes-no-signature"),
        pytest.param(GOOD.replace(f" {ALICE.name} ", " al+ice "), id="plus-in-key-name"),
        pytest.param(GOOD.replace(f" {ALICE.name} ", "  "), id="empty-key-name"),
        pytest.param(GOOD + "not a signature line\n", id="garbage-after-signatures"),
        pytest.param("", id="empty"),
        pytest.param("\n\n", id="only-blank-line"),
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    assert note != GOOD
    with pytest.raises(InvalidCheckpoint):
        open_note(note, [ALICE.verifier])


def test_the_malformed_cases_start_from_a_valid_note() -> None:
    assert open_note(GOOD, [ALICE.verifier]).signers == (ALICE.name,)
    assert SIG_B64.endswith("=")
    assert len(base64.b64decode(SIG_B64)) == 68
    assert base64.b64decode(NON_CANONICAL_B64) == base64.b64decode(SIG_B64)
    assert NON_CANONICAL_B64 != SIG_B64


def test_invalid_utf8_is_rejected() -> None:
    raw = GOOD.encode("utf-8")
    for bad in (raw.replace(b"second", b"sec\xffond"), raw.replace(b"\xe2\x80\x94", b"\xe2\x80"), b"\xc3(\n\n"):
        with pytest.raises(InvalidCheckpoint):
            open_note(bad, [ALICE.verifier])
    with pytest.raises(InvalidCheckpoint):
        open_note(GOOD.replace("second", "sec\ud800ond"), [ALICE.verifier])  # lone surrogate in a str


@pytest.mark.parametrize("text", ["no final newline", "", "tab\there\n", "cr\r\n", "surrogate \udc80\n"])
def test_sign_note_refuses_invalid_text(text: str) -> None:
    with pytest.raises(InvalidCheckpoint):
        sign_note(text, [ALICE])


def test_sign_note_needs_signers() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sign_note(TEXT, [])
    with pytest.raises(ValueError, match="at most"):
        sign_note(TEXT, [ALICE] * (MAX_SIGNATURES + 1))


def test_errors_are_protocol_errors() -> None:
    assert issubclass(InvalidCheckpoint, ProtocolError)
    assert issubclass(MalformedMessage, ProtocolError)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_arbitrary_input_only_ever_raises_invalid_checkpoint(data: bytes) -> None:
    assume(data != b"\n")  # that would complete GOOD below
    with pytest.raises(InvalidCheckpoint):
        open_note(data, [ALICE.verifier])
    with pytest.raises(InvalidCheckpoint):
        open_note(GOOD.encode("utf-8")[:-1] + data, [ALICE.verifier])


def test_a_key_name_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="must be valid UTF-8"):
        NoteSigner("log\ud800.example", SigningKey(bytes(32)))


def test_verifiers_compare_by_name_and_key_and_show_their_vkey() -> None:
    one, same = NoteVerifier.from_vkey(ALICE.verifier.vkey), ALICE.verifier
    assert one == same
    assert hash(one) == hash(same)
    assert one != BOB.verifier
    assert one != NoteSigner("alice.example/other", SigningKey(bytes([1]) * 32)).verifier  # same key, other name
    assert one != one.vkey
    assert len({one, same, BOB.verifier}) == 2
    assert repr(one) == f"NoteVerifier.from_vkey({one.vkey!r})"
