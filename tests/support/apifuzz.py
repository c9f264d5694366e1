# SPDX-License-Identifier: Apache-2.0
"""A hub with a little of everything for the API fuzzer, its callers, and the properties every answer must have.

:func:`fuzzed_hub` starts a hub (:func:`tests.support.hubs.start_hub`) with rate limits set out of reach, enrolls
hotlines in four countries, accepts releases and a correction, and issues a token to every kind of caller:

==========================  ===================================================================================
``no credentials``          no ``Authorization`` header
``coordinator``             a coordinator token (every country)
``country coordinator``     a coordinator token limited to UA and MD: the RO and PL hotlines must stay unseen
``auditor`` / ``admin``     tokens of those roles
``expired token``           an admin token that expired (so only its expiry can be what refuses it)
``revoked token``           an admin token that was revoked
``garbage bearer``          an ``Authorization`` header drawn from hostile strings, never a token
==========================  ===================================================================================

:class:`Pools` holds this hub's real table names, hotline ids, key ids, periods, log sizes and sealed envelopes,
which the fuzzer mixes into generated requests so that they get past validation into the services
(:mod:`tests.support.fuzzcases`). :meth:`FuzzedHub.leaks` and :func:`problem_violations` are the properties every
answer must have beyond its status (``tests/integration/test_api_fuzz.py`` checks them).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from sqlalchemy import update

from hub.db import write_session
from hub.models import ApiToken
from hub.services.tokens import TokenService
from tests.support.hubs import HubUnderTest, start_hub

__all__ = [
    "CALLERS",
    "PROBLEM_MEMBERS",
    "UNAUTHENTICATED",
    "VALID_ROLE",
    "FuzzedHub",
    "Pools",
    "fuzzed_hub",
    "problem_violations",
    "sign_in",
]

CALLERS: Final = (
    "no credentials",
    "coordinator",
    "country coordinator",
    "auditor",
    "admin",
    "expired token",
    "revoked token",
    "garbage bearer",
)
#: The role of each caller whose token is valid.
VALID_ROLE: Final[Mapping[str, str]] = {
    "coordinator": "coordinator",
    "country coordinator": "coordinator",
    "auditor": "auditor",
    "admin": "admin",
}
UNAUTHENTICATED: Final = frozenset(CALLERS) - set(VALID_ROLE)
SCOPED_COUNTRIES: Final = frozenset({"UA", "MD"})
PROBLEM_MEMBERS: Final = ("type", "title", "status", "detail")
#: Out of reach for the fuzzer (which sends a few thousand requests from one address), with limiting left on so
#: that every request still passes through the limiter (which reads the hostile ``Authorization`` headers too).
RATE_LIMITS: Final = {f"rate_{name}": 1_000_000 for name in ("submissions", "hotline", "queries", "audit", "admin")}
#: (hotline id, country): the first four report; the spare ones are for the admin routes to rotate and revoke.
HOTLINES: Final = (
    ("ua-kyiv", "UA"),
    ("md-chisinau", "MD"),
    ("ro-bucuresti", "RO"),
    ("pl-warszawa", "PL"),
)
SPARE_HOTLINES: Final = (("ua-spare", "UA"), ("bg-spare", "BG"))
REPORTED: Final = ("2026-07", "2026-08", "2026-09", "2026-10")
SMALL_TABLES: Final = ("contacts", "persons_control")


@dataclass(frozen=True, slots=True)
class Pools:
    """Real values of this hub, for the fuzzer to draw from."""

    tables: tuple[str, ...]
    #: Codes by dimension, and dimensions by table.
    dimensions: Mapping[str, tuple[str, ...]]
    table_dimensions: Mapping[str, tuple[str, ...]]
    hotline_ids: tuple[str, ...]
    spare_hotline_ids: tuple[str, ...]
    key_ids: tuple[str, ...]
    token_ids: tuple[int, ...]
    submission_ids: tuple[int, ...]
    log_size: int
    taxonomy_id: str
    #: Envelopes as a node sends them (canonical bytes): new ones, and ones the hub already accepted.
    envelopes: tuple[bytes, ...]


@dataclass
class FuzzedHub:
    """The seeded hub, what the fuzzer may draw from, what no answer may contain, and the tallies of the run."""

    hub: HubUnderTest
    raw_schema: dict[str, Any]
    pools: Pools
    #: The bearer token of every caller that has one the hub issued.
    bearer: Mapping[str, str]
    #: Texts that no answer may contain, by what they are.
    secrets: Mapping[str, str]
    #: Tokens that the fuzzer, as admin, may revoke but the run needs: un-revoked after every POST.
    protected_tokens: tuple[int, ...]
    out_of_scope_hotlines: tuple[str, ...]
    #: Requests sent, by caller; and answers, by (caller, operation label, status).
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def authorization(self, caller: str) -> str | None:
        token = self.bearer.get(caller)
        return f"Bearer {token}" if token is not None else None

    def restore_tokens(self) -> None:
        with write_session(self.hub.context.sessions) as session:
            session.execute(
                update(ApiToken)
                .where(ApiToken.id.in_(self.protected_tokens), ApiToken.revoked_at.is_not(None))
                .values(revoked_at=None)
            )

    def leaks(self, text: str, *, sent: str, caller: str) -> list[str]:
        """What an answer (``text``) gives away that the request (``sent``, as text) did not bring itself."""
        suspects = list(self.secrets.items())
        suspects += [("a Python traceback", marker) for marker in ("Traceback", 'File "')]
        if caller == "country coordinator":
            suspects += [(f"hotline {h}, of a country outside the token's", h) for h in self.out_of_scope_hotlines]
        return [f"{what} ({value[:12]}...)" for what, value in suspects if value in text and value not in sent]


def problem_violations(response: httpx.Response) -> list[str]:
    """Why a 4xx answer is not an RFC 9457 problem detail (empty when it is one)."""
    media_type = response.headers.get("content-type", "")
    if media_type != "application/problem+json":
        return [f"Content-Type is {media_type!r}, not application/problem+json"]
    try:
        body = response.json()
    except ValueError:
        return ["the body is not JSON"]
    if not isinstance(body, dict):
        return [f"the body is a JSON {type(body).__name__}, not an object"]
    problems = [f"no {member!r} member" for member in PROBLEM_MEMBERS if member not in body]
    if body.get("status") != response.status_code:
        problems.append(f"status member {body.get('status')!r} is not the HTTP status {response.status_code}")
    problems += [
        f"{member!r} is not a non-empty string"
        for member in ("type", "title", "detail")
        if member in body and not (isinstance(body[member], str) and body[member])
    ]
    return problems


# ---------------------------------------------------------------------------------------------- the hub


@contextmanager
def fuzzed_hub(data_dir: Path) -> Iterator[FuzzedHub]:
    """A seeded hub (on the run's backend) and everything the fuzzer needs to know about it."""
    hubs = start_hub(data_dir, **RATE_LIMITS)
    hub = next(hubs)
    try:
        yield _seed(hub, data_dir)
    finally:
        next(hubs, None)


def _seed(hub: HubUnderTest, data_dir: Path) -> FuzzedHub:
    for hotline_id, country in (*HOTLINES, *SPARE_HOTLINES):
        hub.enroll(hotline_id, country)
    receipts = [
        hub.submit(hub.release(hotline_id, period, tables=SMALL_TABLES, cells=_cells(hub, index)))
        for index, (hotline_id, _country) in enumerate(HOTLINES)
        for period in REPORTED[index % 2 :]
    ]
    receipts.append(hub.submit(hub.release("ua-kyiv", "2026-10", revision=2, tables=SMALL_TABLES)))
    accepted = hub.envelope_bytes(hub.release("md-chisinau", "2026-06"))  # every table: every statistic has data
    assert hub.post_envelope(accepted).status_code == 201
    submissions = len(receipts) + 1
    fresh = [
        hub.envelope_bytes(hub.release(hotline_id, period, revision=revision, tables=("contacts",)))
        for hotline_id, _country in HOTLINES[:3]
        for period, revision in (("2026-05", 1), ("2026-10", 3))
    ]
    now = hub.clock()
    with write_session(hub.context.sessions) as session:
        tokens = TokenService(session)
        scoped = tokens.create(role="coordinator", label="UA and MD", now=now, countries=SCOPED_COUNTRIES)
        expired = tokens.create(
            role="admin", label="expired", now=now - timedelta(days=3), expires_in=timedelta(days=1)
        )
        revoked = tokens.create(role="admin", label="revoked", now=now)
        tokens.revoke(revoked.record.id, now=now)
        decoys = [tokens.create(role="auditor", label=f"decoy {n}", now=now).record.id for n in range(3)]
        issued = [record.id for record in tokens.list()]
    bearer = {
        **{role: hub.tokens[role] for role in ("coordinator", "auditor", "admin")},
        "country coordinator": scoped.token,
        "expired token": expired.token,
        "revoked token": revoked.token,
    }
    protected = tuple(token_id for token_id in issued if token_id not in (expired.record.id, revoked.record.id))
    taxonomy = hub.context.taxonomy
    log = hub.client.get("/v1/log/entries", headers=hub.auth("auditor")).json()
    pools = Pools(
        tables=tuple(sorted(taxonomy.tables)),
        dimensions={name: dimension.code_names for name, dimension in taxonomy.dimensions.items()},
        table_dimensions={name: table.dimension_names for name, table in taxonomy.tables.items()},
        hotline_ids=tuple(hotline_id for hotline_id, _ in HOTLINES),
        spare_hotline_ids=tuple(hotline_id for hotline_id, _ in SPARE_HOTLINES),
        key_ids=tuple(hub.hotlines[hotline_id].key.verify_key.key_id for hotline_id, _ in SPARE_HOTLINES),
        token_ids=(*decoys, *protected),
        submission_ids=tuple(range(1, submissions + 3)),  # and two ids no submission has
        log_size=log["tree_size"],
        taxonomy_id=taxonomy.id,
        envelopes=(accepted, *fresh),
    )
    return FuzzedHub(
        hub=hub,
        raw_schema=hub.client.get("/openapi.json").json(),
        pools=pools,
        bearer=bearer,
        secrets=_secrets(hub, data_dir, bearer),
        protected_tokens=protected,
        out_of_scope_hotlines=tuple(h for h, country in HOTLINES if country not in SCOPED_COUNTRIES),
    )


def _cells(hub: HubUnderTest, seed: int) -> dict[str, tuple[int, ...]]:
    taxonomy = hub.context.taxonomy
    return {
        name: tuple((seed * 7 + i * 3) % 23 - 5 for i in range(taxonomy.table(name).cell_count))
        for name in SMALL_TABLES
    }


def _secrets(hub: HubUnderTest, data_dir: Path, bearer: Mapping[str, str]) -> dict[str, str]:
    """Every token issued to a caller, the hub's private keys (as stored, and the first 30 bytes in base64,
    base64url and hex, so longer encodings that start with the key are caught too), the data directory's path and
    the database URL."""
    found = {f"the {caller} bearer token": token for caller, token in bearer.items()}
    for path in sorted((data_dir / "keys").iterdir()):
        stored = path.read_text().strip()
        secret = base64.b64decode(stored)
        found[f"private key file {path.name}"] = stored
        for encoding, text in (
            ("base64", base64.b64encode(secret[:30]).decode()),
            ("base64url", base64.urlsafe_b64encode(secret[:30]).decode()),
            ("hex", secret[:30].hex()),
        ):
            found[f"private key {path.name} ({encoding})"] = text
    found["the data directory's path"] = str(data_dir)
    found["the data directory's real path"] = str(data_dir.resolve())
    if hub.context.settings.database_url is not None:
        found["the database URL"] = hub.context.settings.database_url
    return found


# ---------------------------------------------------------------------------------------------- dashboard


def sign_in(client: Any, token: str) -> None:
    """Sign ``client`` (a TestClient that does not follow redirects) in to the dashboard with ``token``."""
    form = client.get("/login")
    marker = 'name="csrf" value="'
    assert form.status_code == 200, form.text[:500]
    assert marker in form.text, form.text[:500]
    csrf = form.text.split(marker, 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"token": token, "csrf": csrf, "next": "/trends"})
    assert response.status_code == 303, response.text[:500]
