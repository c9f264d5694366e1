# SPDX-License-Identifier: Apache-2.0
"""Secure rounds for members (:mod:`hub.services.secure_rounds`).

* ``POST /v1/rounds/messages`` — a member's signed message (share submission, masked submission or reveal):
  authenticated by its signature alone, like a submission, and as large as one may be (:mod:`hub.limits`).
  ``201`` when logged, ``200`` when the identical message was logged before.
* ``POST /v1/rounds/state`` — a member reads its round: the body is its signed, dated request
  (``SignedRoundRead``), checked like its messages; the answer is the round's step and deadlines and every log leaf
  of it so far (roster, committed set, members' messages, survivor set, result or failure).
* ``GET /v1/rounds/{group}/{period}`` (the latest round) and ``GET /v1/rounds/{group}/{period}/{round}`` — the
  same for auditors (a bearer token): the round holds the group's statistics, shown to no one else (coordinators
  read statistics through the answers, which respect their tokens' country scopes).

Reading a round first moves it on if a deadline has passed.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from hub.context import HubContext
from hub.db import write_session
from hub.deps import ContextDep, require
from hub.services.secure_rounds import Accepted, RoundView, SecureRounds
from hub.services.tokens import Principal
from protocol.api import RoundKeyEvent, RoundLeaf, RoundMessageAccepted, RoundState
from protocol.messages import IDENTIFIER_PATTERN, b64encode
from protocol.secagg.signed import SignedRoundMessage, SignedRoundRead

__all__ = ["router"]

router = APIRouter(tags=["rounds"])
#: Auditors only: a coordinator's token may be scoped to countries, and a round's result is a region's sum.
ReaderDep = Annotated[Principal, Depends(require("auditor"))]
_GROUP = IDENTIFIER_PATTERN
_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _leaf(index: int, data: bytes) -> RoundLeaf:
    return RoundLeaf(leaf_index=index, entry=b64encode(data))


def _public(view: RoundView) -> RoundState:
    row = view.round
    return RoundState(
        group=row.group_id,
        period=row.period,
        round=row.round_number,
        step=row.step,
        shares_due=row.shares_due,
        masked_due=row.masked_due,
        reveal_due=row.reveal_due,
        steps={name: _leaf(*leaf) for name, leaf in view.steps.items()},
        shares=[_leaf(*leaf) for leaf in view.messages["shares"]],
        masked=[_leaf(*leaf) for leaf in view.messages["masked"]],
        reveals=[_leaf(*leaf) for leaf in view.messages["reveal"]],
        key_events=[
            RoundKeyEvent(leaf_index=index, entry=b64encode(data), inclusion_proof=[b64encode(n) for n in proof])
            for index, data, proof in view.key_events
        ],
        checkpoint=view.checkpoint,
    )


def _accept(context: HubContext, signed: SignedRoundMessage) -> Accepted:
    with write_session(context.sessions) as session:
        return SecureRounds(context, session).accept(signed, now=context.clock())


def _read(context: HubContext, group: str, period: str, number: int | None) -> RoundState:
    with write_session(context.sessions) as session:  # a deadline that passed moves the round on first
        rounds = SecureRounds(context, session)
        row = rounds.find(group, period, number)
        rounds.advance(row, now=context.clock())
        return _public(rounds.view(row))


def _read_as_member(context: HubContext, signed: SignedRoundRead) -> RoundState:
    with write_session(context.sessions) as session:
        rounds = SecureRounds(context, session)
        now = context.clock()
        row = rounds.read_as_member(signed, now=now)
        rounds.advance(row, now=now)
        return _public(rounds.view(row))


_SIGNED: Final = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SignedRoundMessage.model_json_schema()}},
    }
}
_REFUSALS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"description": "Not a signed round message"},
    403: {"description": "Not signed by the member's valid key (rule)"},
    404: {"description": "No such group or round (rule)"},
    409: {"description": "A second, different message; the step's deadline passed; the step is not open (rule)"},
    413: {"description": "Body too large"},
    422: {"description": "The message breaks a rule of the round (rule)"},
}


@router.post(
    "/v1/rounds/messages",
    status_code=201,
    response_model=RoundMessageAccepted,
    summary="Send a member's signed message of a secure round",
    openapi_extra=_SIGNED,
    responses={200: {"description": "The identical message was logged before"}, **_REFUSALS},
)
async def post_message(request: Request, context: ContextDep) -> Response:
    """The body is a ``SignedRoundMessage`` made with ``protocol.secagg.signed.sign_member_message``."""
    signed = SignedRoundMessage.from_json(await request.body())
    accepted = await run_in_threadpool(_accept, context, signed)
    body = RoundMessageAccepted(leaf_index=accepted.leaf_index, message_hash=accepted.message_hash)
    return Response(body.model_dump_json(), status_code=201 if accepted.created else 200, media_type="application/json")


@router.post(
    "/v1/rounds/state",
    response_model=RoundState,
    summary="A member reads its round (signed request)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SignedRoundRead.model_json_schema()}},
        }
    },
    responses={k: v for k, v in _REFUSALS.items() if k in (400, 403, 404, 422)},
)
async def member_state(request: Request, context: ContextDep) -> RoundState:
    """The body is a ``SignedRoundRead`` made with ``protocol.secagg.signed.sign_round_read``."""
    signed = SignedRoundRead.from_json(await request.body())
    return await run_in_threadpool(_read_as_member, context, signed)


@router.get(
    "/v1/rounds/{group}/{period}",
    response_model=RoundState,
    summary="The latest round of a month",
    responses={404: {"description": "No such aggregation group, or no round of it for this month"}},
)
def latest_round(
    group: Annotated[str, Path(pattern=_GROUP)],
    period: Annotated[str, Path(pattern=_PERIOD)],
    _reader: ReaderDep,
    context: ContextDep,
) -> RoundState:
    return _read(context, group, period, None)


@router.get(
    "/v1/rounds/{group}/{period}/{number}",
    response_model=RoundState,
    summary="One round of a month",
    responses={404: {"description": "No such aggregation group or round"}},
)
def one_round(
    group: Annotated[str, Path(pattern=_GROUP)],
    period: Annotated[str, Path(pattern=_PERIOD)],
    number: Annotated[int, Path(ge=0, lt=2**32)],
    _reader: ReaderDep,
    context: ContextDep,
) -> RoundState:
    return _read(context, group, period, number)
