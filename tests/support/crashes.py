# SPDX-License-Identifier: Apache-2.0
"""Crashing a served hub on purpose: SIGKILL to its whole process group, and a look from outside at its writer.

>>> with served_hub(data_dir, database_url=None, workers=2) as served:   # doctest: +SKIP
...     probe = WriterProbe.for_database(data_dir, database_url=None)
...     while not probe.writer_active():      # a worker is inside a write transaction right now
...         time.sleep(0.002)
...     kill_process_group(served.process)   # kill -9, supervisor and workers at once

:class:`WriterProbe` needs no hook in the hub: on SQLite a writer holds the database's write lock (``BEGIN
IMMEDIATE``), so a probe that cannot take that lock without waiting has found one inside its transaction (the probe
opens a connection per look and closes it while the hub still holds its own, so it never checkpoints the WAL in
the hub's place); on PostgreSQL the writer's advisory lock shows as granted in ``pg_locks``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, text

from hub.db import WRITER_LOCK_ID, make_engine
from tools.served_hub import processes

__all__ = ["WriterProbe", "group_members", "kill_process_group"]

#: ``pg_locks`` shows a bigint advisory key as its high half in ``classid``, its low half in ``objid``.
_WRITER_LOCK: Final = {"high": WRITER_LOCK_ID >> 32, "low": WRITER_LOCK_ID & 0xFFFFFFFF}


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of process group ``group`` (Linux /proc; see proc(5), /proc/pid/stat)."""
    return [p.pid for p in processes() if p.group == group and p.state not in ("Z", "X")]


def kill_process_group(process: subprocess.Popen[bytes], *, timeout: float = 20.0) -> None:
    """``kill -9`` the process group ``process`` leads, and return once none of its processes is left running."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while members := group_members(process.pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes {members} of the killed server's group are still running")
        time.sleep(0.01)


@dataclass
class WriterProbe:
    """Whether a hub worker holds the writer lock, i.e. is inside a write transaction, right now."""

    sqlite_file: Path | None
    engine: Engine | None

    @classmethod
    def for_database(cls, data_dir: Path, *, database_url: str | None) -> WriterProbe:
        if database_url is None:
            return cls(sqlite_file=data_dir / "hub.sqlite", engine=None)
        return cls(sqlite_file=None, engine=make_engine(database_url))

    def writer_active(self) -> bool:
        if self.sqlite_file is not None:
            return self._sqlite_writer_active(self.sqlite_file)
        assert self.engine is not None
        with self.engine.connect() as connection:
            held = connection.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1)"
                ),
                _WRITER_LOCK,
            ).scalar_one()
            return bool(held)

    @staticmethod
    def _sqlite_writer_active(path: Path) -> bool:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if e.sqlite_errorname.startswith("SQLITE_BUSY"):
                return True
            raise
        else:
            connection.execute("ROLLBACK")
            return False
        finally:
            connection.close()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
