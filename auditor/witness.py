# SPDX-License-Identifier: Apache-2.0
"""A transparency-log witness (C2SP ``tlog-witness``), run by an auditor with ``tipshare-audit witness serve``.

The witness keeps, per log origin it witnesses, the latest checkpoint it cosigned. A hub sends it each new
checkpoint with a consistency proof from that one (``POST /add-checkpoint``); the witness cosigns only if the new
checkpoint is signed by the log's key and extends what it cosigned before
(:func:`protocol.cosignature.witness_checkpoint`), so a hub can never get a rollback or a fork cosigned by it.
Everyone who requires its cosignature then sees one log, whoever they are.

The witness directory::

    witness.json        name, trusted log keys (vkeys)
    witness.key         the Ed25519 cosigning key (base64 seed, mode 0600)
    state.json          origin -> latest cosigned checkpoint (size, root, note with the cosignature)

Routes: ``POST /add-checkpoint`` (the tlog-witness answers: 200 signature line, 400, 403, 404, 409 with
``text/x.tlog.size``, 422) and ``GET /<sha256(origin) hex>/checkpoint`` (the latest cosigned checkpoint).
Checking the old size and persisting the new state happen under one lock, and the state is written (fsync,
atomic rename) before the answer is sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from auditor.errors import StateError, UsageError
from auditor.i18n import N_, T_
from protocol.cosignature import (
    AddCheckpoint,
    Cosigner,
    Refusal,
    WitnessedCheckpoint,
    WitnessRefused,
    witness_checkpoint,
)
from protocol.crypto import SigningKey
from protocol.errors import MalformedMessage, ProtocolError
from protocol.note import NoteVerifier

__all__ = ["CONFIG_FILE", "KEY_FILE", "STATE_FILE", "WitnessHome", "create_witness", "witness_app"]

CONFIG_FILE: Final = "witness.json"
KEY_FILE: Final = "witness.key"
STATE_FILE: Final = "state.json"
#: Largest add-checkpoint body read (63 proof lines and a note with 100 signatures fit easily).
MAX_BODY: Final = 64 * 1024


def _write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def create_witness(directory: Path, *, name: str, logs: list[str]) -> Cosigner:
    """Create a witness in ``directory``: a new key, its name and the logs it witnesses. Never overwrites."""
    try:
        trusted = [NoteVerifier.from_vkey(vkey.strip()) for vkey in logs]
    except ProtocolError as e:
        raise UsageError(T_("--log is not a log verifier key (name+keyid+base64): {error}", error=e)) from e
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (directory / KEY_FILE).exists() or (directory / CONFIG_FILE).exists():
        raise StateError(T_("{directory} already holds a witness; its key is never replaced", directory=directory))
    key = SigningKey.generate()
    try:
        cosigner = Cosigner(name, key)
    except MalformedMessage as e:
        raise UsageError(
            T_("--name: {error}", error=e), hint=N_("Use a schema-less URL such as witness.example.org/w1.")
        ) from e
    descriptor = os.open(directory / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, base64.b64encode(key.seed()) + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    config = {"name": name, "logs": [log.vkey for log in trusted]}
    _write_atomically(directory / CONFIG_FILE, json.dumps(config, indent=2).encode() + b"\n")
    return cosigner


@dataclass
class WitnessHome:
    """An existing witness directory: the cosigner, the logs it trusts, its state (guarded by one lock)."""

    directory: Path
    cosigner: Cosigner
    logs: list[NoteVerifier]
    latest: dict[str, WitnessedCheckpoint]
    lock: threading.Lock

    @classmethod
    def open(cls, directory: Path) -> WitnessHome:
        try:
            config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            seed = base64.b64decode((directory / KEY_FILE).read_bytes().strip(), validate=True)
            cosigner = Cosigner(str(config["name"]), SigningKey(seed))
            logs = [NoteVerifier.from_vkey(str(vkey)) for vkey in config["logs"]]
        except FileNotFoundError as e:
            raise StateError(
                T_("{directory} holds no witness ({filename} is missing)", directory=directory, filename=e.filename),
                hint=N_("Create one with `tipshare-audit witness init`."),
            ) from e
        except (OSError, ValueError, KeyError, TypeError, binascii.Error, ProtocolError) as e:
            raise StateError(
                T_("the witness in {directory} cannot be read: {error}", directory=directory, error=e)
            ) from e
        if (directory / KEY_FILE).stat().st_mode & 0o077:
            raise StateError(
                T_("{key_file} is readable by other users: run `chmod 600` on it", key_file=directory / KEY_FILE)
            )
        return cls(directory, cosigner, logs, _read_state(directory / STATE_FILE), threading.Lock())

    def add_checkpoint(self, body: bytes, *, timestamp: int) -> str:
        """Decide, persist and cosign (under the lock); return the signature line or raise WitnessRefused."""
        try:
            request = AddCheckpoint.parse(body)
        except MalformedMessage as e:
            raise WitnessRefused(Refusal.BAD_REQUEST, str(e)) from None
        with self.lock:
            checkpoint, witnessed = witness_checkpoint(request, logs=self.logs, latest=self.latest)
            line = self.cosigner.cosign(checkpoint.body(), timestamp=timestamp)
            latest = dict(self.latest)
            latest[checkpoint.origin] = WitnessedCheckpoint(witnessed.size, witnessed.root_hash, request.note + line)
            _write_atomically(self.directory / STATE_FILE, _state_bytes(latest))
            self.latest = latest
        return line

    def checkpoint_for(self, origin_hash: str) -> str | None:
        for origin, witnessed in self.latest.items():
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                return witnessed.note
        return None


def _read_state(path: Path) -> dict[str, WitnessedCheckpoint]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise StateError(T_("the witness state {path} cannot be read: {error}", path=path, error=e)) from e
    try:
        return {
            origin: WitnessedCheckpoint(int(v["size"]), base64.b64decode(v["root"], validate=True), str(v["note"]))
            for origin, v in data["logs"].items()
        }
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise StateError(T_("the witness state {path} is corrupt: {error}", path=path, error=e)) from e


def _state_bytes(latest: dict[str, WitnessedCheckpoint]) -> bytes:
    logs = {
        origin: {"size": w.size, "root": base64.b64encode(w.root_hash).decode("ascii"), "note": w.note}
        for origin, w in sorted(latest.items())
    }
    return json.dumps({"logs": logs}, indent=2).encode("utf-8") + b"\n"


def witness_app(home: WitnessHome, *, clock: Callable[[], int]) -> Starlette:
    """The witness's HTTP API; ``clock`` gives the cosignature time (POSIX seconds)."""

    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("request body too large\n", status_code=413)
        try:
            line = home.add_checkpoint(bytes(body), timestamp=clock())
        except WitnessRefused as e:
            if e.refusal is Refusal.CONFLICT:
                size = f"{e.latest_size}\n".encode("ascii")
                return Response(size, status_code=409, headers={"Content-Type": "text/x.tlog.size"})
            return PlainTextResponse(f"{e}\n", status_code=e.refusal.status)
        return PlainTextResponse(line)

    async def checkpoint(request: Request) -> Response:
        note = home.checkpoint_for(str(request.path_params["origin_hash"]))
        if note is None:
            return PlainTextResponse("this witness never cosigned a checkpoint of that log\n", status_code=404)
        return PlainTextResponse(note)

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash:str}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )
