# SPDX-License-Identifier: Apache-2.0
"""Taxonomy v2 at the node: init against a v2 hub, adopting the hub's new taxonomy, and what prepare says about
regional accuracy. Real files, real OpenDP, a fake hub that speaks the real protocol."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

import node.aggregate
from node.aggregate import TrueTables
from protocol.accuracy import noise_variance
from protocol.combination import cell_variance
from protocol.crypto import SigningKey
from protocol.note import NoteSigner
from protocol.taxonomy import Taxonomy, builtin_taxonomy, load_taxonomy
from tests.unit.node.fakehub import FakeHub
from tests.unit.node.nodekit import Officer, init_and_enroll, planted_counts

V1, V2 = builtin_taxonomy(1), builtin_taxonomy(2)
CORRIDOR = ("citizenship", "country_of_exploitation")
Z95 = 1.959964


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "node-home"
    monkeypatch.setenv("TIPSHARE_NODE_HOME", str(root))
    monkeypatch.setenv("TIPSHARE_NODE_RETRY_BASE_DELAY", "0")
    return root


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The input half returns planted true counts for every table of the taxonomy it is asked for."""

    def fake_prepare_tables(**kwargs: Any) -> TrueTables:
        taxonomy: Taxonomy = kwargs["taxonomy"]
        counts = planted_counts(taxonomy, contacts=kwargs["contacts"] is not None)
        return TrueTables(period=kwargs["period"], counts=counts)

    monkeypatch.setattr(node.aggregate, "prepare_tables", fake_prepare_tables)


def _export(tmp_path: Path) -> str:
    cases = tmp_path / "cases.csv"
    cases.write_text("placeholder: the input half is replaced by planted counts\n", encoding="utf-8")
    return str(cases)


def _config(home: Path) -> dict[str, Any]:
    return tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))


def _move_hub_to_v2(hub: FakeHub) -> None:
    hub.also_accepts = (V1,)
    hub.taxonomy = V2


# ---------------------------------------------------------------------------- init


@pytest.mark.parametrize("mechanism", ["discrete_gaussian", "discrete_laplace"])
def test_init_against_a_v2_hub_follows_v2_with_its_recorded_weights(
    capsys: pytest.CaptureFixture[str], home: Path, mechanism: str
) -> None:
    hub = FakeHub(taxonomy=V2, also_accepts=(V1,))
    officer = Officer(hub, capsys)
    init_and_enroll(officer, "--mechanism", mechanism)
    config = _config(home)
    assert (config["hub"]["taxonomy_id"], config["hub"]["taxonomy_hash"]) == (V2.id, V2.content_hash)
    assert config["budget"]["weights"] == dict(V2.budget_weights[mechanism])
    assert not (home / "taxonomy.json").exists()  # v2 is built in: nothing to store
    budget = officer.json("budget")
    assert {t["table"]: t["weight"] for t in budget["tables"]} == dict(V2.budget_weights[mechanism])
    assert officer.json("status")["hub"]["taxonomy"] == V2.id


