# SPDX-License-Identifier: Apache-2.0
"""C2SP checkpoints (https://c2sp.org/tlog-checkpoint): the log's signed statement of its size and root.

The body is the text of a signed note (:mod:`protocol.note`)::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 of the 32-byte RFC 6962 root hash>
    [extension lines]

Extension lines are "NOT RECOMMENDED" by the spec: the hub never writes them, but :meth:`Checkpoint.parse_body`
keeps any it finds, in order, in :attr:`Checkpoint.extensions` (so a checkpoint from a log that uses them
still round-trips byte for byte); each must be a non-empty line. The log's key name must equal the
origin (the spec's recommendation, enforced here on both signing and opening), so one vkey pins one log.

>>> from protocol.crypto import SigningKey
>>> from protocol.note import NoteSigner
>>> log = NoteSigner("example.org/hub-test", SigningKey(bytes(32)))
>>> root = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
>>> cp = Checkpoint("example.org/hub-test", 8, root)
>>> cp.body()
'example.org/hub-test\\n8\\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\\n'
>>> open_checkpoint(sign_checkpoint(cp, log), log.verifier, origin="example.org/hub-test") == cp
True
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from protocol.errors import InvalidCheckpoint
from protocol.note import NoteSigner, NoteVerifier, open_note, sign_note

__all__ = ["MAX_TREE_SIZE", "Checkpoint", "open_checkpoint", "sign_checkpoint"]

#: Tree sizes are unsigned 64-bit integers.
MAX_TREE_SIZE: Final = 2**64 - 1
_ROOT_SIZE: Final = 32
_SIZE_LINE: Final = re.compile(r"0|[1-9][0-9]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree size and root hash under its origin name. Validated on construction."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or _CONTROL.search(self.origin):
            raise InvalidCheckpoint("a checkpoint origin is a non-empty line")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise InvalidCheckpoint(f"a checkpoint tree size is an unsigned 64-bit integer, got {self.size}")
        if len(self.root_hash) != _ROOT_SIZE:
            raise InvalidCheckpoint(f"a checkpoint root hash is {_ROOT_SIZE} bytes, got {len(self.root_hash)}")
        for line in self.extensions:
            if not line or _CONTROL.search(line):
                raise InvalidCheckpoint("a checkpoint extension is a non-empty line")
        try:
            self.body().encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidCheckpoint("a checkpoint must be valid UTF-8") from None

    def body(self) -> str:
        """The note text: origin, size, base64 root and any extension lines, each ending in a newline."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions))

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body strictly; raise :class:`~protocol.errors.InvalidCheckpoint` on any flaw."""
        if not text.endswith("\n"):
            raise InvalidCheckpoint("a checkpoint body ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidCheckpoint("a checkpoint body has at least three lines: origin, size, root hash")
        origin, size_line, root_line, *extensions = lines
        if not _SIZE_LINE.fullmatch(size_line):
            raise InvalidCheckpoint("a checkpoint tree size is decimal digits without leading zeros")
        if len(size_line) > len(str(MAX_TREE_SIZE)):  # before int(): huge digit strings are slow or refused
            raise InvalidCheckpoint("a checkpoint tree size must fit in 64 bits")
        size = int(size_line)  # 2**64 and just above are caught with the other fields in __post_init__
        try:
            root = base64.b64decode(root_line.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise InvalidCheckpoint("a checkpoint root hash is not valid base64") from None
        if base64.b64encode(root).decode("ascii") != root_line:
            raise InvalidCheckpoint("a checkpoint root hash is not canonical base64")
        return cls(origin=origin, size=size, root_hash=root, extensions=tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner, *also: NoteSigner) -> str:
    """The checkpoint as a note signed by the log; the signer's key name must be the origin.

    ``also``: further log keys of the same name that sign it too (a key handover's bridging checkpoint is signed
    by the previous and the new log key, see :mod:`protocol.handover`).
    """
    for key in (signer, *also):
        if key.name != checkpoint.origin:
            raise ValueError(f"the log key {key.name!r} must be named after the origin {checkpoint.origin!r}")
    return sign_note(checkpoint.body(), [signer, *also])


def open_checkpoint(note: str | bytes, verifier: NoteVerifier, *, origin: str | None = None) -> Checkpoint:
    """Verify the log's signature on a checkpoint note, then parse it.

    Other signatures (witness cosignatures) are ignored. The checkpoint's origin must equal the log key's
    name and, if given, ``origin``. Raises :class:`~protocol.errors.InvalidCheckpoint` on any problem.
    """
    verified = open_note(note, [verifier])
    checkpoint = Checkpoint.parse_body(verified.text)
    if checkpoint.origin != verifier.name:
        raise InvalidCheckpoint(f"checkpoint origin {checkpoint.origin!r} is not the log key's name {verifier.name!r}")
    if origin is not None and checkpoint.origin != origin:
        raise InvalidCheckpoint(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return checkpoint
