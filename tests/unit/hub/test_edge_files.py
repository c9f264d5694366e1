# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub init --database-url sqlite:///...`` creates the database private, like the default one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub.cli import main
from tests.support.hubs import Clock
from tests.unit.hub.test_cli import ORIGIN


@pytest.fixture(autouse=True)
def _no_hub_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("TIPSHARE_HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_attack_init_with_a_sqlite_url_creates_a_private_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o022)  # the usual umask: files are world-readable unless the hub says otherwise
    try:
        database = tmp_path / "elsewhere" / "custom.sqlite"
        argv = ["--data-dir", str(tmp_path / "hub"), "--database-url", f"sqlite:///{database}"]
        assert main(["init", "--origin", ORIGIN, *argv], clock=Clock()) == 0, capsys.readouterr().err
        assert main(["token", "create", "--role", "admin", "--label", "ops", *argv], clock=Clock()) == 0
    finally:
        os.umask(old)
    assert database.exists()
    assert _private(database)
    companions = [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    for companion in companions:
        if companion.exists():
            assert _private(companion), companion
    assert _private(database.parent)


def test_the_default_database_is_private_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--origin", ORIGIN, "--data-dir", str(tmp_path / "hub")], clock=Clock()) == 0
    capsys.readouterr()
    assert _private(tmp_path / "hub" / "hub.sqlite")
