# SPDX-License-Identifier: Apache-2.0
"""What the API fuzzer (``tests/integration/test_api_fuzz.py``) sends, built on schemathesis.

:class:`CaseSource` turns an operation of the hub's OpenAPI document into a Hypothesis strategy of requests, in
three kinds: cases that fit the schema, the same with some parameters replaced by this hub's real values
(:class:`~tests.support.apifuzz.Pools`: tables, hotlines, keys, tokens, periods, log sizes, and for submissions
genuine or cut-and-pasted envelopes), and cases that break the schema. Hints are put only into fitting cases, so
that schemathesis's ``negative_data_rejection`` judges the broken ones as generated. :data:`GARBAGE_BEARER` draws
hostile ``Authorization`` headers; :func:`client_request` turns a case into ``TestClient.request`` arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st
from schemathesis import GenerationMode

from protocol.canonical import canonical_bytes
from protocol.crypto import SigningKey
from tests.support.apifuzz import Pools

__all__ = [
    "GARBAGE_BEARER",
    "CaseSource",
    "apply_hints",
    "client_request",
    "operation_definition",
    "operation_roles",
    "public_key_text",
    "request_text",
    "spliced_envelope",
]

_ASCII: Final = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
GARBAGE_BEARER: Final = st.one_of(
    st.sampled_from(
        [
            "Bearer",
            "Bearer ",
            "Bearer tsh_",
            "bearer  tsh_unknown  ",
            "Basic dXNlcjpwYXNz",
            "Bearer tsh_" + "A" * 43,
            "Bearer tsh_" + "a" * 5000,
            "Bearer tsh_' OR '1'='1",
            "Bearer tsh_../../keys/log.ed25519",
            "Bearer Bearer tsh_x",
            "Token tsh_x",
        ]
    ),
    st.text(_ASCII, max_size=120).map(lambda text: "Bearer " + text),
    st.text(_ASCII, max_size=60),
)


def operation_definition(raw_schema: dict[str, Any], operation: Any) -> dict[str, Any]:
    """The operation's object in the OpenAPI document."""
    found: dict[str, Any] = raw_schema["paths"][operation.path][operation.method.lower()]
    return found


def operation_roles(raw_schema: dict[str, Any], operation: Any) -> set[str] | None:
    """The roles the operation's security requirement accepts; None for a public operation."""
    requirements = operation_definition(raw_schema, operation).get("security")
    if not requirements:
        return None
    return {role for requirement in requirements for roles in requirement.values() for role in roles}


