# SPDX-License-Identifier: Apache-2.0
"""Helpers for the hub's HTTP tests: whole-database dumps, hand-forged envelopes, problem-detail checks.

Forged envelopes are built from the protocol's own primitives (canonical bytes, domain-separated signatures,
sealed boxes), so each one breaks exactly one rule and is otherwise what a real node sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from protocol.canonical import canonical_bytes
from protocol.crypto import ENVELOPE_CONTEXT, SUBMISSION_CONTEXT, SealingKey, SigningKey, seal
from protocol.messages import PROTOCOL_VERSION, SubmissionPayload, b64encode, envelope_header_bytes
from tests.support.snapshots import Dump, dump_database

__all__ = [
    "Dump",
    "assert_problem",
    "dump_database",
    "edited_payload_bytes",
    "forge_envelope",
    "payload_document",
    "route_paths",
]


def payload_document(payload: SubmissionPayload) -> dict[str, Any]:
    """The payload as a JSON value, to edit into something the protocol would refuse to build."""
    document: dict[str, Any] = json.loads(payload.canonical_bytes())
    return document


def edited_payload_bytes(payload: SubmissionPayload, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """Canonical bytes of ``payload`` after ``edit`` changed its JSON value in place."""
    document = payload_document(payload)
    edit(document)
    return canonical_bytes(document)


def forge_envelope(
    payload_bytes: bytes,
    *,
    hotline_id: str,
    key: SigningKey,
    hub_key: SealingKey,
    payload_signature: bytes | None = None,
    header_key: SigningKey | None = None,
    sealed: bytes | None = None,
    version: str = PROTOCOL_VERSION,
) -> bytes:
    """An envelope around arbitrary payload bytes, signed like a node signs, with any one part replaceable.

    ``payload_signature`` replaces the signature sealed with the payload, ``header_key`` signs the clear header
    instead of ``key``, ``sealed`` replaces the sealed box.
    """
    signature = (
        payload_signature if payload_signature is not None else key.sign_message(SUBMISSION_CONTEXT, payload_bytes)
    )
    box = sealed if sealed is not None else seal(payload_bytes + signature, hub_key)
    sealed_text = b64encode(box)
    key_id = key.verify_key.key_id
    header = envelope_header_bytes(hotline_id=hotline_id, key_id=key_id, sealed=sealed_text)
    return canonical_bytes(
        {
            "type": "envelope",
            "version": version,
            "hotline_id": hotline_id,
            "key_id": key_id,
            "sealed": sealed_text,
            "signature": b64encode((header_key or key).sign_message(ENVELOPE_CONTEXT, header)),
        }
    )


def assert_problem(response: Any, status: int, code: str, *mentions: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem detail of ``status``/``code`` whose detail names every ``mentions``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code"}, body
    assert body["type"] == f"https://tipshare.org/problems/{code}", body
    assert (body["status"], body["code"]) == (status, code), body
    assert body["title"], body
    for mention in mentions:
        assert mention in body["detail"], (mention, body["detail"])
    return body


def route_paths(app: FastAPI) -> dict[tuple[str, str], bool]:
    """``(method, path)`` of every route the app serves (HEAD aside), as the OpenAPI document writes paths, and
    whether the route is in the OpenAPI document (``include_in_schema``)."""
    return _paths(app.routes)


def _paths(routes: Any) -> dict[tuple[str, str], bool]:
    found: dict[tuple[str, str], bool] = {}
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.165 nests them)
            found |= _paths(route.original_router.routes)
        elif hasattr(route, "routes"):
            found |= _paths(route.routes)
        elif getattr(route, "methods", None):
            path = re.sub(r":\w+}", "}", route.path)  # "{taxonomy_id:path}" is "{taxonomy_id}" in OpenAPI
            shown = bool(getattr(route, "include_in_schema", False))
            found |= {(method, path): shown for method in route.methods if method != "HEAD"}
    return found
