# SPDX-License-Identifier: Apache-2.0
"""The node's watch over its receipts (node.watch): a hub that takes a receipted entry back is caught."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from node.client import HubClient
from node.watch import CheckpointNotWitnessed, HeldReceipt, ReceiptAlarm, watch_receipts
from protocol.cosignature import Cosigner, WitnessPolicy
from protocol.crypto import SigningKey, seal_envelope
from protocol.note import NoteVerifier
from tests.support.releases import make_release
from tests.unit.node.fakehub import HUB_URL, FakeHub

HOTLINE = "la-strada-md"


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def client(hub: FakeHub) -> Iterator[HubClient]:
    with httpx.Client(transport=hub.transport()) as http:
        yield HubClient(http, HUB_URL)


def _receipt(hub: FakeHub, client: HubClient, period: str) -> HeldReceipt:
    key = SigningKey.generate()
    hub.enroll(HOTLINE, key.verify_key.to_text())
    payload = make_release(hub.taxonomy, key, hotline_id=HOTLINE, period=period, tables=("contacts",))
    envelope = seal_envelope(payload, signing_key=key, hub_key=hub.encryption_key.public_key)
    return HeldReceipt(period, 1, client.submit(envelope.canonical_bytes()).receipt)


def _watch(hub: FakeHub, client: HubClient, held: list[HeldReceipt], policy: WitnessPolicy | None = None):  # type: ignore[no-untyped-def]
    return watch_receipts(client, log_key=NoteVerifier.from_vkey(hub.log.verifier.vkey), receipts=held, policy=policy)


def test_nothing_held_nothing_asked(hub: FakeHub, client: HubClient) -> None:
    report = _watch(hub, client, [])
    assert (report.checkpoint_size, hub.requests) == (None, [])


def test_receipts_still_in_a_grown_log_pass(hub: FakeHub, client: HubClient) -> None:
    held = [_receipt(hub, client, "2025-01"), _receipt(hub, client, "2025-02")]
    hub.leaves.append(b"a later entry")
    report = _watch(hub, client, held)
    assert (report.checkpoint_size, report.receipts_checked, report.skipped) == (5, 2, None)


def test_a_log_rolled_back_below_a_receipt_is_an_alarm(hub: FakeHub, client: HubClient) -> None:
    held = [_receipt(hub, client, "2025-01")]
    hub.leaves.pop()
    with pytest.raises(ReceiptAlarm, match=r"2025-01 revision 1 .*size 2.*only 1 entries.*rollback"):
        _watch(hub, client, held)


def test_a_rewritten_log_is_an_alarm_at_the_same_size_and_beyond(hub: FakeHub, client: HubClient) -> None:
    held = [_receipt(hub, client, "2025-01")]
    hub.leaves[-1] = b"something else"
    with pytest.raises(ReceiptAlarm, match="fork"):
        _watch(hub, client, held)
    hub.leaves.append(b"more")
    with pytest.raises(ReceiptAlarm, match="does not extend the receipt's checkpoint"):
        _watch(hub, client, held)


def test_an_unreachable_hub_is_not_an_alarm(hub: FakeHub) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=hub.transport()) as http:
        held = [_receipt(hub, HubClient(http, HUB_URL), "2025-01")]
    with httpx.Client(transport=httpx.MockTransport(refuse)) as http:
        report = _watch(hub, HubClient(http, HUB_URL), held)
    assert report.skipped is not None
    assert "could not be checked" in report.skipped


def test_a_witness_quorum_is_required(hub: FakeHub, client: HubClient) -> None:
    held = [_receipt(hub, client, "2025-01")]
    w1, w2 = Cosigner("w1.example/w", SigningKey.generate()), Cosigner("w2.example/w", SigningKey.generate())
    policy = WitnessPolicy.from_vkeys([w1.verifier.vkey, w2.verifier.vkey], 2)
    hub.witnesses = [w1]
    with pytest.raises(CheckpointNotWitnessed, match=r"cosigned by w1.example/w \(1 of 2; 2 required\); not by w2"):
        _watch(hub, client, held, policy)
    hub.witnesses = [w1, w2]
    report = _watch(hub, client, held, policy)
    assert report.witnesses is not None
    assert report.witnesses.signed == ("w1.example/w", "w2.example/w")
