# SPDX-License-Identifier: Apache-2.0
"""Witnesses: the hub sends its checkpoints to them (C2SP ``tlog-witness``) and serves the cosignatures they return.

A witness (an auditor, a donor, another country's coordinator, running ``tipshare-audit witness serve``) cosigns a
checkpoint only if it extends the last one it cosigned. Nodes and auditors that require *k* witnesses' cosignatures
therefore all see one log: the hub cannot show them different logs (a split view) or take an entry back.

* :class:`WitnessRegistry`: the witnesses the operator registered (``tipshare-hub witness add NAME VKEY URL``);
* :func:`collect`: for every witness, send the latest checkpoint with a consistency proof from the size the witness
  cosigned last (on a ``409`` the witness's own size is used instead), check the cosignature it returns and store
  it. It runs outside any database transaction while it waits on the network: an offline or slow witness is
  recorded (``last_error``) and never holds up ingest;
* :func:`collect_after_append`: the same, run by the hub after a new checkpoint was signed and the answer sent
  (a failure is logged, never raised); ``tipshare-hub witness collect`` from a timer catches up on the rest;
* :func:`cosigned_note`: a checkpoint note with every cosignature stored for it, as ``GET /v1/log/checkpoint`` and
  ``GET /v1/checkpoint`` serve it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.context import HubContext
from hub.db import read_session, write_session
from hub.errors import BadRequest, Conflict, NotFound
from hub.models import LogCheckpoint, Witness, WitnessCosignature
from hub.services.log import TransparencyLog
from protocol.cosignature import AddCheckpoint, CosignatureVerifier, add_signature_lines, verified_cosignatures
from protocol.errors import ProtocolError
from protocol.note import NoteSigner

__all__ = ["WITNESS_TIMEOUT", "CollectOutcome", "WitnessRegistry", "collect", "collect_after_append", "cosigned_note"]

_log = logging.getLogger("hub.witnesses")

#: Seconds the hub waits for one witness.
WITNESS_TIMEOUT: Final = 10.0
_MAX_ANSWER: Final = 64 * 1024


class WitnessRegistry:
    """The registered witnesses, in one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> list[Witness]:
        return list(self._session.scalars(select(Witness).order_by(Witness.name)))

    def add(self, *, name: str, vkey: str, url: str, now: datetime) -> Witness:
        try:
            verifier = CosignatureVerifier.from_vkey(vkey)
        except ProtocolError as e:
            raise BadRequest(f"VKEY is not a witness cosignature key (name+keyid+base64 of 0x04 || key): {e}") from e
        if verifier.name != name:
            raise BadRequest(f"the witness key is named {verifier.name!r}, not {name!r}: give its name as NAME")
        if not url.startswith(("https://", "http://")):
            raise BadRequest(f"URL {url!r} is not an http(s) URL (the witness's submission prefix)")
        if self._session.get(Witness, name) is not None:
            raise Conflict(f"a witness named {name!r} is already registered; remove it first to change it")
        witness = Witness(name=name, vkey=verifier.vkey, url=url.rstrip("/"), added_at=now, cosigned_size=0)
        self._session.add(witness)
        self._session.flush()
        return witness

    def remove(self, name: str) -> None:
        witness = self._session.get(Witness, name)
        if witness is None:
            raise NotFound(f"no witness named {name!r} is registered")
        self._session.delete(witness)  # its cosignatures stay served: they were signed and handed out


def cosigned_note(session: Session, checkpoint: LogCheckpoint) -> str:
    """The checkpoint's note with every cosignature stored for it appended (in witness-name order)."""
    lines = session.scalars(
        select(WitnessCosignature.line)
        .where(WitnessCosignature.size == checkpoint.size)
        .order_by(WitnessCosignature.witness)
    ).all()
    return add_signature_lines(checkpoint.note, list(lines)) if lines else checkpoint.note


@dataclass(frozen=True, slots=True)
class CollectOutcome:
    """What one witness did with the latest checkpoint."""

    witness: str
    size: int
    #: ``cosigned``, ``already`` (it had cosigned this size), ``offline``, or ``refused``.
    result: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Target:
    name: str
    vkey: str
    url: str
    cosigned_size: int


