# SPDX-License-Identifier: Apache-2.0
"""Demo data for the dashboard tests, sent through the hub's real ingest (sealed, signed, logged, rolled up).

The hub publishes taxonomy v2 and accepts v1. Three hotlines report six months (2026-05..10), every table made from
the same simulated people, so the tables agree with each other, plus integer Gaussian noise of scale 1.5 (declared
as the discrete Gaussian). Nobody in the demo is in exploitation group ``unknown`` (its corridors are all true
zeros), nor of a citizenship outside the region's few. The schedule gives the completeness grid every status, and
one hotline follows taxonomy v1 before it adopts v2, so the first three months mix both:

==============  =======  ===========================================================================
hotline         country  reports
==============  =======  ===========================================================================
la-strada-ua    UA       v2, every month on time; 2026-07 corrected (revision 2)
la-strada-md    MD       v2, 2026-05..09 on time; 2026-10 missing (its deadline, 11-15, has passed)
ro-line         RO       v1 2026-05..07 (four tables), then v2; 2026-09 late; the others on time
==============  =======  ===========================================================================

The tests then look at the hub on 2026-11-21 (:data:`VIEW_NOW`), whose default range is 2025-11..2026-10.

The dashboard tests (``tests/unit/hub/test_dashboard_*.py``, the browser tests in ``tests/integration/``) share one
hub built by :func:`demo_hub` (the session fixture ``dashboard_demo``) and read it with :func:`get_json`,
:func:`signed_in` and :func:`get_page`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from protocol.taxonomy import Taxonomy, builtin_taxonomy
from tests.support.hubs import HubUnderTest, start_hub
from tests.support.releases import make_release

HOTLINES = (
    ("la-strada-ua", "UA", "La Strada Ukraine"),
    ("la-strada-md", "MD", "La Strada Moldova"),
    ("ro-line", "RO", "Linia verde Romania"),
)
MONTHS = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
V1 = builtin_taxonomy(1)
V2 = builtin_taxonomy(2)
#: What a v1 release of the demo holds (v1 releases need not be complete); a v2 release holds every table.
V1_TABLES = ("persons_corridor", "persons_demography", "persons_recruitment", "contacts")
#: (hotline, month) released under taxonomy v1; every other release follows v2.
ON_V1 = {("ro-line", month) for month in MONTHS[:3]}
ENROLLED = datetime(2026, 4, 20, 10, tzinfo=UTC)
VIEW_NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
SCALE = "3"

#: (hotline, month) -> day of the following month the report arrives (deadline: the 15th); absent: never sent
SCHEDULE = {
    **{("la-strada-ua", month): 5 for month in MONTHS},
    **{("la-strada-md", month): 3 for month in MONTHS[:5]},
    **{("ro-line", month): 8 for month in MONTHS if month != "2026-09"},
    ("ro-line", "2026-09"): 24,
}
CORRECTED = ("la-strada-ua", "2026-07")

# Where a hotline's people come from and are exploited: code -> weight.
_CITIZENSHIP = {
    "UA": {"UA": 80, "MD": 4, "BY": 6, "RU": 3, "ZZ": 7},
    "MD": {"MD": 85, "UA": 8, "RO": 2, "ZZ": 5},
    "RO": {"RO": 78, "MD": 12, "BG": 4, "UA": 3, "ZZ": 3},
}
_DESTINATION = {
    "UA": {"PL": 30, "DE": 18, "UA": 15, "RU": 8, "IT": 6, "CZ": 8, "XN": 10, "ZZ": 5},
    "MD": {"RU": 25, "IT": 18, "MD": 14, "TR": 12, "DE": 8, "AE": 8, "XN": 10, "ZZ": 5},
    "RO": {"GB": 28, "DE": 18, "IT": 14, "RO": 12, "ES": 10, "FR": 6, "XN": 7, "ZZ": 5},
}
_GROUP = {"sexual": 40, "labour": 48, "other": 6, "multiple": 6}
_TYPE = {
    "sexual": {"SexualExploitation": 1},
    "labour": {"ForcedLabour": 7, "ForcedBegging": 1, "Servitude": 1, "ChildLabour": 1},
    "other": {"ForcedCriminalActivities": 2, "ForcedMarriage": 1},
    "multiple": {"Multiple": 1},
}
_GENDER = {"sexual": {"F": 85, "M": 12, "X": 1, "U": 2}, "other": {"F": 45, "M": 52, "X": 1, "U": 2}}
_AGES = ("0-8", "9-17", "18-20", "21-23", "24-26", "27-29", "30-38", "39-47", "48+", "unknown")
_AGE_WEIGHTS = (1, 6, 10, 14, 14, 12, 20, 11, 7, 5)
_AGE_GROUP = {"0-8": "child", "9-17": "child", "unknown": "unknown"}
_CONTROL = {"meansThreats": 30, "meansFalsePromises": 30, "meansWithholdDocs": 20, "_any_info": 20}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random, country: str) -> dict[str, str]:
    group = _pick(rng, _GROUP)
    age = rng.choices(_AGES, weights=_AGE_WEIGHTS)[0]
    citizenship = _pick(rng, _CITIZENSHIP[country])
    destination = _pick(rng, _DESTINATION[country])
    return {
        "citizenship": citizenship,
        "country_of_exploitation": destination,
        "exploitation_group": group,
        "exploitation_type": _pick(rng, _TYPE[group]),
        "gender": _pick(rng, _GENDER["sexual" if group == "sexual" else "other"]),
        "age_band": age,
        "age_group": _AGE_GROUP.get(age, "adult"),
        "control_flag": _pick(rng, _CONTROL),
        "cross_border": "domestic" if citizenship == destination else "international",
        "recruiter_relation": _pick(
            rng, {"IntimatePartner": 8, "Friend": 30, "Family": 10, "Other": 40, "Unknown": 12}
        ),
        "recruitment_channel": _pick(rng, {"online": 45, "offline": 40, "unknown": 15}),
    }


def simulated_people(country: str, month: str, seed: int) -> list[dict[str, str]]:
    """The 120-220 people a hotline of ``country`` registered in ``month`` (``seed``: the revision)."""
    rng = random.Random(f"{country}/{month}/{seed}")
    return [_person(rng, country) for _ in range(rng.randint(120, 220))]


def release_cells(
    taxonomy: Taxonomy, tables: Sequence[str], country: str, month: str, seed: int
) -> dict[str, list[int]]:
    """One hotline-month: the tables of the simulated people (a case each, and their contacts), each cell plus
    noise. The people do not depend on the taxonomy: a v1 and a v2 release of one month count the same people."""
    people = simulated_people(country, month, seed)
    contacts = random.Random(f"{country}/{month}/{seed}/contacts")
    noise = random.Random(f"{country}/{month}/{seed}/{taxonomy.id}")
    cells: dict[str, list[int]] = {}
    for name in tables:
        table = taxonomy.table(name)
        counts = [0] * table.cell_count
        if table.unit == "contact":
            for index in range(table.cell_count):
                counts[index] = max(0, int(contacts.gauss(6, 5))) if index % 3 else 0
        else:
            for person in people:
                counts[table.cell_index([person[d] for d in table.dimension_names])] += 1
        cells[name] = [count + round(noise.gauss(0, float(SCALE))) for count in counts]
    return cells


def _received(month: str, day: int) -> datetime:
    year, number = int(month[:4]), int(month[5:])
    return datetime(year + number // 12, number % 12 + 1, day, 9, 30, tzinfo=UTC)


def build_demo(hub: HubUnderTest) -> None:
    """Enroll the demo hotlines and submit their reports, each at its scheduled time; leave the clock at
    :data:`VIEW_NOW`."""
    hub.clock.now = ENROLLED
    for hotline_id, country, name in HOTLINES:
        hub.enroll(hotline_id, country, name)
        hub.log_loose_policy(hotline_id)  # the demo releases at σ = 3, below the default caps' noise floor
    reports = [(_received(month, day), hotline_id, month, 1) for (hotline_id, month), day in SCHEDULE.items()]
    hotline_id, month = CORRECTED
    reports.append((_received(month, 25), hotline_id, month, 2))
    countries = {hotline_id: country for hotline_id, country, _ in HOTLINES}
    for received, hotline_id, month, revision in sorted(reports):
        hub.clock.now = received
        _submit(hub, hotline_id, countries[hotline_id], month, revision=revision, received=received)
    hub.clock.now = VIEW_NOW


def _submit(hub: HubUnderTest, hotline_id: str, country: str, month: str, *, revision: int, received: datetime) -> None:
    taxonomy, tables = (V1, V1_TABLES) if (hotline_id, month) in ON_V1 else (V2, tuple(V2.tables))
    payload = make_release(
        taxonomy,
        hub.hotlines[hotline_id].key,
        hotline_id=hotline_id,
        period=month,
        revision=revision,
        cells=release_cells(taxonomy, tables, country, month, seed=revision),
        tables=tables,
        scale=SCALE,
        created_at=received.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    hub.submit(payload)


def demo_hub(directory: Path, **settings: Any) -> Iterator[HubUnderTest]:
    """A hub holding the demo data (for fixtures; ``settings`` as :func:`~tests.support.hubs.start_hub` takes them):
    it publishes taxonomy v2 and accepts v1. The suite builds it once a session: ``dashboard_demo`` in
    ``tests/conftest.py``."""
    for hub in start_hub(directory, current_taxonomy=None, **settings):
        build_demo(hub)
        yield hub


def get_json(hub: HubUnderTest, path: str, **params: str) -> Any:
    response = hub.client.get(path, params=params, headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    return response.json()


MONTHS_PARAMS = {"period_from": MONTHS[0], "period_to": MONTHS[-1]}
V2_MONTHS = {"period_from": "2026-08", "period_to": MONTHS[-1]}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def signed_in(hub: HubUnderTest, token: str | None = None) -> TestClient:
    """A client signed in to the dashboard (as the coordinator unless another token is given)."""
    client = TestClient(hub.client.app, follow_redirects=False)
    form = client.get("/login")
    csrf = _CSRF.search(form.text)
    assert csrf is not None
    response = client.post("/login", data={"token": token or hub.tokens["coordinator"], "csrf": csrf.group(1)})
    assert response.status_code == 303, response.text
    return client


def get_page(client: TestClient, path: str, status: int = 200, **params: str) -> str:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text[:2000]
    return response.text


def html_section(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]
