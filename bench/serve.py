# SPDX-License-Identifier: Apache-2.0
"""A hub (or a benchmark's variant of its app) served for real, and a load generator.

>>> with served(HUB_APP, data_dir, database_url=None, workers=2) as server:      # doctest: +SKIP
...     load = closed_loop(server.url + "/v1/submissions", bodies, connections=4)

The server is :func:`tools.served_hub.served_hub`, exactly what ``tipshare-hub serve`` runs
(:func:`hub.cli.server.run`: uvicorn with the hub's options and logging, ``--workers N`` processes each building the
app from the ``TIPSHARE_HUB_*`` environment), with the app factory the benchmark names (``HUB_APP``, or the ingest
benchmark's bare route) and the per-address rate limits off (``TIPSHARE_HUB_RATE_LIMITS=off``: all load comes from
one address and one credential, and the limits would measure themselves; an operator turns them off the same way
behind a proxy that limits instead).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from tools.served_hub import ServedHub, served_hub

__all__ = ["HUB_APP", "Load", "closed_loop", "served"]

#: The hub's own app factory (what ``tipshare-hub serve`` runs).
HUB_APP: Final = "hub.cli.server:app_from_environment"


@contextmanager
def served(
    factory: str,
    data_dir: Path,
    *,
    database_url: str | None,
    workers: int,
    settings: Mapping[str, str] | None = None,
) -> Iterator[ServedHub]:
    """Serve the initialised hub in ``data_dir`` with the app ``factory`` (an import string), its rate limits off,
    until the block ends; ``settings`` adds ``TIPSHARE_HUB_*`` variables."""
    unlimited = {"TIPSHARE_HUB_RATE_LIMITS": "off", **(settings or {})}
    with served_hub(data_dir, database_url=database_url, workers=workers, settings=unlimited, factory=factory) as hub:
        yield hub


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