def collect(
    sessions: sessionmaker[Session],
    *,
    signer: NoteSigner,
    http: httpx.Client,
    clock: Callable[[], datetime],
) -> list[CollectOutcome]:
    """Ask every registered witness to cosign the latest checkpoint; store what they return."""
    with read_session(sessions) as session:
        log = TransparencyLog(session, signer=signer)
        latest = log.latest_checkpoint()
        if latest is None:
            return []
        size, note = latest.size, latest.note
        targets = [_Target(w.name, w.vkey, w.url, w.cosigned_size) for w in WitnessRegistry(session).all()]
        have = set(session.scalars(select(WitnessCosignature.witness).where(WitnessCosignature.size == size)).all())
    outcomes = []
    for target in targets:
        if target.name in have:
            outcomes.append(CollectOutcome(target.name, size, "already"))
            continue
        outcome, line, cosigned = _ask(sessions, signer, http, target, size=size, note=note)
        with write_session(sessions) as session:
            witness = session.get(Witness, target.name)
            if witness is None:  # removed meanwhile
                continue
            witness.last_contact_at = clock()
            witness.last_error = None if outcome.result == "cosigned" else outcome.detail[:500]
            if cosigned is not None:
                witness.cosigned_size = max(witness.cosigned_size, cosigned)  # another worker may have gone further
            if line is not None and session.get(WitnessCosignature, (size, target.name)) is None:
                timestamp = verified_cosignatures(note + line, [CosignatureVerifier.from_vkey(target.vkey)])[0]
                session.add(
                    WitnessCosignature(
                        size=size, witness=target.name, line=line, timestamp=timestamp.timestamp, received_at=clock()
                    )
                )
        outcomes.append(outcome)
    return outcomes


def _ask(
    sessions: sessionmaker[Session],
    signer: NoteSigner,
    http: httpx.Client,
    target: _Target,
    *,
    size: int,
    note: str,
) -> tuple[CollectOutcome, str | None, int | None]:
    """Send ``note`` to one witness (retrying once from the size it says it holds); outcome, line, its size."""
    old = min(target.cosigned_size, size)
    for _attempt in range(2):
        with read_session(sessions) as session:
            proof = TransparencyLog(session, signer=signer).consistency_proof(old, size) if old else []
        body = AddCheckpoint(old_size=old, proof=tuple(proof), note=note).to_bytes()
        try:
            response = http.post(f"{target.url}/add-checkpoint", content=body, timeout=WITNESS_TIMEOUT)
        except httpx.HTTPError as e:
            return CollectOutcome(target.name, size, "offline", f"cannot reach {target.url}: {e}"), None, None
        text = response.text[:_MAX_ANSWER]
        if response.status_code == 409 and response.headers.get("content-type", "").startswith("text/x.tlog.size"):
            try:
                held = int(text.strip())
            except ValueError:
                break
            if held > size:
                return (
                    CollectOutcome(
                        target.name, size, "refused", f"the witness holds a checkpoint of size {held}, beyond {size}"
                    ),
                    None,
                    held,
                )
            if held == old:
                break
            old = held
            continue
        if response.status_code != 200:
            return (
                CollectOutcome(target.name, size, "refused", f"HTTP {response.status_code}: {text.strip()[:300]}"),
                None,
                None,
            )
        try:
            cosignatures = verified_cosignatures(note + text, [CosignatureVerifier.from_vkey(target.vkey)])
        except ProtocolError as e:
            return CollectOutcome(target.name, size, "refused", f"its cosignature does not verify: {e}"), None, None
        if not cosignatures:
            return (
                CollectOutcome(target.name, size, "refused", "it answered without a cosignature by its key"),
                None,
                None,
            )
        return CollectOutcome(target.name, size, "cosigned"), cosignatures[0].line, size
    return CollectOutcome(target.name, size, "refused", "it keeps answering 409 (size conflict)"), None, None


def collect_after_append(context: HubContext) -> None:
    """Collect cosignatures for the checkpoint just signed (run after the answer went out); never raises."""
    try:
        with read_session(context.sessions) as session:
            if session.scalar(select(Witness.name).limit(1)) is None:
                return
        with httpx.Client(follow_redirects=False, timeout=WITNESS_TIMEOUT) as http:
            outcomes = collect(context.sessions, signer=context.log_signer, http=http, clock=context.clock)
    except Exception:  # a witness or the database failing here must not touch the submission already answered
        _log.exception("collecting witness cosignatures failed; `tipshare-hub witness collect` will retry")
        return
    for outcome in outcomes:
        if outcome.result in ("offline", "refused"):
            _log.warning(
                "witness %s %s checkpoint %d: %s", outcome.witness, outcome.result, outcome.size, outcome.detail
            )
