# SPDX-License-Identifier: Apache-2.0
"""``kill -9`` the hub in the middle of a stream of submissions, restart it: nothing a client was told is lost.

A real ``tipshare-hub serve`` (one worker process, and two) takes submissions from a few client threads, one
hotline each, sent as a node's outbox sends them: month after month, whole-taxonomy releases (long transactions)
and releases of every table but the corridor matrix, with corrections. At seeded moments the server's whole process
group gets SIGKILL:

* ``writer``: the moment a worker is inside a write transaction, seen from outside with no hook in the hub
  (:class:`~tests.support.crashes.WriterProbe`: SQLite refuses our ``BEGIN IMMEDIATE``, or PostgreSQL's
  ``pg_locks`` shows the writer's advisory lock granted), after a random 0-4 answers;
* ``in-flight``: after a random 0-4 answers, a random delay of up to 0.3 s once a request is in flight;
* ``random``: a random delay of 0.1-2 s after the round's first request.

The hub is restarted on the same data directory and the clients carry on: a release that got no answer is sent
again (the same bytes, or sealed afresh), and now and then a release that did get a receipt is sent again too.
After the last crash, on a clean restart, every release is settled and:

* every receipt a client got verifies offline; its leaf is in the log at its index with its leaf hash, and the
  hub's inclusion proof puts it in the final tree;
* every checkpoint a client saw is the one the hub stored for that size and is a prefix of the final tree
  (consistency proof from the API, and the root recomputed from the leaves);
* each release is in the log exactly once: a release sent again after a crash got the stored receipt (200, byte
  for byte the receipt the client had, if it had one) or was accepted (201) if the crash had undone it, never both;
* nothing is half-written: every ``submissions`` row has its log entry and every submission entry its row;
* ``tipshare-hub log verify`` and ``tipshare-hub rollups check`` pass (the rollups equal a rebuild from the log).

SQLite runs it with one worker process and with two; PostgreSQL (only the hub is killed, the database server keeps
running) with two, the deployment it is there for. ``TIPSHARE_CRASH_POINTS`` sets the kills per test (default: 4
with one SQLite worker, 2 with two, 2 on PostgreSQL; most of the time goes into restarting the server),
``TIPSHARE_CRASH_SEED`` the seed; both are printed with the results, so a failure can be replayed (the kill moments,
not the threads' interleaving).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy import select

from hub.cli import main
from hub.db import make_engine, make_sessionmaker, read_session, write_session
from hub.models import LogCheckpoint, LogLeaf, Submission
from hub.services.policies import PolicyTerms
from hub.services.registry import Registry
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.crypto import SealingKey, SigningKey, seal_envelope
from protocol.merkle import leaf_hash, root_hash, verify_consistency, verify_inclusion
from protocol.messages import Receipt, SubmissionEntry, SubmissionPayload, b64decode, parse_log_entry
from protocol.note import NoteVerifier
from protocol.receipt import verify_receipt
from protocol.taxonomy import TAXONOMY_V1_ID, Taxonomy
from tests.support.backends import BACKEND, fresh_database_url
from tests.support.crashes import WriterProbe, kill_process_group
from tests.support.releases import make_release
from tools.served_hub import ServedHub, served_hub

pytestmark = pytest.mark.slow

ORIGIN: Final = "hub.test.tipshare/crash"
HOTLINES: Final = (("crash-md", "MD"), ("crash-ua", "UA"), ("crash-ro", "RO"))
MODES: Final = ("writer", "in-flight", "random")
#: Kills per test by (backend, workers): a restart costs 2-6 s, more with more workers on a busy machine.
DEFAULT_CRASH_POINTS: Final = {("sqlite", 1): 4, ("sqlite", 2): 2, ("postgresql", 2): 2}
DEFAULT_SEED: Final = 20261122
#: The share of releases that carry the whole taxonomy (~21 000 cells, most of them the corridor matrix: an ingest
#: of a few hundred ms); the others carry every table of at most ``SMALL_TABLE_CELLS`` cells (~2 300 cells).
FULL_RELEASE_SHARE: Final = 0.2
SMALL_TABLE_CELLS: Final = 1000
#: How often a client sends a release that already has its receipt again, and how many it sends in the last round
#: once its unanswered release is settled.
REPEAT_SHARE: Final = 0.15
FINAL_SENDS: Final = 1
NO_RATE_LIMITS: Final = {"TIPSHARE_HUB_RATE_LIMITS": "off"}  # a load from one address, on purpose
REQUEST_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
ROUND_TIMEOUT: Final = 60.0
WRITER_TIMEOUT: Final = 30.0


def _setting(name: str, default: int) -> int:
    value = int(os.environ.get(name, default))
    assert value >= 1, f"{name} must be a positive number"
    return value


@dataclass(frozen=True, slots=True)
class Prepared:
    settings: Settings
    taxonomy: Taxonomy
    keys: dict[str, SigningKey]
    hub_key: SealingKey
    auditor: str


@dataclass(frozen=True, slots=True)
class Release:
    """One release of one hotline, and the envelope its node sealed first."""

    hotline_id: str
    period: str
    revision: int
    payload: SubmissionPayload
    payload_bytes: bytes
    body: bytes

    def __str__(self) -> str:
        return f"{self.hotline_id} {self.period} r{self.revision}"


@dataclass(frozen=True, slots=True)
class Shot:
    """One POST: ``new``, a ``retry`` of a release left without an answer, or a ``repeat`` of one with a receipt."""

    release: Release
    body: bytes
    kind: str


@dataclass
class Outbox:
    """One hotline's node: sends its releases in order, each one again until the hub answers it."""

    hotline_id: str
    key: SigningKey
    taxonomy: Taxonomy
    hub_key: SealingKey
    rng: random.Random
    releases: list[Release] = field(default_factory=list)
    #: The first receipt the client got for each payload (its exact bytes).
    receipts: dict[bytes, bytes] = field(default_factory=dict)
    unanswered: Release | None = None
    month: int = 0
    no_answer: int = 0
    found_stored: int = 0
    found_absent: int = 0
    repeats: int = 0
    problems: list[str] = field(default_factory=list)

    def next_shot(self) -> Shot:
        if self.unanswered is not None:
            release = self.unanswered
            fresh = self.rng.random() < 0.5  # the node may resend its stored envelope or seal the payload afresh
            return Shot(release, self._seal(release.payload) if fresh else release.body, "retry")
        if self.receipts and self.rng.random() < REPEAT_SHARE:
            answered = [r for r in self.releases if r.payload_bytes in self.receipts]
            release = self.rng.choice(answered)
            return Shot(release, release.body, "repeat")
        release = self._new_release()
        self.releases.append(release)
        return Shot(release, release.body, "new")

    def lost(self, shot: Shot, *, delivered: bool) -> None:
        """The hub died before answering: the release may or may not be stored (if the request got there)."""
        self.no_answer += delivered
        if shot.kind != "repeat":
            self.unanswered = shot.release

    def answered(self, shot: Shot, status: int, content: bytes) -> None:
        release, known = shot.release, self.receipts.get(shot.release.payload_bytes)
        if status == 201:
            if known is not None:
                self.problems.append(f"{release} ({shot.kind}) was accepted a second time: a duplicate")
            self.found_absent += shot.kind == "retry"
        elif status == 200:
            if known is not None and content != known:
                self.problems.append(f"{release} ({shot.kind}) got another receipt than the one the client had")
            if known is None and shot.kind != "retry":
                self.problems.append(f"{release} ({shot.kind}) was 'already stored' the first time it was sent")
            self.found_stored += shot.kind == "retry" and known is None
            self.repeats += shot.kind == "repeat"
        else:
            self.problems.append(f"{release} ({shot.kind}): {status} {content[:400]!r}")
        if known is None and status in (200, 201):
            self.receipts[release.payload_bytes] = content
        if shot.kind == "retry":
            self.unanswered = None

    def _new_release(self) -> Release:
        if len(self.releases) % 4 == 3:  # every fourth release corrects the month before
            period, revision = _period(self.month - 1), 2
        else:
            period, revision = _period(self.month), 1
            self.month += 1
        full = self.rng.random() < FULL_RELEASE_SHARE
        names = [n for n in self.taxonomy.tables if full or self.taxonomy.table(n).cell_count <= SMALL_TABLE_CELLS]
        cells = {n: [self.rng.randint(-20, 80) for _ in range(self.taxonomy.table(n).cell_count)] for n in names}
        payload = make_release(
            self.taxonomy,
            self.key,
            hotline_id=self.hotline_id,
            period=period,
            revision=revision,
            cells=cells,
            tables=names,
            created_at="2026-01-05T09:30:00Z",
        )
        return Release(self.hotline_id, period, revision, payload, payload.canonical_bytes(), self._seal(payload))

    def _seal(self, payload: SubmissionPayload) -> bytes:
        return seal_envelope(payload, signing_key=self.key, hub_key=self.hub_key).canonical_bytes()


