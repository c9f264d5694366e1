# SPDX-License-Identifier: Apache-2.0
"""What ``tipshare-hub`` prints: rich text and tables for the operator, plain JSON documents for scripts (``--json``).

Each view has a ``*_document`` function (a JSON-ready dict) and a ``show_*`` function that renders the same
information. Nothing secret is ever shown here except a new bearer token, once, by :func:`show_token_created`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from hub.cli.text import cell, markup_safe
from hub.context import HubContext
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE
from hub.models import ApiToken, HotlineKey, LogCheckpoint
from hub.services.registry import HotlineSummary, KeyEvent
from hub.services.tokens import token_status
from protocol.crypto import VerifyKey, fingerprint
from protocol.messages import PROTOCOL_VERSION, HotlinePolicyEntry, format_timestamp
from protocol.taxonomy import Taxonomy

__all__ = [
    "checkpoint_document",
    "console",
    "emit_json",
    "error_console",
    "hotlines_document",
    "identity_document",
    "key_event_document",
    "show_hotlines",
    "show_identity",
    "show_key_event",
    "show_taxonomies",
    "show_taxonomy_switch",
    "show_token_created",
    "show_tokens",
    "taxonomies_document",
    "token_document",
]


def console() -> Console:
    """A console on stdout; 120 columns when it is not a terminal, so piped output does not wrap."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=120)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def emit_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def key_fingerprint(public_key: str) -> str:
    return fingerprint(bytes(VerifyKey.from_text(public_key)))


# ---------------------------------------------------------------------------- identity


def identity_document(context: HubContext) -> dict[str, Any]:
    verifier = context.log_signer.verifier
    sealing_key = context.keys.envelope.public_key
    settings = context.settings
    return {
        "protocol_version": PROTOCOL_VERSION,
        "log_origin": context.origin,
        "log_vkey": verifier.vkey,
        "log_key_fingerprint": fingerprint(bytes(verifier.key)),
        "encryption_key": sealing_key.to_text(),
        "encryption_key_fingerprint": fingerprint(bytes(sealing_key)),
        "taxonomy_id": context.taxonomy.id,
        "taxonomy_hash": context.taxonomy.content_hash,
        "data_dir": str(settings.data_dir),
        "keys_dir": str(settings.keys_dir),
        "key_files": [str(settings.keys_dir / ENVELOPE_KEY_FILE), str(settings.keys_dir / LOG_KEY_FILE)],
        "database_url": context.engine.url.render_as_string(hide_password=True),
    }


def show_identity(out: Console, document: dict[str, Any], *, created: bool) -> None:
    if created:
        out.print(f"Hub initialised in {document['data_dir']}", soft_wrap=True)
    else:
        out.print(f"Hub in {document['data_dir']}", soft_wrap=True)
    out.print(f"  log origin:      {document['log_origin']}", soft_wrap=True)
    out.print(f"  log vkey:        {document['log_vkey']}", soft_wrap=True)
    out.print(f"  encryption key:  {document['encryption_key']}", soft_wrap=True)
    out.print(f"  taxonomy:        {document['taxonomy_id']} ({document['taxonomy_hash']})", soft_wrap=True)
    out.print(f"  protocol:        {document['protocol_version']}")
    out.print(f"  private keys:    {document['keys_dir']} (readable only by you; back them up)", soft_wrap=True)
    out.print(f"  database:        {document['database_url']}", soft_wrap=True)
    out.print("\nFingerprints for out-of-band checks. Each hotline's `tipshare-node init` prints the same two lines;")
    out.print("compare them by phone or in person before the hotline submits anything:")
    out.print(f"  log key ({document['log_origin']}):  {document['log_key_fingerprint']}", soft_wrap=True)
    out.print(f"  encryption key:  {document['encryption_key_fingerprint']}")
    if created:
        out.print(
            "\nNext: `tipshare-hub serve`, enroll hotlines with `tipshare-hub hotline add`, and issue tokens with "
            "`tipshare-hub token create`. Keep a backup of the keys directory: a lost log key orphans every "
            "receipt the hub has issued.",
            soft_wrap=True,
        )


# ---------------------------------------------------------------------------- hotlines and keys


def _key_status(key: HotlineKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.valid_until is not None:
        return "rotated"
    return "current"


def _key_document(key: HotlineKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "public_key": key.public_key,
        "fingerprint": key_fingerprint(key.public_key),
        "status": _key_status(key),
        "valid_from": _stamp(key.valid_from),
        "valid_until": _stamp(key.valid_until),
        "revoked_at": _stamp(key.revoked_at),
        "revoke_reason": key.revoke_reason,
        "log_index": key.log_index,
    }


def hotlines_document(summaries: Sequence[HotlineSummary]) -> list[dict[str, Any]]:
    return [
        {
            "id": summary.id,
            "display_name": summary.display_name,
            "country": summary.country,
            "enrolled_at": _stamp(summary.enrolled_at),
            "current_key_id": summary.current_key.key_id if summary.current_key else None,
            "keys": [_key_document(key) for key in summary.keys],
        }
        for summary in summaries
    ]


def show_hotlines(out: Console, document: list[dict[str, Any]]) -> None:
    if not document:
        out.print("No hotline is enrolled yet: `tipshare-hub hotline add` enrolls one.")
        return
    hotlines = Table(title=f"Enrolled hotlines ({len(document)})", title_justify="left")
    hotlines.add_column("Hotline", overflow="fold")
    hotlines.add_column("Name", overflow="fold")
    hotlines.add_column("Country")
    hotlines.add_column("Current key: id, fingerprint", no_wrap=True)
    hotlines.add_column("Enrolled", no_wrap=True)
    hotlines.add_column("Keys", overflow="fold")
    for hotline in document:
        current = next((k for k in hotline["keys"] if k["key_id"] == hotline["current_key_id"]), None)
        hotlines.add_row(
            cell(hotline["id"]),
            cell(hotline["display_name"]),
            cell(hotline["country"]),
            f"{current['key_id']}\n{current['fingerprint']}" if current else "[bold]none: cannot submit[/bold]",
            _day(hotline["enrolled_at"]),
            _key_counts(hotline["keys"]),
        )
    out.print(hotlines)
    history = Table(title="Key history (times in UTC; entry: the log entry that added the key)", title_justify="left")
    history.add_column("Hotline", overflow="fold")
    history.add_column("Key id", no_wrap=True)
    history.add_column("Status", overflow="fold")
    history.add_column("From", no_wrap=True)
    history.add_column("Until", no_wrap=True)
    history.add_column("Entry", justify="right")
    history.add_column("Reason", overflow="fold")
    for hotline in document:
        for key in hotline["keys"]:
            history.add_row(
                cell(hotline["id"]),
                cell(key["key_id"]),
                key["status"],
                _minute(key["valid_from"]),
                _minute(key["revoked_at"] or key["valid_until"]),
                str(key["log_index"]),
                cell(key["revoke_reason"] or ""),
            )
    out.print(history)


def _key_counts(keys: list[dict[str, Any]]) -> str:
    ended = [
        f"{n} {status}" for status in ("rotated", "revoked") if (n := sum(1 for k in keys if k["status"] == status))
    ]
    return f"{len(keys)} ({', '.join(ended)})" if ended else str(len(keys))


def _day(stamp: str | None) -> str:
    return "-" if stamp is None else stamp[:10]


def _minute(stamp: str | None) -> str:
    return "-" if stamp is None else stamp[:16].replace("T", " ")


def key_event_document(action: str, event: KeyEvent, *, public_key: str, previous_key_id: str | None) -> dict[str, Any]:
    return {
        "action": action,
        "hotline_id": event.hotline_id,
        "key_id": event.key_id,
        "fingerprint": key_fingerprint(public_key),
        "previous_key_id": previous_key_id,
        "log_index": event.appended.index,
        "tree_size": (event.policy.appended if event.policy else event.appended).checkpoint.size,
        **(
            {
                "policy": {
                    "log_index": event.policy.appended.index,
                    "reporting_from": event.policy.entry.reporting_from
                    if isinstance(event.policy.entry, HotlinePolicyEntry)
                    else None,
                }
            }
            if event.policy is not None
            else {}
        ),
    }


def show_key_event(out: Console, document: dict[str, Any], *, display_name: str, country: str) -> None:
    display_name, country = markup_safe(display_name), markup_safe(country)
    hotline, key_id = document["hotline_id"], document["key_id"]
    action = document["action"]
    if action == "enrolled":
        out.print(f"Enrolled hotline {hotline} ({display_name}, {country}).", soft_wrap=True)
    elif action == "rotated":
        replaced = f" It replaces key {document['previous_key_id']}." if document["previous_key_id"] else ""
        out.print(f"New key for hotline {hotline} ({display_name}).{replaced}", soft_wrap=True)
    else:
        out.print(f"Revoked key {key_id} of hotline {hotline} ({display_name}).", soft_wrap=True)
    out.print(f"  key id:       {key_id}")
    out.print(f"  fingerprint:  {document['fingerprint']}")
    policy = document.get("policy")
    if policy is not None:
        out.print(f"  its policy logged as entry {policy['log_index']}", end="")
        if policy["reporting_from"] is not None:
            out.print(f": expected to report from {policy['reporting_from']} on", end="")
        out.print(".")
    out.print(f"  logged as entry {document['log_index']}; the log now holds {document['tree_size']} entries.")
    if action != "revoked":
        out.print(
            "Check the key id with the hotline (their `tipshare-node init` printed it) by phone or in person.",
            soft_wrap=True,
        )


# ---------------------------------------------------------------------------- taxonomies


def taxonomies_document(
    taxonomies: Sequence[Taxonomy], current: str | None, usage: dict[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    return [
        {
            "id": taxonomy.id,
            "hash": taxonomy.content_hash,
            "title": taxonomy.title,
            "tables": len(taxonomy.tables),
            "cells": taxonomy.total_cells,
            "current": taxonomy.id == current,
            "current_submissions": usage.get(taxonomy.id, (0, 0))[0],
            "hotlines": usage.get(taxonomy.id, (0, 0))[1],
        }
        for taxonomy in taxonomies
    ]


def show_taxonomies(out: Console, document: list[dict[str, Any]]) -> None:
    table = Table(
        title="Taxonomies this hub accepts (* current: GET /v1/hub names it, new nodes follow it)",
        title_justify="left",
    )
    for column in ("", "Id", "Tables", "Cells", "Current submissions", "Hotlines", "Content hash"):
        table.add_column(column, overflow="fold")
    for taxonomy in document:
        table.add_row(
            "*" if taxonomy["current"] else "",
            taxonomy["id"],
            str(taxonomy["tables"]),
            f"{taxonomy['cells']:,}",
            str(taxonomy["current_submissions"]),
            str(taxonomy["hotlines"]),
            taxonomy["hash"],
        )
    out.print(table)


def show_taxonomy_switch(out: Console, document: dict[str, Any]) -> None:
    if not document["changed"]:
        out.print(f"{document['current']} is already the current taxonomy; nothing was changed.", soft_wrap=True)
        return
    out.print(
        f"The current taxonomy is now {document['current']} (was {document['previous'] or 'none'}).", soft_wrap=True
    )
    out.print(
        "GET /v1/hub names it once the hub restarts (restart `tipshare-hub serve`); nodes set up from then on "
        "follow it. Nodes already set up keep the taxonomy they pinned, and the hub goes on accepting every "
        "registered taxonomy.",
        soft_wrap=True,
    )


# ---------------------------------------------------------------------------- tokens


def token_document(record: ApiToken, now: datetime) -> dict[str, Any]:
    return {
        "id": record.id,
        "role": record.role,
        "label": record.label,
        "countries": record.countries.split(",") if record.countries else None,
        "created_at": _stamp(record.created_at),
        "expires_at": _stamp(record.expires_at),
        "revoked_at": _stamp(record.revoked_at),
        "status": token_status(record, now=now),
    }


def show_token_created(out: Console, err: Console, document: dict[str, Any]) -> None:
    scope = f"; countries {', '.join(document['countries'])}" if document["countries"] else ""
    expiry = f"; expires {_minute(document['expires_at'])} UTC" if document["expires_at"] else "; never expires"
    label = markup_safe(document["label"])
    out.print(f'Token {document["id"]}: {document["role"]} "{label}"{scope}{expiry}', soft_wrap=True)
    out.print(f"\n  {document['token']}\n", soft_wrap=True)
    err.print(
        "Copy this token now: it is shown only this once and cannot be shown again (the hub keeps only its "
        "SHA-256). Hand it over on a secure channel; it is used as `Authorization: Bearer <token>`. "
        f"`tipshare-hub token revoke {document['id']}` disables it.",
        soft_wrap=True,
    )


def show_tokens(out: Console, document: list[dict[str, Any]]) -> None:
    if not document:
        out.print("No token has been issued yet: `tipshare-hub token create` issues one.")
        return
    table = Table(title=f"Tokens ({len(document)}; times in UTC)", title_justify="left")
    for column in ("Id", "Role", "Label", "Countries", "Created", "Expires", "Status"):
        table.add_column(column, overflow="fold")
    for token in document:
        table.add_row(
            str(token["id"]),
            token["role"],
            cell(token["label"]),
            ", ".join(token["countries"]) if token["countries"] else "all",
            _minute(token["created_at"]),
            _minute(token["expires_at"]),
            token["status"] if token["status"] != "revoked" else f"revoked {_minute(token['revoked_at'])}",
        )
    out.print(table)


# ---------------------------------------------------------------------------- log


def checkpoint_document(origin: str, checkpoint: LogCheckpoint) -> dict[str, Any]:
    return {
        "origin": origin,
        "size": checkpoint.size,
        "root_hash": base64.b64encode(checkpoint.root_hash).decode("ascii"),
        "signed_at": _stamp(checkpoint.signed_at),
        "note": checkpoint.note,
    }
