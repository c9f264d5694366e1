# SPDX-License-Identifier: Apache-2.0
"""The hub's side of witnessing: registering witnesses, collecting cosignatures, serving cosigned checkpoints."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from auditor.witness import WitnessHome, create_witness, witness_app
from hub.db import read_session, write_session
from hub.errors import BadRequest, Conflict
from hub.services.witnessing import WitnessRegistry, collect
from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.cosignature import WitnessPolicy
from protocol.merkle import verify_consistency
from protocol.messages import b64decode
from tests.support.hubs import ORIGIN, HubUnderTest


class FakeWitness:
    """A real witness (its home and decision), reached through an httpx mock transport; may be offline."""

    def __init__(self, directory: Path, hub: HubUnderTest, name: str) -> None:
        create_witness(directory, name=name, logs=[hub.log_key.vkey])
        self.home = WitnessHome.open(directory)
        self.offline = False
        self.requests = 0

    @property
    def vkey(self) -> str:
        return self.home.cosigner.verifier.vkey

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.offline:
            raise httpx.ConnectError("connection refused", request=request)
        with TestClient(witness_app(self.home, clock=lambda: 1_800_000_000)) as client:
            answer = client.post("/add-checkpoint", content=request.content)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def _http(*witnesses: FakeWitness) -> httpx.Client:
    by_host = {f"w{i}.test": w for i, w in enumerate(witnesses)}
    return httpx.Client(transport=httpx.MockTransport(lambda r: by_host[r.url.host].handle(r)))


def _register(hub: HubUnderTest, *witnesses: FakeWitness) -> None:
    with write_session(hub.context.sessions) as session:
        for i, w in enumerate(witnesses):
            WitnessRegistry(session).add(
                name=w.home.cosigner.name, vkey=w.vkey, url=f"https://w{i}.test", now=hub.clock()
            )


def _collect(hub: HubUnderTest, http: httpx.Client) -> dict[str, str]:
    outcomes = collect(hub.context.sessions, signer=hub.context.log_signer, http=http, clock=hub.clock)
    return {o.witness: o.result for o in outcomes}


def test_cosignatures_are_collected_served_and_an_offline_witness_is_only_recorded(
    hub: HubUnderTest, tmp_path: Path
) -> None:
    hub.enroll("ua-kyiv", "UA")
    w1, w2 = FakeWitness(tmp_path / "w1", hub, "w1.test/w"), FakeWitness(tmp_path / "w2", hub, "w2.test/w")
    _register(hub, w1, w2)
    w2.offline = True
    http = _http(w1, w2)

    assert _collect(hub, http) == {"w1.test/w": "cosigned", "w2.test/w": "offline"}
    note = hub.client.get("/v1/checkpoint").text  # no token needed
    policy = WitnessPolicy.from_vkeys([w1.vkey, w2.vkey], 1)
    assert policy.check(note).signed == ("w1.test/w",)
    assert open_checkpoint(note, hub.log_key).size == 1
    with read_session(hub.context.sessions) as session:
        registered = {w.name: (w.cosigned_size, w.last_error) for w in WitnessRegistry(session).all()}
    assert registered["w1.test/w"] == (1, None)
    assert "cannot reach" in (registered["w2.test/w"][1] or "")
    assert _collect(hub, http)["w1.test/w"] == "already"

    # The log grows; the witness gets a proof from the size it cosigned; the offline one comes back later and
    # is brought up to date from the empty tree.
    hub.submit(hub.release("ua-kyiv", "2026-09", tables=("contacts",)))
    w2.offline = False
    assert _collect(hub, http) == {"w1.test/w": "cosigned", "w2.test/w": "cosigned"}
    assert policy.check(hub.client.get("/v1/checkpoint").text).signed == ("w1.test/w", "w2.test/w")
    assert w1.home.latest[ORIGIN].size == 2

    # A witness removed: nothing more is sent to it, and the cosignatures it gave are still served.
    with write_session(hub.context.sessions) as session:
        WitnessRegistry(session).remove("w2.test/w")
    assert _collect(hub, http) == {"w1.test/w": "already"}
    assert policy.check(hub.client.get("/v1/checkpoint").text).signed == ("w1.test/w", "w2.test/w")


def test_a_witness_that_lost_track_answers_409_and_the_hub_follows_its_size(hub: HubUnderTest, tmp_path: Path) -> None:
    hub.enroll("ua-kyiv", "UA")
    w1 = FakeWitness(tmp_path / "w1", hub, "w1.test/w")
    _register(hub, w1)
    http = _http(w1)
    assert _collect(hub, http) == {"w1.test/w": "cosigned"}
    with write_session(hub.context.sessions) as session:
        WitnessRegistry(session).all()[0].cosigned_size = 0  # the hub forgot what the witness holds
    hub.submit(hub.release("ua-kyiv", "2026-09", tables=("contacts",)))
    assert _collect(hub, http) == {"w1.test/w": "cosigned"}
    assert w1.requests == 3  # the first, the 409, and the retry from the witness's size


def test_the_public_consistency_proof_links_checkpoints(hub: HubUnderTest) -> None:
    hub.enroll("ua-kyiv", "UA")
    first = open_checkpoint(hub.client.get("/v1/checkpoint").text, hub.log_key)
    hub.enroll("md-chisinau", "MD")
    hub.enroll("pl-warsaw", "PL")
    latest = open_checkpoint(hub.client.get("/v1/checkpoint").text, hub.log_key)
    body = hub.client.get("/v1/checkpoint/consistency", params={"first": first.size, "second": latest.size}).json()
    proof = [b64decode(p) for p in body["proof"]]
    verify_consistency(first.size, latest.size, first.root_hash, latest.root_hash, proof)
    assert isinstance(latest, Checkpoint)


def test_registering_a_witness_checks_its_key_name_and_url(hub: HubUnderTest, tmp_path: Path) -> None:
    w1 = FakeWitness(tmp_path / "w1", hub, "w1.test/w")
    # Read over HTTP before the write transaction: inside it, the request would wait out SQLite's busy timeout.
    log_vkey = hub.log_key.vkey
    with write_session(hub.context.sessions) as session:
        registry = WitnessRegistry(session)
        with pytest.raises(BadRequest, match="not 'other'"):
            registry.add(name="other", vkey=w1.vkey, url="https://w.test", now=hub.clock())
        with pytest.raises(BadRequest, match="not a witness cosignature key"):
            registry.add(name="w1.test/w", vkey=log_vkey, url="https://w.test", now=hub.clock())
        with pytest.raises(BadRequest, match="not an http"):
            registry.add(name="w1.test/w", vkey=w1.vkey, url="ftp://w.test", now=hub.clock())
        registry.add(name="w1.test/w", vkey=w1.vkey, url="https://w.test/", now=hub.clock())
        with pytest.raises(Conflict):
            registry.add(name="w1.test/w", vkey=w1.vkey, url="https://w.test", now=hub.clock())
