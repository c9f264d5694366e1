# SPDX-License-Identifier: Apache-2.0
"""A hub served for real: ``tipshare-hub serve --workers N`` in a child process, on a free port of 127.0.0.1.

This is the hub as an operator runs it (uvicorn's supervisor and N worker processes, each building its app from
the ``TIPSHARE_HUB_*`` environment), so tests can load it over real HTTP from many threads at once:

>>> with served_hub(data_dir, database_url=None, workers=2) as hub:   # doctest: +SKIP
...     httpx.get(f"{hub.url}/healthz")

The server's output goes to ``serve.log`` in the data directory's parent; :meth:`ServedHub.log_tail` puts the end
of it into assertion messages. The server runs in its own process group and is stopped by that group's id (SIGTERM,
then SIGKILL), so no worker outlives the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

__all__ = ["ProcessStat", "ServedHub", "ServerFailed", "free_port", "processes", "served_hub"]

ROOT: Final = Path(__file__).resolve().parents[2]
#: uvicorn prints this once per worker process when its app is built and serving.
_STARTED: Final = "Application startup complete."


class ServerFailed(AssertionError):
    """The served hub did not start, or stopped on its own."""


@dataclass(frozen=True, slots=True)
class ServedHub:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 6000) -> str:
        return self.log()[-chars:]

    def worker_cpu_ticks(self) -> dict[int, int]:
        """CPU time (clock ticks, user + system) used so far by each worker process uvicorn started (Linux /proc)."""
        return {p.pid: p.cpu_ticks for p in processes() if p.parent == self.process.pid}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served_hub(
    data_dir: Path,
    *,
    database_url: str | None,
    workers: int,
    start_timeout: float = 45.0,
    settings: Mapping[str, str] | None = None,
) -> Iterator[ServedHub]:
    """Serve the initialised hub in ``data_dir`` (and ``database_url``) until the block ends.

    Returns once every worker has built its app, so load sent afterwards can reach all of them. ``settings`` are
    more ``TIPSHARE_HUB_*`` variables (``{"TIPSHARE_HUB_RATE_LIMITS": "off"}`` for a load test, say).
    """
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TIPSHARE_HUB_")}
    environment.update(settings or {})
    environment["TIPSHARE_HUB_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        environment["TIPSHARE_HUB_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "hub.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--data-dir", str(data_dir)]
    log_path = data_dir.parent / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = ServedHub(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, workers=workers)
    try:
        _wait_until_serving(served, timeout=start_timeout)
        yield served
    finally:
        _stop(process)


def _wait_until_serving(served: ServedHub, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise ServerFailed(f"tipshare-hub serve exited with {served.process.returncode}:\n{served.log_tail()}")
        if served.log().count(_STARTED) >= served.workers:
            try:
                if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise ServerFailed(
        f"tipshare-hub serve did not start {served.workers} workers in {timeout:.0f} s:\n{served.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (graceful), SIGKILL if it is still there after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung shutdown
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Workers are in the same group; reap any that outlived the supervisor.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class ProcessStat:
    """One process as /proc/<pid>/stat shows it (see proc(5))."""

    pid: int
    state: str
    parent: int
    group: int
    cpu_ticks: int


def processes() -> Iterator[ProcessStat]:
    """Every process visible in /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may hold spaces: count fields from after it, where
        # field 3 (state) is [0], 4 (ppid) [1], 5 (process group) [2], 14 and 15 (utime, stime) [11] and [12].
        fields = stat[stat.rindex(")") + 2 :].split()
        yield ProcessStat(int(entry.name), fields[0], int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))
