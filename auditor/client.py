# SPDX-License-Identifier: Apache-2.0
"""The auditor's side of the hub's HTTP API, over any :class:`httpx.Client`.

:class:`AuditClient` takes the client it is given: :func:`make_http_client` in production, a client with an
:class:`httpx.MockTransport` in unit tests, one forwarding to the hub app in integration tests. Every URL is
absolute (built from the hub URL). Nothing the hub says is trusted here: this module only fetches and parses;
:mod:`auditor.verify` checks.

==========================================  ===============================================================
what happened                               raised
==========================================  ===============================================================
no connection, timeout, 5xx, 408, 429       :class:`~auditor.errors.HubUnreachable`
401 / 403                                   :class:`~auditor.errors.HubResponseInvalid`, hint: the token
400 ``not_answerable`` to a question        :class:`~auditor.errors.QuestionRefused` (the caller decides)
other 4xx, 3xx, a body that does not parse  :class:`~auditor.errors.HubResponseInvalid`
==========================================  ===============================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from appkit.problems import Problem, clean_text, read_problem, user_agent
from appkit.transfer import TransferFailure, exchange, is_busy
from appkit.urls import MALFORMED, PLAINTEXT, hub_url
from auditor.errors import HubResponseInvalid, HubUnreachable, QuestionRefused, UsageError
from auditor.i18n import N_, T_
from auditor.published import PublishedStats, collector_paused, parse_stats, validation_problems
from protocol.api import (
    AccessLogCheckpoints,
    AccessLogPage,
    ConsistencyProof,
    EstimatesAnswer,
    HubIdentity,
    LogEntries,
    RoundState,
)
from protocol.errors import ProtocolError
from protocol.handover import HandoverProof
from protocol.messages import PROTOCOL_VERSION, b64decode
from protocol.taxonomy import Taxonomy, parse_taxonomy

__all__ = [
    "MAX_RESPONSE_BYTES",
    "AuditClient",
    "ClientSettings",
    "HTTPClientFactory",
    "ServedEntry",
    "make_http_client",
    "normalise_hub_url",
]

#: Largest response body the auditor reads. A page of log entries holds whole payloads (about 100 kB each).
MAX_RESPONSE_BYTES: Final = 256 * 1024 * 1024
#: A response model of the contract (:mod:`protocol.api`).
Answer = TypeVar("Answer", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What the HTTP client factory is given."""

    hub_url: str
    timeout: float = 60.0


HTTPClientFactory = Callable[[ClientSettings], httpx.Client]


