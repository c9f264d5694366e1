# SPDX-License-Identifier: Apache-2.0
"""The scene and the builders of the hostile-submission corpus (``tests/integration/test_hostile_submissions.py``).

:class:`Scene` is one hub with hotlines in every state a hostile case needs: ``MAIN`` and ``OTHER`` enrolled with
valid keys, ``REVOKED`` whose key was revoked, ``ROTATED`` whose first key was rotated out, ``LATE`` enrolled after
the others (so its key is not valid before :data:`LATE_ENROLLED`), and accepted revisions of MAIN to replay and
conflict with. :func:`set_scene` builds it through the hub's own HTTP API.

Each builder returns a ``Make``: a function of the scene to an :class:`Attempt` (body and headers), starting from a
valid release and breaking it in one way: the envelope's bytes or JSON edited (not re-signed), a payload edited and
then signed and sealed as a node would (so the break reaches the checks after decryption), or a release sent with a
key or hotline the case picks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from protocol.canonical import canonical_bytes
from protocol.crypto import ENVELOPE_CONTEXT, SUBMISSION_CONTEXT, SealingKey, SigningKey
from protocol.messages import SubmissionPayload
from protocol.taxonomy import Taxonomy
from tests.support.forgery import RAW, edit_path, envelope_bytes, json_document, sealed_text, splice_raw
from tests.support.hubs import HubUnderTest
from tests.support.releases import make_release

__all__ = [
    "JSON",
    "LATE",
    "LATE_ENROLLED",
    "MAIN",
    "NOW",
    "OTHER",
    "PERIOD",
    "REVOKED",
    "ROTATED",
    "SET_UP",
    "TABLES",
    "Attempt",
    "Make",
    "Scene",
    "cells",
    "envelope_edit",
    "envelope_raw",
    "envelope_resealed",
    "envelope_text",
    "escape_first",
    "insert_first",
    "nested",
    "payload_edit",
    "payload_raw",
    "payload_text",
    "release",
    "reordered",
    "set_scene",
    "truncate",
    "with_headers",
]

MAIN: Final = "la-strada-ua"  # the hotline most cases speak for
OTHER: Final = "la-strada-md"  # another enrolled hotline, for impersonation
REVOKED: Final = "revoked-ro"  # its only key is revoked
ROTATED: Final = "rotated-bg"  # its first key was rotated out
LATE: Final = "late-pl"  # enrolled after the others, for a key used before it is valid
TABLES: Final = ("contacts", "persons_recruitment")
PERIOD: Final = "2026-10"
#: When the scene is set up, when LATE enrolls, and the hub's clock for every case that does not set its own.
SET_UP: Final = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
LATE_ENROLLED: Final = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NOW: Final = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
JSON: Final = {"Content-Type": "application/json"}


def cells(taxonomy: Taxonomy, seed: int) -> dict[str, list[int]]:
    return {t: [(i * 7 + seed * 5) % 13 - 3 for i in range(taxonomy.table(t).cell_count)] for t in TABLES}


@dataclass
class Scene:
    """One hub with hotlines in every state a case needs, and valid material to break."""

    hub: HubUnderTest
    #: ROTATED's first key, replaced at set-up.
    retired_key: SigningKey
    #: The envelope of MAIN's 2026-09 revision 1 (revision 2 followed), and the receipt it got.
    superseded: bytes
    superseded_receipt: bytes

    @property
    def taxonomy(self) -> Taxonomy:
        return self.hub.context.taxonomy

    @property
    def hub_key(self) -> SealingKey:
        return self.hub.context.keys.envelope.public_key

    def key(self, hotline_id: str = MAIN) -> SigningKey:
        return self.hub.hotlines[hotline_id].key

    def payload(
        self, hotline_id: str = MAIN, *, key: SigningKey | None = None, seed: int = 1, **kwargs: Any
    ) -> SubmissionPayload:
        """A valid release of the two small tables (a fresh nonce each time, so fresh bytes)."""
        options: dict[str, Any] = {"period": PERIOD, "tables": TABLES, "cells": cells(self.taxonomy, seed), **kwargs}
        return make_release(self.taxonomy, key or self.key(hotline_id), hotline_id=hotline_id, **options)

    def document(self, **kwargs: Any) -> Any:
        return json_document(self.payload(**kwargs).canonical_bytes())

    def seal(
        self,
        payload_bytes: bytes,
        *,
        hotline_id: str = MAIN,
        signer: SigningKey | None = None,
        key_id: str | None = None,
        header_signer: SigningKey | None = None,
        header_context: str = ENVELOPE_CONTEXT,
        payload_signer: SigningKey | None = None,
        payload_context: str = SUBMISSION_CONTEXT,
        payload_signature: bytes | None = None,
        hub_key: SealingKey | None = None,
        sealed: str | None = None,
    ) -> bytes:
        """An envelope around ``payload_bytes``, signed and sealed as a node does unless told otherwise."""
        signer = signer or self.key(hotline_id)
        box = sealed
        if box is None:
            box = sealed_text(
                payload_bytes,
                signer=payload_signer or signer,
                hub_key=hub_key or self.hub_key,
                payload_signature=payload_signature,
                context=payload_context,
            )
        return envelope_bytes(
            hotline_id=hotline_id,
            key_id=key_id or signer.verify_key.key_id,
            sealed=box,
            signer=header_signer or signer,
            context=header_context,
        )

    def envelope(self, hotline_id: str = MAIN, *, key: SigningKey | None = None, **kwargs: Any) -> bytes:
        """A valid envelope of a fresh valid release (valid as far as the sender can make it)."""
        payload = self.payload(hotline_id, key=key, **kwargs)
        return self.seal(payload.canonical_bytes(), hotline_id=hotline_id, signer=key)


def set_scene(hub: HubUnderTest) -> Scene:
    """Enroll four hotlines; accept some revisions; revoke one key, rotate another; enroll a fifth, later."""
    for hotline_id, country in ((MAIN, "UA"), (OTHER, "MD"), (REVOKED, "RO"), (ROTATED, "BG")):
        hub.enroll(hotline_id, country)
    scene = Scene(hub, retired_key=hub.hotlines[ROTATED].key, superseded=b"", superseded_receipt=b"")
    scene.superseded = scene.envelope(period="2026-09", seed=2)
    first = hub.post_envelope(scene.superseded)
    assert first.status_code == 201, first.text
    scene.superseded_receipt = first.content
    for period, revision in (("2026-09", 2), ("2026-08", 1), ("2026-08", 2), ("2026-08", 3)):
        hub.submit(scene.payload(period=period, revision=revision, seed=revision + 2))
    revoked_key = hub.hotlines[REVOKED].key.verify_key.key_id
    response = hub.client.post(
        f"/v1/admin/keys/{revoked_key}/revoke", json={"reason": "laptop stolen"}, headers=hub.auth("admin")
    )
    assert response.status_code == 200, response.text
    new_key = SigningKey.generate()
    response = hub.client.post(
        f"/v1/admin/hotlines/{ROTATED}/keys",
        json={"public_key": new_key.verify_key.to_text()},
        headers=hub.auth("admin"),
    )
    assert response.status_code == 201, response.text
    hub.hotlines[ROTATED] = replace(hub.hotlines[ROTATED], key=new_key)
    hub.clock.now = LATE_ENROLLED
    hub.enroll(LATE, "PL")
    hub.clock.now = NOW
    return scene


@dataclass(frozen=True)
class Attempt:
    """One request: its body (bytes, or chunks sent without a length) and headers."""

    body: bytes | Iterable[bytes]
    headers: dict[str, str | bytes] = field(default_factory=lambda: dict(JSON))


Make = Callable[[Scene], Attempt]


def envelope_text(change: Callable[[bytes], bytes]) -> Make:
    """The bytes of a valid envelope, changed."""
    return lambda scene: Attempt(change(scene.envelope()))


def envelope_edit(path: str, value: Any) -> Make:
    """A valid envelope's JSON with one member set (or dropped), re-encoded canonically; not re-signed."""
    return lambda scene: Attempt(canonical_bytes(edit_path(json_document(scene.envelope()), path, value)))


