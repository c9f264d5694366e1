# SPDX-License-Identifier: Apache-2.0
"""Several hub worker processes, one database, many hotlines at once: the log stays one log.

A real ``tipshare-hub serve --workers N`` (uvicorn worker *processes*, so no Python lock can help) takes a storm of
concurrent submissions from ten hotlines, with the same bytes sent more than once, the same payload sealed twice,
corrections racing the releases they correct, and two enrollments through the admin API in the middle. Appends
must be serialized by the database (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL). Afterwards:

* every acknowledged submission (201, or 200 for a repeat) has a receipt that verifies offline with the hub's
  published log key, and repeats got the very receipt the first delivery got;
* every acknowledged payload is in the log exactly once, and the log holds nothing that was not acknowledged;
* the log never forked: one root per tree size across every checkpoint any client received, each of them a
  prefix of the final tree (consistency proofs from the API, and roots recomputed from the leaves), and the
  final signed root is the RFC 6962 root of all the leaves;
* the hub's own log self-check passes, and the rollups equal a rebuild from the log.

The suite runs it on SQLite (two workers) and, with ``--backend postgresql``, on PostgreSQL (three workers), where
it is the test that matters: it never quietly falls back to SQLite there.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.db import make_engine, make_sessionmaker, read_session, write_session
from hub.keys import load_keys
from hub.services.logcheck import check_log
from hub.services.rebuild import check_rollups
from hub.services.registry import Registry
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.crypto import SealingKey, SigningKey, seal_envelope
from protocol.merkle import leaf_hash, root_hash, verify_consistency
from protocol.messages import Receipt, SubmissionEntry, SubmissionPayload, b64decode, parse_log_entry
from protocol.note import NoteVerifier
from protocol.receipt import verify_receipt
from protocol.taxonomy import TAXONOMY_V1_ID, Taxonomy
from tests.support.backends import BACKEND, fresh_database_url
from tests.support.releases import make_release
from tools.served_hub import ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN = "hub.test.tipshare/concurrency"
COUNTRIES = ("MD", "UA", "RO", "BG", "PL", "CZ", "SK", "HU", "AL", "RS")
PERIODS = ("2026-01", "2026-02", "2026-03")
#: Worker processes per backend: SQLite serializes writers with BEGIN IMMEDIATE across processes too, but it is
#: one file on one machine; PostgreSQL is where several workers are the deployment.
WORKERS = {"sqlite": 2, "postgresql": 3}
CLIENT_THREADS = 24
#: Releases carry only the taxonomy's small tables (a full release has ~21 000 cells and takes a few hundred ms to
#: ingest): the storm then interleaves more requests per second, which is what it tests, and stays quick.
MAX_CELLS = 100
STORM_TIMEOUT = 90.0
REQUEST_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass(frozen=True, slots=True)
class Shot:
    """One POST /v1/submissions: which release it carries and the exact bytes sent."""

    label: str
    hotline_id: str
    period: str
    revision: int
    payload_bytes: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    shot: Shot
    status: int
    content: bytes

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


@dataclass(frozen=True, slots=True)
class PreparedHub:
    settings: Settings
    taxonomies: dict[str, Taxonomy]
    taxonomy: Taxonomy
    keys: dict[str, SigningKey]
    auditor: str
    admin: str


@pytest.fixture
def database_url() -> Iterator[str | None]:
    with fresh_database_url() as url:
        if BACKEND.name == "postgresql":  # the PostgreSQL pass must never fall back to SQLite
            assert url is not None
            assert url.startswith("postgresql"), url
        yield url


def _prepare(data_dir: Path, database_url: str | None) -> PreparedHub:
    """``tipshare-hub init``, ten hotlines enrolled, an auditor and an admin token: all before the server starts."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    context = initialise_hub(settings, origin=ORIGIN)
    keys: dict[str, SigningKey] = {}
    try:
        with write_session(context.sessions) as session:
            registry = Registry.open(context, session)
            for number, country in enumerate(COUNTRIES):
                hotline_id = f"hotline-{number:02d}-{country.lower()}"
                keys[hotline_id] = SigningKey.generate()
                registry.enroll(
                    hotline_id=hotline_id,
                    display_name=f"Hotline {number} ({country})",
                    country=country,
                    public_key=keys[hotline_id].verify_key.to_text(),
                    now=context.clock(),
                )
            tokens = TokenService(session)
            auditor = tokens.create(role="auditor", label="concurrency auditor", now=context.clock()).token
            admin = tokens.create(role="admin", label="concurrency admin", now=context.clock()).token
        # Small releases of v1 (v2 refuses a release without every person and case table).
        return PreparedHub(
            settings, dict(context.taxonomies), context.taxonomy_by_id(TAXONOMY_V1_ID), keys, auditor, admin
        )
    finally:
        context.engine.dispose()


