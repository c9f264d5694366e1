# SPDX-License-Identifier: Apache-2.0
"""The node's side of the hub's HTTP API (``tipshare/1``), over any :class:`httpx.Client`.

:class:`HubClient` takes the client it is given: :func:`make_http_client` in production, a client with an
:class:`httpx.MockTransport` in unit tests, starlette's ``TestClient(app)`` (an ``httpx.Client``) in integration
tests. Every URL is absolute (built from the hub URL), so a ``base_url`` on the client is not needed.

Outcomes are typed, so the outbox knows what to do with each:

================================================  =======================================================
what happened                                     raised / returned
================================================  =======================================================
201 + receipt / 200 + the same receipt            :class:`SubmitResult` (``created`` True / False)
no connection, timeout, broken response,          :class:`~node.errors.HubUnreachable` (transient; ``retry_after``
5xx, 408, 429 (``Retry-After`` honoured)          from the hub's ``Retry-After`` header when it sends one)
409                                               :class:`~node.errors.SubmissionConflict` (permanent)
any other 4xx                                     :class:`~node.errors.SubmissionRejected` with the hub's problem
                                                  detail (``application/problem+json``) (permanent)
anything else (3xx, unparseable body)             :class:`~node.errors.HubResponseInvalid`
================================================  =======================================================

Receipts are parsed here but verified by the caller, against the log key pinned at ``init``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from appkit.problems import Problem, clean_text, read_problem, user_agent
from appkit.transfer import TransferFailure, exchange, is_busy
from appkit.urls import MALFORMED, PLAINTEXT, hub_url
from node.errors import (
    ConfigError,
    HubResponseInvalid,
    HubUnreachable,
    SubmissionConflict,
    SubmissionRejected,
)
from node.i18n import N_, Text
from node.settings import NodeSettings
from protocol.api import ConsistencyProof, HubIdentity, PublishedTaxonomy, RoundState
from protocol.errors import ProtocolError
from protocol.handover import HandoverProof
from protocol.messages import PROTOCOL_VERSION, Receipt, b64decode
from protocol.taxonomy import Taxonomy, parse_taxonomy

__all__ = [
    "MAX_RESPONSE_BYTES",
    "HubClient",
    "HubIdentity",
    "SubmitResult",
    "checked_identity",
    "make_http_client",
    "normalise_hub_url",
    "pinned_identity",
]

#: Largest response body the node reads (a taxonomy is about 60 kB, a receipt 2 kB).
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
#: Longest pause a ``Retry-After`` header may impose.
_MAX_RETRY_AFTER: Final = 86_400.0
_TAXONOMY_UNNAMED: Final = Text(N_("the hub named its taxonomy without a valid id and sha256 hash"))


def normalise_hub_url(url: str) -> str:
    """The hub URL without a trailing slash; only ``https://`` (or ``http://`` for a hub on this machine).

    >>> normalise_hub_url("https://hub.example.org/"), normalise_hub_url("http://127.0.0.1:8750")
    ('https://hub.example.org', 'http://127.0.0.1:8750')
    >>> normalise_hub_url("http://hub.example.org")
    Traceback (most recent call last):
    node.errors.ConfigError: 'http://hub.example.org' is not encrypted: ...
    """
    text, problem = hub_url(url)
    if problem == MALFORMED:
        raise ConfigError(
            Text(N_("%(url)s is not a hub URL"), url=repr(url)),
            hint=Text(N_("Give the address your hub operator sent you, such as https://hub.example.org")),
        )
    if problem == PLAINTEXT:
        raise ConfigError(
            Text(
                N_("%(url)s is not encrypted: plain http:// is only allowed for a hub on this machine"), url=repr(url)
            ),
            hint=Text(N_("Use the https:// address your hub operator sent you")),
        )
    return text


def make_http_client(settings: NodeSettings) -> httpx.Client:
    """The production HTTP client: TLS verified, timeouts from the settings, no redirects, proxies from env."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": user_agent("tipshare-node")},
    )


