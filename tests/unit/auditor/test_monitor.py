# SPDX-License-Identifier: Apache-2.0
"""The log monitor against a small fake log served over ``httpx.MockTransport`` (no hub needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from auditor.client import AuditClient
from auditor.findings import Check
from auditor.monitor import LogMonitor
from auditor.state import StateStore
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.crypto import SigningKey
from protocol.merkle import consistency_proof, leaf_hash, root_hash
from protocol.messages import b64encode
from protocol.note import NoteSigner

ORIGIN = "log.example.org/test"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


class FakeLog:
    """Serves checkpoint, entries (at most ``page_max`` a page) and consistency proofs of its leaves."""

    def __init__(self) -> None:
        self.signer = NoteSigner(ORIGIN, SigningKey.generate())
        self.leaves: list[bytes] = []
        self.size: int | None = None  # serve a checkpoint of this size instead of all leaves
        self.claimed: dict[int, bytes] = {}
        self.page_max = 4
        self.refuse_proofs = False
        self.repeat_first = False
        self.requests: list[httpx.Request] = []

    def grow(self, count: int) -> None:
        self.leaves += [f"entry {len(self.leaves) + i}".encode() for i in range(count)]

    def note(self, size: int) -> str:
        return sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(self._hashes()[:size])), self.signer)

    def _hashes(self) -> list[bytes]:
        return [leaf_hash(leaf) for leaf in self.leaves]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        size = len(self.leaves) if self.size is None else self.size
        params = request.url.params
        if request.url.path == "/v1/log/checkpoint":
            return httpx.Response(404) if size == 0 else httpx.Response(200, text=self.note(size))
        if request.url.path == "/v1/log/entries":
            start, end = int(params["start"]), int(params["end"])
            indices = [*range(start, min(end, start + self.page_max, size))]
            if self.repeat_first and indices:
                indices.append(indices[0])
            entries = [
                {
                    "index": i,
                    "leaf_hash": b64encode(self.claimed.get(i, leaf_hash(self.leaves[i]))),
                    "data": b64encode(self.leaves[i]),
                }
                for i in indices
            ]
            return httpx.Response(
                200, json={"start": start, "end": start + len(entries), "tree_size": size, "entries": entries}
            )
        if request.url.path == "/v1/log/proof/consistency" and self.refuse_proofs:
            return httpx.Response(400, json={"code": "bad_request", "detail": "no such tree size"})
        if request.url.path == "/v1/log/proof/consistency":
            first, second = int(params["first"]), int(params["second"])
            proof = consistency_proof(first, self._hashes()[:second])
            return httpx.Response(200, json={"first": first, "second": second, "proof": [b64encode(p) for p in proof]})
        return httpx.Response(404)


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def http(log: FakeLog) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(log.handle)) as client:
        yield client


def _monitor(log: FakeLog, http: httpx.Client, store: StateStore, page_size: int = 3) -> LogMonitor:
    client = AuditClient(http, "https://hub.example.org", token="t")  # noqa: S106 - a fake log needs no real token
    return LogMonitor(client=client, store=store, verifier=log.signer.verifier, page_size=page_size, now=NOW)


def _run(log: FakeLog, http: httpx.Client, state: Path) -> LogMonitor:
    """One advance in one run; commits like the verifier does when the log verified."""
    with StateStore.open(state) as store:
        monitor = _monitor(log, http, store)
        if monitor.advance():
            store.commit()
    return monitor


def test_the_first_run_fetches_every_entry_in_pages_and_rebuilds_the_root(
    log: FakeLog, http: httpx.Client, tmp_path: Path
) -> None:
    log.grow(10)
    monitor = _run(log, http, tmp_path)

    assert not monitor.broken
    assert monitor.failures == []
    assert (monitor.size, monitor.fetched, monitor.entries_before) == (10, 10, 0)
    starts = [int(r.url.params["start"]) for r in log.requests if r.url.path == "/v1/log/entries"]
    assert starts == [0, 3, 6, 9]  # pages of 3 asked for; the log serves up to 4
    with StateStore.open(tmp_path) as store:
        assert store.entry_count() == 10
        assert [c.size for c in store.checkpoints()] == [10]


def test_a_later_run_fetches_only_new_entries_and_proves_consistency(
    log: FakeLog, http: httpx.Client, tmp_path: Path
) -> None:
    log.grow(10)
    _run(log, http, tmp_path)
    log.grow(5)
    log.requests.clear()

    monitor = _run(log, http, tmp_path)

    assert not monitor.broken
    assert (monitor.entries_before, monitor.fetched, monitor.consistent_with) == (10, 5, {10})
    assert min(int(r.url.params["start"]) for r in log.requests if r.url.path == "/v1/log/entries") == 10
    with StateStore.open(tmp_path) as store:
        again = _monitor(log, http, store)
        assert again.advance()
        assert again.root_at(12) == root_hash(store.leaf_hashes()[:12])
        assert again.adopt(log.note(12), size=12, root=again.root_at(12)) is None
        store.commit()
        assert [c.size for c in store.checkpoints()] == [10, 12, 15]


def test_a_smaller_checkpoint_is_a_rollback(log: FakeLog, http: httpx.Client, tmp_path: Path) -> None:
    log.grow(10)
    _run(log, http, tmp_path)
    log.size = 8

    monitor = _run(log, http, tmp_path)

    assert monitor.broken
    assert [(f.check, f.message) for f in monitor.failures] == [
        (
            Check.ROLLBACK,
            "the hub's checkpoint has size 8, smaller than checkpoint 10 seen before: the log was rolled back",
        )
    ]


def test_a_rewritten_history_fails_consistency_and_the_rebuilt_root(
    log: FakeLog, http: httpx.Client, tmp_path: Path
) -> None:
    log.grow(10)
    _run(log, http, tmp_path)
    log.leaves[2] = b"a rewritten entry"
    log.grow(3)

    monitor = _run(log, http, tmp_path)

    assert [f.check for f in monitor.failures] == [Check.CONSISTENCY, Check.ROOT]
    assert monitor.failures[0].message.startswith("checkpoint 13 is not consistent with checkpoint 10 seen before")
    with StateStore.open(tmp_path) as store:  # nothing of the bad run was kept
        assert store.entry_count() == 10


def test_a_leaf_hash_that_is_not_the_data_s_is_named(log: FakeLog, http: httpx.Client, tmp_path: Path) -> None:
    log.grow(5)
    log.claimed[3] = leaf_hash(b"something else")

    monitor = _run(log, http, tmp_path)

    assert [(f.check, f.index) for f in monitor.failures] == [(Check.ENTRIES, 3)]
    assert monitor.broken


def test_an_empty_log_verifies_until_a_checkpoint_was_seen(log: FakeLog, http: httpx.Client, tmp_path: Path) -> None:
    assert _run(log, http, tmp_path).size == 0
    log.grow(2)
    _run(log, http, tmp_path)
    log.leaves.clear()
    (failure,) = _run(log, http, tmp_path).failures
    assert failure.message == "the hub serves an empty log, but checkpoint 2 was seen"


def test_a_checkpoint_named_elsewhere_must_be_signed_and_the_log_s(
    log: FakeLog, http: httpx.Client, tmp_path: Path
) -> None:
    log.grow(6)
    with StateStore.open(tmp_path) as store:
        monitor = _monitor(log, http, store)
        assert monitor.advance()
        other = NoteSigner(ORIGIN, SigningKey.generate())
        forged = sign_checkpoint(Checkpoint(ORIGIN, 4, bytes(32)), log.signer)
        impostor = sign_checkpoint(Checkpoint(ORIGIN, 4, monitor.root_at(4)), other)
        assert monitor.adopt(forged, size=4, root=bytes(32)) == (
            f"checkpoint 4 (root {b64encode(bytes(32))}) is not the log's tree of that size"
        )
        assert "does not verify with the pinned log key" in (
            monitor.adopt(impostor, size=4, root=monitor.root_at(4)) or ""
        )
        assert "says size 4, not the size 5" in (monitor.adopt(log.note(4), size=5, root=monitor.root_at(4)) or "")
        assert json.dumps(monitor.seen_sizes) == "[6]"


def test_a_hub_that_refuses_a_proof_or_repeats_entries_fails(log: FakeLog, http: httpx.Client, tmp_path: Path) -> None:
    log.grow(4)
    _run(log, http, tmp_path)
    log.grow(4)
    log.refuse_proofs = True
    (failure,) = _run(log, http, tmp_path).failures
    assert failure.check is Check.CONSISTENCY
    assert failure.message.startswith(
        "the hub gives no consistency proof from checkpoint 4 seen before to checkpoint 8"
    )
    assert "HTTP 400 bad_request: no such tree size" in failure.message

    log.refuse_proofs, log.repeat_first = False, True
    (failure,) = _run(log, http, tmp_path).failures
    assert (failure.check, failure.message) == (Check.ENTRIES, "the hub served entry 4 twice or out of order")
