# SPDX-License-Identifier: Apache-2.0
"""Rate limits: token buckets per source address, per credential and per hotline.

Every request falls in one *class* by its route (:func:`request_class`); each class has a :class:`Rate` per
source address and one per credential (a bearer token or a dashboard session). A hotline's submissions are also
limited per hotline once their signature is verified, so a stolen key cannot flood the log from many addresses,
and no one without the key can use up a hotline's allowance.

>>> clock = iter([0.0, 0.0, 0.0, 30.0]).__next__
>>> limiter = RateLimiter(clock=clock)
>>> rate = Rate(per_minute=2)
>>> limiter.take(("source", "192.0.2.1"), rate), limiter.take(("source", "192.0.2.1"), rate)
(None, None)
>>> limiter.take(("source", "192.0.2.1"), rate)      # empty: seconds until the next request is allowed
30
>>> limiter.take(("source", "192.0.2.1"), rate)      # 30 s later one request has been earned back

A bucket holds a minute's allowance (``per_minute`` requests, so a burst of that many is allowed) and refills
continuously. The hub keeps its buckets in the database (:class:`hub.rate_buckets.DatabaseRateLimiter`), so the
N workers of ``serve --workers N`` (or several hubs on one PostgreSQL) share one allowance; :class:`RateLimiter`
keeps them in one process's memory (``TIPSHARE_HUB_RATE_LIMIT_STORE=memory``: N workers then allow up to N times
the rate) and is the reference the database's buckets follow. IPv6 sources are limited per /64, the block one
subscriber usually holds. In memory, at most ``max_keys`` buckets are kept; the least recently used is dropped
first (a dropped bucket is a full one, so this only ever forgives).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

__all__ = [
    "RATE_CLASSES",
    "Limiter",
    "Rate",
    "RateClass",
    "RateLimiter",
    "RatePolicy",
    "policies",
    "request_class",
    "source_key",
]

RateClass = Literal["submit", "query", "audit", "admin"]
RATE_CLASSES: Final[tuple[RateClass, ...]] = ("submit", "query", "audit", "admin")


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_minute`` requests a minute, in bursts of up to that many."""

    per_minute: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """The rates of one class: per source address and per credential (token, session, or hotline)."""

    per_source: Rate
    per_credential: Rate


class Limiter(Protocol):
    """What the hub asks of a rate limiter (in memory, or in the database)."""

    def take(self, key: Hashable, rate: Rate) -> int | None:
        """Spend one request from ``key``'s bucket: ``None`` if allowed, else whole seconds to wait."""
        ...

    def take_many(self, buckets: Sequence[tuple[Hashable, Rate]]) -> int | None:
        """Spend one request from each bucket in turn, stopping at the first that is empty (its wait)."""
        ...


class RateLimiter:
    """Token buckets keyed by anything hashable, in memory; thread-safe (routes run in a thread pool)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def take(self, key: Hashable, rate: Rate) -> int | None:
        """Spend one request from ``key``'s bucket: ``None`` if allowed, else whole seconds to wait."""
        capacity = float(rate.per_minute)
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - updated) * rate.per_second)
            if tokens >= 1.0:
                self._keep(key, tokens - 1.0, now)
                return None
            self._keep(key, tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate.per_second))

    def take_many(self, buckets: Sequence[tuple[Hashable, Rate]]) -> int | None:
        """Spend one request from each bucket in turn, stopping at the first that is empty (its wait)."""
        for key, rate in buckets:
            if (wait := self.take(key, rate)) is not None:
                return wait
        return None

    def _keep(self, key: Hashable, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


def request_class(method: str, path: str) -> RateClass | None:
    """The class a request is limited in, or ``None`` for liveness, metrics and static files."""
    if path in ("/healthz", "/metrics") or path.startswith("/static/"):
        return None
    if method == "POST" and path in ("/v1/submissions", "/v1/rounds/messages"):
        # A round's signed message writes to the log like a submission, and is as large as one may be.
        return "submit"
    if path.startswith("/v1/admin"):
        return "admin"
    if path.startswith(("/v1/log/", "/v1/submissions/", "/v1/audit/")):
        return "audit"
    return "query"


def source_key(host: str | None) -> str:
    """The address a source is limited by: IPv4 as is, IPv6 by its /64 (``unknown`` when there is none)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


def policies(
    *, submissions: int, queries: int, audit: int, admin: int, per_hotline: int
) -> tuple[Mapping[RateClass, RatePolicy], Rate]:
    """The per-class policies and the per-hotline submission rate, from requests-per-minute settings.

    A source address gets twice a credential's rate (several people may share an office's address).
    """
    table: dict[RateClass, RatePolicy] = {
        "submit": RatePolicy(per_source=Rate(submissions), per_credential=Rate(submissions)),
        "query": RatePolicy(per_source=Rate(2 * queries), per_credential=Rate(queries)),
        "audit": RatePolicy(per_source=Rate(2 * audit), per_credential=Rate(audit)),
        "admin": RatePolicy(per_source=Rate(2 * admin), per_credential=Rate(admin)),
    }
    return table, Rate(per_hotline)