def _shots(prepared: PreparedHub, hub_key: SealingKey, rng: random.Random) -> list[Shot]:
    """Seven requests per hotline, in a shuffled order.

    Releases of three months; the first one's exact bytes twice more (a node retrying while the first attempt is
    still in flight); the second one's payload sealed afresh (other envelope bytes, same signed payload); and a
    correction of the third month racing the release it corrects.
    """
    shots: list[Shot] = []
    for hotline_id, key in prepared.keys.items():
        first, second, third = (_release(prepared, hotline_id, period, 1, rng) for period in PERIODS)
        correction = _release(prepared, hotline_id, PERIODS[2], 2, rng)
        original = _sealed(first, key, hub_key, "release")
        shots += [original, original, original]  # identical bytes, three times
        shots += [_sealed(second, key, hub_key, "release"), _sealed(second, key, hub_key, "resealed")]
        shots += [_sealed(third, key, hub_key, "release"), _sealed(correction, key, hub_key, "correction")]
    rng.shuffle(shots)
    return shots


def _release(
    prepared: PreparedHub, hotline_id: str, period: str, revision: int, rng: random.Random
) -> SubmissionPayload:
    """A release of the taxonomy's tables of at most ``MAX_CELLS`` cells, with random noisy counts."""
    taxonomy = prepared.taxonomy
    names = [name for name in taxonomy.tables if taxonomy.table(name).cell_count <= MAX_CELLS]
    cells = {name: [rng.randint(-20, 60) for _ in range(taxonomy.table(name).cell_count)] for name in names}
    return make_release(
        taxonomy,
        prepared.keys[hotline_id],
        hotline_id=hotline_id,
        period=period,
        revision=revision,
        cells=cells,
        tables=names,
        created_at="2026-04-02T09:30:00Z",
    )


def _sealed(payload: SubmissionPayload, key: SigningKey, hub_key: SealingKey, label: str) -> Shot:
    body = seal_envelope(payload, signing_key=key, hub_key=hub_key).canonical_bytes()
    return Shot(label, payload.hotline_id, payload.period, payload.revision, payload.canonical_bytes(), body)


def _post(client: httpx.Client, shot: Shot) -> Outcome:
    response = client.post(
        "/v1/submissions", content=shot.body, headers={"Content-Type": "application/json"}, timeout=REQUEST_TIMEOUT
    )
    return Outcome(shot, response.status_code, response.content)


def _enroll(client: httpx.Client, prepared: PreparedHub, hotline_id: str, country: str) -> int:
    """An enrollment through the admin API, racing the submissions (key events are log appends too)."""
    response = client.post(
        "/v1/admin/hotlines",
        json={
            "id": hotline_id,
            "display_name": hotline_id,
            "country": country,
            "public_key": SigningKey.generate().verify_key.to_text(),
        },
        headers={"Authorization": f"Bearer {prepared.admin}"},
        timeout=REQUEST_TIMEOUT,
    )
    return response.status_code


