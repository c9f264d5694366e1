# SPDX-License-Identifier: Apache-2.0
"""A hub (or a benchmark's variant of its app) served for real by uvicorn in a child process, and a load generator.

>>> with served(HUB_APP, data_dir, database_url=None, workers=2) as server:      # doctest: +SKIP
...     load = closed_loop(server.url + "/v1/submissions", bodies, connections=4)

The server is exactly what ``tipshare-hub serve`` runs: :func:`hub.cli.server.run` (uvicorn with the hub's options
and logging, ``--workers N`` processes each building the app from the ``TIPSHARE_HUB_*`` environment); only the
app factory may be another one (``python -m bench.serve --factory ...``, used for the ingest benchmark's bare
route), and the per-address rate limits are off (``TIPSHARE_HUB_RATE_LIMITS=off``: all load comes from one
address). It runs in its own process group and is stopped by that group's id.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from bench.common import ROOT

__all__ = ["HUB_APP", "Load", "Server", "closed_loop", "served"]

#: The hub's own app factory (what ``tipshare-hub serve`` runs).
HUB_APP: Final = "hub.cli.server:app_from_environment"
_STARTED: Final = "Application startup complete."


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def worker_cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its worker processes (Linux ``/proc``)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(entry.name) == self.process.pid or int(fields[1]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])
        return total / ticks


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(
    factory: str,
    data_dir: Path,
    *,
    database_url: str | None,
    workers: int,
    timeout: float = 60.0,
    settings: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Serve the initialised hub in ``data_dir`` with the app ``factory`` (an import string) until the block ends;
    ``settings`` adds ``TIPSHARE_HUB_*`` variables."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TIPSHARE_HUB_")}
    environment["TIPSHARE_HUB_DATA_DIR"] = str(data_dir)
    # The load comes from one address and one credential: the hub's per-address rate limits would measure
    # themselves (an operator turns them off the same way behind a proxy that limits instead).
    environment["TIPSHARE_HUB_RATE_LIMITS"] = "off"
    if database_url is not None:
        environment["TIPSHARE_HUB_DATABASE_URL"] = database_url
    environment.update(settings or {})
    command = [sys.executable, "-m", "bench.serve", "--factory", factory, "--port", str(port)]
    command += ["--workers", str(workers), "--data-dir", str(data_dir)]
    if database_url is not None:
        command += ["--database-url", database_url]
    log_path = data_dir.parent / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - uvicorn with fixed arguments
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, workers=workers)
    try:
        _wait(server, timeout)
        yield server
    finally:
        _stop(process)


def _wait(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log_tail()}")
        if server.log_tail(1_000_000).count(_STARTED) >= server.workers:
            with suppress(httpx.TransportError):
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start {server.workers} worker(s) in {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class Load:
    """What a closed-loop run did: requests completed, wall seconds, per-request latencies, status codes."""

    completed: int
    seconds: float
    latencies: tuple[float, ...]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.completed / self.seconds


def closed_loop(
    url: str,
    bodies: Sequence[bytes],
    *,
    connections: int,
    duration: float | None = None,
    expect: frozenset[int] = frozenset({200, 201}),
) -> Load:
    """POST ``bodies`` (each once, in order) from ``connections`` keep-alive clients, each sending its next body as
    soon as its previous answer arrived; stop when the bodies run out or after ``duration`` seconds."""
    lock = threading.Lock()
    position = [0]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = None if duration is None else started + duration

    def client() -> None:
        with httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as http:
            while True:
                with lock:
                    if position[0] >= len(bodies) or (stop_at is not None and time.perf_counter() >= stop_at):
                        return
                    body = bodies[position[0]]
                    position[0] += 1
                sent = time.perf_counter()
                response = http.post(url, content=body, headers={"Content-Type": "application/json"})
                elapsed = time.perf_counter() - sent
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code not in expect and len(errors) < 3:
                        errors.append(f"{response.status_code}: {response.text[:300]}")

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"unexpected answers from {url}: {errors}")
    return Load(completed=len(latencies), seconds=seconds, latencies=tuple(latencies), statuses=statuses)


def _main(argv: Sequence[str]) -> int:
    """``tipshare-hub serve`` (:func:`hub.cli.server.run`) with another app factory."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--factory", default=HUB_APP)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args(argv)
    import hub.cli.server
    from hub.settings import Settings

    hub.cli.server.APP_FACTORY = options.factory  # type: ignore[misc]
    settings = Settings(
        data_dir=options.data_dir,
        database_url=options.database_url,
        host="127.0.0.1",
        port=options.port,
        workers=options.workers,
    )
    hub.cli.server.run(settings, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
