# SPDX-License-Identifier: Apache-2.0
"""Tools to forge hostile submissions: envelopes signed and sealed like a node's, around any bytes at all.

Everything is built from the protocol's own primitives (canonical bytes, domain-separated signatures, sealed boxes),
so a forged envelope breaks exactly the rule it is meant to break and is otherwise what a real node sends. JSON that
the protocol refuses to produce (floats, integers beyond ±2**53, NaN, duplicate keys) is spliced in as raw text:

>>> splice_raw({"a": [1, RAW]}, b"1e3")
b'{"a":[1,1e3]}'
>>> edit_path({"a": [{"b": 1}]}, "a.0.b", 2)
{'a': [{'b': 2}]}
"""

from __future__ import annotations

import json
from typing import Any, Final

from protocol.canonical import canonical_bytes
from protocol.crypto import ENVELOPE_CONTEXT, SUBMISSION_CONTEXT, SealingKey, SigningKey, seal
from protocol.messages import PROTOCOL_VERSION, b64encode

__all__ = [
    "DROP",
    "RAW",
    "edit_path",
    "envelope_bytes",
    "json_document",
    "sealed_text",
    "splice_raw",
]

#: Placeholder string for a value given as raw JSON text (see :func:`splice_raw`).
RAW: Final = "@@raw-json@@"
#: Value for :func:`edit_path` that deletes the member instead of setting it.
DROP: Final = object()


def json_document(data: bytes) -> Any:
    """The JSON value of canonical bytes, to edit into something the protocol would refuse to build."""
    return json.loads(data)


def edit_path(document: Any, path: str, value: Any) -> Any:
    """Set (or, with :data:`DROP`, delete) the member at a dotted ``path`` (list indexes are numbers); returns it."""
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is DROP:
        del target[key]
    else:
        target[key] = value
    return document


def splice_raw(document: Any, raw: bytes) -> bytes:
    """Canonical bytes of ``document`` with its one :data:`RAW` placeholder replaced by the JSON text ``raw``."""
    data = canonical_bytes(document)
    placeholder = json.dumps(RAW).encode()
    assert data.count(placeholder) == 1, "put exactly one RAW placeholder in the document"
    return data.replace(placeholder, raw)


def sealed_text(
    plaintext_payload: bytes,
    *,
    signer: SigningKey,
    hub_key: SealingKey,
    payload_signature: bytes | None = None,
    context: str = SUBMISSION_CONTEXT,
) -> str:
    """``base64(seal(payload || signature))``: the payload signed by ``signer`` in ``context`` (or the given
    signature), sealed to ``hub_key``."""
    signature = payload_signature if payload_signature is not None else signer.sign_message(context, plaintext_payload)
    return b64encode(seal(plaintext_payload + signature, hub_key))


def envelope_bytes(
    *,
    hotline_id: str,
    key_id: str,
    sealed: str,
    signer: SigningKey,
    context: str = ENVELOPE_CONTEXT,
) -> bytes:
    """The canonical bytes of an envelope whose clear header (whatever it claims) is signed by ``signer``."""
    header = {"type": "envelope", "version": PROTOCOL_VERSION, "hotline_id": hotline_id, "key_id": key_id}
    header["sealed"] = sealed
    signature = b64encode(signer.sign_message(context, canonical_bytes(header)))
    return canonical_bytes({**header, "signature": signature})
