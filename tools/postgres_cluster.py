# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster, for the test suite and the benchmarks.

>>> with running_cluster() as cluster:                     # doctest: +SKIP
...     url = cluster.url(cluster.create_database())

Debian's ``postgresql`` package provides the server binaries (``make test`` and ``make bench`` install it where
missing). The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port and a private Unix
socket directory, trusts local connections, and is stopped and deleted when the block ends. Servers refuse to run
as root, so when the caller runs as root the cluster runs as the ``postgres`` system user.

Two kinds, one switch:

* the test suite's (the default) turns ``fsync``, ``synchronous_commit`` and ``full_page_writes`` off to be quick,
  and allows 200 connections. Under pytest-xdist each worker is a session of its own and starts its own cluster in
  its own directory on its own port, so workers share no database, template or connection;
* a benchmark's (``durable=True``) keeps PostgreSQL's defaults for all of these (and its default
  ``shared_buffers``, ``work_mem`` and ``max_connections``): the SQLite hub it is compared with syncs every commit
  (``synchronous=FULL``), so PostgreSQL must too.

If the server cannot be started the block raises :class:`PostgresUnavailable` and says why: a PostgreSQL test or
benchmark is never skipped silently.
"""

from __future__ import annotations

import contextlib
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
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["PostgresCluster", "PostgresUnavailable", "find_binaries", "running_cluster"]

#: Starts tried, each on a newly picked free port, when the port was taken between its pick and the server's bind.
_START_ATTEMPTS: Final = 3
#: Server settings of the quick (non-durable) cluster: nothing is synced, so a crash loses it (it is deleted anyway).
_QUICK: Final = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


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
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): "
        "install Debian's postgresql package (`make postgres` does)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresCluster:
    data_dir: Path
    socket_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = list(argv) if self.run_as is None else ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(  # noqa: S603 - fixed binaries from the PostgreSQL installation
            command, capture_output=True, text=True, timeout=timeout, check=False
        )

    def create_database(self, template: str | None = None) -> str:
        """A fresh database (optionally a copy of ``template``); returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"' + (f" TEMPLATE {template}" if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(statement.encode())


@contextlib.contextmanager
def running_cluster(*, durable: bool = False) -> Iterator[PostgresCluster]:
    """Start a throwaway cluster (quick, or with PostgreSQL's durability when ``durable``); stop and delete it
    afterwards."""
    bin_dir = find_binaries()
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="tipshare-pg-"))
    data_dir, socket_dir = root / "data", root / "socket"
    data_dir.mkdir()
    socket_dir.mkdir()
    if run_as is not None:
        user = pwd.getpwnam(run_as)
        for path in (root, data_dir, socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
    cluster = PostgresCluster(data_dir, socket_dir, _free_port(), bin_dir, run_as)
    try:
        init = cluster.run(
            str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", *(() if durable else ("--no-sync",)),
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        _start(cluster, root, settings="" if durable else _QUICK)
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
        # The data is deleted right after: nothing needs a clean shutdown.
        cluster.run(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _start(cluster: PostgresCluster, root: Path, *, settings: str) -> None:
    for attempt in range(_START_ATTEMPTS):
        options = f"-p {cluster.port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1 {settings}".strip()
        log_path = root / f"server-{attempt}.log"
        start = cluster.run(
            str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-o", options, "-l", str(log_path), "-w",
            "start",
        )  # fmt: skip
        if start.returncode == 0:
            return
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        if "Address already in use" not in log or attempt + 1 == _START_ATTEMPTS:
            raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()}\n{log[-2000:]}")
        # Another process (a parallel test worker's cluster or server, say) took the port since it was free.
        cluster.port = _free_port()
