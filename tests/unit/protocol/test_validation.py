# SPDX-License-Identifier: Apache-2.0
"""A payload checked against the taxonomy it names and against its own privacy declaration."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from protocol.canonical import canonical_bytes
from protocol.errors import MalformedMessage, TaxonomyViolation
from protocol.messages import SubmissionPayload, TaxonomyRef
from protocol.taxonomy import Taxonomy, builtin_taxonomy, parse_taxonomy
from protocol.validation import check_payload, implied_spend
from tests.support.releases import make_release

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TAXONOMY = builtin_taxonomy()


def _release(source: Taxonomy = TAXONOMY, names: Iterable[str] | None = None, **overrides: Any) -> SubmissionPayload:
    """A release of every table of ``source`` (or of ``names``) with sigma=10 Gaussian noise, exact declared spends."""
    fields: dict[str, Any] = {
        "hotline_id": "la-strada-md",
        "period": "2026-10",
        "key_id": "b" * 32,
        "nonce": "AAAAAAAAAAAAAAAAAAAAAA==",
        **overrides,
    }
    tables = None if names is None else list(names)
    return make_release(source, None, tables=tables, **fields)


def _with_noise(payload: SubmissionPayload, name: str, **changes: Any) -> SubmissionPayload:
    tables = tuple(t.model_copy(update=changes) if t.table == name else t for t in payload.privacy.tables)
    return payload.model_copy(update={"privacy": payload.privacy.model_copy(update={"tables": tables})})


def test_a_full_release_passes() -> None:
    check_payload(_release(), TAXONOMY, now=NOW)


def test_version_two_releases_are_complete() -> None:
    """From v2 on, a release carries every person and case table; contacts all or none. v1 keeps its old rule."""
    v2 = builtin_taxonomy(2)
    check_payload(_release(v2), v2, now=NOW)
    check_payload(_release(v2, [n for n in v2.tables if n != "contacts"]), v2, now=NOW)
    with pytest.raises(TaxonomyViolation, match="carries every person and case table; missing: persons_total"):
        check_payload(_release(v2, [n for n in v2.tables if n != "persons_total"]), v2, now=NOW)
    with pytest.raises(TaxonomyViolation, match="missing: cases_opened"):
        check_payload(_release(v2, [n for n in v2.tables if n != "cases_opened"]), v2, now=NOW)
    check_payload(_release(TAXONOMY, ["persons_corridor"]), TAXONOMY, now=NOW)


def test_the_current_month_has_begun_but_the_next_has_not() -> None:
    check_payload(_release(period="2026-11"), TAXONOMY, now=NOW)
    with pytest.raises(MalformedMessage, match="period 2026-12 has not begun"):
        check_payload(_release(period="2026-12"), TAXONOMY, now=NOW)


def test_another_taxonomy_is_refused() -> None:
    other = TaxonomyRef(id=TAXONOMY.id, hash="sha256:" + "0" * 64)
    with pytest.raises(TaxonomyViolation, match="payload follows taxonomy"):
        check_payload(_release(taxonomy=other), TAXONOMY, now=NOW)


def test_wrong_cell_count_names_the_table() -> None:
    payload = _release()
    tables = tuple(
        t.model_copy(update={"cells": t.cells[:-1]}) if t.name == "persons_corridor" else t for t in payload.tables
    )
    with pytest.raises(TaxonomyViolation, match="table persons_corridor has 19219 cells; the taxonomy declares 19220"):
        check_payload(payload.model_copy(update={"tables": tables}), TAXONOMY, now=NOW)


def test_unknown_table_is_refused() -> None:
    payload = _release()
    tables = tuple(
        t.model_copy(update={"name": "persons_secret"}) if t.name == "contacts" else t for t in payload.tables
    )
    noise = _with_noise(payload, "contacts", table="persons_secret").privacy
    with pytest.raises(TaxonomyViolation, match="persons_secret"):
        check_payload(payload.model_copy(update={"tables": tables, "privacy": noise}), TAXONOMY, now=NOW)


def test_sensitivities_must_be_the_taxonomy_bounds() -> None:
    with pytest.raises(TaxonomyViolation, match="persons_control declares sensitivities L1=1"):
        check_payload(_with_noise(_release(), "persons_control", l1_sensitivity=1), TAXONOMY, now=NOW)


def test_under_declared_spend_is_a_lie() -> None:
    payload = _with_noise(_release(), "persons_corridor", spent="0.004")  # sigma=10 spends 0.005
    with pytest.raises(MalformedMessage, match=r"spends 0\.005 rho, more than the 0\.004 declared"):
        check_payload(payload, TAXONOMY, now=NOW)


def test_over_declared_spend_is_allowed_but_must_add_up() -> None:
    payload = _with_noise(_release(), "persons_corridor", spent="0.006")
    with pytest.raises(MalformedMessage, match="tables' spends add up to"):
        check_payload(payload, TAXONOMY, now=NOW)
    total = str(Decimal(payload.privacy.spent) + Decimal("0.001"))
    check_payload(
        payload.model_copy(update={"privacy": payload.privacy.model_copy(update={"spent": total})}), TAXONOMY, now=NOW
    )


def test_implied_spend_of_both_mechanisms() -> None:
    assert implied_spend("discrete_gaussian", scale="10", l1=9, l2_squared=9) == Decimal("0.045")
    assert implied_spend("discrete_laplace", scale="4", l1=2, l2_squared=2) == Decimal("0.5")
    with pytest.raises(MalformedMessage, match="unknown noise mechanism"):
        implied_spend("uniform", scale="1", l1=1, l2_squared=1)


def _two_contact_tables() -> Taxonomy:
    """Version 2 with a second contact table (the contact volume by channel alone), the weights of contacts split."""
    document = json.loads(resources.files("protocol").joinpath("data/taxonomy-v2.json").read_bytes())
    document["tables"]["contacts_channel"] = dict(document["tables"]["contacts"], dimensions=["channel"])
    for weights in document["budget"]["weights"].values():
        weights["contacts_channel"] = weights["contacts"] // 2
        weights["contacts"] -= weights["contacts_channel"]
    return parse_taxonomy(canonical_bytes(document))


def test_a_release_carries_every_contact_table_or_none() -> None:
    taxonomy = _two_contact_tables()
    check_payload(_release(taxonomy), taxonomy, now=NOW)
    check_payload(_release(taxonomy, [n for n in taxonomy.tables if not n.startswith("contacts")]), taxonomy, now=NOW)
    with pytest.raises(TaxonomyViolation, match=r"carries every contact table or none; missing: contacts_channel$"):
        check_payload(_release(taxonomy, [n for n in taxonomy.tables if n != "contacts_channel"]), taxonomy, now=NOW)
    with pytest.raises(TaxonomyViolation, match=r"carries every contact table or none; missing: contacts$"):
        check_payload(_release(taxonomy, [n for n in taxonomy.tables if n != "contacts"]), taxonomy, now=NOW)
