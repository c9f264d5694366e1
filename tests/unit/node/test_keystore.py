# SPDX-License-Identifier: Apache-2.0
"""The signing key file: created 0600, never overwritten, refused when others could read it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from node.errors import KeyFileError
from node.keystore import (
    KEY_PREFIX,
    SEALING_KEY_CONTEXT,
    create_signing_key,
    ensure_private_dir,
    load_signing_key,
    sealing_key,
    write_private_file,
)
from protocol.crypto import AgreementKey

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file permissions are POSIX")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_key_file_is_0600_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "home" / "signing-key"
    key = create_signing_key(path)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert load_signing_key(path).verify_key == key.verify_key
    text = path.read_text(encoding="ascii")
    assert text.startswith("# tipshare-node signing key")
    assert KEY_PREFIX in text
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_the_key_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        create_signing_key(tmp_path / "signing-key")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "signing-key") == 0o600


def test_an_existing_key_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "signing-key"
    key = create_signing_key(path)
    with pytest.raises(KeyFileError, match="already exists"):
        create_signing_key(path)
    assert load_signing_key(path).verify_key == key.verify_key


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signing-key"
    create_signing_key(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="can be read by other users") as raised:
        load_signing_key(path)
    assert f"chmod 600 {path}" in raised.value.diagnostics()


def test_a_missing_key_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="is missing") as raised:
        load_signing_key(tmp_path / "signing-key")
    assert "backup" in raised.value.diagnostics()


@pytest.mark.parametrize(
    "content",
    [b"", b"hello\n", b"ed25519-seed:not base64!\n", b"ed25519-seed:AAAA\n", b"\xff\xfe", b"ed25519-seed:A\nsecond\n"],
)
def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "signing-key"
    write_private_file(path, content)
    with pytest.raises(KeyFileError, match="signing key file"):
        load_signing_key(path)


def test_a_directory_is_not_a_key(tmp_path: Path) -> None:
    (tmp_path / "signing-key").mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_signing_key(tmp_path / "signing-key")


def test_private_writes_are_atomic_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_private_file(path, b"first")
    path.chmod(0o644)
    write_private_file(path, b"second")
    assert path.read_bytes() == b"second"
    assert _mode(path) == 0o600  # replaced by a new private file
    with pytest.raises(FileExistsError):
        write_private_file(path, b"third", overwrite=False)
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_new_directories_are_private_and_existing_ones_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    ensure_private_dir(shared)
    assert _mode(shared) == 0o755  # the operator's own choice for a directory that already exists
    ensure_private_dir(shared / "node")
    assert _mode(shared / "node") == 0o700


def test_the_sealing_key_is_keyed_blake2b_of_the_seed_and_changes_with_the_key(tmp_path: Path) -> None:
    key = create_signing_key(tmp_path / "signing-key")
    derived = sealing_key(load_signing_key(tmp_path / "signing-key"))
    expected = hashlib.blake2b(SEALING_KEY_CONTEXT, digest_size=32, key=key.seed()).digest()
    assert derived.secret() == expected
    assert derived.public_key == AgreementKey(expected).public_key
    other = create_signing_key(tmp_path / "other-key")
    assert sealing_key(other).public_key != derived.public_key
    assert derived.secret() != key.seed()