def _storm(served: ServedHub, prepared: PreparedHub, shots: list[Shot]) -> tuple[list[Outcome], list[int]]:
    """Every shot from ``CLIENT_THREADS`` threads, each on its own connection, with two enrollments half-way."""
    limits = httpx.Limits(max_connections=CLIENT_THREADS, max_keepalive_connections=0)  # every request connects anew
    with httpx.Client(base_url=served.url, limits=limits) as client, ThreadPoolExecutor(CLIENT_THREADS) as pool:
        # Start every thread first (the pool makes them lazily), so the requests leave together.
        ready = threading.Barrier(CLIENT_THREADS)
        for started in [pool.submit(ready.wait, 30) for _ in range(CLIENT_THREADS)]:
            started.result(timeout=40)
        middle = len(shots) // 2
        submissions = [pool.submit(_post, client, shot) for shot in shots[:middle]]
        enrollments = [pool.submit(_enroll, client, prepared, f"late-{n}", "MD") for n in (1, 2)]
        submissions += [pool.submit(_post, client, shot) for shot in shots[middle:]]
        everything: list[Future[Any]] = [*submissions, *enrollments]
        _, pending = wait(everything, timeout=STORM_TIMEOUT)
        assert not pending, f"{len(pending)} requests did not finish in {STORM_TIMEOUT:.0f} s:\n{served.log_tail()}"
        return [future.result() for future in submissions], [future.result() for future in enrollments]


def _problem_code(outcome: Outcome) -> str:
    try:
        return str(json.loads(outcome.content).get("code"))
    except ValueError:
        return "(not JSON)"


def test_concurrent_workers_keep_one_log(tmp_path: Path, database_url: str | None) -> None:
    backend = BACKEND.name
    data_dir = tmp_path / "hub"
    prepared = _prepare(data_dir, database_url)
    workers = WORKERS[backend]

    with served_hub(data_dir, database_url=database_url, workers=workers) as served:
        identity = httpx.get(f"{served.url}/v1/hub", timeout=10).json()
        log_key = NoteVerifier.from_vkey(identity["log_vkey"])
        shots = _shots(prepared, SealingKey.from_text(identity["encryption_key"]), random.Random(7))
        cpu_before = served.worker_cpu_ticks()
        started = time.monotonic()
        outcomes, enrollments = _storm(served, prepared, shots)
        elapsed = time.monotonic() - started
        cpu_used = {pid: served.worker_cpu_ticks().get(pid, ticks) - ticks for pid, ticks in cpu_before.items()}
        auditor = {"Authorization": f"Bearer {prepared.auditor}"}
        with httpx.Client(base_url=served.url, headers=auditor, timeout=REQUEST_TIMEOUT) as audit:
            final = open_checkpoint(audit.get("/v1/log/checkpoint").text, log_key, origin=ORIGIN)
            entries = _all_entries(audit, final.size)
            received = _received_checkpoints(outcomes, log_key)
            proofs = {size: _consistency_proof(audit, size, final.size) for size in received}
        server_log = served.log()
        assert served.process.poll() is None, f"the server stopped during the storm:\n{served.log_tail()}"

    print(
        f"\n{backend}: {len(outcomes)} submissions and {len(enrollments)} enrollments through {workers} workers in "
        f"{elapsed:.2f} s; statuses {dict(sorted(Counter(o.status for o in outcomes).items()))}; "
        f"worker CPU ticks {cpu_used}"
    )
    assert enrollments == [201, 201], enrollments
    assert "Traceback" not in server_log, server_log[-6000:]
    _check_answers(outcomes)
    receipts = _check_receipts(outcomes, log_key)
    hashes = _check_log(entries, final, receipts, key_events=len(COUNTRIES) + len(enrollments))
    for size, root in received.items():  # no fork: every checkpoint anyone received is a prefix of the final tree
        assert size <= final.size
        assert root_hash(hashes[:size]) == root, f"the checkpoint of size {size} is not a prefix of the final tree"
        verify_consistency(size, final.size, root, final.root_hash, proofs[size])
    _check_hub_state(prepared, final)
    # Several processes really served the storm (each ingest costs milliseconds of CPU; idle workers cost none).
    busy = [pid for pid, ticks in cpu_used.items() if ticks >= 2]
    assert len(busy) >= 2, f"only {len(busy)} of {workers} workers did any work: {cpu_used}"


def _check_answers(outcomes: list[Outcome]) -> None:
    """Every answer is an acknowledgement, except a correction that arrived before the release it corrects (a
    revision must be the next one, so it is refused and the release goes in)."""
    acknowledged_revisions: dict[tuple[str, str], set[int]] = defaultdict(set)
    for outcome in outcomes:
        if outcome.acknowledged:
            acknowledged_revisions[(outcome.shot.hotline_id, outcome.shot.period)].add(outcome.shot.revision)
    for outcome in outcomes:
        if outcome.acknowledged:
            continue
        shot = outcome.shot
        assert (outcome.status, _problem_code(outcome), shot.revision) == (422, "implausible_release", 2), (
            f"{shot.label} {shot.hotline_id} {shot.period} r{shot.revision}: {outcome.status} {outcome.content!r}"
        )
        assert 1 in acknowledged_revisions[(shot.hotline_id, shot.period)], "refused, but its release was not in"


