# SPDX-License-Identifier: Apache-2.0
"""Running ``tipshare-audit`` against a real hub app in-process, and a log worth auditing.

:func:`audit` runs the CLI's ``main`` with an HTTP client whose transport forwards every request to the hub's
``TestClient`` (so tests can count requests, or rewrite an answer as a hostile hub would). :func:`populate`
builds a log with several hotlines and countries, two mechanisms, corrections, a rotation and a revocation.
:func:`append_entry` writes an entry straight into the hub's log, as a dishonest operator could.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from auditor.cli import main
from auditor.client import ClientSettings
from hub.db import write_session
from hub.services.log import TransparencyLog
from protocol.crypto import SUBMISSION_CONTEXT, SigningKey, payload_hash
from protocol.messages import (
    PROTOCOL_VERSION,
    KeyEventEntry,
    SubmissionEntry,
    SubmissionPayload,
    b64encode,
    format_timestamp,
)
from protocol.taxonomy import Taxonomy
from tests.support.hubs import HubUnderTest
from tests.support.releases import make_release

HUB_URL = "https://testserver"
#: Small tables, so that runs stay fast; ``persons_control`` has a multi-valued dimension.
TABLES = ("contacts", "persons_control", "persons_recruitment")

Rewrite = Callable[[httpx.Request, httpx.Response], httpx.Response]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Wire:
    """The transport between the auditor and the hub: records requests, may rewrite answers."""

    hub: HubUnderTest
    requests: list[httpx.Request] = field(default_factory=list)
    rewrite: Rewrite | None = None
    #: Runs before a request reaches the hub (to change the hub while the auditor is at work).
    before: Callable[[httpx.Request], None] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.before is not None:
            self.before(request)
        upstream = self.hub.client.send(request)
        response = httpx.Response(upstream.status_code, headers=upstream.headers, content=upstream.content)
        return self.rewrite(request, response) if self.rewrite is not None else response

    def factory(self, settings: ClientSettings) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle), timeout=settings.timeout)

    def paths(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def document(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.out)
        return value

    def checks(self) -> set[str]:
        return {failure["check"] for failure in self.document["failures"]}

    def failures(self, check: str) -> list[dict[str, Any]]:
        return [failure for failure in self.document["failures"] if failure["check"] == check]


def audit(hub: HubUnderTest, state: Path, *argv: str, wire: Wire | None = None, as_json: bool = True) -> Run:
    """``tipshare-audit verify --hub … --token … --state … [argv]`` against ``hub``."""
    wire = wire or Wire(hub)
    args = ["verify", "--hub", HUB_URL, "--token", hub.tokens["auditor"], "--state", str(state), *argv]
    return run_cli(args + (["--json"] if as_json else []), wire=wire, clock=hub.clock)


def run_cli(argv: Sequence[str], *, wire: Wire | None = None, clock: Callable[[], datetime] | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv), http_client_factory=wire.factory if wire else None, clock=clock)
    return Run(code, out.getvalue(), err.getvalue())


def vector(taxonomy: Taxonomy, table: str, seed: int) -> list[int]:
    """A deterministic noisy-looking vector (negative values included)."""
    return [((i * 7 + seed * 13) % 23) - 5 for i in range(taxonomy.table(table).cell_count)]


def cells(taxonomy: Taxonomy, seed: int, tables: Sequence[str] = TABLES) -> dict[str, list[int]]:
    return {name: vector(taxonomy, name, seed + i) for i, name in enumerate(tables)}


def laplace_release(
    taxonomy: Taxonomy,
    key: SigningKey,
    *,
    hotline_id: str,
    period: str,
    cells: Mapping[str, Sequence[int]],
    scale: str = "4",
    revision: int = 1,
) -> SubmissionPayload:
    """A discrete-Laplace release of the tables in ``cells`` (ε = L1 / scale per table)."""
    return make_release(
        taxonomy,
        key,
        hotline_id=hotline_id,
        period=period,
        revision=revision,
        cells=cells,
        tables=sorted(cells),
        scale=scale,
        mechanism="discrete_laplace",
    )


def admin(hub: HubUnderTest, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    response = hub.client.post(path, json=dict(body), headers=hub.auth("admin"))
    assert response.status_code in (200, 201), response.text
    value: dict[str, Any] = response.json()
    return value


def rotate(hub: HubUnderTest, hotline_id: str) -> SigningKey:
    key = SigningKey.generate()
    admin(hub, f"/v1/admin/hotlines/{hotline_id}/keys", {"public_key": key.verify_key.to_text()})
    hub.hotlines[hotline_id].key = key
    return key


def revoke(hub: HubUnderTest, hotline_id: str, reason: str = "laptop stolen") -> str:
    key_id = hub.hotlines[hotline_id].key.verify_key.key_id
    admin(hub, f"/v1/admin/keys/{key_id}/revoke", {"reason": reason})
    return key_id


def populate(hub: HubUnderTest) -> None:
    """Four hotlines in three countries; 2026-09 and 2026-10; a correction, a rotation, a revocation, Laplace.

    ========  =======  =========================================================================
    hotline   country  log
    ========  =======  =========================================================================
    ua-a      UA       enrolled 08-20; 09 (10-05); key rotated 10-20; 10 with the new key (11-05)
    ua-b      UA       enrolled 08-20; 09 r1 (10-05), 10 (11-05), 09 r2 correction (11-06)
    md-a      MD       enrolled 08-20; 09 Laplace, all tables but persons_control (10-06); revoked 11-10
    ro-a      RO       enrolled 10-01; 10 (11-05), persons_recruitment only
    ========  =======  =========================================================================
    """
    taxonomy = hub.context.taxonomy
    hub.clock.now = utc(2026, 8, 20, 10)
    for hotline_id, country in (("ua-a", "UA"), ("ua-b", "UA"), ("md-a", "MD")):
        hub.enroll(hotline_id, country)
    hub.clock.now = utc(2026, 10, 1, 9)
    hub.enroll("ro-a", "RO")
    hub.clock.now = utc(2026, 10, 5, 10)
    hub.submit_cells("ua-a", "2026-09", cells(taxonomy, 1), tables=TABLES)
    hub.submit_cells("ua-b", "2026-09", cells(taxonomy, 2), tables=TABLES, scale="7.5")
    hub.clock.now = utc(2026, 10, 6, 10)
    md_tables = ("contacts", "persons_recruitment")
    md = hub.hotlines["md-a"]
    hub.submit(
        laplace_release(taxonomy, md.key, hotline_id="md-a", period="2026-09", cells=cells(taxonomy, 3, md_tables))
    )
    hub.clock.now = utc(2026, 10, 20, 10)
    rotate(hub, "ua-a")
    hub.clock.now = utc(2026, 11, 5, 10)
    hub.submit_cells("ua-a", "2026-10", cells(taxonomy, 4), tables=TABLES)
    hub.submit_cells("ua-b", "2026-10", cells(taxonomy, 5), tables=TABLES)
    hub.submit_cells("ro-a", "2026-10", cells(taxonomy, 6, ("persons_recruitment",)), tables=("persons_recruitment",))
    hub.clock.now = utc(2026, 11, 6, 10)
    hub.submit_cells("ua-b", "2026-09", cells(taxonomy, 7), tables=TABLES, revision=2, scale="7.5")
    hub.clock.now = utc(2026, 11, 10, 10)
    revoke(hub, "md-a")
    hub.clock.now = utc(2026, 11, 21, 12)


def append_entry(hub: HubUnderTest, entry: SubmissionEntry | KeyEventEntry) -> int:
    """Append an entry to the hub's log directly, bypassing every ingest check; its index."""
    with write_session(hub.context.sessions) as session:
        appended = TransparencyLog(session, signer=hub.context.log_signer).append(
            entry.canonical_bytes(), kind=entry.kind, now=hub.clock()
        )
    return appended.index


def submission_entry(payload: SubmissionPayload, *, key: SigningKey, received_at: datetime) -> SubmissionEntry:
    """The log entry of ``payload`` signed with ``key`` (which need not be the key the payload names)."""
    payload_bytes = payload.canonical_bytes()
    return SubmissionEntry(
        type="log_entry",
        version=PROTOCOL_VERSION,
        kind="submission",
        hotline_id=payload.hotline_id,
        key_id=payload.key_id,
        period=payload.period,
        revision=payload.revision,
        payload_hash=payload_hash(payload_bytes),
        payload=b64encode(payload_bytes),
        signature=b64encode(key.sign_message(SUBMISSION_CONTEXT, payload_bytes)),
        received_at=format_timestamp(received_at),
    )


#: The parts of a ``verify --json`` report about the hub (not about the run: requests, what was new or saved).
CONCLUSIONS = (
    "verdict",
    "failures",
    "checkpoint",
    "key_events",
    "hotlines",
    "countries",
    "submissions",
    "periods",
    "statistics",
    "estimates",
    "rounds",
)


def conclusions(run: Run) -> dict[str, Any]:
    """What a run concluded about the hub: equal for a run resumed from a state DIR and one from scratch."""
    return {name: run.document[name] for name in CONCLUSIONS}
