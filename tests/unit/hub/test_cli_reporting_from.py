# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub hotline add --reporting-from`` and ``hotline policy --reporting-from`` as an operator types them:
the first month a hotline is expected to report is declared at enrolment (a stated default) and logged."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.cli import main
from protocol.crypto import SigningKey
from tests.support.hubs import Clock


class Hub:
    """A hub data directory driven through the CLI, with a clock the test sets."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data = tmp_path / "hub"
        self.capsys = capsys
        self.clock = Clock(datetime(2026, 12, 6, 10, tzinfo=UTC))
        assert self("init", "--origin", "hub.example.org/tipshare")[0] == 0

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--data-dir", str(self.data)], clock=self.clock)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self(*argv)
        assert code == 0, err
        return out

    def add(self, hotline_id: str, *options: str) -> str:
        key = SigningKey.generate().verify_key.to_text()
        return self.ok("hotline", "add", "--line", f"{hotline_id} {key}", "--name", "A", "--country", "UA", *options)


@pytest.fixture
def hub(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return Hub(tmp_path, capsys)


def test_hotline_add_declares_and_logs_the_month_before_when_enrolled_by_its_deadline(hub: Hub) -> None:
    out = hub.add("ua-a")  # 6 December: November's deadline (15 days after it ended) has not passed

    assert "its policy logged as entry 1: expected to report from 2026-11 on." in out
    assert "the log now holds 2 entries" in out
    shown = json.loads(hub.ok("hotline", "policy", "ua-a", "--json"))
    assert (shown["reporting_from"], shown["log_index"]) == ("2026-11", 1)
    assert "expected to report from: 2026-11" in hub.ok("hotline", "policy", "ua-a")


def test_hotline_add_after_the_deadline_declares_the_month_of_enrolment(hub: Hub) -> None:
    hub.clock.now = datetime(2026, 12, 16, 0, 0, 1, tzinfo=UTC)
    hub.add("ua-b")
    assert json.loads(hub.ok("hotline", "policy", "ua-b", "--json"))["reporting_from"] == "2026-12"


def test_the_operator_names_the_start_and_changes_it_later(hub: Hub) -> None:
    document = json.loads(hub.add("ua-c", "--reporting-from", "2026-06", "--json"))
    assert document["policy"] == {"log_index": 1, "reporting_from": "2026-06"}
    assert document["tree_size"] == 2

    out = hub.ok("hotline", "policy", "ua-c", "--reporting-from", "2027-01", "--reason", "opens in January")
    assert "Logged a new policy as entry 2" in out
    assert "expected to report from: 2027-01" in out
    out = hub.ok("hotline", "policy", "ua-c", "--max-monthly-volume", "900")
    assert "expected to report from: 2027-01" in out  # an option not given keeps its value


def test_a_start_the_hotline_may_not_release_is_refused_with_both_months(hub: Hub) -> None:
    key = SigningKey.generate().verify_key.to_text()
    code, _, err = hub(
        "hotline", "add", "--line", f"ua-d {key}", "--name", "D", "--country", "UA",
        "--first-period", "2026-10", "--reporting-from", "2026-09",
    )  # fmt: skip
    assert code == 1
    assert "reporting_from 2026-09 is before first_period 2026-10" in err
    code, _, err = hub(
        "hotline", "add", "--line", f"ua-d {key}", "--name", "D", "--country", "UA", "--reporting-from", "26-9"
    )
    assert code == 1
    assert "reporting_from: String should match pattern" in err, err
    assert json.loads(hub.ok("hotline", "list", "--json")) == []  # neither attempt enrolled it


def test_log_verify_prints_the_root_in_base64_as_the_checkpoint_does(hub: Hub) -> None:
    hub.add("ua-e")
    checkpoint = json.loads(hub.ok("log", "checkpoint", "--json"))
    root = checkpoint["note"].splitlines()[2]  # a C2SP checkpoint: origin, size, base64 root hash

    verified = json.loads(hub.ok("log", "verify", "--json"))

    assert verified["root_hash"] == root
    assert len(base64.b64decode(root, validate=True)) == 32
    assert f"rebuild the root {root}," in hub.ok("log", "verify")
