# SPDX-License-Identifier: Apache-2.0
"""Taxonomy v2 between a node and the real hub app: a node set up against a hub that publishes v2 follows v2, and a
node set up on v1 is told of v2 when it submits, adopts it, and its next month reaches the hub as a v2 release
(while the hub keeps the v1 months it already holds).

The hub runs in-process (:func:`tests.support.hubs.start_hub`); which taxonomy it publishes as current is set the way
the operator's ``tipshare-hub`` does it (:func:`hub.setup.register_taxonomy`), then reflected in the running app.
"""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.setup import register_taxonomy
from node.cli import main as node_main
from protocol.crypto import VerifyKey, verify_submission_signature
from protocol.messages import SubmissionPayload, b64decode
from protocol.taxonomy import builtin_taxonomy
from tests.support.hubs import HubUnderTest, start_hub

HOTLINE = "la-strada-md"
V1, V2 = builtin_taxonomy(1), builtin_taxonomy(2)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubUnderTest]:
    yield from start_hub(tmp_path / "hub")


def _publish(hub: HubUnderTest, version: int) -> None:
    """Make taxonomy ``version`` the hub's current one (registered if it is not), as its operator would."""
    taxonomy = builtin_taxonomy(version)
    register_taxonomy(hub.context.engine, taxonomy, now=hub.clock(), make_current=True)
    hub.context.taxonomies[taxonomy.id] = taxonomy  # the running app's view of its database
    hub.context.current_taxonomy_id = taxonomy.id
    assert hub.client.get("/v1/hub").json()["taxonomy"] == {"id": taxonomy.id, "hash": taxonomy.content_hash}


class Officer:
    """Runs ``tipshare-node`` in-process against the hub app."""

    def __init__(self, hub: HubUnderTest, home: Path) -> None:
        self.hub = hub
        self.home = home

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = node_main(
                ["--home", str(self.home), *argv],
                http_client_factory=lambda _settings: TestClient(self.hub.client.app, base_url="https://testserver"),
                clock=self.hub.clock,
                sleep=lambda _seconds: None,
            )
        return code, out.getvalue(), err.getvalue()

    def ok(self, *argv: str) -> tuple[str, str]:
        code, out, err = self.run(*argv)
        assert code == 0, f"tipshare-node {' '.join(argv)} failed ({code}):\n{out}\n{err}"
        return out, err

    def init_and_enroll(self) -> VerifyKey:
        out, _ = self.ok("init", "--hotline-id", HOTLINE, "--hub", "https://testserver", "--json")
        _, public_key = json.loads(out)["enrollment_line"].split()
        response = self.hub.client.post(
            "/v1/admin/hotlines",
            json={"id": HOTLINE, "display_name": "La Strada Moldova", "country": "MD", "public_key": public_key},
            headers=self.hub.auth("admin"),
        )
        assert response.status_code == 201, response.text
        return VerifyKey.from_text(public_key)

    def prepare(self, export: Path, period: str) -> dict[str, Any]:
        inputs = (str(export / "cases.csv"), "--contacts", str(export / "contacts.csv"))
        out, _ = self.ok("prepare", "--period", period, *inputs, "--json")
        document: dict[str, Any] = json.loads(out)
        self.ok("approve", "--period", period)
        return document


def _logged_payloads(hub: HubUnderTest, key: VerifyKey) -> list[SubmissionPayload]:
    auditor = hub.auth("auditor")
    payloads = []
    submission_id = 1
    while (response := hub.client.get(f"/v1/submissions/{submission_id}", headers=auditor)).status_code == 200:
        stored = response.json()
        payloads.append(verify_submission_signature(b64decode(stored["payload"]), b64decode(stored["signature"]), key))
        submission_id += 1
    return payloads


def test_a_node_set_up_against_a_v2_hub_releases_v2(hub: HubUnderTest, tmp_path: Path) -> None:
    _publish(hub, 2)
    officer = Officer(hub, tmp_path / "node")
    key = officer.init_and_enroll()
    config = tomllib.loads((officer.home / "config.toml").read_text(encoding="utf-8"))
    assert config["hub"]["taxonomy_id"] == V2.id
    assert config["budget"]["weights"] == dict(V2.budget_weights["discrete_gaussian"])
    assert not (officer.home / "taxonomy.json").exists()

    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "5", "--profile", "md", "--months", "2", "--start", "2026-08")
    truth = json.loads((export / "truth.json").read_text(encoding="utf-8"))
    assert truth["taxonomy"]["id"] == V2.id
    for period in ("2026-08", "2026-09"):
        document = officer.prepare(export, period)
        regional = {r["question"]: r for r in document["regional"]}
        assert regional["corridor"]["expected_ci95_halfwidth"][0]["halfwidth"] < 20
    _, err = officer.ok("submit")
    assert "Notice" not in err

    payloads = _logged_payloads(hub, key)
    assert [(p.period, p.taxonomy.id) for p in payloads] == [("2026-08", V2.id), ("2026-09", V2.id)]
    assert json.loads(officer.ok("taxonomy", "--json")[0])["up_to_date"] is True


def test_a_v1_node_is_told_adopts_v2_and_the_hub_keeps_both(hub: HubUnderTest, tmp_path: Path) -> None:
    _publish(hub, 1)
    officer = Officer(hub, tmp_path / "node")
    key = officer.init_and_enroll()
    export = tmp_path / "export"
    officer.ok("synth", "--out", str(export), "--seed", "6", "--profile", "ua", "--months", "3", "--start", "2026-07")
    officer.prepare(export, "2026-07")
    _, err = officer.ok("submit")
    assert "Notice" not in err

    _publish(hub, 2)
    officer.prepare(export, "2026-08")
    code, _, err = officer.run("taxonomy", "--update")
    assert code == 1
    assert "TaxonomyUpdateBlocked" in err
    _, err = officer.ok("submit")
    assert f"Notice: the hub now publishes taxonomy {V2.id} as current" in err
    out, _ = officer.ok("taxonomy", "--update")
    assert f"This node now follows taxonomy {V2.id}" in out

    # synth's export does not depend on the taxonomy, only its truth does: the next month is read as v2.
    document = officer.prepare(export, "2026-09")
    assert "persons_total" in [t["table"] for t in document["tables"]]
    _, err = officer.ok("submit")
    assert "Notice" not in err
    payloads = _logged_payloads(hub, key)
    assert [(p.period, p.taxonomy.id) for p in payloads] == [
        ("2026-07", V1.id),
        ("2026-08", V1.id),
        ("2026-09", V2.id),
    ]
    status = json.loads(officer.ok("status", "--json")[0])
    assert [r["status"] for r in status["releases"]] == ["delivered"] * 3
