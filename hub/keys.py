# SPDX-License-Identifier: Apache-2.0
"""The hub's two private keys, kept as files in ``<data dir>/keys`` (mode 0600, directory 0700).

* ``envelope.x25519`` opens the sealed boxes hotlines send (X25519).
* ``log.ed25519`` signs the transparency log's checkpoints (Ed25519, C2SP signed notes).

Each file holds the 32 secret bytes as base64 on one line. Files are created atomically and never overwritten;
a key file readable by group or others is refused.

Rotation in place (``tipshare-hub keys rotate``, :mod:`hub.services.handover`): the new key is first written
next to the current one as ``<name>.next``; once the handover is committed to the log, the current file moves
to ``retired/<name>.<date>`` and ``<name>.next`` takes its place. A rotation interrupted between the two steps
is finished when the hub next opens its keys (:func:`load_keys` with the keys the log names as current).
Retired envelope keys stay in ``retired/`` and still open releases sealed to them during the grace period.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hub.errors import HubError, NotInitialised
from protocol.crypto import EncryptionKey, SealingKey, SigningKey, VerifyKey
from protocol.note import NoteSigner

__all__ = [
    "ENVELOPE_KEY_FILE",
    "LOG_KEY_FILE",
    "RETIRED_DIR",
    "HubKeys",
    "KeyFileError",
    "create_keys",
    "load_keys",
    "promote_staged",
    "stage_key",
]

ENVELOPE_KEY_FILE: Final = "envelope.x25519"
LOG_KEY_FILE: Final = "log.ed25519"
RETIRED_DIR: Final = "retired"
_STAGED_SUFFIX: Final = ".next"


class KeyFileError(HubError):
    """A key file is missing, unreadable, malformed or too widely readable."""

    code = "key_file"
    title = "Key file problem"


@dataclass(frozen=True, slots=True)
class HubKeys:
    envelope: EncryptionKey
    log: SigningKey
    #: Envelope keys handed over from (``retired/``); the log says until when each still opens envelopes.
    retired_envelopes: tuple[EncryptionKey, ...] = ()

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


def stage_key(keys_dir: Path, name: str, secret: bytes) -> None:
    """Write the next key for ``name`` as ``<name>.next``, replacing one left by a rotation never logged."""
    staged = keys_dir / (name + _STAGED_SUFFIX)
    staged.unlink(missing_ok=True)
    _write_secret(staged, secret)


def promote_staged(keys_dir: Path, name: str, *, label: str) -> None:
    """Retire the current key file of ``name`` (as ``retired/<name>.<label>``) and put ``<name>.next`` in place."""
    retired = keys_dir / RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    os.chmod(retired, 0o700)
    current = _read_secret(keys_dir / name)
    for attempt in range(1, 1000):
        target = retired / (f"{name}.{label}" if attempt == 1 else f"{name}.{label}-{attempt}")
        if not target.exists():
            os.link(keys_dir / name, target)
            break
        if _read_secret(target) == current:  # retired already (a promotion finished again after a crash)
            break
    os.replace(keys_dir / (name + _STAGED_SUFFIX), keys_dir / name)


def load_keys(
    keys_dir: Path, *, log_public: VerifyKey | None = None, envelope_public: SealingKey | None = None
) -> HubKeys:
    """The hub's keys. ``log_public`` and ``envelope_public``: the keys the log names as current (after a
    handover); a rotation interrupted after its handover was logged is finished here, and a key file that is
    not the logged one is refused."""
    log_seed = _current(keys_dir, LOG_KEY_FILE, lambda secret: SigningKey(secret).verify_key == log_public)
    envelope_secret = _current(
        keys_dir, ENVELOPE_KEY_FILE, lambda secret: EncryptionKey(secret).public_key == envelope_public
    )
    keys = HubKeys(envelope=EncryptionKey(envelope_secret), log=SigningKey(log_seed))
    if log_public is not None and keys.log.verify_key != log_public:
        raise KeyFileError(
            f"{keys_dir / LOG_KEY_FILE} is not the log key the log handed over to; restore it from the backup of keys/"
        )
    if envelope_public is not None and keys.envelope.public_key != envelope_public:
        raise KeyFileError(
            f"{keys_dir / ENVELOPE_KEY_FILE} is not the envelope key the log handed over to; restore it from the "
            "backup of keys/"
        )
    retired = sorted((keys_dir / RETIRED_DIR).glob(f"{ENVELOPE_KEY_FILE}.*"))
    return dataclasses.replace(keys, retired_envelopes=tuple(EncryptionKey(_read_secret(p)) for p in retired))


def _current(keys_dir: Path, name: str, is_logged: Callable[[bytes], bool]) -> bytes:
    """The current secret of ``name``, after finishing a rotation whose handover the log already holds."""
    staged = keys_dir / (name + _STAGED_SUFFIX)
    if staged.exists() and is_logged(_read_secret(staged)):
        promote_staged(keys_dir, name, label="interrupted")
    return _read_secret(keys_dir / name)