def checked_identity(identity: HubIdentity) -> HubIdentity:
    """``identity`` (``GET /v1/hub``, or as pinned in config.toml) once the node can work with it: the protocol it
    speaks, keys that parse, a log key named after the log's origin. Raises :class:`HubResponseInvalid`."""
    if identity.protocol_version != PROTOCOL_VERSION:
        raise HubResponseInvalid(
            Text(
                N_("the hub speaks protocol %(hub)s; this node speaks %(node)s"),
                hub=repr(identity.protocol_version),
                node=repr(PROTOCOL_VERSION),
            ),
            hint=Text(N_("Install the tipshare-node version your hub operator recommends.")),
        )
    try:
        verifier = identity.log_verifier
        identity.sealing_key  # noqa: B018 - parsed to check it
    except ProtocolError as e:
        raise HubResponseInvalid(Text(N_("the hub published an invalid key: %(error)s"), error=str(e))) from e
    if verifier.name != identity.log_origin:
        raise HubResponseInvalid(
            Text(
                N_("the hub's log key is named %(name)s, not %(origin)s"),
                name=repr(verifier.name),
                origin=repr(identity.log_origin),
            )
        )
    return identity


def pinned_identity(
    *, protocol_version: str, log_origin: str, log_vkey: str, encryption_key: str, taxonomy_id: str, taxonomy_hash: str
) -> HubIdentity:
    """The hub's identity as config.toml pins it (flat), checked as :func:`checked_identity` does."""
    try:
        identity = HubIdentity(
            protocol_version=protocol_version,
            log_origin=log_origin,
            log_vkey=log_vkey,
            encryption_key=encryption_key,
            taxonomy=PublishedTaxonomy(id=taxonomy_id, hash=taxonomy_hash),
        )
    except ValidationError:
        raise HubResponseInvalid(_TAXONOMY_UNNAMED) from None
    return checked_identity(identity)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The hub accepted the submission: ``created`` is True for a first acceptance (201), False for a repeat (200)."""

    receipt: Receipt
    created: bool


class HubClient:
    """Typed calls to one hub. Raises only :class:`~node.errors.NodeError` subclasses."""

    def __init__(self, http: httpx.Client, hub_url: str) -> None:
        self._http = http
        self._base = normalise_hub_url(hub_url)

    @property
    def hub_url(self) -> str:
        return self._base

    def identity(self) -> HubIdentity:
        """``GET /v1/hub``."""
        response, body = self._request("GET", "/v1/hub")
        self._expect_ok(response, body, "/v1/hub")
        try:
            identity = HubIdentity.model_validate_json(body)
        except ValidationError as e:
            if all(problem["loc"][:1] == ("taxonomy",) for problem in e.errors()):
                raise HubResponseInvalid(_TAXONOMY_UNNAMED) from None
            raise HubResponseInvalid(
                Text(N_("the hub's identity (GET /v1/hub) is not the tipshare/1 JSON document"))
            ) from None
        return checked_identity(identity)

    def handovers(self) -> list[HandoverProof]:
        """``GET /v1/hub/handovers``: the proofs of the hub's key handovers, unverified (see :mod:`node.repin`)."""
        response, body = self._request("GET", "/v1/hub/handovers")
        self._expect_ok(response, body, "/v1/hub/handovers")
        try:
            data = json.loads(body)
            if not isinstance(data, list):
                raise TypeError("not a list")
            return [HandoverProof.model_validate_json(json.dumps(item)) for item in data]
        except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
            raise HubResponseInvalid(
                Text(N_("the hub's key handovers (GET /v1/hub/handovers) are not valid"))
            ) from None

    def taxonomy(self, taxonomy_id: str, *, expected_hash: str) -> Taxonomy:
        """``GET /v1/taxonomy/{id}``, checked against the hash the identity named."""
        path = "/v1/taxonomy/" + quote(taxonomy_id, safe="/")
        response, body = self._request("GET", path)
        self._expect_ok(response, body, path)
        try:
            taxonomy = parse_taxonomy(body)
        except ProtocolError as e:
            raise HubResponseInvalid(
                Text(N_("the hub's taxonomy %(id)s is invalid: %(error)s"), id=taxonomy_id, error=str(e))
            ) from e
        if taxonomy.id != taxonomy_id or taxonomy.content_hash != expected_hash:
            raise HubResponseInvalid(
                Text(
                    N_("the hub sent taxonomy %(id)s (%(hash)s) for %(asked)s (%(expected)s)"),
                    id=taxonomy.id,
                    hash=taxonomy.content_hash,
                    asked=taxonomy_id,
                    expected=expected_hash,
                )
            )
        return taxonomy

    def submit(self, envelope_bytes: bytes) -> SubmitResult:
        """``POST /v1/submissions`` with the envelope's canonical bytes."""
        response, body = self._request(
            "POST", "/v1/submissions", content=envelope_bytes, headers={"Content-Type": "application/json"}
        )
        status = response.status_code
        if status in (200, 201):
            try:
                receipt = Receipt.from_json(body)
            except ProtocolError as e:
                raise HubResponseInvalid(
                    Text(N_("the hub accepted the submission but its receipt is malformed: %(error)s"), error=str(e))
                ) from e
            return SubmitResult(receipt=receipt, created=status == 201)
        if is_busy(status):
            raise HubUnreachable(
                Text(N_("the hub is busy or failing (%(status)s)"), status=_problem(response, body).line),
                retry_after=_retry_after(response),
            )
        if 400 <= status <= 499:
            problem = _problem(response, body)
            kind = SubmissionConflict if status == 409 else SubmissionRejected
            raise kind(
                Text(N_("the hub refused the submission: %(status)s"), status=problem.line),
                status=status,
                code=problem.code,
                detail=problem.detail,
                hint=_policy_hint(problem) if problem.code == "implausible_release" else None,
            )
        raise HubResponseInvalid(
            Text(N_("unexpected answer from the hub to a submission: %(status)s"), status=_problem(response, body).line)
        )

    def checkpoint(self) -> str | None:
        """``GET /v1/checkpoint``: the latest signed checkpoint note with its cosignatures (``None``: empty log)."""
        response, body = self._request("GET", "/v1/checkpoint")
        if response.status_code == 404:
            return None
        self._expect_ok(response, body, "/v1/checkpoint")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise HubResponseInvalid(Text(N_("the hub's checkpoint is not UTF-8 text"))) from None

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """``GET /v1/checkpoint/consistency``: unsigned hashes, to be checked against signed checkpoints."""
        path = f"/v1/checkpoint/consistency?first={first}&second={second}"
        response, body = self._request("GET", path)
        self._expect_ok(response, body, path)
        try:
            proof = ConsistencyProof.model_validate_json(body, strict=True).proof
            return [b64decode(node, what="consistency proof node") for node in proof]
        except (ValidationError, ProtocolError):
            raise HubResponseInvalid(
                Text(N_("the hub's answer to %(path)s is not a consistency proof"), path=path)
            ) from None

    def round_state(self, signed_read: bytes) -> RoundState | None:
        """``POST /v1/rounds/state`` with a member's signed read: the round as the hub shows it, unverified
        (``None``: the hub has no such round yet). Checked by :mod:`node.rounds`."""
        path = "/v1/rounds/state"
        response, body = self._request("POST", path, content=signed_read, headers={"Content-Type": "application/json"})
        if response.status_code == 404:
            return None
        self._expect_ok(response, body, path)
        try:
            return RoundState.model_validate_json(body, strict=True)
        except ValidationError:
            raise HubResponseInvalid(Text(N_("the hub's answer to %(path)s is not a round"), path=path)) from None

    def round_message(self, signed_message: bytes) -> bool:
        """``POST /v1/rounds/messages`` with a member's signed message; ``True`` if newly logged, ``False`` if the
        identical message was logged before. A refusal raises :class:`SubmissionRejected` whose ``code`` is the
        round rule the hub names."""
        path = "/v1/rounds/messages"
        response, body = self._request(
            "POST", path, content=signed_message, headers={"Content-Type": "application/json"}
        )
        status = response.status_code
        if status in (200, 201):
            return status == 201
        if is_busy(status):
            self._expect_ok(response, body, path)
        problem = _problem(response, body)
        raise SubmissionRejected(
            Text(N_("the hub refused the round message: %(status)s"), status=problem.line),
            status=status,
            code=problem.text("rule", 80) or problem.code,
            detail=problem.detail,
        )

    # ------------------------------------------------------------------ plumbing

    def _request(
        self, method: str, path: str, *, content: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[httpx.Response, bytes]:
        answer = exchange(
            self._http, method, self._base + path, limit=MAX_RESPONSE_BYTES, content=content, headers=headers
        )
        if not isinstance(answer, TransferFailure):
            return answer
        if answer.kind == "too-large":
            raise HubResponseInvalid(
                Text(
                    N_("the hub's answer to %(path)s is larger than %(limit)s bytes"),
                    path=path,
                    limit=MAX_RESPONSE_BYTES,
                )
            )
        if answer.kind == "timeout":
            raise HubUnreachable(
                Text(N_("the hub at %(url)s did not answer in time (%(error)s)"), url=self._base, error=answer.detail)
            )
        if answer.kind == "bad-url":
            raise ConfigError(
                Text(N_("the hub URL %(url)s cannot be used: %(error)s"), url=self._base, error=answer.detail)
            )
        raise HubUnreachable(
            Text(N_("cannot reach the hub at %(url)s: %(reason)s"), url=self._base, reason=answer.detail)
        )

    def _expect_ok(self, response: httpx.Response, body: bytes, path: str) -> None:
        status = response.status_code
        if status == 200:
            return
        if is_busy(status):
            raise HubUnreachable(
                Text(N_("the hub is busy or failing (%(status)s)"), status=_problem(response, body).line),
                retry_after=_retry_after(response),
            )
        raise HubResponseInvalid(
            Text(N_("the hub answered %(status)s to GET %(path)s"), status=_problem(response, body).line, path=path),
            hint=Text(N_("Check the hub URL (%(url)s) with your hub operator."), url=self._base),
        )


#: What a hotline can do about each plausibility rule the hub applies (``protocol.plausibility``).
_POLICY_HINTS: Final = {
    "period_cap": "The release spends more than the hub's period cap ({limit}) for this hotline. Lower `release` "
    "under [budget] in config.toml, or ask your hub operator to log a policy with a larger cap "
    "(`tipshare-hub hotline policy`).",
    "year_cap": "The release would take this hotline's spends of the year past the hub's year cap ({limit}). Wait "
    "for the next year, or ask your hub operator to log a policy with a larger year cap.",
    "noise_floor": "A table's noise is below the smallest scale ({limit}) the hub's period cap for this hotline "
    "allows. Lower `release` under [budget] in config.toml, or ask your hub operator about the hotline's caps.",
    "measure": "The hub's policy for this hotline does not cap this privacy measure ({value}). Use the mechanism "
    "the hub expects, or ask your hub operator to log a policy for it.",
    "first_period": "The month is before the first period the hub has for this hotline ({limit}). Ask your hub "
    "operator to approve a backfill (`tipshare-hub hotline backfill`), then run `tipshare-node submit` again.",
    "revision": "The hub expects revision {limit} of this month. Ask your hub operator which revisions it holds.",
    "cell_bound": "A count is larger than the hub's policy allows for a hotline of this size. If the data is right, "
    "ask your hub operator to log a larger maximum monthly volume (`tipshare-hub hotline policy`).",
    "table_bound": "A table adds up to more than the hub's policy allows for a hotline of this size. If the data "
    "is right, ask your hub operator to log a larger maximum monthly volume (`tipshare-hub hotline policy`).",
}


def _policy_hint(problem: Problem) -> str | None:
    """What to do about a refusal by one of the hub's plausibility rules (its problem names rule, limit, value)."""
    rule = problem.fields.get("rule")
    if rule not in _POLICY_HINTS:
        return None
    limit, value = (clean_text(str(problem.fields.get(name, "")), 60) for name in ("limit", "value"))
    return _POLICY_HINTS[str(rule)].format(limit=limit, value=value)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the hub asks the node to wait (``Retry-After``: seconds or an HTTP date), or ``None``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(0.0, (moment - datetime.now(UTC)).total_seconds()), _MAX_RETRY_AFTER)


def _problem(response: httpx.Response, body: bytes) -> Problem:
    return read_problem(response.status_code, response.headers.get("content-type", ""), body)