def test_a_v2_month_end_to_end_from_a_synthetic_export(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    """init against a v2 hub, synth (truth for v2), prepare on the real export, submit: the hub holds a v2 release
    whose cells sit within the declared noise of the synthetic truth."""
    hub = FakeHub(taxonomy=V2, also_accepts=(V1,))
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    export = tmp_path / "export"
    synth = officer.json("synth", "--out", str(export), "--months", "2", "--seed", "3", "--profile", "ua")
    assert synth["taxonomy"] == V2.id
    truth = json.loads((export / "truth.json").read_text(encoding="utf-8"))
    assert truth["taxonomy"] == {"id": V2.id, "hash": V2.content_hash}
    for period in synth["periods"]:
        document = officer.json(
            "prepare", "--period", period, str(export / "cases.csv"), "--contacts", str(export / "contacts.csv")
        )
        assert [t["table"] for t in document["tables"]] == list(V2.tables)
        assert officer("approve", "--period", period)[0] == 0
    code, _, err = officer("submit")
    assert code == 0, err
    assert "Notice" not in err  # the node follows the hub's current taxonomy
    assert [s.payload.taxonomy.hash for s in hub.accepted] == [V2.content_hash] * 2
    for submission in hub.accepted:
        noise = {t.table: t for t in submission.payload.privacy.tables}
        true_tables = truth["periods"][submission.payload.period]
        for released in submission.payload.tables:
            sigma = math.sqrt(noise_variance("discrete_gaussian", noise[released.name].scale))
            errors = [n - t for n, t in zip(released.cells, true_tables[released.name], strict=True)]
            assert max(abs(e) for e in errors) <= 7 * sigma  # 7σ over < 25,000 cells: never by chance
    total = next(t for t in hub.accepted[0].payload.tables if t.name == "persons_total")
    assert len(total.cells) == 1


# ---------------------------------------------------------------------------- prepare's regional accuracy


@pytest.mark.parametrize(("taxonomy", "corridor_at_5"), [(V1, 39), (V2, 19)])
def test_prepare_states_the_regional_accuracy(
    capsys: pytest.CaptureFixture[str],
    home: Path,
    planted: None,
    tmp_path: Path,
    taxonomy: Taxonomy,
    corridor_at_5: int,
) -> None:
    """The numbers prepare shows equal a computation from the published scales alone (protocol functions only)."""
    officer = Officer(FakeHub(taxonomy=taxonomy), capsys)
    init_and_enroll(officer)
    cases = _export(tmp_path)
    document = officer.json("prepare", "--period", "2025-03", cases, "--contacts", cases)
    variances = {t["table"]: noise_variance(document["mechanism"], t["scale"]) for t in document["tables"]}
    regional = {r["question"]: r for r in document["regional"]}
    assert set(regional) == {"corridor", "total"}
    for question, dimensions in (("corridor", CORRIDOR), ("total", ())):
        assert regional[question]["dimensions"] == list(dimensions)
        stated = {h["hotlines"]: h["halfwidth"] for h in regional[question]["expected_ci95_halfwidth"]}
        assert sorted(stated) == [5, 20]
        for hotlines, halfwidth in stated.items():
            pooled = {name: v * hotlines for name, v in variances.items()}
            expected = Z95 * math.sqrt(cell_variance(taxonomy.tables, pooled, "person", dimensions))
            assert halfwidth == pytest.approx(expected, abs=0.01)
    assert round(regional["corridor"]["expected_ci95_halfwidth"][0]["halfwidth"]) == corridor_at_5

    code, out, _ = officer("prepare", "--period", "2025-03", cases)  # the stored release, shown again as text
    assert code == 0
    at_5, at_20 = (h["halfwidth"] for h in regional["corridor"]["expected_ci95_halfwidth"])
    assert (
        f"one corridor (citizenship → country of exploitation), one month: about ±{at_5:.0f} with 5 hotlines, "
        f"±{at_20:.0f} with 20 hotlines" in out
    )
    assert f"Accuracy of this release ({taxonomy.id})" in out
    corridor_sigma = next(t["std"] for t in document["tables"] if t["table"] == "persons_corridor")
    assert re.search(rf"persons_corridor\s+│\s+19,220\s+│\s+{corridor_sigma:.2f}\s+│", out)


# ---------------------------------------------------------------------------- adopting the hub's taxonomy


def test_a_v1_node_adopts_v2_when_its_releases_are_delivered(
    capsys: pytest.CaptureFixture[str], home: Path, planted: None, tmp_path: Path
) -> None:
    hub = FakeHub()
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    cases = _export(tmp_path)
    config_text = (home / "config.toml").read_text(encoding="utf-8")  # the officer's own budget amounts are kept
    (home / "config.toml").write_text(config_text.replace('release = "0.1"', 'release = "0.08"'), encoding="utf-8")
    assert officer("prepare", "--period", "2025-01", cases)[0] == 0
    assert officer("approve", "--period", "2025-01")[0] == 0
    code, _, err = officer("submit")
    assert code == 0
    assert "Notice" not in err

    _move_hub_to_v2(hub)
    shown = officer.json("taxonomy")
    assert (shown["up_to_date"], shown["updated"], shown["following"]["id"]) == (False, False, V1.id)
    assert shown["hub"]["current"] == {"id": V2.id, "hash": V2.content_hash}
    assert "persons_total" in shown["changes"]["added"]
    assert "persons_demography" in shown["changes"]["removed"]
    before = {r["question"]: r["expected_ci95_halfwidth"][0]["halfwidth"] for r in shown["accuracy"]["pinned"]}
    after = {r["question"]: r["expected_ci95_halfwidth"][0]["halfwidth"] for r in shown["accuracy"]["hub"]}
    assert after["corridor"] < before["corridor"] / 1.8
    assert after["total"] < before["total"] / 5
    code, out, _ = officer("taxonomy")
    assert code == 0
    assert f"publishes taxonomy {V2.id}" in out
    assert "tipshare-node taxonomy --update" in out

    # A prepared, unsent v1 release blocks the update: the officer is told to approve and submit it first.
    assert officer("prepare", "--period", "2025-02", cases)[0] == 0
    code, _, err = officer("taxonomy", "--update")
    assert code == 1
    assert "TaxonomyUpdateBlocked: 1 release(s) prepared under taxonomy tipshare-taxonomy/1" in err
    assert "2025-02 revision 1 (prepared)" in err
    assert (
        "Deliver them first with `tipshare-node approve --period 2025-02` and `tipshare-node submit` (or discard it: "
        "`tipshare-node discard --period 2025-02`)"
    ) in err
    assert _config(home)["hub"]["taxonomy_id"] == V1.id
    assert officer("approve", "--period", "2025-02")[0] == 0

    code, out, err = officer("submit")
    assert code == 0
    assert "2025-02 revision 1: delivered" in out
    assert len(err.strip().splitlines()) == 1  # the notice is one line, and the command still succeeds
    assert f"Notice: the hub now publishes taxonomy {V2.id} as current" in err
    assert "tipshare-node taxonomy --update" in err

    code, out, err = officer("taxonomy", "--update")
    assert code == 0, err
    assert f"This node now follows taxonomy {V2.id}" in out
    config = _config(home)
    assert (config["hub"]["taxonomy_id"], config["hub"]["taxonomy_hash"]) == (V2.id, V2.content_hash)
    assert config["budget"]["weights"] == dict(V2.budget_weights["discrete_gaussian"])
    assert (config["budget"]["release"], config["budget"]["period_cap"], config["budget"]["year_cap"]) == (
        "0.08",
        "0.2",
        "1.5",
    )
    assert not (home / "taxonomy.json").exists()

    document = officer.json("prepare", "--period", "2025-03", cases)  # the next release follows v2
    assert [t["table"] for t in document["tables"]] == [n for n in V2.tables if n != "contacts"]
    assert document["spent"] == "0.08"
    old = officer.json("prepare", "--period", "2025-01", cases)  # an earlier v1 release is still shown
    assert (old["new"], old["status"]) == (False, "delivered")
    assert "persons_demography" in [t["table"] for t in old["tables"]]
    assert officer("approve", "--period", "2025-03")[0] == 0
    code, _, err = officer("submit")
    assert code == 0
    assert "Notice" not in err
    assert [s.payload.taxonomy.id for s in hub.accepted] == [V1.id, V1.id, V2.id]
    assert officer.json("budget", "--year", "2025")["years"][0]["spent"] == "0.24"  # one ledger, every taxonomy

    again = officer.json("taxonomy", "--update")
    assert (again["up_to_date"], again["updated"]) == (True, False)
    code, out, _ = officer("taxonomy")
    assert "nothing to update" in out


def test_a_queued_release_blocks_the_update_until_sync(
    capsys: pytest.CaptureFixture[str], home: Path, planted: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = FakeHub()
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    assert officer("prepare", "--period", "2025-04", _export(tmp_path))[0] == 0
    assert officer("approve", "--period", "2025-04")[0] == 0
    monkeypatch.setenv("TIPSHARE_NODE_RETRY_ATTEMPTS", "1")
    hub.faults = ["503"]
    code, _, err = officer("submit")
    assert code == 1
    assert "Notice" not in err  # the hub was not answering: no extra request was made
    _move_hub_to_v2(hub)
    code, _, err = officer("taxonomy", "--update")
    assert code == 1
    assert "2025-04 revision 1 (queued)" in err
    assert "`tipshare-node sync`" in err
    code, _, err = officer("sync")
    assert code == 0, err
    assert "Notice: the hub now publishes" in err
    assert officer.json("taxonomy", "--update")["updated"] is True


def test_the_notice_never_fails_a_delivery(
    capsys: pytest.CaptureFixture[str], home: Path, planted: None, tmp_path: Path
) -> None:
    hub = FakeHub()
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    assert officer("prepare", "--period", "2025-05", _export(tmp_path))[0] == 0
    assert officer("approve", "--period", "2025-05")[0] == 0
    _move_hub_to_v2(hub)
    served = hub.handle

    def identity_broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/hub":
            hub.requests.append(request)
            return httpx.Response(503, text="busy")
        return served(request)

    hub.handle = identity_broken  # type: ignore[method-assign]
    code, out, err = officer("submit")
    assert code == 0, err
    assert "2025-05 revision 1: delivered" in out
    assert "Notice" not in err
    assert [r.url.path for r in hub.requests][-2:] == ["/v1/submissions", "/v1/hub"]  # asked after delivering


def test_an_update_never_repins_the_hub_keys(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    hub = FakeHub()
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    before = (home / "config.toml").read_bytes()
    _move_hub_to_v2(hub)
    hub.log = NoteSigner(hub.origin, SigningKey.generate())  # the hub (or someone in between) shows another key
    code, _, err = officer("taxonomy", "--update")
    assert code == 1
    assert "HubResponseInvalid: the hub at https://hub.test now presents a different log key" in err
    assert "Do not re-initialise the node" in err
    assert (home / "config.toml").read_bytes() == before


def test_a_custom_taxonomy_is_kept_when_the_node_moves_on(
    capsys: pytest.CaptureFixture[str], home: Path, planted: None, tmp_path: Path
) -> None:
    document = V1.document
    document["title"] += " (regional edition)"
    regional = load_taxonomy(document)
    hub = FakeHub(taxonomy=regional)
    officer = Officer(hub, capsys)
    init_and_enroll(officer)
    assert (home / "taxonomy.json").read_bytes() == regional.canonical_bytes()
    cases = _export(tmp_path)
    assert officer("prepare", "--period", "2025-06", cases)[0] == 0
    assert officer("approve", "--period", "2025-06")[0] == 0
    assert officer("submit")[0] == 0
    hub.also_accepts = (regional,)
    hub.taxonomy = V2
    assert officer.json("taxonomy", "--update")["following"]["id"] == V2.id
    assert not (home / "taxonomy.json").exists()
    kept = home / "taxonomies" / f"{regional.content_hash.removeprefix('sha256:')}.json"
    assert kept.read_bytes() == regional.canonical_bytes()
    assert officer.json("prepare", "--period", "2025-06", cases)["tables"][0]["table"] == "cases_opened"
    kept.unlink()
    code, _, err = officer("prepare", "--period", "2025-06", cases)
    assert code == 1
    assert f"follows taxonomy {regional.id} ({regional.content_hash}), which this node no longer has" in err


# ---------------------------------------------------------------------------- synth


def test_synth_writes_the_truth_of_the_taxonomy_the_node_follows(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    officer = Officer(FakeHub(), capsys)
    fresh = officer.json("synth", "--out", str(tmp_path / "a"), "--seed", "1", "--months", "1")
    assert fresh["taxonomy"] == V2.id  # no node yet: the newest built-in taxonomy
    assert (
        officer.json("synth", "--out", str(tmp_path / "b"), "--seed", "1", "--months", "1", "--taxonomy", "1")[
            "taxonomy"
        ]
        == V1.id
    )
    init_and_enroll(officer)
    assert officer.json("synth", "--out", str(tmp_path / "c"), "--seed", "1", "--months", "1")["taxonomy"] == V1.id
    # The export is the same whatever the taxonomy; only the truth differs.
    assert (tmp_path / "a" / "cases.csv").read_bytes() == (tmp_path / "c" / "cases.csv").read_bytes()
    code, _, err = officer("synth", "--out", str(tmp_path / "d"), "--seed", "1", "--taxonomy", "7")
    assert code == 2
    assert "no built-in taxonomy 7; versions: 1, 2" in err
