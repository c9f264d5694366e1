# SPDX-License-Identifier: Apache-2.0
"""Operator routes (role admin): enroll hotlines, rotate and revoke keys, issue tokens. Key events are logged."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path

from hub.deps import ContextDep, ReadRegistryDep, ReadSessionDep, RegistryDep, WriteSessionDep, require
from hub.models import ApiToken
from hub.routes.hotline_policies import terms_of
from hub.schemas import (
    HOTLINE_ID_PATTERN,
    KEY_ID_PATTERN,
    MAX_ID,
    HotlineCreate,
    HotlinePublic,
    KeyEventPublic,
    KeyPublic,
    KeyRevoke,
    KeyRevokedPublic,
    KeyRotate,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)
from hub.services.registry import HotlineSummary, KeyEvent
from hub.services.tokens import Principal, TokenService
from hub.services.withdrawals import Withdrawals

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])
AdminDep = Annotated[Principal, Depends(require("admin"))]


def _event(event: KeyEvent) -> KeyEventPublic:
    return KeyEventPublic(
        hotline_id=event.hotline_id,
        key_id=event.key_id,
        log_index=event.appended.index,
        tree_size=event.appended.checkpoint.size,
    )


def _hotline(summary: HotlineSummary) -> HotlinePublic:
    return HotlinePublic(
        id=summary.id,
        display_name=summary.display_name,
        country=summary.country,
        enrolled_at=summary.enrolled_at,
        keys=[
            KeyPublic(
                key_id=k.key_id,
                public_key=k.public_key,
                valid_from=k.valid_from,
                valid_until=k.valid_until,
                revoked_at=k.revoked_at,
                revoke_reason=k.revoke_reason,
                log_index=k.log_index,
                sealing_key=k.sealing_key,
            )
            for k in summary.keys
        ],
    )


_Responses = dict[int | str, dict[str, Any]]
_BAD_KEY: Final[_Responses] = {400: {"description": "Not a hotline public key (ed25519:<base64>)"}}
_KEY_IN_USE: Final[_Responses] = {409: {"description": "The hotline or the key is already enrolled"}}


@router.post(
    "/hotlines",
    status_code=201,
    response_model=KeyEventPublic,
    summary="Enroll a hotline and its key",
    responses={**_BAD_KEY, **_KEY_IN_USE},
)
def enroll(body: HotlineCreate, _admin: AdminDep, context: ContextDep, registry: RegistryDep) -> KeyEventPublic:
    event = registry.enroll(
        hotline_id=body.id,
        display_name=body.display_name,
        country=body.country,
        public_key=body.public_key,
        now=context.clock(),
        policy=terms_of(body.policy) if body.policy is not None else None,
        deadline_days=context.settings.deadline_days,
        sealing_key=body.sealing_key,
    )
    return _event(event)


@router.get("/hotlines", response_model=list[HotlinePublic], summary="Enrolled hotlines and their key history")
def hotlines(_admin: AdminDep, registry: ReadRegistryDep) -> list[HotlinePublic]:
    return [_hotline(summary) for summary in registry.hotlines()]


@router.post(
    "/hotlines/{hotline_id}/keys",
    status_code=201,
    response_model=KeyEventPublic,
    summary="Rotate a hotline's key",
    responses={**_BAD_KEY, 404: {"description": "No such hotline"}, **_KEY_IN_USE},
)
def rotate(
    hotline_id: Annotated[str, Path(pattern=HOTLINE_ID_PATTERN)],
    body: KeyRotate,
    _admin: AdminDep,
    context: ContextDep,
    registry: RegistryDep,
) -> KeyEventPublic:
    return _event(
        registry.rotate(
            hotline_id=hotline_id, public_key=body.public_key, now=context.clock(), sealing_key=body.sealing_key
        )
    )


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyRevokedPublic,
    response_model_exclude_none=True,
    summary="Revoke a key, with a reason (and, for a stolen key, since when it is compromised)",
    responses={
        400: {"description": "The reason is blank, or compromised_since is in the future"},
        404: {"description": "No such key"},
        409: {"description": "The key is already revoked"},
    },
)
def revoke(
    key_id: Annotated[str, Path(pattern=KEY_ID_PATTERN)],
    body: KeyRevoke,
    _admin: AdminDep,
    context: ContextDep,
    session: WriteSessionDep,
    registry: RegistryDep,  # in the same writer transaction as ``session`` (FastAPI builds each dependency once)
) -> KeyRevokedPublic:
    if body.compromised_since is not None:
        revoked = Withdrawals(context, session).revoke_compromised(
            key_id=key_id, reason=body.reason, since=body.compromised_since, now=context.clock()
        )
        withdrawn = [w.submission_id for w in revoked.withdrawn]
        return KeyRevokedPublic(**_event(revoked.event).model_dump(), withdrawn_submissions=withdrawn)
    return KeyRevokedPublic(
        **_event(registry.revoke(key_id=key_id, reason=body.reason, now=context.clock())).model_dump()
    )


def _token(record: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=record.id,
        role=record.role,
        label=record.label,
        countries=record.countries.split(",") if record.countries else None,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
    )


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Issue a token (shown once)",
    responses={400: {"description": "A blank label, or countries on a token that is not a coordinator's"}},
)
def create_token(body: TokenCreate, _admin: AdminDep, context: ContextDep, session: WriteSessionDep) -> TokenCreated:
    created = TokenService(session).create(
        role=body.role,
        label=body.label,
        now=context.clock(),
        expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
        countries=frozenset(body.countries) if body.countries is not None else None,
    )
    return TokenCreated(**_token(created.record).model_dump(), token=created.token)


@router.get("/tokens", response_model=list[TokenPublic], summary="Issued tokens (never the tokens themselves)")
def list_tokens(_admin: AdminDep, session: ReadSessionDep) -> list[TokenPublic]:
    return [_token(record) for record in TokenService(session).list()]


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenPublic,
    summary="Revoke a token",
    responses={404: {"description": "No such token"}},
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    _admin: AdminDep,
    context: ContextDep,
    session: WriteSessionDep,
) -> TokenPublic:
    return _token(TokenService(session).revoke(token_id, now=context.clock()))