def _period(month: int) -> str:
    return f"{2019 + month // 12}-{month % 12 + 1:02d}"


@dataclass
class Traffic:
    """What the killer watches: whether a round's traffic has begun, and how many requests are in flight."""

    started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    answered: int = 0


def _client(outbox: Outbox, url: str, traffic: Traffic, *, final: bool) -> None:
    """Send until the hub stops answering, or (last round) until every release is settled."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as client:
        sent = 0
        while not (final and outbox.unanswered is None and sent >= FINAL_SENDS):
            shot = outbox.next_shot()
            with traffic.lock:
                traffic.in_flight += 1
            traffic.started.set()
            try:
                response = client.post(
                    "/v1/submissions", content=shot.body, headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError as e:
                outbox.lost(shot, delivered=not isinstance(e, httpx.ConnectError))
                return
            finally:
                with traffic.lock:
                    traffic.in_flight -= 1
            outbox.answered(shot, response.status_code, response.content)
            with traffic.lock:
                traffic.answered += 1
            sent += 1


def _until(condition: Callable[[], bool], what: str, served: ServedHub, timeout: float = WRITER_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout:.0f} s:\n{served.log_tail()}"
        time.sleep(0.002)


def _crash(traffic: Traffic, *, served: ServedHub, probe: WriterProbe, mode: str, rng: random.Random) -> None:
    """Wait for the moment ``mode`` picks, then kill -9 the whole server."""
    assert traffic.started.wait(ROUND_TIMEOUT), "no client sent anything"
    if mode == "writer":
        # Under load the writer lock passes from one transaction to the next without a gap a probe could see, so
        # the transactions to let go by are counted in answers.
        answers = rng.randint(0, 4)
        _until(lambda: traffic.answered >= answers and probe.writer_active(), "a write transaction", served)
    elif mode == "in-flight":
        answers = rng.randint(0, 4)
        _until(lambda: traffic.answered >= answers and traffic.in_flight > 0, "a request in flight", served)
        time.sleep(rng.uniform(0.0, 0.3))
    else:
        time.sleep(rng.uniform(0.1, 2.0))
    assert served.process.poll() is None, f"the server stopped on its own:\n{served.log_tail()}"
    kill_process_group(served.process)


def _round(served: ServedHub, outboxes: list[Outbox], crash: Callable[[Traffic], None] | None) -> None:
    traffic = Traffic()
    threads = [
        threading.Thread(target=_client, args=(o, served.url, traffic), kwargs={"final": crash is None}, daemon=True)
        for o in outboxes
    ]
    for thread in threads:
        thread.start()
    if crash is not None:
        crash(traffic)
    for thread in threads:
        thread.join(ROUND_TIMEOUT)
    assert not any(t.is_alive() for t in threads), f"clients still busy after {ROUND_TIMEOUT:.0f} s"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Worker processes: one and two on SQLite; two on PostgreSQL, where several workers are the deployment."""
    if "workers" in metafunc.fixturenames:
        backend = metafunc.config.getoption("--backend")
        metafunc.parametrize("workers", [2] if backend == "postgresql" else [1, 2])


