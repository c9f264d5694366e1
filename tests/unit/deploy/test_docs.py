# SPDX-License-Identifier: Apache-2.0
"""deploy/README.md: the operations guide covers what the issue asks, and its links and metric names are real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.metrics import HubState, HubStateCollector, Metrics
from tests.unit.deploy.deploykit import DEPLOY, ROOT

GUIDES = [DEPLOY / "README.md", DEPLOY / "kubernetes" / "README.md"]
README = DEPLOY / "README.md"


def _headings(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [match.group(2).strip() for match in re.finditer(r"^(#{1,6}) (.+)$", text, re.MULTILINE)]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_operations_guide_has_its_sections() -> None:
    headings = _headings(README)
    for required in (
        "Backup and restore",
        "Restoring",
        "Key rotation",
        "Upgrading: data-preserving migrations",
        "Writing a migration",
        "Monitoring",
        "Settings",
    ):
        assert required in headings, required


def test_the_guide_covers_keys_auditors_and_the_migration_pattern() -> None:
    text = README.read_text(encoding="utf-8")
    for phrase in (
        "keys/",  # backups include the key files, not only the database
        "How auditors learn of the new key",
        "Expand, migrate, contract",
        "op.batch_alter_table",
        "def downgrade()",
        "/metrics",
        "/healthz",
        "synchronous",  # PostgreSQL HA without losing acknowledged entries
    ):
        assert phrase in text or phrase in (DEPLOY / "kubernetes" / "README.md").read_text(encoding="utf-8"), phrase


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_relative_links_resolve(guide: Path) -> None:
    text = guide.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (guide.parent / path_part).resolve() if path_part else guide
        assert destination.exists(), f"{guide.name}: {target}"
        assert destination.is_relative_to(ROOT), target
        if anchor:
            assert destination.suffix == ".md", target
            anchors = {_anchor(heading) for heading in _headings(destination)}
            assert anchor in anchors, f"{guide.name}: no heading for #{anchor} in {destination.name}"


def test_documented_metrics_are_the_ones_the_hub_exports() -> None:
    state = HubState(log_size=0, hotlines=0, checkpoint_age=0.0)
    rendered = Metrics().render(HubStateCollector(state)).decode()
    exported = set(re.findall(r"^# TYPE (\w+) \w+$", rendered, re.MULTILINE))
    table = re.findall(r"^\| `(tipshare_\w+)(?:\{[^}]*\})?` \|", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert set(table) == exported
    used = set(re.findall(r"\b(tipshare_[a-z_]+?)(?:_bucket|_sum|_count)?\b", README.read_text(encoding="utf-8")))
    unknown = {name for name in used if name not in exported and not name.startswith("tipshare_hub")}
    assert not unknown, f"the guide uses metrics the hub does not export: {unknown}"
