# SPDX-License-Identifier: Apache-2.0
"""The hotline's Ed25519 signing key on disk, and the atomic private-file writes the node home is made of.

The key file is created once, by ``tipshare-node init``, with permissions 0600 (read and write for its owner
only), and is never overwritten. It is refused on load if any other user could read it, as OpenSSH refuses an
unprotected private key: a key that others could have copied can sign releases in the hotline's name.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     key = create_signing_key(Path(tmp) / "signing-key")
...     load_signing_key(Path(tmp) / "signing-key").verify_key == key.verify_key
True

The file is text: a comment line and ``ed25519-seed:<base64 of the 32-byte seed>``.

The hotline's long-term share-sealing key for secure rounds (X25519, issue 18) is not a second file: it is
derived from the same seed (:func:`sealing_key`), keyed BLAKE2b-256 over :data:`SEALING_KEY_CONTEXT`, so it needs
no backup of its own and changes with every new signing key (``rekey``); the hub logs it with the key event.

Every file of the node home is written by :func:`write_private_file`: to a temporary file in the same directory
(created 0600), flushed to disk, then renamed over the target, so a crash leaves the old file or the new one,
never half of one.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from node.errors import KeyFileError
from node.i18n import N_, Text
from protocol.crypto import KEY_SIZE, AgreementKey, SigningKey, derive_key

__all__ = [
    "KEY_PREFIX",
    "SEALING_KEY_CONTEXT",
    "create_signing_key",
    "ensure_private_dir",
    "load_signing_key",
    "sealing_key",
    "write_private_file",
]

KEY_PREFIX: Final = "ed25519-seed:"
_COMMENT: Final = "# tipshare-node signing key (Ed25519). Secret: never copy, send or print this file.\n"
_POSIX: Final = os.name == "posix"
#: The KDF context of the share-sealing key: domain-separated from every other use of the seed.
SEALING_KEY_CONTEXT: Final = b"tipshare/1 share-sealing key"


def sealing_key(signing_key: SigningKey) -> AgreementKey:
    """The hotline's share-sealing key (X25519), derived from its signing key's seed."""
    return AgreementKey(derive_key(signing_key.seed(), SEALING_KEY_CONTEXT))


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; a directory this creates is 0700."""
    if path.is_dir():
        return
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise KeyFileError(
            Text(N_("cannot create the directory %(path)s: %(error)s"), path=str(path), error=str(e.strerror))
        ) from e
    if _POSIX:
        os.chmod(path, 0o700)


def write_private_file(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically with permissions 0600.

    With ``overwrite=False`` an existing file is never replaced (:class:`FileExistsError`), even by a concurrent
    writer: the new file is linked into place, which fails if the name exists.
    """
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        try:
            if _POSIX:
                os.fchmod(descriptor, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if overwrite:
            os.replace(temporary, path)
        else:
            _link_without_overwriting(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_directory(path.parent)


def _link_without_overwriting(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename (a narrow race, still 0600)
        if target.exists():
            raise FileExistsError(str(target)) from None
        os.replace(source, target)


def _sync_directory(directory: Path) -> None:
    if not _POSIX:
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def create_signing_key(path: Path) -> SigningKey:
    """Generate a new key and write it to ``path`` (0600); refuse if a file is already there."""
    key = SigningKey.generate()
    text = _COMMENT + KEY_PREFIX + base64.b64encode(key.seed()).decode("ascii") + "\n"
    try:
        write_private_file(path, text.encode("ascii"), overwrite=False)
    except FileExistsError:
        raise KeyFileError(
            Text(N_("a signing key already exists at %(path)s; it was not replaced"), path=str(path)),
            hint=Text(N_("Keep using it. A new key must be enrolled at the hub again; ask your hub operator first.")),
        ) from None
    except OSError as e:
        raise KeyFileError(
            Text(N_("cannot write the signing key to %(path)s: %(error)s"), path=str(path), error=str(e.strerror))
        ) from e
    return key


def load_signing_key(path: Path) -> SigningKey:
    """Read the key at ``path``; refuse it if other users may read it or if it is not a key file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError(
            Text(N_("the signing key file %(path)s is missing"), path=str(path)),
            hint=Text(
                N_("Restore it from your backup. Without it this node cannot sign; a new key must be enrolled again.")
            ),
        ) from None
    except OSError as e:
        raise KeyFileError(
            Text(N_("cannot read the signing key file %(path)s: %(error)s"), path=str(path), error=str(e.strerror))
        ) from e
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(Text(N_("%(path)s is not a regular file"), path=str(path)))
    if _POSIX and info.st_mode & 0o077:
        raise KeyFileError(
            Text(
                N_("the signing key file %(path)s can be read by other users (permissions %(mode)s); it was not used"),
                path=str(path),
                mode=stat.filemode(info.st_mode),
            ),
            hint=Text(
                N_("Run `chmod 600 %(path)s`. If others may have copied it, ask your hub operator to revoke this key."),
                path=str(path),
            ),
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(Text(N_("cannot read the signing key file %(path)s"), path=str(path))) from e
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1 or not lines[0].startswith(KEY_PREFIX):
        raise KeyFileError(Text(N_("%(path)s is not a tipshare-node signing key file"), path=str(path)))
    try:
        seed = base64.b64decode(lines[0][len(KEY_PREFIX) :], validate=True)
    except binascii.Error:
        raise KeyFileError(
            Text(N_("%(path)s is not a tipshare-node signing key file (bad base64)"), path=str(path))
        ) from None
    if len(seed) != KEY_SIZE:
        raise KeyFileError(
            Text(N_("%(path)s is not a tipshare-node signing key file (wrong key length)"), path=str(path))
        )
    return SigningKey(seed)