def make_http_client(settings: ClientSettings) -> httpx.Client:
    """The production HTTP client: TLS verified, timeouts, no redirects (a token never follows one)."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 15.0)),
        follow_redirects=False,
        headers={"User-Agent": user_agent("tipshare-audit")},
    )


def normalise_hub_url(url: str) -> str:
    """The hub URL without a trailing slash; ``https://`` (or ``http://`` for a hub on this machine: the token
    must not cross a network in clear)."""
    text, problem = hub_url(url)
    if problem == MALFORMED:
        raise UsageError(
            T_("{url} is not a hub URL", url=repr(url)),
            hint=N_("Give the hub's address, such as https://hub.example.org"),
        )
    if problem == PLAINTEXT:
        raise UsageError(
            T_("{url} is not encrypted: plain http:// would send your token in clear", url=repr(url)),
            hint=N_("Use the hub's https:// address (http:// only for a hub on this machine)"),
        )
    return text


@dataclass(frozen=True, slots=True)
class ServedEntry:
    """One log entry as the hub served it: the leaf hash it claims, and the leaf data."""

    index: int
    claimed_leaf_hash: bytes
    data: bytes


class AuditClient:
    """Typed calls to one hub with an auditor token. Raises only :class:`~auditor.errors.HubFetchError` subclasses."""

    def __init__(self, http: httpx.Client, hub_url: str, *, token: str) -> None:
        self._http = http
        self._base = normalise_hub_url(hub_url)
        self._auth = {"Authorization": f"Bearer {token.strip()}"}
        #: Requests made, by route (``/v1/log/entries`` …): what a run cost.
        self.requests: dict[str, int] = {}

    @property
    def hub_url(self) -> str:
        return self._base

    def identity(self) -> HubIdentity:
        """``GET /v1/hub`` (public)."""
        identity = self._model(HubIdentity, "/v1/hub", authenticated=False)
        if identity.protocol_version != PROTOCOL_VERSION:
            raise HubResponseInvalid(
                T_(
                    "the hub speaks protocol {protocol_version}; this auditor speaks {ours}",
                    protocol_version=repr(identity.protocol_version),
                    ours=repr(PROTOCOL_VERSION),
                ),
                hint=N_("Install the tipshare-audit version that matches the hub."),
            )
        return identity

    def taxonomy(self, taxonomy_id: str, *, expected_hash: str) -> Taxonomy:
        """``GET /v1/taxonomy/{id}`` (public), refused unless it hashes to ``expected_hash``."""
        path = "/v1/taxonomy/" + quote(taxonomy_id, safe="/")
        body = self._get(path, authenticated=False)
        try:
            taxonomy = parse_taxonomy(body)
        except ProtocolError as e:
            raise HubResponseInvalid(
                T_(
                    "the hub's taxonomy {taxonomy_id} is not a valid taxonomy: {error}",
                    taxonomy_id=taxonomy_id,
                    error=e,
                )
            ) from e
        if taxonomy.id != taxonomy_id or taxonomy.content_hash != expected_hash:
            raise HubResponseInvalid(
                T_(
                    "the hub sent taxonomy {id} ({content_hash}) when asked for {taxonomy_id} ({expected_hash})",
                    id=taxonomy.id,
                    content_hash=taxonomy.content_hash,
                    taxonomy_id=taxonomy_id,
                    expected_hash=expected_hash,
                )
            )
        return taxonomy

    def handovers(self) -> list[HandoverProof]:
        """``GET /v1/hub/handovers`` (public): the proofs of every handover of the hub's keys, unverified."""
        data = self._json("/v1/hub/handovers", authenticated=False)
        if not isinstance(data, list):
            raise HubResponseInvalid(T_("the hub's handovers (/v1/hub/handovers) are not a JSON list"))
        try:
            return [HandoverProof.model_validate_json(json.dumps(item)) for item in data]
        except ValidationError as e:
            raise HubResponseInvalid(
                T_("the hub serves a malformed handover proof: {detail}", detail=e.errors()[0]["msg"])
            ) from None

    def checkpoint(self) -> str | None:
        """``GET /v1/log/checkpoint``: the latest signed note, or ``None`` while the log is empty (404)."""
        response, body = self._request("/v1/log/checkpoint", params=None, authenticated=True)
        if response.status_code == 404:
            return None
        self._expect_ok(response, body, "/v1/log/checkpoint")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise HubResponseInvalid(T_("the hub's checkpoint is not UTF-8 text")) from None

    def entries(self, start: int, end: int) -> list[ServedEntry]:
        """``GET /v1/log/entries?start&end``: at most ``end - start`` entries, possibly fewer (the hub caps pages)."""
        served = []
        for entry in self._model(LogEntries, "/v1/log/entries", params={"start": start, "end": end}).entries:
            index = entry.index
            if not start <= index < end:
                raise HubResponseInvalid(
                    T_(
                        "the hub served a log entry with index {index} for {start}..{last}",
                        index=repr(index),
                        start=start,
                        last=end - 1,
                    )
                )
            try:
                claimed = b64decode(entry.leaf_hash, what="leaf hash")
                leaf = b64decode(entry.data, what="leaf data")
            except ProtocolError as e:
                raise HubResponseInvalid(T_("log entry {index}: {error}", index=index, error=e)) from e
            served.append(ServedEntry(index=index, claimed_leaf_hash=claimed, data=leaf))
        return served

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """``GET /v1/log/proof/consistency?first&second``."""
        path = "/v1/log/proof/consistency"
        nodes = self._model(ConsistencyProof, path, params={"first": first, "second": second}).proof
        try:
            return [b64decode(node, what="proof node") for node in nodes]
        except ProtocolError as e:
            raise HubResponseInvalid(
                T_("the hub's consistency proof {first} -> {second}: {error}", first=first, second=second, error=e)
            ) from e

    def stats(self, table: str, params: Mapping[str, str]) -> PublishedStats:
        """``GET /v1/stats/{table}`` with ``params`` (JSON)."""
        path = "/v1/stats/" + quote(table, safe="")
        return parse_stats(self._get(path, params=params), what=f"{path}?{_query(params)}")

    def estimates(self, unit: str, params: Mapping[str, str]) -> EstimatesAnswer:
        """``GET /v1/estimates/{unit}`` with ``params`` (JSON), parsed with the shared contract
        (:class:`protocol.api.EstimatesAnswer`, strictly: no number from a string). A question the hub refuses as
        not answerable raises :class:`QuestionRefused` with the hub's explanation."""
        path = "/v1/estimates/" + quote(unit, safe="")
        what = f"{path}?{_query(params)}"
        response, body = self._request(path, params=params, authenticated=True)
        if response.status_code == 400 and _problem(response, body).code == "not_answerable":
            raise QuestionRefused(
                T_("the hub refused {what}: {status_line}", what=what, status_line=_problem(response, body).line)
            )
        self._expect_ok(response, body, path)
        try:
            with collector_paused():
                return EstimatesAnswer.model_validate_json(body, strict=True)
        except ValueError as e:  # pydantic's ValidationError, invalid JSON included
            raise HubResponseInvalid(
                T_(
                    "the hub's answer to {what} is not an estimates answer: {detail}",
                    what=what,
                    detail=clean_text(str(e)),
                )
            ) from None

    def access_log(self, *, after: int, limit: int) -> AccessLogPage:
        """One page of ``GET /v1/audit/access-log`` (records with ``seq > after``)."""
        return self._model(AccessLogPage, "/v1/audit/access-log", params={"after": after, "limit": limit})

    def access_log_checkpoints(self, *, after: int) -> AccessLogCheckpoints:
        """One page of ``GET /v1/audit/access-log/checkpoints`` (checkpoints with ``size > after``)."""
        return self._model(AccessLogCheckpoints, "/v1/audit/access-log/checkpoints", params={"after": after})

    def round(self, group: str, period: str, number: int) -> RoundState | None:
        """``GET /v1/rounds/{group}/{period}/{number}``, or ``None`` if the hub publishes no such round."""
        path = f"/v1/rounds/{group}/{period}/{number}"
        response, body = self._request(path, params=None, authenticated=True)
        if response.status_code == 404:
            return None
        self._expect_ok(response, body, path)
        return _parsed(RoundState, body, path)

    # ------------------------------------------------------------------ plumbing

    def _json(self, path: str, *, params: Mapping[str, Any] | None = None, authenticated: bool = True) -> Any:
        body = self._get(path, params=params, authenticated=authenticated)
        try:
            return json.loads(body)
        except ValueError:
            raise HubResponseInvalid(T_("the hub's answer to {path} is not JSON", path=path)) from None

    def _model(
        self,
        model: type[Answer],
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
    ) -> Answer:
        """The answer to ``GET path``, parsed with the contract's ``model`` (:mod:`protocol.api`)."""
        return _parsed(model, self._get(path, params=params, authenticated=authenticated), path)

    def _get(self, path: str, *, params: Mapping[str, Any] | None = None, authenticated: bool = True) -> bytes:
        response, body = self._request(path, params=params, authenticated=authenticated)
        self._expect_ok(response, body, path)
        return body

    def _request(
        self, path: str, *, params: Mapping[str, Any] | None, authenticated: bool
    ) -> tuple[httpx.Response, bytes]:
        self.requests[path] = self.requests.get(path, 0) + 1
        answer = exchange(
            self._http,
            "GET",
            self._base + path,
            limit=MAX_RESPONSE_BYTES,
            params=dict(params or {}),
            headers=self._auth if authenticated else None,
        )
        if not isinstance(answer, TransferFailure):
            return answer
        if answer.kind == "too-large":
            raise HubResponseInvalid(
                T_("the hub's answer to {path} is larger than {limit} bytes", path=path, limit=MAX_RESPONSE_BYTES)
            )
        if answer.kind == "timeout":
            raise HubUnreachable(
                T_(
                    "the hub at {base} did not answer {path} in time ({kind})",
                    base=self._base,
                    path=path,
                    kind=answer.detail,
                )
            )
        if answer.kind == "bad-url":
            raise UsageError(T_("the hub URL {base} cannot be used: {error}", base=self._base, error=answer.detail))
        raise HubUnreachable(T_("cannot reach the hub at {base}: {error}", base=self._base, error=answer.detail))

    def _expect_ok(self, response: httpx.Response, body: bytes, path: str) -> None:
        status = response.status_code
        if status == 200:
            return
        line = _problem(response, body).line
        if is_busy(status):
            raise HubUnreachable(T_("the hub is busy or failing: {line} for GET {path}", line=line, path=path))
        if status in (401, 403):
            raise HubResponseInvalid(
                T_("the hub refused the token: {line} for GET {path}", line=line, path=path),
                hint=N_("Give an auditor token (--token or TIPSHARE_AUDIT_TOKEN), issued by the hub operator."),
            )
        raise HubResponseInvalid(T_("the hub answered {line} to GET {path}", line=line, path=path))


def _parsed(model: type[Answer], body: bytes, path: str) -> Answer:
    """``body`` read strictly with the contract's ``model``; :class:`HubResponseInvalid` names the first problems."""
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as e:
        raise HubResponseInvalid(
            T_("the hub's answer to {what} cannot be read: {error}", what=path, error=validation_problems(e))
        ) from None


def _query(params: Mapping[str, str]) -> str:
    return "&".join(f"{name}={value}" for name, value in params.items())


def _problem(response: httpx.Response, body: bytes) -> Problem:
    return read_problem(response.status_code, response.headers.get("content-type", ""), body)
