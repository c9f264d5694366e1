# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub serve``: the log format it is told, and the metrics directory its workers share."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import hub.cli
import hub.cli.server
from hub.metrics import MULTIPROCESS_ENV
from hub.settings import Settings
from hub.setup import initialise_hub


def _run(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> dict[str, Any]:
    """What ``serve`` hands uvicorn, and the metrics directory the workers would be told of."""
    calls: list[dict[str, Any]] = []

    def fake_run(app: str, **options: Any) -> None:
        calls.append({**options, "metrics_dir": os.environ.get(MULTIPROCESS_ENV)})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("TIPSHARE_HUB_DATA_DIR", "restored by monkeypatch afterwards")
    hub.cli.server.run(settings)
    (options,) = calls
    return options


@pytest.mark.parametrize(("chosen", "formatter"), [("json", "JsonFormatter"), ("text", "TextFormatter")])
def test_the_log_format_reaches_uvicorn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, chosen: str, formatter: str
) -> None:
    options = _run(monkeypatch, Settings(data_dir=tmp_path, log_format=chosen))  # type: ignore[arg-type]
    assert options["log_config"]["formatters"]["hub"]["()"] == f"hub.server_logs.{formatter}"
    assert options["access_log"] is False  # the hub's own access line replaces uvicorn's


def test_several_workers_share_a_private_metrics_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    stale = tmp_path / "metrics"
    stale.mkdir(mode=0o755)
    (stale / "counter_99.db").write_bytes(b"an earlier run's counts")

    options = _run(monkeypatch, Settings(data_dir=tmp_path, workers=2))

    assert options["metrics_dir"] == str(stale.absolute())
    assert stat.S_IMODE(stale.stat().st_mode) == 0o700
    assert list(stale.iterdir()) == []
    assert MULTIPROCESS_ENV not in os.environ, "only for the workers of that run"
    assert _run(monkeypatch, Settings(data_dir=tmp_path, workers=1))["metrics_dir"] is None  # one process counts


def test_serve_takes_log_format_as_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    initialise_hub(Settings(data_dir=tmp_path), origin="hub.test.tipshare/serve").engine.dispose()
    started: list[Settings] = []
    monkeypatch.setattr(hub.cli.server, "run", lambda settings, **_: started.append(settings))
    assert hub.cli.main(["serve", "--data-dir", str(tmp_path), "--log-format", "json"]) == 0
    assert hub.cli.main(["serve", "--data-dir", str(tmp_path)]) == 0
    assert [settings.log_format for settings in started] == ["json", "auto"]
    assert hub.cli.main(["serve", "--data-dir", str(tmp_path), "--log-format", "xml"]) == 2
