# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster for the benchmarks, with production durability settings.

Like the test suite's cluster (:mod:`tests.support.postgres`, which this mirrors without importing the tests),
it uses Debian's server binaries. The test suite's cluster turns ``fsync``,
``synchronous_commit`` and ``full_page_writes`` off to be quick; a benchmark must not, because the SQLite hub it
is compared with syncs every commit (``synchronous=FULL``). This one keeps PostgreSQL's defaults for all three
(and its default ``shared_buffers`` and ``work_mem``), listens on 127.0.0.1 on a free port, and is deleted
afterwards. As root, the server runs as the ``postgres`` system user (it refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cluster", "PostgresUnavailable", "durable_cluster", "find_binaries"]


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server could not be found or started."""


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest installed major version)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable("PostgreSQL server binaries not found: install Debian's postgresql (`make postgres`)")


@dataclass(frozen=True, slots=True)
class Cluster:
    data_dir: Path
    socket_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = list(argv) if self.run_as is None else ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603

    def create_database(self) -> str:
        name = f"b_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(statement.encode())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def durable_cluster() -> Iterator[Cluster]:
    """Start a cluster with fsync on; stop and delete it afterwards."""
    bin_dir = find_binaries()
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="tipshare-bench-pg-"))
    data_dir, socket_dir = root / "data", root / "socket"
    data_dir.mkdir()
    socket_dir.mkdir()
    if run_as is not None:
        user = pwd.getpwnam(run_as)
        for path in (root, data_dir, socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
    cluster = Cluster(data_dir, socket_dir, _free_port(), bin_dir, run_as)
    try:
        init = cluster.run(
            str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8",
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        options = f"-p {cluster.port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        start = cluster.run(
            str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(root / "server.log"), "-w", "start"
        )
        if start.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()}")
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", cluster.port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise PostgresUnavailable("the PostgreSQL server did not accept connections within 30 s")
            time.sleep(0.1)
        yield cluster
    finally:
        cluster.run(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