@pytest.fixture
def database_url() -> Iterator[str | None]:
    with fresh_database_url() as url:
        if BACKEND.name == "postgresql":  # the PostgreSQL pass must never fall back to SQLite
            assert url is not None
        yield url


def test_kill_9_at_random_moments_loses_no_acknowledged_submission(
    tmp_path: Path, database_url: str | None, workers: int
) -> None:
    backend = BACKEND.name
    crash_points = _setting("TIPSHARE_CRASH_POINTS", DEFAULT_CRASH_POINTS.get((backend, workers), 2))
    seed = _setting("TIPSHARE_CRASH_SEED", DEFAULT_SEED)
    rng = random.Random(f"{seed}/{backend}/{workers}")
    data_dir = tmp_path / "hub"
    prepared = _prepare(data_dir, database_url)
    probe = WriterProbe.for_database(data_dir, database_url=database_url)
    outboxes = [
        Outbox(h, prepared.keys[h], prepared.taxonomy, prepared.hub_key, random.Random(f"{seed}/{h}"))
        for h, _ in HOTLINES
    ]
    modes: Counter[str] = Counter()
    server_logs: list[str] = []
    started = time.monotonic()
    try:
        for number in range(crash_points):
            mode = MODES[number % len(MODES)]
            with served_hub(data_dir, database_url=database_url, workers=workers, settings=NO_RATE_LIMITS) as served:
                _round(served, outboxes, partial(_crash, served=served, probe=probe, mode=mode, rng=rng))
                server_logs.append(served.log())
            modes[mode] += 1
    finally:
        probe.close()
    with served_hub(data_dir, database_url=database_url, workers=workers, settings=NO_RATE_LIMITS) as served:
        _round(served, outboxes, None)  # the last round settles every release
        problems = [problem for outbox in outboxes for problem in outbox.problems]
        assert problems == [], "\n".join(problems)
        assert all(outbox.unanswered is None for outbox in outboxes)
        final, seen = _check_through_the_api(served, prepared, outboxes)
        server_logs.append(served.log())
    elapsed = time.monotonic() - started

    for log in server_logs:
        assert "Traceback" not in log, log[-6000:]
    _check_the_database(prepared, outboxes, seen)
    _check_with_the_cli(prepared, database_url)

    stored, absent = sum(o.found_stored for o in outboxes), sum(o.found_absent for o in outboxes)
    print(
        f"\n{backend}, {workers} worker(s), seed {seed}: {crash_points} crash points survived "
        f"({', '.join(f'{n} {m}' for m, n in sorted(modes.items()))}), with nothing lost: "
        f"{sum(len(o.receipts) for o in outboxes)} receipts checked against checkpoint {final.size}, "
        f"{len(seen)} checkpoints for consistency; {sum(o.no_answer for o in outboxes)} requests cut off by a kill, "
        f"and of the {stored + absent} releases they left without an answer {stored} were found stored and "
        f"{absent} accepted anew when sent again; {sum(o.repeats for o in outboxes)} repeats got their receipt "
        f"again; {elapsed:.1f} s"
    )


