# SPDX-License-Identifier: Apache-2.0
"""``verify --report``: the Markdown summary renders what came from the hub as inert text."""

from __future__ import annotations

from pathlib import Path

from auditor.report_files import markdown_path, report_markdown


def _document(**changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "verdict": "FAILED",
        "hub": "https://hub.example.org",
        "generated_at": "2026-11-21T12:00:00Z",
        "log": {"origin": "hub.example.org/log", "fingerprint": "ab:cd", "pinned": "explicit"},
        "checkpoint": {"size": 13, "root_hash": "cm9vdA=="},
        "entries": {"total": 13, "new": 2},
        "hotlines": ["ua-a"],
        "countries": ["UA"],
        "submissions": {"total": 7, "valid": 7, "current": 6},
        "statistics": {"answers": 3, "rows": 40, "scopes": ["region"], "skipped": None},
        "estimates": {"answers": 0, "rows": 0, "scopes": [], "skipped": "the log did not verify"},
        "failures": [
            {
                "check": "statistics",
                "message": "estimate published 5 | <script>alert(1)</script>\nnext",
                "index": None,
                "hotline_id": None,
                "table": "contacts",
                "keys": {"period": "2026-09"},
            }
        ],
        "notices": [],
    }
    return document | changes


def test_the_summary_names_the_verdict_and_every_failure_as_plain_text() -> None:
    text = report_markdown(_document())

    assert text.startswith("# tipshare audit: FAILED\n")
    assert "- **Checkpoint**: size 13, root `cm9vdA==`" in text
    assert "- **Estimates**: not compared: the log did not verify" in text
    assert "## Failures (1)" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| statistics")]
    assert row == (
        r"| statistics | contacts, period=2026-09 | estimate published 5 \| \<script\>alert(1)\</script\> next |"
    )


def test_a_clean_run_says_so() -> None:
    text = report_markdown(_document(verdict="VERIFIED", failures=[]))
    assert "Every check passed" in text
    assert "## Failures" not in text


def test_the_summary_sits_beside_the_report() -> None:
    assert markdown_path(Path("a/b.json")) == Path("a/b.md")
    assert markdown_path(Path("a/report")) == Path("a/report.md")