@dataclass(frozen=True, slots=True)
class CaseSource:
    """Strategies of (schemathesis case, raw body or None) for the operations of one hub."""

    pools: Pools
    raw_schema: dict[str, Any]

    def cases(self, operation: Any) -> st.SearchStrategy[tuple[Any, bytes | None]]:
        positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
        hinted = st.tuples(positive, self.hints(operation)).map(lambda pair: apply_hints(*pair))
        branches = [positive.map(lambda case: (case, None)), hinted, hinted]  # hinted cases half of the time
        definition = operation_definition(self.raw_schema, operation)
        if definition.get("parameters") or definition.get("requestBody"):
            negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            branches.append(negative.map(lambda case: (case, None)))
        return st.one_of(branches)

    def hints(self, operation: Any) -> st.SearchStrategy[dict[str, Any]]:
        """Real values of this hub for the operation's path parameters, some of its query parameters (and for the
        statistics, filters on the dimensions of the table in the path), its body, or (submissions) the raw body.

        With ``only``, the query holds the hinted parameters alone (and the required ones), not also the optional
        ones schemathesis filled with arbitrary text, which the services would refuse before doing anything."""
        if "{table}" not in operation.path:
            return self._hints(operation, None)
        hostile = ["no_such_table", "persons%00corridor", "..%2f..%2fkeys"]
        tables = st.one_of(st.sampled_from(self.pools.tables), st.sampled_from(hostile))
        return tables.flatmap(lambda table: self._hints(operation, table))

    def _hints(self, operation: Any, table: str | None) -> st.SearchStrategy[dict[str, Any]]:
        pools = self.pools
        values = self._values(table)
        declared = operation_definition(self.raw_schema, operation).get("parameters", [])
        path = {p["name"]: values[p["name"]] for p in declared if p["in"] == "path" and p["name"] in values}
        query = {p["name"]: values[p["name"]] for p in declared if p["in"] == "query" and p["name"] in values}
        if operation.path.startswith("/v1/exports/"):  # these read their parameters themselves
            query |= {name: values[name] for name in ("period_from", "period_to", "country", "hotline", "group_by")}
        if table in pools.tables:
            for dimension in pools.table_dimensions[table]:
                codes = pools.dimensions[dimension]
                query[dimension] = st.lists(st.sampled_from(codes), min_size=1, max_size=3).map(",".join)
        return st.fixed_dictionaries(
            {
                "path": st.fixed_dictionaries(path),
                "query": st.fixed_dictionaries({}, optional=query),
                "only": st.booleans(),
                "required": st.just(frozenset(p["name"] for p in declared if p.get("required"))),
                "raw": self.raw_bodies(operation),
                "body": self.body_hints(),
            },
        )

    def _values(self, table: str | None) -> dict[str, st.SearchStrategy[Any]]:
        """Hint values by parameter name: mostly real, some hostile. Path values go into the URL as they are, so
        the hostile ones are percent-encoded here."""
        pools = self.pools

        def mostly(real: list[Any], hostile: list[Any]) -> st.SearchStrategy[Any]:
            return st.one_of(st.sampled_from(real), st.sampled_from(hostile))

        periods = mostly(["2026-06", "2026-07", "2026-09", "2026-10", "2025-11"], ["2000-01", "2026-13", "9999-12"])
        numbers = st.integers(0, pools.log_size + 1)
        dimensions = [*pools.table_dimensions.get(table or "", pools.dimensions), "period"]
        return {
            "table": st.just(table),
            "taxonomy_id": mostly([pools.taxonomy_id], [pools.taxonomy_id + "/..", "..%2fkeys", "%00"]),
            "hotline_id": mostly(list(pools.spare_hotline_ids), ["no-such-hotline", "ua-%00spare"]),
            "key_id": mostly(list(pools.key_ids), ["0" * 32]),
            "token_id": st.sampled_from(pools.token_ids),
            "submission_id": st.sampled_from(pools.submission_ids),
            "period_from": periods,
            "period_to": periods,
            "country": mostly(["UA", "MD", "RO", "PL"], ["ZZ", "ua", "XX"]),
            "hotline": mostly(list(pools.hotline_ids), ["no-such-hotline"]),
            "group_by": st.lists(st.sampled_from(dimensions), max_size=3).map(",".join),
            "format": st.sampled_from(["json", "csv", "sdmx-csv"]),
            "clip": st.sampled_from(["true", "false", "on", "maybe"]),
            "since": st.sampled_from(["2026-11-01T00:00:00Z", "2026-11-21T12:00:00+00:00", "yesterday"]),
            **dict.fromkeys(("start", "end", "index", "tree_size", "first", "second", "after"), numbers),
        }

    def body_hints(self) -> st.SearchStrategy[dict[str, Any]]:
        """A valid new public key always (what random text never is), and some other real or hostile fields."""
        keys = st.binary(min_size=32, max_size=32).map(public_key_text)
        text = st.sampled_from([" ", "compromised", "x" * 500, "NUL \x00 inside", "\u202eRTL", "<script>x</script>"])
        return st.fixed_dictionaries(
            {"public_key": keys},
            optional={
                "id": st.sampled_from([*self.pools.hotline_ids, "fuzz-new-hotline"]),
                "country": st.sampled_from(["UA", "RO", "ZZ"]),
                **dict.fromkeys(("reason", "label", "display_name"), text),
            },
        )

    def raw_bodies(self, operation: Any) -> st.SearchStrategy[bytes | None]:
        """For submissions: genuine envelopes (new ones, and ones already accepted), and cut-and-paste of two."""
        if operation.path != "/v1/submissions":
            return st.none()
        known = self.pools.envelopes
        envelopes = st.integers(0, len(known) - 1).map(known.__getitem__)  # (not sampled_from: a 100 kB repr)
        members = st.sampled_from(["hotline_id", "key_id", "sealed", "signature"])
        return st.one_of(envelopes, st.builds(spliced_envelope, envelopes, envelopes, members))


def apply_hints(case: Any, hints: dict[str, Any]) -> tuple[Any, bytes | None]:
    """Put real values into a case that fits the schema (the values fit it too, so the case still does)."""
    case.path_parameters = {**(case.path_parameters or {}), **hints["path"]}
    generated = case.query or {}
    if hints["only"]:
        generated = {name: value for name, value in generated.items() if name in hints["required"]}
    if generated or hints["query"]:
        case.query = {**generated, **hints["query"]}
    if isinstance(case.body, dict) and hints.get("body"):
        case.body = {**case.body, **{k: v for k, v in hints["body"].items() if k in case.body}}
    return case, hints.get("raw")


def client_request(case: Any, raw: bytes | None, header: str | None) -> dict[str, Any]:
    """The case as arguments of ``TestClient.request``, sent with the caller's ``Authorization`` (if any)."""
    kwargs = dict(case.as_transport_kwargs())
    headers = {k: v for k, v in kwargs.pop("headers").items() if k.lower() != "authorization"}
    if header is not None:
        headers["Authorization"] = header
    request: dict[str, Any] = {"method": kwargs.pop("method"), "url": kwargs.pop("url"), "headers": headers}
    params = kwargs.pop("params", None)
    if params:
        request["params"] = params
    if kwargs.pop("cookies", None):
        raise AssertionError("this API declares no cookies, yet the case has some")
    if raw is not None:
        kwargs.pop("json", None)
        kwargs.pop("data", None)
        request["content"] = raw
        headers["Content-Type"] = "application/json"
    elif "json" in kwargs:
        request["json"] = kwargs.pop("json")
    elif "data" in kwargs:
        request["content"] = kwargs.pop("data")
    assert not kwargs, f"unexpected request arguments from schemathesis: {sorted(kwargs)}"
    return request


def request_text(request: dict[str, Any]) -> str:
    if "json" in request:
        return json.dumps(request["json"], default=str)
    content = request.get("content", b"")
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


def spliced_envelope(first: bytes, second: bytes, member: str) -> bytes:
    """``first`` with one member taken from ``second``: a cut-and-paste of two genuine envelopes."""
    document = json.loads(first)
    document[member] = json.loads(second)[member]
    return canonical_bytes(document)


def public_key_text(seed: bytes) -> str:
    return SigningKey(seed).verify_key.to_text()
