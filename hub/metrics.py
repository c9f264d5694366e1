# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics, kept in-process (one set per worker) and rendered in the text exposition format.

Counters: submissions accepted and rejected (by reason code), HTTP requests (by route and status), requests refused
by the rate limits (by class).
A histogram of request latency. The log size is read from the database when ``/metrics`` is scraped.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Final

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted = 0
        self._duplicates = 0
        self._rejected: defaultdict[str, int] = defaultdict(int)
        self._requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self._latency_counts: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_BUCKETS) + 1))
        self._latency_sum: defaultdict[str, float] = defaultdict(float)
        self._limited: defaultdict[str, int] = defaultdict(int)

    def submission_accepted(self, *, duplicate: bool) -> None:
        with self._lock:
            if duplicate:
                self._duplicates += 1
            else:
                self._accepted += 1

    def submission_rejected(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def request_limited(self, kind: str) -> None:
        with self._lock:
            self._limited[kind] += 1

    def request_observed(self, *, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            counts = self._latency_counts[route]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self._latency_sum[route] += seconds

    def render(self, *, log_size: int, hotlines: int) -> str:
        with self._lock:
            lines = [
                "# HELP tipshare_submissions_accepted_total Submissions accepted and appended to the log.",
                "# TYPE tipshare_submissions_accepted_total counter",
                f"tipshare_submissions_accepted_total {self._accepted}",
                "# HELP tipshare_submissions_duplicate_total Resubmissions of already accepted payloads.",
                "# TYPE tipshare_submissions_duplicate_total counter",
                f"tipshare_submissions_duplicate_total {self._duplicates}",
                "# HELP tipshare_submissions_rejected_total Submissions rejected, by reason.",
                "# TYPE tipshare_submissions_rejected_total counter",
            ]
            lines += [
                f'tipshare_submissions_rejected_total{{reason="{_label(reason)}"}} {count}'
                for reason, count in sorted(self._rejected.items())
            ]
            lines += [
                "# HELP tipshare_log_size Entries in the transparency log.",
                "# TYPE tipshare_log_size gauge",
                f"tipshare_log_size {log_size}",
                "# HELP tipshare_hotlines_enrolled Hotlines enrolled at this hub.",
                "# TYPE tipshare_hotlines_enrolled gauge",
                f"tipshare_hotlines_enrolled {hotlines}",
                "# HELP tipshare_http_requests_total HTTP requests, by method, route and status.",
                "# TYPE tipshare_http_requests_total counter",
            ]
            lines += [
                f'tipshare_http_requests_total{{method="{m}",route="{_label(r)}",status="{s}"}} {n}'
                for (m, r, s), n in sorted(self._requests.items())
            ]
            lines += [
                "# HELP tipshare_http_requests_limited_total Requests refused by a rate limit (429), by class.",
                "# TYPE tipshare_http_requests_limited_total counter",
            ]
            lines += [
                f'tipshare_http_requests_limited_total{{class="{_label(kind)}"}} {count}'
                for kind, count in sorted(self._limited.items())
            ]
            lines += [
                "# HELP tipshare_http_request_seconds Request latency, by route.",
                "# TYPE tipshare_http_request_seconds histogram",
            ]
            for route, counts in sorted(self._latency_counts.items()):
                name = _label(route)
                cumulative = 0
                for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                    cumulative += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'tipshare_http_request_seconds_bucket{{route="{name}",le="{le}"}} {cumulative}')
                lines.append(f'tipshare_http_request_seconds_sum{{route="{name}"}} {self._latency_sum[route]}')
                lines.append(f'tipshare_http_request_seconds_count{{route="{name}"}} {cumulative}')
        return "\n".join(lines) + "\n"
