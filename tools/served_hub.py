# SPDX-License-Identifier: Apache-2.0
"""A hub served for real, as an operator runs it, in a child process on a free port of 127.0.0.1.

>>> with served_hub(data_dir, database_url=None, workers=2) as hub:   # doctest: +SKIP
...     httpx.get(f"{hub.url}/healthz")

The server is ``tipshare-hub serve --workers N`` (:func:`hub.cli.server.run`: uvicorn's supervisor and N worker
processes, each building its app from the ``TIPSHARE_HUB_*`` environment), so the test suite and the benchmarks
can load it over real HTTP from many threads at once. Only the app factory may be another one
(``factory="bench.ingest_app:..."``, the ingest benchmark's bare route): then this module's own ``__main__`` runs
:func:`hub.cli.server.run` with it (``python -m tools.served_hub --factory ...``).

The server's output goes to ``serve-<port>.log`` in the data directory's parent; :meth:`ServedHub.log_tail` puts
the end of it into error messages. The server runs in its own process group and is stopped by that group's id
(SIGTERM, then SIGKILL), so no worker outlives the block.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

__all__ = ["ROOT", "ProcessStat", "ServedHub", "ServerFailed", "free_port", "processes", "served_hub"]

#: The project's root: the servers run there, so ``python -m`` finds the project's packages.
ROOT: Final = Path(__file__).resolve().parents[1]
#: uvicorn prints this once per worker process when its app is built and serving.
_STARTED: Final = "Application startup complete."


class ServerFailed(RuntimeError):
    """The served hub did not start, or stopped on its own."""


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

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server: its supervisor and its workers together."""
        pid = self.process.pid
        ticks = sum(p.cpu_ticks for p in processes() if pid in (p.pid, p.parent))
        return ticks / os.sysconf("SC_CLK_TCK")


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
    start_timeout: float = 60.0,
    settings: Mapping[str, str] | None = None,
    factory: str | None = None,
) -> Iterator[ServedHub]:
    """Serve the initialised hub in ``data_dir`` (and ``database_url``) until the block ends.

    Returns once every worker has built its app, so load sent afterwards can reach all of them. ``settings`` are
    more ``TIPSHARE_HUB_*`` variables (``{"TIPSHARE_HUB_RATE_LIMITS": "off"}`` for a load test, say); ``factory``
    another app factory than the hub's own (an import string).
    """
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TIPSHARE_HUB_")}
    environment.update(settings or {})
    environment["TIPSHARE_HUB_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        environment["TIPSHARE_HUB_DATABASE_URL"] = database_url
    if factory is None:
        command = [sys.executable, "-m", "hub.cli", "serve", "--host", "127.0.0.1"]
    else:
        command = [sys.executable, "-m", "tools.served_hub", "--factory", factory]
    command += ["--port", str(port), "--workers", str(workers), "--data-dir", str(data_dir)]
    log_path = data_dir.parent / f"serve-{port}.log"
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
            raise ServerFailed(f"the hub's server exited with {served.process.returncode}:\n{served.log_tail()}")
        if served.log().count(_STARTED) >= served.workers:
            with suppress(httpx.TransportError):
                if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                    return
        time.sleep(0.1)
    raise ServerFailed(
        f"the hub's server did not start {served.workers} workers in {timeout:.0f} s:\n{served.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (graceful), SIGKILL if it is still there after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung shutdown
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Workers are in the same group; reap any that outlived the supervisor.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _main(argv: Sequence[str]) -> int:
    """``tipshare-hub serve`` (:func:`hub.cli.server.run`) with another app factory."""
    parser = argparse.ArgumentParser(prog="python -m tools.served_hub")
    parser.add_argument("--factory", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, required=True)
    options = parser.parse_args(argv)
    import hub.cli.server
    from hub.settings import Settings

    hub.cli.server.APP_FACTORY = options.factory  # type: ignore[misc]
    settings = Settings(data_dir=options.data_dir, host="127.0.0.1", port=options.port, workers=options.workers)
    hub.cli.server.run(settings, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
