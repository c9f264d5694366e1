# SPDX-License-Identifier: Apache-2.0
"""Operator routes (enrolment, key rotation and revocation, tokens), ``/metrics``, and the public routes
(``/healthz``, ``/v1/hub``, ``/v1/taxonomy``, the OpenAPI document), on a real hub."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest

from hub.db import read_session
from hub.models import ApiToken
from protocol.api import PERIOD
from protocol.crypto import SigningKey, VerifyKey
from protocol.messages import KeyEventEntry, SubmissionEntry, b64decode, format_timestamp, parse_log_entry
from protocol.note import NoteVerifier
from protocol.taxonomy import builtin_taxonomy, parse_taxonomy
from tests.support.hubkit import assert_problem, dump_database, route_paths
from tests.support.hubs import ORIGIN, EnrolledHotline, HubUnderTest

TABLES = ("contacts",)


def _enroll_body(hotline_id: str, key: SigningKey, country: str = "UA", **extra: Any) -> dict[str, Any]:
    return {
        "id": hotline_id,
        "display_name": f"Hotline {hotline_id}",
        "country": country,
        "public_key": key.verify_key.to_text(),
        **extra,
    }


def _log(hub: HubUnderTest) -> list[KeyEventEntry | SubmissionEntry]:
    response = hub.client.get("/v1/log/entries", headers=hub.auth("auditor"))
    assert response.status_code == 200, response.text
    return [parse_log_entry(b64decode(entry["data"])) for entry in response.json()["entries"]]


def _keys(hub: HubUnderTest, hotline_id: str) -> list[dict[str, Any]]:
    response = hub.client.get("/v1/admin/hotlines", headers=hub.auth("admin"))
    assert response.status_code == 200, response.text
    [hotline] = [h for h in response.json() if h["id"] == hotline_id]
    return hotline["keys"]  # type: ignore[no-any-return]


def _submit(hub: HubUnderTest, hotline_id: str, period: str, key: SigningKey | None = None) -> Any:
    payload = hub.release(hotline_id, period, tables=TABLES)
    if key is not None:
        payload = payload.model_copy(update={"key_id": key.verify_key.key_id})
    return hub.post_envelope(hub.envelope_bytes(payload, key=key))


# ----------------------------------------------------------------------------------------------- enrolment


def test_enrolment_is_logged_and_listed(hub: HubUnderTest) -> None:
    key = SigningKey.generate()
    response = hub.client.post("/v1/admin/hotlines", json=_enroll_body("la-strada-ua", key), headers=hub.auth("admin"))

    assert response.status_code == 201, response.text
    assert response.json() == {
        "hotline_id": "la-strada-ua",
        "key_id": key.verify_key.key_id,
        "log_index": 0,
        "tree_size": 1,
    }
    listed = hub.client.get("/v1/admin/hotlines", headers=hub.auth("admin")).json()
    assert listed == [
        {
            "id": "la-strada-ua",
            "display_name": "Hotline la-strada-ua",
            "country": "UA",
            "enrolled_at": format_timestamp(hub.clock.now),
            "keys": [
                {
                    "key_id": key.verify_key.key_id,
                    "public_key": key.verify_key.to_text(),
                    "valid_from": format_timestamp(hub.clock.now),
                    "valid_until": None,
                    "revoked_at": None,
                    "revoke_reason": None,
                    "log_index": 0,
                    "sealing_key": None,
                }
            ],
        }
    ]
    [entry] = _log(hub)
    assert isinstance(entry, KeyEventEntry)
    assert (entry.kind, entry.hotline_id, entry.key_id, entry.public_key, entry.country) == (
        "key_enrolled",
        "la-strada-ua",
        key.verify_key.key_id,
        key.verify_key.to_text(),
        "UA",
    )


ENROLMENT_REFUSALS = {
    "hotline already enrolled": ({"id": "la-strada-ua"}, 409, "conflict", ("already enrolled",)),
    "key already enrolled": ({"reuse_key": True}, 409, "conflict", ("already enrolled", "must be new")),
    "not a public key": ({"public_key": "ssh-ed25519 AAAA"}, 400, "bad_request", ("ed25519:<base64>",)),
    "lowercase country": ({"country": "ua"}, 422, "invalid_request", ("country",)),
    "id with capitals": ({"id": "La-Strada"}, 422, "invalid_request", ("id",)),
    "unknown field": ({"email": "x@example.org"}, 422, "invalid_request", ("email",)),
}


@pytest.mark.parametrize(("change", "status", "code", "mentions"), ENROLMENT_REFUSALS.values(), ids=ENROLMENT_REFUSALS)
def test_enrolment_refusals_store_nothing(
    hub: HubUnderTest, change: dict[str, Any], status: int, code: str, mentions: tuple[str, ...]
) -> None:
    existing = hub.enroll("la-strada-ua", "UA")
    key = existing.key if change.pop("reuse_key", False) else SigningKey.generate()
    body = {**_enroll_body("la-strada-md", key, "MD"), **change}
    before = dump_database(hub.context.engine)

    response = hub.client.post("/v1/admin/hotlines", json=body, headers=hub.auth("admin"))

    assert_problem(response, status, code, *mentions)
    assert dump_database(hub.context.engine) == before


# ----------------------------------------------------------------------------------------------- keys


def test_old_key_is_accepted_before_rotation_and_refused_after(hub: HubUnderTest) -> None:
    hotline = hub.enroll("la-strada-ua", "UA")
    old_key = hotline.key
    hub.clock.advance(days=1)
    assert _submit(hub, hotline.id, "2026-09").status_code == 201  # signed by the old key, before the rotation
    hub.clock.advance(hours=1)
    rotated_at = hub.clock.now
    new_key = SigningKey.generate()

    response = hub.client.post(
        f"/v1/admin/hotlines/{hotline.id}/keys",
        json={"public_key": new_key.verify_key.to_text()},
        headers=hub.auth("admin"),
    )

    assert response.status_code == 201, response.text
    assert response.json() == {
        "hotline_id": hotline.id,
        "key_id": new_key.verify_key.key_id,
        "log_index": 2,
        "tree_size": 3,
    }
    before = dump_database(hub.context.engine)
    refused = _submit(hub, hotline.id, "2026-10", key=old_key)
    assert_problem(refused, 403, "key_not_valid", old_key.verify_key.key_id, "replaced by a newer key")
    assert dump_database(hub.context.engine) == before
    hub.hotlines[hotline.id] = EnrolledHotline(hotline.id, "UA", new_key)
    assert _submit(hub, hotline.id, "2026-10").status_code == 201
    old, new = _keys(hub, hotline.id)
    assert (old["key_id"], old["valid_until"], old["revoked_at"]) == (
        old_key.verify_key.key_id,
        format_timestamp(rotated_at),
        None,
    )
    assert (new["key_id"], new["valid_from"], new["valid_until"], new["log_index"]) == (
        new_key.verify_key.key_id,
        format_timestamp(rotated_at),
        None,
        2,
    )
    # The submission made before the rotation still counts.
    stats = hub.client.get(
        "/v1/stats/contacts",
        params={"group_by": PERIOD, "period_from": "2026-09", "period_to": "2026-10"},
        headers=hub.auth("coordinator"),
    ).json()
    assert [row["hotlines_reporting"] for row in stats["rows"]] == [1, 1]


def test_a_revoked_key_is_refused_and_a_new_key_enrolls_the_hotline_again(hub: HubUnderTest) -> None:
    hotline = hub.enroll("la-strada-ua", "UA")
    key_id = hotline.key.verify_key.key_id
    hub.clock.advance(minutes=5)

    response = hub.client.post(
        f"/v1/admin/keys/{key_id}/revoke", json={"reason": "  laptop stolen  "}, headers=hub.auth("admin")
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"hotline_id": hotline.id, "key_id": key_id, "log_index": 1, "tree_size": 2}
    assert_problem(_submit(hub, hotline.id, "2026-10"), 403, "key_not_valid", "was revoked")
    [key] = _keys(hub, hotline.id)
    assert (key["revoked_at"], key["revoke_reason"], key["valid_until"]) == (
        format_timestamp(hub.clock.now),
        "laptop stolen",
        None,
    )
    again = hub.client.post(f"/v1/admin/keys/{key_id}/revoke", json={"reason": "again"}, headers=hub.auth("admin"))
    assert_problem(again, 409, "conflict", "already revoked")
    # With every key revoked, a new key is an enrolment again (there is no key it replaces).
    new_key = SigningKey.generate()
    response = hub.client.post(
        f"/v1/admin/hotlines/{hotline.id}/keys",
        json={"public_key": new_key.verify_key.to_text()},
        headers=hub.auth("admin"),
    )
    assert response.status_code == 201, response.text
    hub.hotlines[hotline.id] = EnrolledHotline(hotline.id, "UA", new_key)
    assert _submit(hub, hotline.id, "2026-10").status_code == 201
    assert [e.kind for e in _log(hub)] == ["key_enrolled", "key_revoked", "key_enrolled", "submission"]


def test_key_history_entries_are_in_the_log(hub: HubUnderTest) -> None:
    ua = hub.enroll("la-strada-ua", "UA", name="La Strada Ukraine")
    md = hub.enroll("la-strada-md", "MD")
    second = SigningKey.generate()
    hub.client.post(
        f"/v1/admin/hotlines/{ua.id}/keys", json={"public_key": second.verify_key.to_text()}, headers=hub.auth("admin")
    )
    hub.clock.advance(days=2)
    hub.client.post(
        f"/v1/admin/keys/{md.key.verify_key.key_id}/revoke", json={"reason": "compromised"}, headers=hub.auth("admin")
    )

    entries = _log(hub)

    assert all(isinstance(e, KeyEventEntry) for e in entries)
    summary = [(e.kind, e.hotline_id, e.key_id, e.country) for e in entries if isinstance(e, KeyEventEntry)]
    assert summary == [
        ("key_enrolled", "la-strada-ua", ua.key.verify_key.key_id, "UA"),
        ("key_enrolled", "la-strada-md", md.key.verify_key.key_id, "MD"),
        ("key_rotated", "la-strada-ua", second.verify_key.key_id, "UA"),
        ("key_revoked", "la-strada-md", md.key.verify_key.key_id, "MD"),
    ]
    rotated, revoked = entries[2], entries[3]
    assert isinstance(rotated, KeyEventEntry)
    assert isinstance(revoked, KeyEventEntry)
    assert (rotated.previous_key_id, rotated.display_name, rotated.public_key) == (
        ua.key.verify_key.key_id,
        "La Strada Ukraine",
        second.verify_key.to_text(),
    )
    assert (revoked.reason, revoked.effective_at) == ("compromised", format_timestamp(hub.clock.now))
    assert VerifyKey.from_text(revoked.public_key) == md.key.verify_key


KEY_REFUSALS = {
    "rotate an unknown hotline": ("/v1/admin/hotlines/no-such-hotline/keys", {"new_key": True}, 404, "not_found"),
    "rotate to a key in use": ("/v1/admin/hotlines/la-strada-ua/keys", {"reuse_key": True}, 409, "conflict"),
    "rotate to a malformed key": (
        "/v1/admin/hotlines/la-strada-ua/keys",
        {"public_key": "ed25519:AAAA"},
        400,
        "bad_request",
    ),
    "revoke an unknown key": ("/v1/admin/keys/" + "0" * 32 + "/revoke", {"reason": "lost"}, 404, "not_found"),
    "revoke without a reason": ("/v1/admin/keys/{key_id}/revoke", {"reason": "   "}, 400, "bad_request"),
    "revoke with an empty reason": ("/v1/admin/keys/{key_id}/revoke", {"reason": ""}, 422, "invalid_request"),
}


@pytest.mark.parametrize(("path", "body", "status", "code"), KEY_REFUSALS.values(), ids=KEY_REFUSALS)
def test_key_refusals_store_nothing(hub: HubUnderTest, path: str, body: dict[str, Any], status: int, code: str) -> None:
    hotline = hub.enroll("la-strada-ua", "UA")
    if body.pop("new_key", False):
        body["public_key"] = SigningKey.generate().verify_key.to_text()
    if body.pop("reuse_key", False):
        body["public_key"] = hotline.key.verify_key.to_text()
    before = dump_database(hub.context.engine)

    response = hub.client.post(path.format(key_id=hotline.key.verify_key.key_id), json=body, headers=hub.auth("admin"))

    assert_problem(response, status, code)
    assert dump_database(hub.context.engine) == before


# ----------------------------------------------------------------------------------------------- tokens


def _create_token(hub: HubUnderTest, **body: Any) -> dict[str, Any]:
    response = hub.client.post("/v1/admin/tokens", json={"label": "test", **body}, headers=hub.auth("admin"))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_tokens_are_random_shown_once_and_stored_hashed(hub: HubUnderTest) -> None:
    first = _create_token(hub, role="coordinator", label="IOM Chisinau")
    second = _create_token(hub, role="coordinator", label="IOM Chisinau")

    tokens = [first["token"], second["token"]]
    assert tokens[0] != tokens[1]
    assert all(re.fullmatch(r"tsh_[A-Za-z0-9_-]{43}", token) for token in tokens), tokens
    listed = hub.client.get("/v1/admin/tokens", headers=hub.auth("admin"))
    assert listed.status_code == 200
    assert all("token" not in record and "token_hash" not in record for record in listed.json())
    assert {r["label"] for r in listed.json() if r["id"] in (first["id"], second["id"])} == {"IOM Chisinau"}
    assert not any(token in listed.text for token in tokens)
    dumped = repr(dump_database(hub.context.engine))
    assert not any(token in dumped for token in tokens)  # nowhere in the database, in any form but its hash
    with read_session(hub.context.sessions) as session:
        stored = {record.id: record.token_hash for record in session.query(ApiToken)}
    assert stored[first["id"]] == hashlib.sha256(first["token"].encode()).hexdigest()
    assert stored[second["id"]] == hashlib.sha256(second["token"].encode()).hexdigest()
    # The token works, for its role.
    headers = {"Authorization": f"Bearer {first['token']}"}
    assert hub.client.get("/v1/completeness", headers=headers).status_code == 200
    assert hub.client.get("/v1/admin/tokens", headers=headers).status_code == 403


def test_tokens_expire_and_can_be_revoked(hub: HubUnderTest) -> None:
    expiring = _create_token(hub, role="auditor", expires_in_days=2)
    revocable = _create_token(hub, role="auditor")
    assert expiring["expires_at"] == format_timestamp(hub.clock.now + timedelta(days=2))

    def status(token: dict[str, Any]) -> int:
        response = hub.client.get("/v1/log/entries", headers={"Authorization": f"Bearer {token['token']}"})
        return int(response.status_code)

    assert (status(expiring), status(revocable)) == (200, 200)
    revoked = hub.client.post(f"/v1/admin/tokens/{revocable['id']}/revoke", headers=hub.auth("admin"))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] == format_timestamp(hub.clock.now)
    assert status(revocable) == 401
    hub.clock.advance(days=2, seconds=-1)
    assert status(expiring) == 200
    hub.clock.advance(seconds=1)
    assert status(expiring) == 401
    # Revoking twice changes nothing; an unknown token is not found.
    hub.clock.advance(days=1)
    again = hub.client.post(f"/v1/admin/tokens/{revocable['id']}/revoke", headers=hub.auth("admin"))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert_problem(hub.client.post("/v1/admin/tokens/999/revoke", headers=hub.auth("admin")), 404, "not_found", "999")


def test_a_coordinator_token_can_be_limited_to_countries(hub: HubUnderTest) -> None:
    token = _create_token(hub, role="coordinator", countries=["MD", "RO"])
    assert token["countries"] == ["MD", "RO"]
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert hub.client.get("/v1/stats/contacts", params={"country": "MD"}, headers=headers).status_code == 200
    assert_problem(
        hub.client.get("/v1/stats/contacts", params={"country": "UA"}, headers=headers), 403, "forbidden", "MD, RO"
    )


TOKEN_REFUSALS = {
    "unknown role": ({"role": "superuser"}, 422, "invalid_request"),
    "blank label": ({"role": "auditor", "label": "   "}, 400, "bad_request"),
    "lowercase country": ({"role": "coordinator", "countries": ["md"]}, 422, "invalid_request"),
    "no countries": ({"role": "coordinator", "countries": []}, 400, "bad_request"),
    "expiry beyond ten years": ({"role": "auditor", "expires_in_days": 4000}, 422, "invalid_request"),
}


@pytest.mark.parametrize(("body", "status", "code"), TOKEN_REFUSALS.values(), ids=TOKEN_REFUSALS)
def test_token_refusals_store_nothing(hub: HubUnderTest, body: dict[str, Any], status: int, code: str) -> None:
    before = dump_database(hub.context.engine)
    response = hub.client.post("/v1/admin/tokens", json={"label": "x", **body}, headers=hub.auth("admin"))
    assert_problem(response, status, code)
    assert dump_database(hub.context.engine) == before


# ----------------------------------------------------------------------------------------------- metrics


def _metrics(hub: HubUnderTest) -> dict[str, float]:
    response = hub.client.get("/metrics", headers=hub.auth("admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_count_accepted_duplicate_and_rejected_submissions(hub: HubUnderTest) -> None:
    hub.enroll("la-strada-ua", "UA")
    before = _metrics(hub)
    assert (before["tipshare_log_size"], before["tipshare_hotlines_enrolled"]) == (1, 1)
    payload = hub.release("la-strada-ua", "2026-10", tables=TABLES)
    body = hub.envelope_bytes(payload)

    assert hub.post_envelope(body).status_code == 201
    assert hub.post_envelope(body).status_code == 200
    assert hub.post_envelope(body, content_type="text/plain").status_code == 415
    assert hub.post_envelope(body.replace(b"la-strada-ua", b"la-strada-xx")).status_code == 403

    after = _metrics(hub)
    rejected = 'tipshare_submissions_rejected_total{reason="%s"}'
    assert after["tipshare_submissions_accepted_total"] == before["tipshare_submissions_accepted_total"] + 1
    assert after["tipshare_submissions_duplicate_total"] == before["tipshare_submissions_duplicate_total"] + 1
    assert after[rejected % "unsupported_media_type"] == 1
    assert after[rejected % "unknown_hotline"] == 1
    assert after["tipshare_log_size"] == 2
    submissions = 'tipshare_http_requests_total{method="POST",route="/v1/submissions",status="%d"}'
    assert (after[submissions % 201], after[submissions % 200], after[submissions % 415]) == (1, 1, 1)
    assert after['tipshare_http_request_seconds_count{route="/v1/submissions"}'] == 4


# ----------------------------------------------------------------------------------------------- public routes


def test_health(hub: HubUnderTest) -> None:
    response = hub.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_hub_identity_publishes_the_keys_nodes_pin(hub: HubUnderTest) -> None:
    body = hub.client.get("/v1/hub").json()

    taxonomy = builtin_taxonomy()
    assert body["protocol_version"] == "tipshare/1"
    assert body["log_origin"] == ORIGIN
    assert body["taxonomy"] == {"id": taxonomy.id, "hash": taxonomy.content_hash}
    assert body["encryption_key"] == hub.context.keys.envelope.public_key.to_text()
    verifier = NoteVerifier.from_vkey(body["log_vkey"])
    assert verifier.name == ORIGIN
    assert verifier.key == hub.context.keys.log.verify_key


def test_taxonomy_documents_hash_to_their_content_hash(hub: HubUnderTest) -> None:
    """Every registered taxonomy is served (the current one and the others), each as bytes that hash to its id."""
    listed = hub.client.get("/v1/taxonomy")
    assert listed.status_code == 200
    refs = listed.json()

    assert [ref["id"] for ref in refs] == ["tipshare-taxonomy/1", "tipshare-taxonomy/2"]
    for ref in refs:
        response = hub.client.get(f"/v1/taxonomy/{ref['id']}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert ref["hash"] == "sha256:" + hashlib.sha256(response.content).hexdigest()
        assert parse_taxonomy(response.content).content_hash == ref["hash"]
    assert_problem(hub.client.get("/v1/taxonomy/tipshare-taxonomy/3"), 404, "not_found", "tipshare-taxonomy/3")


DOCUMENTED_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/hub"),
    ("GET", "/v1/taxonomy"),
    ("GET", "/v1/taxonomy/{taxonomy_id}"),
    ("POST", "/v1/submissions"),
    ("GET", "/v1/submissions/{submission_id}"),
    ("GET", "/v1/stats/{table}"),
    ("GET", "/v1/estimates/{unit}"),
    ("GET", "/v1/completeness"),
    ("GET", "/v1/log/checkpoint"),
    ("GET", "/v1/log/entries"),
    ("GET", "/v1/log/proof/inclusion"),
    ("GET", "/v1/log/proof/consistency"),
    ("GET", "/v1/admin/hotlines"),
    ("POST", "/v1/admin/hotlines"),
    ("POST", "/v1/admin/hotlines/{hotline_id}/keys"),
    ("POST", "/v1/admin/keys/{key_id}/revoke"),
    ("GET", "/v1/admin/tokens"),
    ("POST", "/v1/admin/tokens"),
    ("POST", "/v1/admin/tokens/{token_id}/revoke"),
}
#: Routes that serve the documentation itself (hub.docs).
DOCUMENTATION_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/start.js")}


def test_openapi_lists_every_route(hub: HubUnderTest) -> None:
    document = hub.client.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = route_paths(hub.client.app)  # type: ignore[arg-type]

    assert documented >= DOCUMENTED_ROUTES
    assert {route for route, shown in served.items() if shown} == documented
    assert set(served) >= DOCUMENTATION_ROUTES
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
    assert hub.client.get("/docs").status_code == 200