def _check_receipts(outcomes: list[Outcome], log_key: NoteVerifier) -> dict[bytes, Receipt]:
    """One creation per payload, the very same receipt for every repeat, and each receipt verifies offline."""
    by_payload: dict[bytes, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.acknowledged:
            by_payload[outcome.shot.payload_bytes].append(outcome)
    receipts: dict[bytes, Receipt] = {}
    for payload_bytes, answers in by_payload.items():
        assert [a.status for a in answers].count(201) == 1, [a.status for a in answers]
        assert len({a.content for a in answers}) == 1, "a repeat got another receipt than the first delivery"
        receipt = Receipt.from_json(answers[0].content)
        verify_receipt(receipt, log_key=log_key, payload_bytes=payload_bytes)
        receipts[payload_bytes] = receipt
    return receipts


def _check_log(
    entries: list[dict[str, Any]], final: Checkpoint, receipts: dict[bytes, Receipt], *, key_events: int
) -> list[bytes]:
    """The log holds each acknowledged payload exactly once and nothing else; returns its leaf hashes."""
    leaves = [b64decode(entry["data"]) for entry in entries]
    assert [entry["index"] for entry in entries] == list(range(final.size))
    hashes = [leaf_hash(data) for data in leaves]
    assert [b64decode(entry["leaf_hash"]) for entry in entries] == hashes
    assert root_hash(hashes) == final.root_hash, "the final signed root is not the root of the leaves"
    logged = [parse_log_entry(data) for data in leaves]
    logged_payloads = Counter(b64decode(e.payload) for e in logged if isinstance(e, SubmissionEntry))
    assert all(count == 1 for count in logged_payloads.values()), "a payload is in the log more than once"
    assert set(logged_payloads) == set(receipts), "the log and the acknowledged submissions differ"
    assert len(logged) - len(logged_payloads) == key_events
    for receipt in receipts.values():
        assert leaves[receipt.leaf_index] == b64decode(receipt.leaf)
    return hashes


def _check_hub_state(prepared: PreparedHub, final: Checkpoint) -> None:
    """The hub's own log self-check passes, and its rollups equal a rebuild from the log."""
    engine = make_engine(prepared.settings.resolved_database_url)
    try:
        with read_session(make_sessionmaker(engine)) as session:
            signer = load_keys(prepared.settings.keys_dir).log_signer(ORIGIN)
            check = check_log(session, signer=signer)
            assert check.ok, check.problems
            assert (check.size, check.root_hash) == (final.size, final.root_hash)
            assert check_rollups(session, prepared.taxonomies) == []
    finally:
        engine.dispose()


def _consistency_proof(audit: httpx.Client, first: int, second: int) -> list[bytes]:
    response = audit.get("/v1/log/proof/consistency", params={"first": first, "second": second})
    assert response.status_code == 200, response.text
    return [b64decode(node) for node in response.json()["proof"]]


def _all_entries(audit: httpx.Client, size: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    while len(entries) < size:
        page = audit.get("/v1/log/entries", params={"start": len(entries), "end": size})
        assert page.status_code == 200, page.text
        batch = page.json()["entries"]
        assert batch, "the hub returned an empty page before the end of the log"
        entries += batch
    return entries


def _received_checkpoints(outcomes: list[Outcome], log_key: NoteVerifier) -> dict[int, bytes]:
    """Every checkpoint a client received, by size; two different roots for one size would be a fork."""
    roots: dict[int, bytes] = {}
    for outcome in outcomes:
        if not outcome.acknowledged:
            continue
        checkpoint = open_checkpoint(Receipt.from_json(outcome.content).checkpoint, log_key, origin=ORIGIN)
        assert roots.setdefault(checkpoint.size, checkpoint.root_hash) == checkpoint.root_hash, (
            f"two checkpoints of size {checkpoint.size} with different roots: the log forked"
        )
    return roots
