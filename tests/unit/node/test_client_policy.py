# SPDX-License-Identifier: Apache-2.0
"""A release the hub refuses by one of its plausibility rules: the node names the rule's limit and says whom to ask."""

from __future__ import annotations

import json

import httpx
import pytest

from node.client import HubClient
from node.errors import SubmissionRejected
from tests.unit.node.fakehub import HUB_URL


def _refusal(rule: str, limit: str, value: str, detail: str) -> HubClient:
    body = json.dumps(
        {
            "type": "https://tipshare.org/problems/implausible_release",
            "title": "Release refused as implausible",
            "status": 422,
            "detail": detail,
            "code": "implausible_release",
            "rule": rule,
            "limit": limit,
            "value": value,
        }
    ).encode()
    headers = {"content-type": "application/problem+json"}
    handler = lambda _request: httpx.Response(422, content=body, headers=headers)  # noqa: E731
    return HubClient(httpx.Client(transport=httpx.MockTransport(handler)), HUB_URL)


@pytest.mark.parametrize(
    ("rule", "limit", "mentions"),
    [
        ("period_cap", "0.2", ("period cap (0.2)", "[budget]", "tipshare-hub hotline policy")),
        ("year_cap", "1.5", ("year cap (1.5)",)),
        ("first_period", "2024-11", ("(2024-11)", "tipshare-hub hotline backfill")),
        ("revision", "2", ("revision 2",)),
        ("cell_bound", "[-27, 10027]", ("maximum monthly volume",)),
    ],
)
def test_a_refusal_by_a_plausibility_rule_says_which_limit_and_what_to_do(
    rule: str, limit: str, mentions: tuple[str, ...]
) -> None:
    detail = f"ua-a 2026-10 revision 1: broke {rule}"
    with pytest.raises(SubmissionRejected) as refused:
        _refusal(rule, limit, "x", detail).submit(b"{}")
    assert (refused.value.status, refused.value.code) == (422, "implausible_release")
    assert detail in str(refused.value)
    for mention in mentions:
        assert mention in (refused.value.next_step or ""), refused.value.next_step
