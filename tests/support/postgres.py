# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster for the test suite, started by the suite itself.

Debian's ``postgresql`` package provides the server binaries (``make test`` installs it where missing). The cluster
lives in a temporary directory, listens on 127.0.0.1 on a free port and a private Unix socket directory, trusts
local connections, and is stopped and deleted at the end of the session. Servers refuse to run as root, so when the
suite runs as root the cluster runs as the ``postgres`` system user.

Under pytest-xdist (``make test`` runs the tests in parallel) each worker is a session of its own and starts its
own cluster in its own directory on its own port, so workers share no database, template or connection.

If the server cannot be started the run fails and says why: PostgreSQL tests are never skipped silently.
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

__all__ = ["PostgresCluster", "PostgresUnavailable", "find_binaries", "running_cluster"]


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
        "install Debian's postgresql package (make test does this: `make postgres`)"
    )


#: Starts tried, each on a newly picked free port, when the port was taken between its pick and the server's bind.
_START_ATTEMPTS = 3


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

    def _command(self, *argv: str) -> list[str]:
        if self.run_as is None:
            return list(argv)
        return ["runuser", "-u", self.run_as, "--", *argv]

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed binaries from the PostgreSQL installation
            self._command(*argv), capture_output=True, text=True, timeout=timeout, check=False
        )

    def create_database(self, template: str | None = None) -> str:
        """A fresh database (optionally a copy of ``template``); returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            suffix = f" TEMPLATE {template}" if template else ""
            connection.execute(f'CREATE DATABASE "{name}"{suffix}')  # type: ignore[arg-type]
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster; stop and delete it afterwards."""
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
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        for attempt in range(_START_ATTEMPTS):
            options = (
                f"-p {cluster.port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            log_path = root / f"server-{attempt}.log"
            start = cluster.run(
                str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(log_path), "-w", "start"
            )
            if start.returncode == 0:
                break
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            if "Address already in use" not in log or attempt + 1 == _START_ATTEMPTS:
                raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()}\n{log[-2000:]}")
            # Another process (a parallel test worker's cluster or server, say) took the port since it was free.
            cluster.port = _free_port()
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
        cluster.run(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
