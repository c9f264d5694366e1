# SPDX-License-Identifier: Apache-2.0
"""A real hub on a temporary SQLite file, with a clock the test controls, driven through its HTTP API (or served
by uvicorn in a thread for a browser: :func:`served_in_thread`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.context import HubContext
from hub.db import write_session
from hub.services.taxonomies import TaxonomyRegistry
from hub.services.tokens import TokenService
from hub.settings import Settings
from hub.setup import initialise_hub
from protocol.crypto import SigningKey, seal_envelope
from protocol.messages import Receipt, SubmissionPayload
from protocol.note import NoteVerifier
from protocol.taxonomy import TAXONOMY_V1_ID
from tests.support.backends import fresh_hub_database
from tests.support.releases import make_release

ORIGIN = "hub.test.tipshare/log"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class EnrolledHotline:
    id: str
    country: str
    key: SigningKey


@dataclass
class HubUnderTest:
    """A hub, its HTTP client, admin/coordinator/auditor tokens, and helpers to enroll and submit."""

    context: HubContext
    client: TestClient
    clock: Clock
    tokens: dict[str, str]
    hotlines: dict[str, EnrolledHotline] = field(default_factory=dict)

    @property
    def log_key(self) -> NoteVerifier:
        return NoteVerifier.from_vkey(self.client.get("/v1/hub").json()["log_vkey"])

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def enroll(self, hotline_id: str, country: str, name: str | None = None) -> EnrolledHotline:
        key = SigningKey.generate()
        response = self.client.post(
            "/v1/admin/hotlines",
            json={
                "id": hotline_id,
                "display_name": name or hotline_id,
                "country": country,
                "public_key": key.verify_key.to_text(),
            },
            headers=self.auth("admin"),
        )
        assert response.status_code == 201, response.text
        self.hotlines[hotline_id] = EnrolledHotline(hotline_id, country, key)
        return self.hotlines[hotline_id]

    def log_policy(self, hotline_id: str, **body: object) -> None:
        """Log a policy for ``hotline_id`` through the admin API (``body`` as ``POST .../policy`` takes it)."""
        response = self.client.post(f"/v1/admin/hotlines/{hotline_id}/policy", json=body, headers=self.auth("admin"))
        assert response.status_code == 201, response.text

    def log_loose_policy(self, hotline_id: str) -> None:
        """A policy far above the node's defaults (caps and volume), for fixtures that release at small noise scales
        or with made-up counts no real hotline sees."""
        self.log_policy(
            hotline_id,
            caps=[
                {"measure": "rho", "period": "10", "year": "100"},
                {"measure": "epsilon", "period": "50", "year": "500"},
            ],
            max_monthly_volume=10_000_000,
            reason="test fixture",
        )

    def release(self, hotline_id: str, period: str, **kwargs: object) -> SubmissionPayload:
        hotline = self.hotlines[hotline_id]
        return make_release(self.context.taxonomy, hotline.key, hotline_id=hotline_id, period=period, **kwargs)  # type: ignore[arg-type]

    def envelope_bytes(self, payload: SubmissionPayload, key: SigningKey | None = None) -> bytes:
        signer = key or self.hotlines[payload.hotline_id].key
        envelope = seal_envelope(payload, signing_key=signer, hub_key=self.context.keys.envelope.public_key)
        return envelope.canonical_bytes()

    def post_envelope(self, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
        return self.client.post("/v1/submissions", content=body, headers={"Content-Type": content_type})

    def submit(self, payload: SubmissionPayload) -> Receipt:
        response = self.post_envelope(self.envelope_bytes(payload))
        assert response.status_code == 201, response.text
        return Receipt.from_json(response.content)

    def submit_cells(
        self, hotline_id: str, period: str, cells: Mapping[str, Sequence[int]], **kwargs: object
    ) -> Receipt:
        return self.submit(self.release(hotline_id, period, cells=cells, **kwargs))


def start_hub(
    data_dir: Path,
    *,
    clock: Clock | None = None,
    database_url: str | None = None,
    current_taxonomy: str | None = TAXONOMY_V1_ID,
    **settings: Any,
) -> Iterator[HubUnderTest]:
    """An initialised hub on the run's backend (SQLite file in ``data_dir``, or a fresh PostgreSQL database).

    ``settings`` override :class:`~hub.settings.Settings` fields (``rate_queries=5``, say). ``current_taxonomy``
    is the taxonomy the hub publishes, which :meth:`HubUnderTest.release` follows: version 1 by default, whose
    releases may hold a few small tables (a version 2 release holds every person and case table, 23,000 cells);
    ``None`` keeps what a new hub publishes (the newest). Every built-in taxonomy is accepted either way.
    """
    if database_url is None:
        with fresh_hub_database(data_dir) as url:  # the session's migrated schema, copied
            yield from _start_hub(
                data_dir, clock=clock, database_url=url, taxonomy=current_taxonomy, overrides=settings
            )
    else:
        yield from _start_hub(
            data_dir, clock=clock, database_url=database_url, taxonomy=current_taxonomy, overrides=settings
        )


def _start_hub(
    data_dir: Path, *, clock: Clock | None, database_url: str | None, taxonomy: str | None, overrides: dict[str, Any]
) -> Iterator[HubUnderTest]:
    clock = clock or Clock()
    settings = Settings(data_dir=data_dir, database_url=database_url, **overrides)
    context = initialise_hub(settings, origin=ORIGIN, clock=clock)
    if taxonomy is not None:
        with write_session(context.sessions) as session:
            TaxonomyRegistry(session).make_current(taxonomy)
        context.current_taxonomy_id = taxonomy
    tokens = {}
    with write_session(context.sessions) as session:
        for role in ("admin", "coordinator", "auditor"):
            tokens[role] = TokenService(session).create(role=role, label=f"test {role}", now=clock()).token
    app = create_app(context=context)
    with TestClient(app) as client:
        yield HubUnderTest(context=context, client=client, clock=clock, tokens=tokens)
    context.engine.dispose()


@contextmanager
def served_in_thread(hub: HubUnderTest) -> Iterator[str]:
    """The hub's app served by uvicorn in a thread of this process, on a free port of 127.0.0.1 (for a browser):
    yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(hub.client.app, log_level="warning", lifespan="off", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