def envelope_raw(path: str, raw: bytes) -> Make:
    """A valid envelope's JSON with one member's value replaced by raw JSON text."""
    return lambda scene: Attempt(splice_raw(edit_path(json_document(scene.envelope()), path, RAW), raw))


def envelope_resealed(**options: Any) -> Make:
    """A valid payload in an envelope forged with ``options`` (see :meth:`Scene.seal`)."""

    def make(scene: Scene) -> Attempt:
        resolved = {name: value(scene) if callable(value) else value for name, value in options.items()}
        return Attempt(scene.seal(scene.payload().canonical_bytes(), **resolved))

    return make


def payload_text(change: Callable[[bytes], bytes], **payload: Any) -> Make:
    """The canonical bytes of a valid payload, changed, then signed and sealed by MAIN as usual."""
    return lambda scene: Attempt(scene.seal(change(scene.payload(**payload).canonical_bytes())))


def payload_edit(*edits: tuple[str, Any]) -> Make:
    """A valid payload's JSON with members set (or dropped), canonical, then signed and sealed by MAIN."""

    def make(scene: Scene) -> Attempt:
        document = scene.document()
        for path, value in edits:
            edit_path(document, path, value)
        return Attempt(scene.seal(canonical_bytes(document)))

    return make


def payload_raw(path: str, raw: bytes) -> Make:
    """A valid payload's JSON with one member's value replaced by raw JSON text, then signed and sealed."""
    return lambda scene: Attempt(scene.seal(splice_raw(edit_path(scene.document(), path, RAW), raw)))


def release(hotline_id: str = MAIN, *, key: Callable[[Scene], SigningKey] | None = None, **payload: Any) -> Make:
    """A release the protocol library itself would build, from a hotline (and key) the case picks."""
    return lambda scene: Attempt(scene.envelope(hotline_id, key=key(scene) if key else None, **payload))


def with_headers(headers: dict[str, str | bytes]) -> Make:
    return lambda scene: Attempt(scene.envelope(), headers)


def insert_first(member: bytes) -> Callable[[bytes], bytes]:
    """Insert raw ``"key":value,`` text as the first member of the object (duplicates need raw text)."""
    return lambda data: data[:1] + member + b"," + data[1:]


def truncate(at: Callable[[int], int]) -> Callable[[bytes], bytes]:
    return lambda data: data[: at(len(data))]


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * depth + b"0" + close * depth


def reordered(data: bytes) -> bytes:
    document = json.loads(data)
    return json.dumps(dict(reversed(list(document.items()))), separators=(",", ":")).encode()


def escape_first(name: bytes) -> Callable[[bytes], bytes]:
    """Write the first character of a member's value as a \\u escape (same value, other bytes)."""

    def change(data: bytes) -> bytes:
        at = data.index(b'"' + name + b'":"') + len(name) + 4
        return data[:at] + b"\\u%04x" % data[at] + data[at + 1 :]

    return change
