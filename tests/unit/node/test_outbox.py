# SPDX-License-Identifier: Apache-2.0
"""The outbox: sealed once, retried with backoff, resumable, idempotent, and only delivered with a valid receipt."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from node.aggregate import TrueTables
from node.client import HubClient
from node.errors import HubResponseInvalid, ReceiptInvalid
from node.home import NodeHome
from node.ledger import Ledger, StoredRelease
from node.outbox import DeliveryReport, Outbox, RetryPolicy, deliver
from node.store import open_database
from node.workflow import make_release
from protocol.crypto import open_envelope
from protocol.messages import Envelope
from protocol.receipt import verify_receipt
from tests.unit.node.fakehub import HUB_URL, FakeHub
from tests.unit.node.nodekit import NOW, make_home, planted_counts

SMALL = ["cases_opened", "persons_recruitment"]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _prepare(home: NodeHome, period: str = "2025-03") -> StoredRelease:
    tables = TrueTables(period=period, counts={name: planted_counts(home.taxonomy)[name] for name in SMALL})
    with home.database() as db:
        return make_release(home, Ledger(db), tables, now=NOW).release


def _queue(home: NodeHome, release: StoredRelease, connection: sqlite3.Connection | None = None) -> Outbox:
    outbox = Outbox(connection or home.database())
    outbox.enqueue(release, signing_key=home.signing_key(), hub_key=home.config.hub.identity.sealing_key, now=NOW)
    return outbox


def _deliver(
    home: NodeHome, outbox: Outbox, hub: FakeHub, sleeps: Sleeps | None = None, **policy: float
) -> DeliveryReport:
    settings = {"attempts_per_run": 4, "base_delay": 1.0, "max_delay": 8.0, "max_wait": 60.0, **policy}
    with httpx.Client(transport=hub.transport()) as http:
        return deliver(
            outbox,
            HubClient(http, HUB_URL),
            log_key=home.config.hub.identity.log_verifier,
            policy=RetryPolicy(
                attempts_per_run=int(settings["attempts_per_run"]),
                base_delay=settings["base_delay"],
                max_delay=settings["max_delay"],
                max_wait=settings["max_wait"],
            ),
            clock=lambda: NOW,
            sleep=sleeps if sleeps is not None else Sleeps(),
        )


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def home(tmp_path: Path, hub: FakeHub) -> NodeHome:
    return make_home(tmp_path / "node", hub)


def _statuses(outbox: Outbox, home: NodeHome) -> tuple[str, str]:
    (item,) = outbox.items()
    with home.database() as db:
        release = Ledger(db).get(item.period, item.revision)
    assert release is not None
    return item.status, release.status


def test_enqueue_seals_once_for_the_pinned_hub(home: NodeHome, hub: FakeHub) -> None:
    release = _prepare(home)
    outbox = _queue(home, release)
    (item,) = outbox.items()
    assert (item.status, item.attempts, item.payload_hash) == ("queued", 0, release.payload_hash)
    opened = open_envelope(item.envelope, hub_key=hub.encryption_key, hotline_key=hub.hotline_key)
    assert opened.payload_bytes == release.payload_bytes
    assert Envelope.from_canonical(item.envelope).hotline_id == "la-strada-md"
    # Queueing again changes nothing: the same sealed bytes are retried.
    outbox.enqueue(release, signing_key=home.signing_key(), hub_key=home.config.hub.identity.sealing_key, now=NOW)
    assert outbox.items() == [item]
    assert _statuses(outbox, home) == ("queued", "queued")


def test_delivery_stores_a_verified_receipt(home: NodeHome, hub: FakeHub) -> None:
    release = _prepare(home)
    outbox = _queue(home, release)
    report = _deliver(home, outbox, hub)
    (outcome,) = report.outcomes
    assert (outcome.result, outcome.leaf_index, outcome.tree_size) == ("delivered", 1, 2)
    assert _statuses(outbox, home) == ("delivered", "delivered")
    receipt = outbox.receipt("2025-03", 1)
    assert receipt is not None
    verify_receipt(receipt, log_key=home.config.hub.identity.log_verifier, payload_bytes=release.payload_bytes)
    assert outbox.receipts() == [("2025-03", 1, 1, 2, "2026-03-01T12:00:00Z")]
    assert _deliver(home, outbox, hub).outcomes == ()  # nothing left to send


@pytest.mark.parametrize("faults", [["500"], ["timeout"], ["connect"], ["503", "timeout", "connect"], ["408"]])
def test_transient_failures_are_retried_with_backoff(home: NodeHome, hub: FakeHub, faults: list[str]) -> None:
    outbox = _queue(home, _prepare(home))
    hub.faults = list(faults)
    sleeps = Sleeps()
    report = _deliver(home, outbox, hub, sleeps)
    assert report.outcomes[0].result == "delivered"
    assert hub.posts == len(faults) + 1
    assert len(hub.accepted) == 1
    assert len(sleeps) == len(faults)
    for attempt, pause in enumerate(sleeps, start=1):
        assert 0 <= pause <= min(8.0, 2.0 ** (attempt - 1))
    (item,) = outbox.items()
    assert item.attempts == len(faults) + 1
    assert item.last_error is None


def test_a_lost_response_after_the_hub_committed_gets_the_same_receipt(home: NodeHome, hub: FakeHub) -> None:
    release = _prepare(home)
    outbox = _queue(home, release)
    hub.faults = ["drop-after-commit"]
    report = _deliver(home, outbox, hub)
    assert report.outcomes[0].result == "already_delivered"  # the hub answered 200: it had it already
    assert hub.posts == 2
    assert len(hub.accepted) == 1  # exactly one accepted
    stored = outbox.receipt("2025-03", 1)
    assert stored is not None
    assert stored.canonical_bytes() == hub.receipts[release.payload_hash]  # the first receipt, unchanged


def test_delivery_resumes_after_a_restart(home: NodeHome, hub: FakeHub, tmp_path: Path) -> None:
    release = _prepare(home)
    connection = home.database()
    outbox = _queue(home, release, connection)
    hub.faults = ["drop-after-commit", "connect", "connect"]
    report = _deliver(home, outbox, hub, attempts_per_run=3)
    (outcome,) = report.outcomes
    assert outcome.result == "pending"
    assert outcome.next_attempt_at is not None
    assert "cannot reach the hub" in outcome.detail
    (item,) = outbox.items()
    assert (item.status, item.attempts) == ("queued", 3)
    assert item.last_error is not None
    assert "connection refused" in item.last_error
    connection.close()  # the process ends

    reopened = NodeHome.open(home.layout.root)
    outbox = Outbox(reopened.database())
    report = _deliver(reopened, outbox, hub)
    assert report.outcomes[0].result == "already_delivered"
    assert len(hub.accepted) == 1
    assert _statuses(outbox, reopened) == ("delivered", "delivered")


def test_retry_after_is_honoured(home: NodeHome, hub: FakeHub) -> None:
    outbox = _queue(home, _prepare(home))
    hub.faults, hub.retry_after = ["429"], "7"
    sleeps = Sleeps()
    assert _deliver(home, outbox, hub, sleeps).outcomes[0].result == "delivered"
    assert sleeps == [7.0]


def test_a_long_retry_after_ends_the_run_without_waiting(home: NodeHome, hub: FakeHub) -> None:
    outbox = _queue(home, _prepare(home))
    hub.faults, hub.retry_after = ["503"], "3600"
    sleeps = Sleeps()
    (outcome,) = _deliver(home, outbox, hub, sleeps).outcomes
    assert outcome.result == "pending"
    assert sleeps == []
    assert outcome.next_attempt_at == "2026-03-01T13:00:00Z"


def test_an_unreachable_hub_stops_the_run_and_keeps_the_queue(home: NodeHome, hub: FakeHub) -> None:
    outbox = _queue(home, _prepare(home, "2025-03"))
    outbox.enqueue(
        _prepare(home, "2025-04"), signing_key=home.signing_key(), hub_key=home.config.hub.identity.sealing_key, now=NOW
    )
    hub.faults = ["connect"] * 10
    report = _deliver(home, outbox, hub, attempts_per_run=2)
    assert [o.result for o in report.outcomes] == ["pending", "pending"]
    assert "not attempted" in report.outcomes[1].detail
    assert hub.posts == 2
    assert [i.status for i in outbox.items()] == ["queued", "queued"]


def test_a_conflict_is_permanent(home: NodeHome, hub: FakeHub, tmp_path: Path) -> None:
    """The node lost its data and prepared 2025-03 again: the hub already holds another revision 1."""
    _deliver(home, _queue(home, _prepare(home)), hub)
    shutil.copytree(home.layout.root, tmp_path / "restored")
    restored_root = tmp_path / "restored"
    for leftover in restored_root.glob("node.sqlite3*"):
        leftover.unlink()
    open_database(restored_root / "node.sqlite3", create=True).close()  # an empty ledger, made by hand
    restored = NodeHome.open(restored_root)
    outbox = _queue(restored, _prepare(restored))
    (outcome,) = _deliver(restored, outbox, hub).outcomes
    assert outcome.result == "failed"
    assert "HTTP 409 conflict" in outcome.detail
    assert _statuses(outbox, restored) == ("failed", "failed")
    assert len(hub.accepted) == 1
    (item,) = outbox.items()
    assert item.last_error is not None
    assert "already holds another payload" in item.last_error


def test_a_refusal_is_kept_and_can_be_sent_again_once_fixed(tmp_path: Path, hub: FakeHub) -> None:
    home = make_home(tmp_path / "node", hub, enroll=False)
    release = _prepare(home)
    outbox = _queue(home, release)
    (outcome,) = _deliver(home, outbox, hub).outcomes
    assert outcome.result == "failed"
    assert "not enrolled" in outcome.detail
    assert _statuses(outbox, home) == ("failed", "failed")
    hub.enroll(home.config.hotline_id, home.config.public_key)  # the operator enrolls the key
    outbox.enqueue(release, signing_key=home.signing_key(), hub_key=home.config.hub.identity.sealing_key, now=NOW)
    assert _statuses(outbox, home) == ("queued", "queued")
    assert _deliver(home, outbox, hub).outcomes[0].result == "delivered"


@pytest.mark.parametrize("fault", ["400", "403-no-reason"])
def test_other_client_errors_are_permanent(home: NodeHome, hub: FakeHub, fault: str) -> None:
    outbox = _queue(home, _prepare(home))
    hub.faults = [fault]
    sleeps = Sleeps()
    (outcome,) = _deliver(home, outbox, hub, sleeps).outcomes
    assert outcome.result == "failed"
    assert sleeps == []
    assert hub.posts == 1
    (item,) = outbox.items()
    assert item.last_error is not None
    assert item.last_error.startswith(f"HTTP {fault[:3]}")


@pytest.mark.parametrize("fault", ["bad-receipt-key", "bad-receipt-signature"])
def test_a_receipt_that_does_not_verify_is_detected(home: NodeHome, hub: FakeHub, fault: str) -> None:
    outbox = _queue(home, _prepare(home))
    hub.faults = [fault]
    with pytest.raises(ReceiptInvalid, match="does not verify") as raised:
        _deliver(home, outbox, hub)
    assert "NOT marked delivered" in raised.value.diagnostics()
    assert _statuses(outbox, home) == ("queued", "queued")
    assert outbox.receipt("2025-03", 1) is None
    assert outbox.receipts() == []
    (item,) = outbox.items()
    assert item.last_error is not None
    assert "does not verify" in item.last_error


def test_an_answer_outside_the_protocol_stops_the_run(home: NodeHome, tmp_path: Path) -> None:
    outbox = _queue(home, _prepare(home))
    transport = httpx.MockTransport(lambda request: httpx.Response(201, content=b"<html>proxy login</html>"))
    with httpx.Client(transport=transport) as http, pytest.raises(HubResponseInvalid, match="receipt is malformed"):
        deliver(
            outbox,
            HubClient(http, HUB_URL),
            log_key=home.config.hub.identity.log_verifier,
            policy=RetryPolicy(),
            clock=lambda: NOW,
            sleep=Sleeps(),
        )
    assert _statuses(outbox, home) == ("queued", "queued")


def test_backoff_is_jittered_exponential_and_capped() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=30.0)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 30.0), (60, 30.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 150  # jittered, not fixed
    assert policy.delay(1, retry_after=45.0) == 45.0
