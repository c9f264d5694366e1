# SPDX-License-Identifier: Apache-2.0
"""``make demo DEMO_ARGS=--once`` in the test suite, so the demo can never silently rot.

It runs exactly what a newcomer runs (``python -m demo --once``, the Makefile's command): a real hub server process,
six synthetic hotlines sending twelve months over real HTTP (one on taxonomy v1, five on v2; four of them in a
secure group for the last six months), the regional answers of ``GET /v1/estimates`` beside the truth, and the
auditor's verdict as the exit status.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.slow_start  # minutes: started first, not left to run alone at the end of the pass
def test_the_demo_runs_end_to_end_and_the_auditor_verifies_it(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "demo", "--once", "--workdir", str(tmp_path / "demo")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "hub serving on http://127.0.0.1:" in output
    assert "6 hotlines enrolled" in output
    assert "tipshare-taxonomy/1 by demo-hotline-bg" in output  # a mixed range: one hotline stays on v1
    assert "Largest corridors" in output
    assert "ranked by the hub" in output
    assert "Regional total by month" in output
    flowing = " ".join(output.split())  # rich wraps long lines
    assert "release through secure rounds of group demo-region (threshold 3 of 4, scaled by 15)" in flowing
    assert "4 hotlines' tables summed in a secure round" in flowing
    assert "in secure-round months" in flowing  # their intervals beside the local months'
    assert "6 checked, 6 results re-added exactly, 0 failed, 0 running; 0" in flowing
    assert "demo failed" not in output
    assert "VERIFIED" in output
    assert "auditor exit status: 0" in output


@pytest.mark.slow
def test_the_demo_removes_its_temporary_directory_with_its_keys_and_tokens(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--once", "--hotlines", "1", "--months", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "working directory: " + str(tmp_path) in "".join(result.stdout.split("\n"))
    assert not list(tmp_path.glob("tipshare-demo-*")), "the demo left its keys and tokens behind"
