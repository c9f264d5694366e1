# SPDX-License-Identifier: Apache-2.0
"""Node homes in a secure group, driven through ``tipshare-node`` as the officer and the timer run it: ``init``,
enrolment with the sealing key, ``[secure_group]`` in config.toml, ``synth``, ``prepare``, ``approve``, and
``sync`` (the timer). Used by the node's round tests (in process) and the integration test (a served hub)."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from node.cli import main as node_main

GROUP, PERIOD, TABLE = "region-eu-east", "2026-10", "cases_opened"


@dataclass
class RoundNode:
    """One hotline's node home and how to run ``tipshare-node`` for it."""

    hotline_id: str
    home: Path
    http: Callable[[Any], httpx.Client]
    clock: Callable[[], datetime] | None = None

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = node_main(
                ["--home", str(self.home), *argv],
                http_client_factory=self.http,
                clock=self.clock,
                sleep=lambda _seconds: None,
            )
        return code, out.getvalue(), err.getvalue()

    def ok(self, *argv: str) -> str:
        code, out, err = self.run(*argv)
        assert code == 0, f"{self.hotline_id}: tipshare-node {' '.join(argv)} failed ({code}):\n{out}\n{err}"
        return out

    def sync(self) -> dict[str, Any]:
        """``tipshare-node sync --json`` (the timer): the round reports by period."""
        document = json.loads(self.ok("sync", "--json"))
        return {r["period"]: r for r in document.get("rounds", [])}

    def round_row(self) -> tuple[dict[str, list[int]], str]:
        """The stored round vectors (true counts plus the drawn noise share) and status of :data:`PERIOD`."""
        with contextlib.closing(sqlite3.connect(self.home / "node.sqlite3")) as db:
            vectors, status = db.execute("SELECT vectors, status FROM rounds WHERE period = ?", (PERIOD,)).fetchone()
        return json.loads(vectors), status

    def round_noise(self) -> dict[str, str]:
        """Each table's share σ as the node keeps it for :data:`PERIOD` (declared with its masked vector)."""
        with contextlib.closing(sqlite3.connect(self.home / "node.sqlite3")) as db:
            (noise,) = db.execute("SELECT noise FROM rounds WHERE period = ?", (PERIOD,)).fetchone()
        found: dict[str, str] = json.loads(noise)
        return found

    def round_totals(self) -> dict[str, tuple[int, str]]:
        """Each table's one-cell total and its σ as the node keeps them for :data:`PERIOD` (released with its
        masked vector)."""
        with contextlib.closing(sqlite3.connect(self.home / "node.sqlite3")) as db:
            (totals,) = db.execute("SELECT totals FROM rounds WHERE period = ?", (PERIOD,)).fetchone()
        return {table: (int(value), str(scale)) for table, (value, scale) in json.loads(totals).items()}

    def round_spend(self) -> tuple[Decimal, Decimal]:
        """The round's stored spend for :data:`PERIOD`: against the hub, against the hub and all other members."""
        with contextlib.closing(sqlite3.connect(self.home / "node.sqlite3")) as db:
            hub, others = db.execute(
                "SELECT against_hub, against_all_others FROM rounds WHERE period = ?", (PERIOD,)
            ).fetchone()
        return Decimal(hub), Decimal(others)

    def release_status(self) -> str:
        with contextlib.closing(sqlite3.connect(self.home / "node.sqlite3")) as db:
            (status,) = db.execute(
                "SELECT status FROM releases WHERE period = ? ORDER BY revision DESC", (PERIOD,)
            ).fetchone()
        return str(status)


def set_up_node(
    node: RoundNode,
    *,
    hub_url: str,
    enroll: Callable[[dict[str, Any]], None],
    export_dir: Path,
    seed: int,
    members: int,
    threshold: int,
    scaling: int = 1,
) -> list[int]:
    """Init, enrol (``enroll`` posts the admin body), join the group (scaled by ``scaling``), prepare and approve
    :data:`PERIOD`; returns the true counts of :data:`TABLE` (the synthetic export's truth)."""
    identity = json.loads(node.ok("init", "--hotline-id", node.hotline_id, "--hub", hub_url, "--json"))
    enroll(
        {
            "id": node.hotline_id,
            "display_name": node.hotline_id,
            "country": "MD",
            "public_key": identity["enrollment_line"].split()[1],
            "sealing_key": identity["sealing_key"],
        }
    )
    with (node.home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[secure_group]\ngroup_id = "{GROUP}"\nmembers = {members}\nthreshold = {threshold}\n'
            'collusion_cap = "100"\n' + (f"scaling = {scaling}\n" if scaling != 1 else "")
        )
    node.ok("synth", "--out", str(export_dir), "--seed", str(seed), "--months", "1", "--start", PERIOD, "--clean")
    node.ok(
        "prepare", "--period", PERIOD, str(export_dir / "cases.csv"), "--contacts", str(export_dir / "contacts.csv")
    )
    node.ok("approve", "--period", PERIOD)
    truth = json.loads((export_dir / "truth.json").read_text())["periods"][PERIOD][TABLE]
    return [int(c) for c in truth]
