# SPDX-License-Identifier: Apache-2.0
"""A hub with released corridors, the issue 17 question, and files downloaded from it as a coordinator does.

The log: a hub publishing taxonomy version 1; two hotlines (UA, MD) release the three-way corridor and both
demography tables for 2026-09 and 2026-10. :data:`QUESTION` is the question of issue 17 (persons by corridor,
``exploitation_group=labour``); :func:`download` fetches an answer file over the hub's HTTP API and returns its
bytes and file name; :func:`check` runs ``tipshare-audit check FILE --hub … --json`` on it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

from protocol.taxonomy import builtin_taxonomy
from tests.support.auditkit import HUB_URL, Run, Wire, run_cli, utc, vector
from tests.support.hubs import HubUnderTest, start_hub

__all__ = ["QUESTION", "TABLES", "check", "download", "edit_column", "populated_hub", "rows"]

V1 = builtin_taxonomy(1)
TABLES: Final = ("persons_corridor", "persons_destination_demo", "persons_origin_demo")
#: The question of issue 17: ``…&exploitation_group=labour&format=csv``.
QUESTION: Final = {
    "group_by": "period,citizenship,country_of_exploitation",
    "period_from": "2026-09",
    "period_to": "2026-10",
    "exploitation_group": "labour",
}


def populated_hub(data_dir: Path) -> Iterator[HubUnderTest]:
    for started in start_hub(data_dir):
        started.clock.now = utc(2026, 8, 20, 10)
        started.enroll("ua-a", "UA")
        started.enroll("md-a", "MD")
        for hotline_id in ("ua-a", "md-a"):
            started.log_loose_policy(hotline_id)
        for seed, (hotline_id, period) in enumerate(
            (("ua-a", "2026-09"), ("md-a", "2026-09"), ("ua-a", "2026-10"), ("md-a", "2026-10"))
        ):
            started.clock.now = utc(2026, 10 if period == "2026-09" else 11, 5, 10)
            cells = {t: vector(V1, t, 10 * seed + i) for i, t in enumerate(TABLES)}
            started.submit_cells(hotline_id, period, cells, tables=TABLES)
        started.clock.now = utc(2026, 11, 21, 12)
        yield started


def download(hub: HubUnderTest, path: str, params: Mapping[str, str]) -> tuple[bytes, str]:
    """The body and the ``Content-Disposition`` file name of a coordinator's download."""
    response = hub.client.get(path, params=dict(params), headers=hub.auth("coordinator"))
    assert response.status_code == 200, response.text
    matched = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert matched is not None, response.headers["content-disposition"]
    return response.content, matched.group(1)


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def edit_column(content: bytes, column: str, change: Callable[[dict[str, str]], str | None]) -> bytes:
    """The CSV file with ``column`` of each line set to ``change(line)`` (``None``: left alone)."""
    lines = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    header = lines[0]
    assert column in header, f"the file has no column {column}"
    for line in lines[1:]:
        new = change(dict(zip(header, line, strict=True)))
        if new is not None:
            line[header.index(column)] = new
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(lines)
    return out.getvalue().encode("utf-8")


def check(hub: HubUnderTest, state: Path, path: Path) -> Run:
    """``tipshare-audit check FILE``: the file and the hub's URL, nothing else."""
    args = ["check", str(path), "--hub", HUB_URL, "--token", hub.tokens["auditor"], "--state", str(state), "--json"]
    return run_cli(args, wire=Wire(hub), clock=hub.clock)
