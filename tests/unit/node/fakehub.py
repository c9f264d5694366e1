# SPDX-License-Identifier: Apache-2.0
"""An in-memory hub speaking the tipshare/1 HTTP contract over ``httpx.MockTransport``, for node tests.

Built from the protocol's own primitives (a real X25519 key, a C2SP note-signing log key, RFC 6962 Merkle
proofs, ``make_receipt``), so its receipts really verify. Faults can be queued for the next submissions to play
the network's and the hub's failures. Like a real hub it publishes one taxonomy as current (``taxonomy``) and
accepts the others it knows (``also_accepts``): set ``taxonomy`` to move the hub to a new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from node.settings import NodeSettings
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.cosignature import Cosigner
from protocol.crypto import EncryptionKey, SigningKey, VerifiedSubmission, VerifyKey, open_envelope, payload_hash
from protocol.errors import ProtocolError
from protocol.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from protocol.messages import SubmissionEntry, b64encode, format_timestamp
from protocol.note import NoteSigner
from protocol.receipt import make_receipt
from protocol.taxonomy import Taxonomy, builtin_taxonomy
from protocol.validation import check_payload

HUB_URL = "https://hub.test"
#: Faults: "500", "503", "429", "408", "timeout", "connect", "drop-after-commit", "bad-receipt-key",
#: "bad-receipt-signature", "400", "403-no-reason".
Fault = str


@dataclass
class FakeHub:
    taxonomy: Taxonomy = field(default_factory=builtin_taxonomy)
    origin: str = "hub.test/log"
    #: Taxonomies the hub accepts (and serves) besides the current one.
    also_accepts: tuple[Taxonomy, ...] = ()
    retry_after: str | None = None

    def __post_init__(self) -> None:
        self.encryption_key = EncryptionKey.generate()
        self.log = NoteSigner(self.origin, SigningKey.generate())
        self.enrolled: dict[tuple[str, str], VerifyKey] = {}
        self.leaves: list[bytes] = []
        self.receipts: dict[str, bytes] = {}  # payload hash -> receipt JSON
        self.slots: dict[tuple[str, str, int], str] = {}  # (hotline, period, revision) -> payload hash
        self.accepted: list[VerifiedSubmission] = []
        self.faults: list[Fault] = []
        self.requests: list[httpx.Request] = []
        self.posts = 0
        #: Witnesses whose cosignatures the hub serves with its checkpoint.
        self.witnesses: list[Cosigner] = []

    # ------------------------------------------------------------------ set-up helpers

    def enroll(self, hotline_id: str, public_key: str) -> None:
        key = VerifyKey.from_text(public_key)
        self.enrolled[(hotline_id, key.key_id)] = key
        self.leaves.append(f"enrolment of {hotline_id} {public_key}".encode())

    def identity(self) -> dict[str, Any]:
        return {
            "protocol_version": "tipshare/1",
            "log_origin": self.origin,
            "log_vkey": self.log.verifier.vkey,
            "encryption_key": self.encryption_key.public_key.to_text(),
            "taxonomy": {"id": self.taxonomy.id, "hash": self.taxonomy.content_hash},
        }

    def taxonomies(self) -> dict[str, Taxonomy]:
        """Every taxonomy the hub accepts, by id (the current one last, so it wins)."""
        return {t.id: t for t in (*self.also_accepts, self.taxonomy)}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client_factory(self) -> Callable[[NodeSettings], httpx.Client]:
        return lambda settings: httpx.Client(transport=self.transport(), timeout=settings.timeout)

    def sums(self, table: str) -> list[int]:
        """The hub's merged statistic: cell-wise sum of the latest revision of every accepted release."""
        latest: dict[tuple[str, str], VerifiedSubmission] = {}
        for sub in self.accepted:
            slot = (sub.payload.hotline_id, sub.payload.period)
            if slot not in latest or latest[slot].payload.revision < sub.payload.revision:
                latest[slot] = sub
        total = [0] * self.taxonomy.table(table).cell_count
        for sub in latest.values():
            for release in sub.payload.tables:
                if release.name == table:
                    total = [a + b for a, b in zip(total, release.cells, strict=True)]
        return total

    # ------------------------------------------------------------------ HTTP

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/v1/hub":
            return httpx.Response(200, json=self.identity())
        if request.method == "GET" and path.startswith("/v1/taxonomy/"):
            known = self.taxonomies().get(path.removeprefix("/v1/taxonomy/"))
            if known is not None:
                return httpx.Response(200, content=known.canonical_bytes())
        if request.method == "POST" and path == "/v1/submissions":
            self.posts += 1
            return self._submit(request)
        if request.method == "GET" and path == "/v1/checkpoint":
            if not self.leaves:
                return _problem(404, "not_found", "the log is empty")
            hashes = [leaf_hash(leaf) for leaf in self.leaves]
            checkpoint = Checkpoint(self.origin, len(hashes), root_hash(hashes))
            lines = [w.cosign(checkpoint.body(), timestamp=1_800_000_000) for w in self.witnesses]
            return httpx.Response(200, text=sign_checkpoint(checkpoint, self.log) + "".join(lines))
        if request.method == "GET" and path == "/v1/checkpoint/consistency":
            first, second = int(request.url.params["first"]), int(request.url.params["second"])
            hashes = [leaf_hash(leaf) for leaf in self.leaves[:second]]
            proof = consistency_proof(first, hashes) if 0 < first < second else []
            return httpx.Response(200, json={"first": first, "second": second, "proof": [b64encode(p) for p in proof]})
        return _problem(404, "not_found", f"no route {request.method} {path}")

    def _submit(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fault in ("500", "503", "429", "408"):
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return _problem(int(fault), "busy", "the hub is busy", headers=headers)
        if fault == "400":
            return _problem(400, "malformed_message", "the envelope is not valid")
        if fault == "403-no-reason":
            return httpx.Response(403, text="Forbidden")
        try:
            verified = open_envelope(request.content, hub_key=self.encryption_key, hotline_key=self.hotline_key)
            taxonomy = self.taxonomies().get(verified.payload.taxonomy.id)
            if taxonomy is None:
                return _problem(422, "unknown_taxonomy", f"this hub has no taxonomy {verified.payload.taxonomy.id}")
            check_payload(verified.payload, taxonomy, now=datetime.now(UTC))
        except _Unknown as e:
            return _problem(403, "unknown_hotline", str(e))
        except ProtocolError as e:
            return _problem(422, "invalid_payload", str(e))
        hashed = payload_hash(verified.payload_bytes)
        payload = verified.payload
        slot = (payload.hotline_id, payload.period, payload.revision)
        if hashed in self.receipts:
            response = httpx.Response(200, content=self.receipts[hashed], headers={"content-type": "application/json"})
        elif slot in self.slots:
            return _problem(
                409, "conflict", f"{payload.period} revision {payload.revision} already holds another payload"
            )
        else:
            entry = SubmissionEntry(
                type="log_entry",
                version="tipshare/1",
                kind="submission",
                hotline_id=payload.hotline_id,
                key_id=payload.key_id,
                period=payload.period,
                revision=payload.revision,
                payload_hash=hashed,
                payload=b64encode(verified.payload_bytes),
                signature=b64encode(verified.signature),
                received_at=format_timestamp(datetime.now(UTC)),
            )
            self.leaves.append(entry.canonical_bytes())
            hashes = [leaf_hash(leaf) for leaf in self.leaves]
            index = len(hashes) - 1
            signer = self.log
            if fault == "bad-receipt-key":  # a checkpoint signed by another key under the same name
                signer = NoteSigner(self.origin, SigningKey.generate())
            note = sign_checkpoint(Checkpoint(self.origin, len(hashes), root_hash(hashes)), signer)
            if fault == "bad-receipt-signature":
                text, _, line = note.rpartition("\n\n")
                head, _, sig = line.rpartition(" ")
                flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
                note = text + "\n\n" + head + " " + flipped
            receipt = make_receipt(
                submission_id=len(self.accepted) + 1,
                leaf_index=index,
                leaf=self.leaves[index],
                inclusion_proof=inclusion_proof(index, hashes),
                checkpoint_note=note,
            )
            body = receipt.canonical_bytes()
            self.receipts[hashed] = body
            self.slots[slot] = hashed
            self.accepted.append(verified)
            response = httpx.Response(201, content=body, headers={"content-type": "application/json"})
        if fault == "drop-after-commit":
            raise httpx.RemoteProtocolError("server disconnected without sending a response", request=request)
        return response

    def hotline_key(self, hotline_id: str, key_id: str) -> VerifyKey:
        key = self.enrolled.get((hotline_id, key_id))
        if key is None:
            raise _Unknown(f"hotline {hotline_id} with key {key_id} is not enrolled at this hub")
        return key


class _Unknown(ProtocolError):
    pass


def _problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "type": f"https://tipshare.org/problems/{code}",
        "title": code,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/problem+json", **(headers or {})},
    )
