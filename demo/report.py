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
* **The monthly regional total** (``group_by=period``) with its interval, beside the true number of people, and
  how the month was released: all locally, or some hotlines summed in a secure round (their sum carries one noise
  share each) beside the others' local releases; the caption gives the median half-width of each kind of month.

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


def _ask(hub_url: str, token: str, path: str = "/v1/estimates/person", **params: str) -> dict[str, Any]:
    response = httpx.get(
        f"{hub_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    if response.status_code != 200:
        raise QuestionFailed(f"GET {path} {params}: {response.status_code} {response.text[:400]}")
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
    hub_url: str,
    token: str,
    periods: Sequence[str],
    truths: Truths,
    released: set[tuple[str, str]],
    secure: Mapping[str, int] | None = None,
) -> list[Table]:
    """The largest ranked corridors and the monthly totals, each beside the truth (see the module docstring).
    ``secure``: the months a secure round summed some hotlines in, and how many."""
    months = {"period_from": periods[0], "period_to": periods[-1]}
    return [
        _corridors(_ask(hub_url, token, group_by="citizenship,country_of_exploitation", **months), truths, released),
        _totals(
            _ask(hub_url, token, group_by="period", **months),
            _ask(hub_url, token, f"/v1/stats/{_TOTAL}", group_by="period", **months),
            truths,
            released,
            secure or {},
        ),
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


def _totals(
    answer: Mapping[str, Any],
    plain: Mapping[str, Any],
    truths: Truths,
    released: set[tuple[str, str]],
    secure: Mapping[str, int],
) -> Table:
    truth = {
        period: sum(v[0] for v in vectors) for period, vectors in _released_truth(truths, released, _TOTAL).items()
    }
    view = Table(title="Regional total by month")
    sums = {row["keys"]["period"]: row for row in plain["rows"]}
    columns = ("month", "estimate", "95% interval", "true", "hotlines", "released", f"{_TOTAL} ±")
    for column in columns:
        view.add_column(column, justify="left" if column in ("month", "released") else "right")
    covered = 0
    halfwidths: dict[bool, list[float]] = {False: [], True: []}
    for row in answer["rows"]:
        period = row["keys"]["period"]
        how = f"round of {secure[period]} + local" if period in secure else "local"
        if row["estimate"] is None:
            view.add_row(period, "–", "–", str(truth.get(period, 0)), "0/0", how, "–")
            continue
        inside = row["ci95_low"] <= truth.get(period, 0) <= row["ci95_high"]
        covered += inside
        halfwidths[period in secure].append(row["halfwidth"])
        view.add_row(
            period,
            _number(row["estimate"]),
            _interval(row),
            str(truth.get(period, 0)) if inside else f"[yellow]{truth.get(period, 0)}[/]",
            f"{row['hotlines_reporting']}/{row['hotlines_expected']}",
            how,
            _plain_width(sums.get(period)),
        )
    medians = {kind: sorted(found)[len(found) // 2] for kind, found in halfwidths.items() if found}
    widths = " · ".join(
        f"median half-width ±{_number(medians[kind])} in {label} months"
        for kind, label in ((False, "local"), (True, "secure-round"))
        if kind in medians
    )
    view.caption = (
        "potential victims reported to hotlines: GET /v1/estimates/person?group_by=period · "
        f"{covered} of {sum(map(len, halfwidths.values()))} intervals hold the true total · {widths} · "
        f"{_TOTAL} ±: the half-width of the plain sum of that one table (GET /v1/stats/{_TOTAL}), which only the "
        "v2 hotlines release: there the round's members add one noise share each instead of a full draw"
    )
    return view


def _plain_width(row: Mapping[str, Any] | None) -> str:
    if row is None or row["estimate"] is None:
        return "–"
    return _number((row["ci95_high"] - row["ci95_low"]) / 2)
