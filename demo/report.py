# SPDX-License-Identifier: Apache-2.0
"""What the demo prints about the region: the hub's answers to a coordinator's questions beside the synthetic truth.

Both tables come from ``GET /v1/estimates/person`` over the demo's months, the question-level endpoint coordinators
use (the dashboard asks the same): every released table that can answer, of every taxonomy the hotlines followed,
combined by least squares.

* **Largest corridors** (``group_by=citizenship,country_of_exploitation``): only the corridors the hub ranks, the
  ones distinguishable from zero after its multiple-comparison correction, by rank, each with its 95 % interval
  and the true total, which only a demo knows (``truth.json`` of each hotline's synthetic export, tabulated as
  taxonomy v2 tables). The caption says how many were compared and ranked, how many intervals hold the truth, how
  the ranked top ten overlaps the true top ten, and how many ranked corridors are true zeros.
* **The monthly regional total** (``group_by=period``) with its interval, beside the true number of people.

The truth of a hotline-month that was never released (the hotline that misses a month) is left out, as the hub
can only estimate what was released.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx
from rich.table import Table

from protocol.taxonomy import builtin_taxonomy

__all__ = ["TRUTH_TAXONOMY", "Truths", "regional_tables"]

#: The taxonomy the demo's truths are tabulated in (``tipshare-node synth --taxonomy 2``), whatever the hotline
#: releases: the one whose tables are the coordinators' questions.
TRUTH_TAXONOMY: Final = 2
#: Ranked corridors listed.
LISTED: Final = 12
#: The size of the "top ten" compared with the truth.
TOP: Final = 10

#: hotline id -> period -> table -> dense true counts
Truths = Mapping[str, Mapping[str, Mapping[str, Sequence[int]]]]
_CORRIDOR: Final = "persons_corridor_2way"
_METHODS: Final = {"holm": "Holm step-down", "benjamini-hochberg": "Benjamini–Hochberg"}
_TOTAL: Final = "persons_total"


class QuestionFailed(Exception):
    """The hub did not answer a question (its status and problem detail are in the message)."""


def _ask(hub_url: str, token: str, **params: str) -> dict[str, Any]:
    response = httpx.get(
        f"{hub_url}/v1/estimates/person",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    if response.status_code != 200:
        raise QuestionFailed(f"GET /v1/estimates/person {params}: {response.status_code} {response.text[:400]}")
    answer: dict[str, Any] = response.json()
    return answer


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _interval(row: Mapping[str, Any]) -> str:
    return f"[{_number(row['ci95_low'])}, {_number(row['ci95_high'])}]"


def _released_truth(truths: Truths, released: set[tuple[str, str]], table: str) -> dict[str, list[list[int]]]:
    """Per period, the true vectors of ``table`` of the hotline-months that were released."""
    found: dict[str, list[list[int]]] = {}
    for hotline, periods in truths.items():
        for period, tables in periods.items():
            if (hotline, period) in released:
                found.setdefault(period, []).append(list(tables[table]))
    return found


def regional_tables(
    hub_url: str, token: str, periods: Sequence[str], truths: Truths, released: set[tuple[str, str]]
) -> list[Table]:
    """The largest ranked corridors and the monthly totals, each beside the truth (see the module docstring)."""
    months = {"period_from": periods[0], "period_to": periods[-1]}
    return [
        _corridors(_ask(hub_url, token, group_by="citizenship,country_of_exploitation", **months), truths, released),
        _totals(_ask(hub_url, token, group_by="period", **months), truths, released),
    ]


def _corridors(answer: Mapping[str, Any], truths: Truths, released: set[tuple[str, str]]) -> Table:
    table = builtin_taxonomy(TRUTH_TAXONOMY).table(_CORRIDOR)
    truth: dict[tuple[str, str], int] = {}
    for vectors in _released_truth(truths, released, _CORRIDOR).values():
        for vector in vectors:
            for index, count in enumerate(vector):
                if count:
                    key = table.cell_codes(index)
                    truth[(key[0], key[1])] = truth.get((key[0], key[1]), 0) + count
    rows = {(row["keys"]["citizenship"], row["keys"]["country_of_exploitation"]): row for row in answer["rows"]}
    ranked = sorted((key for key, row in rows.items() if row["rank"] is not None), key=lambda k: rows[k]["rank"])
    true_top = sorted(truth, key=lambda key: -truth[key])[:TOP]
    question = answer["question"]
    ranking = answer["ranking"]
    view = Table(title=f"Largest corridors {question['period_from']} to {question['period_to']}, ranked by the hub")
    for column in ("rank", "citizenship", "country of exploitation", "estimate", "95% interval", "true", "hotlines"):
        view.add_column(column, justify="left" if column in ("citizenship", "country of exploitation") else "right")
    covered = 0
    for key in ranked[:LISTED]:
        row = rows[key]
        inside = row["ci95_low"] <= truth.get(key, 0) <= row["ci95_high"]
        covered += inside
        view.add_row(
            str(row["rank"]),
            key[0],
            key[1],
            _number(row["estimate"]),
            _interval(row),
            str(truth.get(key, 0)) if inside else f"[yellow]{truth.get(key, 0)}[/]",
            f"{row['hotlines_reporting']}/{row['hotlines_expected']}",
        )
    if not ranked:
        view.add_row("", "no corridor is distinguishable from zero: nothing is ranked", "", "", "", "", "")
    followed = ", ".join(taxonomy["id"] for taxonomy in answer["taxonomies"])
    method = _METHODS.get(ranking["method"], ranking["method"])
    view.caption = (
        "potential victims reported to hotlines: GET /v1/estimates/person?group_by=citizenship,"
        f"country_of_exploitation · {ranking['compared']:,} corridors compared, {ranking['distinguishable']} "
        f"distinguishable from zero ({method} at {ranking['level']:.0%}) and ranked · {covered} of "
        f"{min(len(ranked), LISTED)} "
        f"intervals hold the true total · ranked top {TOP} ∩ true top {TOP}: "
        f"{len(set(ranked[:TOP]) & set(true_top))} · ranked corridors with a true count of 0: "
        f"{sum(1 for key in ranked if not truth.get(key))} · releases combined: {followed} · hub checkpoint "
        f"{answer['checkpoint']['size']}"
    )
    return view


def _totals(answer: Mapping[str, Any], truths: Truths, released: set[tuple[str, str]]) -> Table:
    truth = {
        period: sum(v[0] for v in vectors) for period, vectors in _released_truth(truths, released, _TOTAL).items()
    }
    view = Table(title="Regional total by month")
    for column in ("month", "estimate", "95% interval", "true", "hotlines", "interval"):
        view.add_column(column, justify="left" if column == "month" else "right")
    covered = 0
    halfwidths = []
    for row in answer["rows"]:
        period = row["keys"]["period"]
        if row["estimate"] is None:
            view.add_row(period, "–", "–", str(truth.get(period, 0)), "0/0", "")
            continue
        inside = row["ci95_low"] <= truth.get(period, 0) <= row["ci95_high"]
        covered += inside
        halfwidths.append(row["halfwidth"])
        view.add_row(
            period,
            _number(row["estimate"]),
            _interval(row),
            str(truth.get(period, 0)) if inside else f"[yellow]{truth.get(period, 0)}[/]",
            f"{row['hotlines_reporting']}/{row['hotlines_expected']}",
            row["interval_method"] or "",
        )
    middle = sorted(halfwidths)[len(halfwidths) // 2] if halfwidths else 0.0
    view.caption = (
        "potential victims reported to hotlines: GET /v1/estimates/person?group_by=period · "
        f"{covered} of {len(halfwidths)} intervals hold the true total · median half-width ±{_number(middle)}"
    )
    return view
