# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub group`` and ``tipshare-hub round`` as the operator types them, and ``hotline add --sealing-key``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.context import HubContext
from hub.db import read_session
from hub.models import LogLeaf
from hub.settings import Settings
from protocol.crypto import AgreementKey, SigningKey
from protocol.messages import KeyEventEntry, parse_log_entry
from tests.support.hubs import Clock

ORIGIN = "hub.example.org/tipshare"


class Operator:
    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir, self.capsys, self.clock = data_dir, capsys, Clock()

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--data-dir", str(self.data_dir)], clock=self.clock)
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *argv: str) -> Any:
        code, out, err = self.run(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def operator(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Operator:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    op = Operator(tmp_path / "hub", capsys)
    code, _, err = op.run("init", "--origin", ORIGIN)
    assert code == 0, err
    return op


def _add(operator: Operator, hotline_id: str, *, sealing: bool = True) -> str:
    sealing_key = AgreementKey.generate().public_key.to_text()
    extra = ("--sealing-key", sealing_key) if sealing else ()
    operator.json(
        "hotline", "add", "--id", hotline_id, "--key", SigningKey.generate().verify_key.to_text(),
        "--name", hotline_id, "--country", "MD", *extra,
    )  # fmt: skip
    return sealing_key


def test_groups_and_a_round_from_the_command_line(operator: Operator) -> None:
    for i in range(3):
        _add(operator, f"hotline-{i}")
    _add(operator, "hotline-x", sealing=False)
    members = "hotline-0,hotline-1,hotline-2"
    code, _, err = operator.run(
        "group", "create", "eu", "--members", members, "--threshold", "1", "--tables", "persons_total"
    )
    assert code == 1
    assert "above half" in err
    code, _, err = operator.run(
        "group", "create", "eu", "--members", members + ",hotline-x", "--threshold", "3", "--tables", "persons_total"
    )
    assert code == 1
    assert "no sealing key" in err
    group = operator.json(
        "group", "create", "eu-east", "--members", members, "--threshold", "2", "--tables", "persons_total"
    )
    assert group["members"] == members.split(",")
    assert group["scaling"] == 1
    code, _, err = operator.run("group", "create", "eu-x", "--members", members, "--threshold", "2", "--scaling", "14")
    assert code == 1
    assert "odd whole number from 1 to 255" in err
    code, out, err = operator.run(
        "group", "create", "eu-scaled", "--members", members, "--threshold", "2", "--scaling", "15"
    )
    assert code == 0, err
    # The operator is told what each member hotline writes in its config.toml.
    assert 'group_id = "eu-scaled"' in out
    assert "members = 3" in out
    assert "threshold = 2" in out
    assert "scaling = 15" in out
    listed = {g["id"]: g["scaling"] for g in operator.json("group", "list")}
    assert listed == {"eu-east": 1, "eu-scaled": 15}
    scaled = operator.json("round", "open", "eu-scaled", "2026-10")
    assert scaled["step"] == "shares"
    opened = operator.json("round", "open", "eu-east", "2026-10")
    assert (opened["round"], opened["step"]) == (0, "shares")
    assert operator.json("round", "tick") == {"opened": [], "advanced": []}
    operator.clock.advance(days=3, seconds=1)
    ticked = operator.json("round", "tick")
    assert [r["step"] for r in ticked["advanced"]] == ["failed", "failed"]  # nobody shared: below the threshold
    assert operator.json("round", "show", "eu-east", "2026-10")["failed_index"] is not None
    code, _, err = operator.run("log", "verify")  # the round's entries are entries like any other
    assert code == 0, err


def test_hotline_add_logs_the_sealing_key(operator: Operator) -> None:
    sealing_key = _add(operator, "hotline-0")
    context = HubContext.open(Settings(data_dir=operator.data_dir), clock=operator.clock)
    try:
        with read_session(context.sessions) as session:
            entries = [parse_log_entry(leaf.data) for leaf in session.scalars(select(LogLeaf).order_by(LogLeaf.index))]
    finally:
        context.engine.dispose()
    [event] = [e for e in entries if isinstance(e, KeyEventEntry)]
    assert event.sealing_key == sealing_key
