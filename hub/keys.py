# SPDX-License-Identifier: Apache-2.0
"""The hub's two private keys, kept as files in ``<data dir>/keys`` (mode 0600, directory 0700).

* ``envelope.x25519`` opens the sealed boxes hotlines send (X25519).
* ``log.ed25519`` signs the transparency log's checkpoints (Ed25519, C2SP signed notes).

Each file holds the 32 secret bytes as base64 on one line. Files are created atomically and never overwritten;
a key file readable by group or others is refused.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hub.errors import HubError, NotInitialised
from protocol.crypto import EncryptionKey, SigningKey
from protocol.note import NoteSigner

__all__ = ["ENVELOPE_KEY_FILE", "LOG_KEY_FILE", "HubKeys", "KeyFileError", "create_keys", "load_keys"]

ENVELOPE_KEY_FILE: Final = "envelope.x25519"
LOG_KEY_FILE: Final = "log.ed25519"


class KeyFileError(HubError):
    """A key file is missing, unreadable, malformed or too widely readable."""

    code = "key_file"
    title = "Key file problem"


@dataclass(frozen=True, slots=True)
class HubKeys:
    envelope: EncryptionKey
    log: SigningKey

    def log_signer(self, origin: str) -> NoteSigner:
        return NoteSigner(origin, self.log)


def _write_secret(path: Path, secret: bytes) -> None:
    data = base64.b64encode(secret) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_secret(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise NotInitialised(f"key file {path} does not exist: run `tipshare-hub init` first") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is readable by other users: run `chmod 600 {path}`")
    try:
        secret = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error) as e:
        raise KeyFileError(f"key file {path} cannot be read: {e}") from None
    if len(secret) != 32:
        raise KeyFileError(f"key file {path} does not hold a 32-byte key")
    return secret


def create_keys(keys_dir: Path) -> HubKeys:
    """Create both keys; refuse to overwrite existing ones (a new log key would orphan every receipt)."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    for name in (ENVELOPE_KEY_FILE, LOG_KEY_FILE):
        if (keys_dir / name).exists():
            raise KeyFileError(f"{keys_dir / name} already exists; the hub is already initialised")
    keys = HubKeys(envelope=EncryptionKey.generate(), log=SigningKey.generate())
    _write_secret(keys_dir / ENVELOPE_KEY_FILE, keys.envelope.secret())
    _write_secret(keys_dir / LOG_KEY_FILE, keys.log.seed())
    return keys


def load_keys(keys_dir: Path) -> HubKeys:
    return HubKeys(
        envelope=EncryptionKey(_read_secret(keys_dir / ENVELOPE_KEY_FILE)),
        log=SigningKey(_read_secret(keys_dir / LOG_KEY_FILE)),
    )