# ----------------------------------------------------------------------------------------------- set-up


def _prepare(data_dir: Path, database_url: str | None) -> Prepared:
    """``tipshare-hub init``, the hotlines enrolled and an auditor token, before the server first starts."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    context = initialise_hub(settings, origin=ORIGIN)
    keys = {hotline_id: SigningKey.generate() for hotline_id, _ in HOTLINES}
    try:
        with write_session(context.sessions) as session:
            registry = Registry.open(context, session)
            for hotline_id, country in HOTLINES:
                registry.enroll(
                    hotline_id=hotline_id,
                    display_name=hotline_id,
                    country=country,
                    public_key=keys[hotline_id].verify_key.to_text(),
                    now=context.clock(),
                    # Random counts from 2019 on, more than twelve releases a year: a loose policy.
                    policy=PolicyTerms(
                        caps={"rho": ("10", "100")}, max_monthly_volume=10_000_000, first_period="2019-01"
                    ),
                )
            auditor = TokenService(session).create(role="auditor", label="crash auditor", now=context.clock()).token
        # Small releases of v1 (v2 refuses a release without every person and case table).
        taxonomy = context.taxonomy_by_id(TAXONOMY_V1_ID)
        return Prepared(settings, taxonomy, keys, context.keys.envelope.public_key, auditor)
    finally:
        context.engine.dispose()


# ----------------------------------------------------------------------------------------------- checks


def _check_through_the_api(
    served: ServedHub, prepared: Prepared, outboxes: list[Outbox]
) -> tuple[Checkpoint, dict[int, tuple[bytes, str]]]:
    """Receipts, inclusion and consistency proofs, and the leaves, against the final checkpoint (as an auditor)."""
    identity = httpx.get(f"{served.url}/v1/hub", timeout=10).json()
    log_key = NoteVerifier.from_vkey(identity["log_vkey"])
    auditor = {"Authorization": f"Bearer {prepared.auditor}"}
    with httpx.Client(base_url=served.url, headers=auditor, timeout=REQUEST_TIMEOUT) as audit:
        final = open_checkpoint(_ok(audit.get("/v1/log/checkpoint")).text, log_key, origin=ORIGIN)
        entries = _all_entries(audit, final.size)
        hashes = [b64decode(entry["leaf_hash"]) for entry in entries]
        leaves = [b64decode(entry["data"]) for entry in entries]
        assert [entry["index"] for entry in entries] == list(range(final.size))
        assert hashes == [leaf_hash(data) for data in leaves]
        assert root_hash(hashes) == final.root_hash, "the final signed root is not the root of the leaves"

        seen: dict[int, tuple[bytes, str]] = {}  # every checkpoint a client saw: size -> (root, signed note)
        for outbox in outboxes:
            for payload_bytes, content in outbox.receipts.items():
                receipt = Receipt.from_json(content)
                checked = verify_receipt(receipt, log_key=log_key, payload_bytes=payload_bytes)
                assert hashes[receipt.leaf_index] == checked.leaf_hash, f"leaf {receipt.leaf_index} changed"
                proof = _ok(
                    audit.get("/v1/log/proof/inclusion", params={"index": receipt.leaf_index, "tree_size": final.size})
                ).json()
                assert b64decode(proof["leaf_hash"]) == checked.leaf_hash
                nodes = [b64decode(node) for node in proof["proof"]]
                verify_inclusion(receipt.leaf_index, final.size, checked.leaf_hash, nodes, final.root_hash)
                size, root = checked.checkpoint.size, checked.checkpoint.root_hash
                assert seen.setdefault(size, (root, receipt.checkpoint))[0] == root, f"two roots for size {size}"
        for size, (root, _) in seen.items():
            assert root_hash(hashes[:size]) == root, f"the checkpoint of size {size} is not a prefix of the log"
            proof = _ok(audit.get("/v1/log/proof/consistency", params={"first": size, "second": final.size})).json()
            verify_consistency(size, final.size, root, final.root_hash, [b64decode(node) for node in proof["proof"]])

    logged = Counter(
        b64decode(entry.payload)
        for entry in (parse_log_entry(data) for data in leaves)
        if isinstance(entry, SubmissionEntry)
    )
    duplicates = [count for count in logged.values() if count != 1]
    assert duplicates == [], "a release is in the log more than once"
    sent = {release.payload_bytes for outbox in outboxes for release in outbox.releases}
    assert set(logged) == sent, "the log and the releases the clients sent (all settled by now) differ"
    return final, seen


def _check_the_database(prepared: Prepared, outboxes: list[Outbox], seen: dict[int, tuple[bytes, str]]) -> None:
    """No half-written submission: rows and log entries match one to one; the checkpoints seen are the stored ones."""
    engine = make_engine(prepared.settings.resolved_database_url)
    try:
        with read_session(make_sessionmaker(engine)) as session:
            rows = session.scalars(select(Submission)).all()
            leaves = {leaf.index: leaf for leaf in session.scalars(select(LogLeaf))}
            for row in rows:
                leaf = leaves.get(row.leaf_index)
                assert leaf is not None, f"submission {row.id} has no log entry"
                entry = parse_log_entry(leaf.data)
                assert isinstance(entry, SubmissionEntry), f"submission {row.id} points at a {entry.kind} entry"
                assert (entry.payload_hash, b64decode(entry.payload), entry.hotline_id, entry.period) == (
                    row.payload_hash,
                    row.payload,
                    row.hotline_id,
                    row.period,
                ), f"submission {row.id} and its log entry differ"
            logged = sorted(index for index, leaf in leaves.items() if leaf.kind == "submission")
            assert sorted(row.leaf_index for row in rows) == logged, "a submission entry without its row"
            assert len(rows) == sum(len(outbox.releases) for outbox in outboxes)
            for size, (_, note) in seen.items():
                stored = session.get(LogCheckpoint, size)
                assert stored is not None, f"the hub lost the checkpoint of size {size} it handed out"
                assert stored.note == note
    finally:
        engine.dispose()


def _check_with_the_cli(prepared: Prepared, database_url: str | None) -> None:
    """The operator's own checks: the log rebuilds to every signed checkpoint; the rollups equal a rebuild."""
    where = ["--data-dir", str(prepared.settings.data_dir)]
    where += ["--database-url", database_url] if database_url else []
    assert main(["log", "verify", *where]) == 0, "tipshare-hub log verify failed (its report is above)"
    assert main(["rollups", "check", *where]) == 0, "tipshare-hub rollups check failed (its report is above)"


def _ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 200, response.text
    return response


def _all_entries(audit: httpx.Client, size: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    while len(entries) < size:
        batch = _ok(audit.get("/v1/log/entries", params={"start": len(entries), "end": size})).json()["entries"]
        assert batch, "the hub returned an empty page before the end of the log"
        entries += batch
    return entries
