# SPDX-License-Identifier: Apache-2.0
"""What the hub answers for a round, against the log (issue 18).

>>> compare_published(key, client.round(*key), audit.results.get(key), size=size)      # doctest: +SKIP

For each round that is over, ``GET /v1/rounds/{group}/{period}/{round}`` must show the logged result entry (the
same leaf index and bytes), and none for a round the log ends as failed: a hub answering from another sum than the
logged one, or hiding the logged one, is a ``published-differs`` finding (:func:`auditor.rounds.round_failure`). A
round the hub does not serve (404) is not compared; a result logged after the checkpoint the run verified is left
for a later run.
"""

from __future__ import annotations

from auditor.findings import Failure
from auditor.i18n import T_
from auditor.rounds import RoundKey, round_failure
from protocol.api import RoundState
from protocol.errors import ProtocolError, SecureAggregationError
from protocol.messages import SecaggStepEntry, b64decode, parse_log_entry
from protocol.secagg.messages import RoundResult
from protocol.secagg.signed import step_message

__all__ = ["compare_published"]


def compare_published(
    key: RoundKey, answer: RoundState | None, logged: tuple[int, bytes] | None, *, size: int
) -> Failure | None:
    """The hub's answer for round ``key`` (``None``: it publishes none) against the log's result entry
    ``(index, leaf bytes)`` (``None``: the log holds no result); ``size`` is the verified tree size."""
    if answer is None:
        return None
    shown = answer.steps.get("result")
    if shown is None:
        if logged is not None:
            return round_failure(key, "published-differs", index=logged[0], detail=T_("the hub shows no result"))
        return None
    leaf_index, entry = shown.leaf_index, shown.entry
    if leaf_index >= size:
        return None  # logged after the checkpoint this run verified: a later run compares it
    try:
        data = b64decode(entry, what="entry")
    except ProtocolError as e:
        return round_failure(key, "published-differs", index=leaf_index, detail=str(e))
    if logged is None or (leaf_index, data) != logged:
        return round_failure(key, "published-differs", index=leaf_index, detail=_sum_of(data, logged))
    return None


def _sum_of(data: bytes, logged: tuple[int, bytes] | None) -> str:
    """How the hub's result differs from the logged one, in cells (or why it cannot be said)."""
    if logged is None:
        return T_("the log holds no result for this round")
    try:
        shown, held = _result_message(data), _result_message(logged[1])
    except ProtocolError:
        return T_("the hub's result is not a result entry")
    differing = sum(1 for a, b in zip(shown.sum, held.sum, strict=False) if a != b)
    return T_("{n} cells differ", n=differing)


def _result_message(data: bytes) -> RoundResult:
    entry = parse_log_entry(data)
    if not isinstance(entry, SecaggStepEntry):
        raise SecureAggregationError("not a step entry")
    message = step_message(entry)
    if not isinstance(message, RoundResult):
        raise SecureAggregationError("not a result")
    return message
