# SPDX-License-Identifier: Apache-2.0
"""The dashboard's session secret: 32 random bytes in ``<data dir>/keys/session.secret`` (mode 0600).

>>> secret = load_or_create_session_secret(settings.keys_dir)   # doctest: +SKIP

Made by ``tipshare-hub init`` with the other keys, so that replicas given the same keys share it; a hub
initialised before that creates it on first start, atomically (two workers starting at once end up with the same
secret). It is never rewritten; a file readable by group or others is refused, like the hub's other key files. A
keys directory that is read-only and has no secret (a container mounting keys from an older set-up) is refused
with what to do. Deleting the file and restarting the hub signs everyone out of the dashboard and changes nothing
else.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from hub.errors import HubError

__all__ = ["SESSION_SECRET_FILE", "SessionSecretError", "load_or_create_session_secret"]

SESSION_SECRET_FILE: Final = "session.secret"  # noqa: S105 - a file name, not a secret
_SIZE: Final = 32


class SessionSecretError(HubError):
    """The session secret file is unreadable, malformed or readable by other users."""

    code = "session_secret"
    title = "Session secret problem"


def load_or_create_session_secret(keys_dir: Path) -> bytes:
    """The secret in ``keys_dir/session.secret``, created (0600) if it does not exist yet."""
    path = keys_dir / SESSION_SECRET_FILE
    if not path.exists():
        try:
            with contextlib.suppress(FileExistsError):  # another worker made it first
                _create(path)
        except OSError as e:
            raise SessionSecretError(
                f"the dashboard's session secret {path} does not exist and cannot be created ({e.strerror}): "
                f"make it where the keys are written (`tipshare-hub init` does, for new hubs) and give every "
                f"replica the same file, or make {keys_dir} writable"
            ) from None
    return _read(path)


def _create(path: Path) -> None:
    """Write a new secret to a private temporary file, then publish it with ``link``, which fails if ``path``
    exists: a reader never sees a half-written secret, and two workers starting at once agree on one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, base64.b64encode(secrets.token_bytes(_SIZE)) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(temporary, path)
    finally:
        temporary.unlink()


def _read(path: Path) -> bytes:
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SessionSecretError(f"session secret {path} is readable by other users: run `chmod 600 {path}`")
    try:
        secret = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error) as e:
        raise SessionSecretError(f"session secret {path} cannot be read ({e}); delete it to make a new one") from None
    if len(secret) != _SIZE:
        raise SessionSecretError(f"session secret {path} does not hold {_SIZE} bytes; delete it to make a new one")
    return secret
