# SPDX-License-Identifier: Apache-2.0
"""Witnesses run for real: ``tipshare-audit witness init`` in-process, ``witness serve`` in a child process.

>>> home = init_witness(tmp_path / "w1", name="witness.test/w1", log_vkey=hub.log_key.vkey)   # doctest: +SKIP
>>> with served_witness(home.directory) as witness:                                           # doctest: +SKIP
...     httpx.post(f"{witness.url}/add-checkpoint", content=body)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from auditor.cli import main as audit_main
from tools.served_hub import ROOT, ServerFailed, free_port

__all__ = ["InitialisedWitness", "ServedWitness", "init_witness", "served_witness"]


@dataclass(frozen=True, slots=True)
class InitialisedWitness:
    directory: Path
    name: str
    vkey: str


@dataclass
class ServedWitness:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """Take the witness offline (SIGTERM to its process group; SIGKILL if it lingers)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung shutdown
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def init_witness(directory: Path, *, name: str, log_vkey: str) -> InitialisedWitness:
    """``tipshare-audit witness init --dir DIR --name NAME --log VKEY --json``, as typed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = audit_main(["witness", "init", "--dir", str(directory), "--name", name, "--log", log_vkey, "--json"])
    assert code == 0, out.getvalue()
    document = json.loads(out.getvalue())
    return InitialisedWitness(directory=directory, name=document["name"], vkey=document["vkey"])


@contextmanager
def served_witness(directory: Path, *, start_timeout: float = 30.0) -> Iterator[ServedWitness]:
    """``tipshare-audit witness serve --dir DIR --port P`` in a child process, until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "auditor.cli", "witness", "serve", "--dir", str(directory)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log_path = directory.parent / f"{directory.name}-serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = ServedWitness(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise ServerFailed(f"the witness exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                httpx.get(f"{served.url}/0/checkpoint", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise ServerFailed(f"the witness did not start:\n{log_path.read_text()}") from None
                time.sleep(0.05)
        yield served
    finally:
        served.stop()
