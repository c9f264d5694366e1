# SPDX-License-Identifier: Apache-2.0
"""The taxonomies a hub accepts (:mod:`hub.services.taxonomies`): both built-in versions on a new hub, the newer one
registered on an older hub without switching, refusal of a taxonomy that reuses a name for other cells, and
``tipshare-hub taxonomy list|current``."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from hub.app import create_app
from hub.cli import main
from hub.context import META_TAXONOMY, HubContext
from hub.db import read_session, write_session
from hub.errors import NotFound, TaxonomyConflict
from hub.models import HubMeta, TaxonomyDocument
from hub.services.ingest import IngestService
from hub.services.taxonomies import TaxonomyRegistry
from hub.settings import Settings
from hub.setup import initialise_hub, register_taxonomy
from protocol.crypto import SigningKey, seal_envelope
from protocol.taxonomy import TAXONOMY_V1_ID, TAXONOMY_V2_ID, Taxonomy, builtin_taxonomy, load_taxonomy
from tests.support.backends import fresh_database_url
from tests.support.hubs import Clock
from tests.support.releases import make_release

ORIGIN = "hub.example.org/tipshare"
V1 = builtin_taxonomy(1)
V2 = builtin_taxonomy(2)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with fresh_database_url() as url:
        yield Settings(data_dir=tmp_path / "hub", database_url=url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def context(settings: Settings, clock: Clock) -> Iterator[HubContext]:
    context = initialise_hub(settings, origin=ORIGIN, clock=clock)
    yield context
    context.engine.dispose()


def _variant(base: Taxonomy, taxonomy_id: str, change: Any) -> Taxonomy:
    document = copy.deepcopy(base.document)
    document["id"] = taxonomy_id
    document["version"] = int(taxonomy_id.rpartition("/")[2])
    change(document)
    return load_taxonomy(document)


def _registered(context: HubContext) -> dict[str, str]:
    with read_session(context.sessions) as session:
        return {t.id: t.content_hash for t in TaxonomyRegistry(session).registered()}


def _make_old(context: HubContext) -> None:
    """What a hub created before version 2 looked like: version 1 only, and current."""
    with write_session(context.sessions) as session:
        session.execute(delete(TaxonomyDocument).where(TaxonomyDocument.id == TAXONOMY_V2_ID))
        session.merge(HubMeta(key=META_TAXONOMY, value=TAXONOMY_V1_ID))


# ----------------------------------------------------------------------------------------------- registration


def test_a_new_hub_accepts_both_versions_and_publishes_version_2(context: HubContext) -> None:
    assert list(context.taxonomies) == [TAXONOMY_V1_ID, TAXONOMY_V2_ID]
    assert context.taxonomy.id == TAXONOMY_V2_ID
    assert _registered(context) == {TAXONOMY_V1_ID: V1.content_hash, TAXONOMY_V2_ID: V2.content_hash}
    assert set(context.tables) == set(V1.tables) | set(V2.tables)


def test_an_older_hub_gets_version_2_registered_when_opened_but_keeps_its_current_taxonomy(
    context: HubContext, settings: Settings, clock: Clock
) -> None:
    _make_old(context)
    clock.advance(days=30)

    reopened = HubContext.open(settings, clock=clock, engine=context.engine)

    assert list(reopened.taxonomies) == [TAXONOMY_V1_ID, TAXONOMY_V2_ID]
    assert reopened.taxonomy.id == TAXONOMY_V1_ID
    with read_session(context.sessions) as session:
        added = session.scalars(select(TaxonomyDocument.added_at).where(TaxonomyDocument.id == TAXONOMY_V2_ID)).one()
    assert added == clock()
    clock.advance(days=1)
    again = HubContext.open(settings, clock=clock, engine=context.engine)  # idempotent: nothing is added twice
    assert list(again.taxonomies) == [TAXONOMY_V1_ID, TAXONOMY_V2_ID]
    with read_session(context.sessions) as session:
        assert session.scalars(
            select(TaxonomyDocument.added_at).where(TaxonomyDocument.id == TAXONOMY_V2_ID)
        ).all() == [clock() - timedelta(days=1)]


def test_a_table_name_reused_for_other_cells_is_refused(context: HubContext, clock: Clock) -> None:
    def total_counts_twice(document: dict[str, Any]) -> None:
        document["tables"]["persons_total"]["contribution"]["l1"] = 2
        document["tables"]["persons_total"]["contribution"]["per_cell"] = 2

    def citizenship_by_exploitation(document: dict[str, Any]) -> None:
        document["tables"]["persons_citizenship"]["dimensions"] = ["citizenship", "exploitation_group"]

    for change, mention in (
        (total_counts_twice, "persons_total"),
        (citizenship_by_exploitation, "persons_citizenship"),
    ):
        changed = _variant(V2, "tipshare-taxonomy/3", change)
        with pytest.raises(TaxonomyConflict, match=f"table '{mention}'") as refused:
            register_taxonomy(context.engine, changed, now=clock(), make_current=True)
        assert TAXONOMY_V2_ID in str(refused.value)
        assert "give a changed table or dimension a new name" in str(refused.value)
    assert _registered(context).keys() == {TAXONOMY_V1_ID, TAXONOMY_V2_ID}
    with read_session(context.sessions) as session:
        assert TaxonomyRegistry(session).current_id() == TAXONOMY_V2_ID


def test_a_dimension_name_reused_for_other_codes_is_refused(context: HubContext, clock: Clock) -> None:
    def another_form(document: dict[str, Any]) -> None:
        codes = document["dimensions"]["exploitation_group"]["codes"]
        codes.append({"code": "other_forms", "label": "Other forms"})

    with pytest.raises(TaxonomyConflict) as refused:
        register_taxonomy(
            context.engine, _variant(V2, "tipshare-taxonomy/3", another_form), now=clock(), make_current=False
        )
    assert "dimension 'exploitation_group' has other codes" in str(refused.value)


def test_a_new_taxonomy_that_keeps_the_names_meanings_is_registered(context: HubContext, clock: Clock) -> None:
    def reworded(document: dict[str, Any]) -> None:
        document["tables"]["persons_total"]["description"] = "Everyone registered in the month."  # same cells

    newer = _variant(V2, "tipshare-taxonomy/3", reworded)
    register_taxonomy(context.engine, newer, now=clock(), make_current=False)
    register_taxonomy(context.engine, newer, now=clock(), make_current=False)  # idempotent

    assert _registered(context)["tipshare-taxonomy/3"] == newer.content_hash
    with pytest.raises(TaxonomyConflict, match="a taxonomy id names one document forever"):
        register_taxonomy(
            context.engine, _variant(newer, "tipshare-taxonomy/3", reworded_again), now=clock(), make_current=False
        )


def reworded_again(document: dict[str, Any]) -> None:
    document["title"] = "another title"


def test_making_an_unknown_taxonomy_current_is_refused(context: HubContext) -> None:
    with write_session(context.sessions) as session, pytest.raises(NotFound) as refused:
        TaxonomyRegistry(session).make_current("tipshare-taxonomy/9")
    assert f"its taxonomies are: {TAXONOMY_V1_ID}, {TAXONOMY_V2_ID}" in str(refused.value)


# ----------------------------------------------------------------------------------------------- command line


class Operator:
    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str], clock: Clock) -> None:
        self.data_dir, self.capsys, self.clock = data_dir, capsys, clock

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--data-dir", str(self.data_dir)], clock=self.clock)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self(*argv)
        assert code == 0, err
        return out


@pytest.fixture
def operator(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Operator:
    for name in [n for n in os.environ if n.startswith("TIPSHARE_HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    operator = Operator(tmp_path / "cli-hub", capsys, Clock(datetime(2026, 11, 21, 12, tzinfo=UTC)))
    operator.ok("init", "--origin", ORIGIN)
    return operator


def _submit_v1(operator: Operator) -> None:
    """One version 1 release (contacts only), through the real ingest."""
    key = SigningKey.generate()
    operator.ok(
        "hotline", "add", "--id", "la-strada-md", "--key", key.verify_key.to_text(), "--name", "LS", "--country", "MD"
    )
    context = HubContext.open(Settings(data_dir=operator.data_dir), clock=operator.clock)
    try:
        payload = make_release(V1, key, hotline_id="la-strada-md", period="2026-10", tables=["contacts"], cells={})
        envelope = seal_envelope(payload, signing_key=key, hub_key=context.keys.envelope.public_key)
        IngestService(context).submit(envelope.canonical_bytes())
    finally:
        context.engine.dispose()


def test_taxonomy_list_shows_both_the_current_one_and_their_use(operator: Operator) -> None:
    _submit_v1(operator)

    document = json.loads(operator.ok("taxonomy", "list", "--json"))
    assert [(t["id"], t["hash"], t["current"]) for t in document] == [
        (TAXONOMY_V1_ID, V1.content_hash, False),
        (TAXONOMY_V2_ID, V2.content_hash, True),
    ]
    assert [(t["current_submissions"], t["hotlines"], t["tables"]) for t in document] == [
        (1, 1, len(V1.tables)),
        (0, 0, len(V2.tables)),
    ]
    text = operator.ok("taxonomy", "list")
    assert "Taxonomies this hub accepts" in text
    [marked] = [line for line in text.splitlines() if "*" in line and "tipshare-taxonomy" in line]
    assert TAXONOMY_V2_ID in marked
    assert TAXONOMY_V1_ID in text


def test_taxonomy_current_switches_and_says_what_changed(operator: Operator) -> None:
    out = operator.ok("taxonomy", "current", TAXONOMY_V1_ID)
    assert f"The current taxonomy is now {TAXONOMY_V1_ID} (was {TAXONOMY_V2_ID})" in out
    assert "restart" in out

    assert json.loads(operator.ok("identity", "--json"))["taxonomy_id"] == TAXONOMY_V1_ID
    context = HubContext.open(Settings(data_dir=operator.data_dir), clock=operator.clock)
    try:
        with TestClient(create_app(context=context)) as client:
            assert client.get("/v1/hub").json()["taxonomy"]["id"] == TAXONOMY_V1_ID
            assert client.get(f"/v1/taxonomy/{TAXONOMY_V2_ID}").status_code == 200  # still accepted and served
    finally:
        context.engine.dispose()
    assert "already the current taxonomy; nothing was changed" in operator.ok("taxonomy", "current", TAXONOMY_V1_ID)
    assert json.loads(operator.ok("taxonomy", "current", TAXONOMY_V2_ID, "--json")) == {
        "previous": TAXONOMY_V1_ID,
        "current": TAXONOMY_V2_ID,
        "changed": True,
    }


def test_taxonomy_current_refuses_an_unknown_id_clearly(operator: Operator) -> None:
    code, out, err = operator("taxonomy", "current", "tipshare-taxonomy/7")

    assert (code, out) == (1, "")
    assert "no taxonomy 'tipshare-taxonomy/7'" in err
    assert f"its taxonomies are: {TAXONOMY_V1_ID}, {TAXONOMY_V2_ID}" in err
    assert "Traceback" not in err
    assert json.loads(operator.ok("identity", "--json"))["taxonomy_id"] == TAXONOMY_V2_ID
