# SPDX-License-Identifier: Apache-2.0
"""Helpers for the node's tests: the officer at the keyboard, a node home set up without the network, planted counts."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from node.budget import BudgetConfig
from node.cli import main
from node.client import HubIdentity
from node.home import HomeLayout, NodeConfig, NodeHome, PinnedHub, render_config
from node.keystore import create_signing_key, write_private_file
from node.store import open_database
from protocol.taxonomy import Taxonomy, builtin_taxonomy
from tests.unit.node.fakehub import HUB_URL, FakeHub

HOTLINE = "la-strada-md"
#: A clock inside the year after the test periods, so every 2025 period is over.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Officer:
    """Types commands: ``main([...])`` with the fake hub plugged in, capturing what is printed."""

    def __init__(self, hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
        self.hub = hub
        self.capsys = capsys
        self.transcript: list[str] = []

    def __call__(
        self, *argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None
    ) -> tuple[int, str, str]:
        if stdin is not None:
            assert monkeypatch is not None
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv), http_client_factory=self.hub.client_factory(), clock=lambda: NOW, sleep=lambda s: None)
        out, err = self.capsys.readouterr()
        self.transcript += [out, err]
        return code, out, err

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


def init_and_enroll(officer: Officer, *options: str) -> str:
    """``tipshare-node init``, then the hub operator enrolls the printed line; returns the public key."""
    code, out, err = officer("init", "--hotline-id", HOTLINE, "--hub", HUB_URL, *options)
    assert code == 0, err
    line = re.search(rf"^\s+({HOTLINE} ed25519:\S+)$", out, flags=re.MULTILINE)
    assert line is not None, out
    hotline, key = line.group(1).split()
    officer.hub.enroll(hotline, key)
    return key


def budget(
    release: str = "0.1", period_cap: str = "0.2", year_cap: str = "1.5", mechanism: str = "discrete_gaussian"
) -> BudgetConfig:
    default = BudgetConfig.default("discrete_gaussian" if mechanism == "discrete_gaussian" else "discrete_laplace")
    return BudgetConfig(
        default.mechanism,
        Fraction(release),
        Fraction(period_cap),
        Fraction(year_cap),
        dict(default.weights),
    )


def make_home(root: Path, hub: FakeHub, *, config_budget: BudgetConfig | None = None, enroll: bool = True) -> NodeHome:
    """What ``init`` leaves behind, built directly (no CLI, no HTTP); the key is enrolled at ``hub``."""
    layout = HomeLayout(root)
    key = create_signing_key(layout.key)
    document = hub.identity()
    identity = HubIdentity.model_validate(document)
    config = NodeConfig(
        hotline_id=HOTLINE,
        public_key=key.verify_key.to_text(),
        key_id=key.verify_key.key_id,
        created_at="2026-01-01T00:00:00Z",
        hub=PinnedHub(url=HUB_URL, identity=identity, pinned_at="2026-01-01T00:00:00Z"),
        budget=config_budget or BudgetConfig.default(),
    )
    write_private_file(layout.config, render_config(config).encode("utf-8"))
    open_database(layout.database, create=True).close()
    if enroll:
        hub.enroll(HOTLINE, key.verify_key.to_text())
    return NodeHome.open(root)


def planted_counts(taxonomy: Taxonomy | None = None, *, contacts: bool = True) -> dict[str, list[int]]:
    """True counts that cannot be mistaken: every table starts with a run of ten distinctive large numbers (fewer
    in a table of fewer cells)."""
    taxonomy = taxonomy or builtin_taxonomy()
    counts: dict[str, list[int]] = {}
    for position, (name, table) in enumerate(taxonomy.tables.items()):
        if name == "contacts" and not contacts:
            continue
        vector = [(i * 7) % 5 for i in range(table.cell_count)]
        run = planted_run(position)[: table.cell_count]  # a one-cell total gets one planted number
        vector[: len(run)] = run
        counts[name] = vector
    return counts


def planted_run(position: int) -> list[int]:
    base = 912_345 + 1_013 * position
    return [base + 17 * i for i in range(10)]
