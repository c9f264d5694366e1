# SPDX-License-Identifier: Apache-2.0
"""The audit routes, checked the way an auditor checks them: with ``protocol`` alone and the published vkey.

Checkpoints are signed notes; entries page with a cap; inclusion and consistency proofs verify against
checkpoints received earlier; stored submissions carry a payload and signature that verify with the enrolled key.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.crypto import SigningKey, VerifyKey, payload_hash, verify_submission_signature
from protocol.errors import InvalidCheckpoint, InvalidProof, InvalidSignature
from protocol.merkle import leaf_hash, root_hash, verify_consistency, verify_inclusion
from protocol.messages import SubmissionEntry, b64decode, parse_log_entry
from protocol.note import NoteVerifier
from tests.support.hubkit import assert_problem
from tests.support.hubs import HubUnderTest

TABLES = ("contacts", "cases_opened")


def _get(hub: HubUnderTest, path: str, **params: Any) -> Any:
    response = hub.client.get(path, params=params, headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    return response


def _verifier(hub: HubUnderTest) -> NoteVerifier:
    return NoteVerifier.from_vkey(hub.client.get("/v1/hub").json()["log_vkey"])


def _checkpoint(hub: HubUnderTest) -> Checkpoint:
    response = _get(hub, "/v1/log/checkpoint")
    assert response.headers["content-type"].startswith("text/plain")
    return open_checkpoint(response.text, _verifier(hub), origin=hub.context.origin)


def _grow(hub: HubUnderTest) -> dict[int, Checkpoint]:
    """Nine log entries (enrolments, a rotation, submissions); the signed checkpoint seen after each one."""
    seen: dict[int, Checkpoint] = {}

    def observe() -> None:
        checkpoint = _checkpoint(hub)
        seen[checkpoint.size] = checkpoint

    hub.enroll("ua-kyiv", "UA")
    observe()
    hub.enroll("md-chisinau", "MD")
    observe()
    for period in ("2026-07", "2026-08", "2026-09"):
        for hotline in ("ua-kyiv", "md-chisinau"):
            hub.submit_cells(hotline, period, {}, tables=TABLES)
            observe()
    hub.client.post(
        "/v1/admin/hotlines/ua-kyiv/keys",
        json={"public_key": SigningKey.generate().verify_key.to_text()},
        headers=hub.auth("admin"),
    )
    observe()
    assert sorted(seen) == list(range(1, 10))
    return seen


def test_checkpoint_is_a_signed_note_verifying_with_the_published_vkey(hub: HubUnderTest) -> None:
    assert_problem(hub.client.get("/v1/log/checkpoint", headers=hub.auth("auditor")), 404, "not_found", "empty")
    seen = _grow(hub)

    note = _get(hub, "/v1/log/checkpoint").text
    checkpoint = open_checkpoint(note, _verifier(hub), origin=hub.context.origin)

    assert checkpoint == seen[9]
    data = [b64decode(e["data"]) for e in _get(hub, "/v1/log/entries").json()["entries"]]
    assert checkpoint.root_hash == root_hash([leaf_hash(d) for d in data])  # computed here, from the entries
    with pytest.raises(InvalidCheckpoint):
        open_checkpoint(note, NoteVerifier(hub.context.origin, SigningKey.generate().verify_key))
    with pytest.raises(InvalidCheckpoint):
        open_checkpoint(note.replace("\n9\n", "\n8\n"), _verifier(hub))


def test_entries_page_with_a_cap(hub: HubUnderTest) -> None:
    _grow(hub)
    hub.context.settings = hub.context.settings.model_copy(update={"entries_page_max": 4})

    first = _get(hub, "/v1/log/entries").json()
    assert (first["start"], first["end"], first["tree_size"], len(first["entries"])) == (0, 4, 9, 4)
    window = _get(hub, "/v1/log/entries", start=2, end=5).json()
    assert [e["index"] for e in window["entries"]] == [2, 3, 4]
    capped = _get(hub, "/v1/log/entries", start=1, end=100).json()
    assert (capped["start"], capped["end"]) == (1, 5)
    tail = _get(hub, "/v1/log/entries", start=7).json()
    assert [e["index"] for e in tail["entries"]] == [7, 8]
    at_end = _get(hub, "/v1/log/entries", start=9).json()
    assert (at_end["entries"], at_end["end"]) == ([], 9)
    assert_problem(
        hub.client.get("/v1/log/entries", params={"start": 10}, headers=hub.auth("auditor")),
        400,
        "bad_request",
        "beyond the end of the log",
    )
    assert_problem(
        hub.client.get("/v1/log/entries", params={"start": -1}, headers=hub.auth("auditor")), 422, "invalid_request"
    )

    pages, start = [], 0
    while True:
        page = _get(hub, "/v1/log/entries", start=start).json()
        if not page["entries"]:
            break
        pages.append(page)
        start = page["end"]
    entries = [entry for page in pages for entry in page["entries"]]
    assert [e["index"] for e in entries] == list(range(9))
    assert len(pages) == 3
    for entry in entries:
        data = b64decode(entry["data"])
        assert b64decode(entry["leaf_hash"]) == leaf_hash(data)
    kinds = [parse_log_entry(b64decode(e["data"])).kind for e in entries]
    assert kinds == ["key_enrolled", "key_enrolled", *["submission"] * 6, "key_rotated"]


def test_inclusion_proofs_verify_against_every_earlier_checkpoint(hub: HubUnderTest) -> None:
    seen = _grow(hub)
    leaves = [b64decode(e["leaf_hash"]) for e in _get(hub, "/v1/log/entries").json()["entries"]]

    for size, checkpoint in seen.items():
        for index in range(size):
            body = _get(hub, "/v1/log/proof/inclusion", index=index, tree_size=size).json()
            assert (body["index"], body["tree_size"]) == (index, size)
            assert b64decode(body["leaf_hash"]) == leaves[index]
            proof = [b64decode(p) for p in body["proof"]]
            verify_inclusion(index, size, leaves[index], proof, checkpoint.root_hash)
    # A proof of one leaf does not prove another.
    body = _get(hub, "/v1/log/proof/inclusion", index=3, tree_size=9).json()
    with pytest.raises(InvalidProof):
        verify_inclusion(3, 9, leaves[4], [b64decode(p) for p in body["proof"]], seen[9].root_hash)


def test_consistency_proofs_verify_between_every_pair_of_checkpoints(hub: HubUnderTest) -> None:
    seen = _grow(hub)

    for first, second in itertools.combinations(sorted(seen), 2):
        body = _get(hub, "/v1/log/proof/consistency", first=first, second=second).json()
        assert (body["first"], body["second"]) == (first, second)
        proof = [b64decode(p) for p in body["proof"]]
        verify_consistency(first, second, seen[first].root_hash, seen[second].root_hash, proof)
    assert _get(hub, "/v1/log/proof/consistency", first=0, second=5).json()["proof"] == []
    assert _get(hub, "/v1/log/proof/consistency", first=5, second=5).json()["proof"] == []
    body = _get(hub, "/v1/log/proof/consistency", first=3, second=7).json()
    with pytest.raises(InvalidProof):  # checked against another old root, the proof fails
        verify_consistency(3, 7, seen[4].root_hash, seen[7].root_hash, [b64decode(p) for p in body["proof"]])


PROOF_REFUSALS = {
    "leaf beyond the tree": ("/v1/log/proof/inclusion", {"index": 5, "tree_size": 5}, "leaf index 5"),
    "tree larger than the log": ("/v1/log/proof/inclusion", {"index": 0, "tree_size": 10}, "tree size 10"),
    "sizes in the wrong order": ("/v1/log/proof/consistency", {"first": 6, "second": 5}, "from size 6 to size 5"),
    "second size beyond the log": ("/v1/log/proof/consistency", {"first": 2, "second": 10}, "tree size 10"),
}


@pytest.mark.parametrize(("path", "params", "mention"), PROOF_REFUSALS.values(), ids=PROOF_REFUSALS)
def test_proof_refusals(hub: HubUnderTest, path: str, params: dict[str, int], mention: str) -> None:
    _grow(hub)
    response = hub.client.get(path, params=params, headers=hub.auth("auditor"))
    assert_problem(response, 400, "bad_request", mention)


def test_stored_submission_verifies_with_the_enrolled_key(hub: HubUnderTest) -> None:
    hotline = hub.enroll("ua-kyiv", "UA")
    payload = hub.release("ua-kyiv", "2026-09", tables=TABLES, cells={"contacts": list(range(72))})
    receipt = hub.submit(payload)
    keys = hub.client.get("/v1/admin/hotlines", headers=hub.auth("admin")).json()[0]["keys"]
    enrolled = VerifyKey.from_text(keys[0]["public_key"])
    assert enrolled == hotline.key.verify_key

    body = _get(hub, f"/v1/submissions/{receipt.submission_id}").json()

    payload_bytes, signature = b64decode(body["payload"]), b64decode(body["signature"])
    assert verify_submission_signature(payload_bytes, signature, enrolled) == payload
    assert payload_bytes == payload.canonical_bytes()
    assert body["payload_hash"] == payload_hash(payload_bytes)
    assert (body["hotline_id"], body["key_id"], body["period"], body["revision"]) == (
        "ua-kyiv",
        enrolled.key_id,
        "2026-09",
        1,
    )
    assert (body["leaf_index"], body["is_current"], body["taxonomy_id"]) == (
        receipt.leaf_index,
        True,
        "tipshare-taxonomy/1",
    )
    with pytest.raises(InvalidSignature):
        verify_submission_signature(payload_bytes, signature, SigningKey.generate().verify_key)
    # The log entry carries the very same signed bytes.
    [entry] = _get(hub, "/v1/log/entries", start=receipt.leaf_index, end=receipt.leaf_index + 1).json()["entries"]
    logged = parse_log_entry(b64decode(entry["data"]))
    assert isinstance(logged, SubmissionEntry)
    assert (b64decode(logged.payload), b64decode(logged.signature)) == (payload_bytes, signature)
    assert_problem(hub.client.get("/v1/submissions/999", headers=hub.auth("auditor")), 404, "not_found", "999")
