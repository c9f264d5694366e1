# SPDX-License-Identifier: Apache-2.0
"""Verify a hub's access log: its hash chain and its signed checkpoints (:mod:`protocol.access_chain`).

:func:`verify_access_log` pages through ``GET /v1/audit/access-log`` and ``GET /v1/audit/access-log/checkpoints``,
recomputes every record's hash, checks that each follows the one before and that no sequence number is missing,
verifies each checkpoint's signature with the hub's log key(s) and that the record at its size has its hash. It
reports every edited, deleted or reordered record by its sequence number.

With a state directory, the newest checkpoint verified is remembered (``access-log-checkpoint.txt``) and checked
again on the next run: a hub that rewrote its access log and signed a new chain is caught even if it removed its
old checkpoints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from auditor.client import AuditClient
from auditor.errors import HubResponseInvalid
from auditor.i18n import N_, T_, Text
from protocol.access_chain import (
    AccessRecord,
    ChainedRecord,
    ChainFinding,
    check_checkpoint,
    open_access_checkpoint,
    verify_chain,
)
from protocol.api import AccessLogRecord
from protocol.checkpoint import Checkpoint
from protocol.errors import ProtocolError
from protocol.note import NoteVerifier

__all__ = ["SEEN_FILE", "AccessLogReport", "chain_message", "verify_access_log"]

#: The newest access log checkpoint verified, kept in the state directory.
SEEN_FILE: Final = "access-log-checkpoint.txt"


@dataclass(frozen=True, slots=True)
class AccessLogReport:
    records: int
    checkpoints: int
    #: Records covered by the newest valid checkpoint.
    signed: int
    findings: tuple[ChainFinding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def unsigned(self) -> int:
        """Records after the newest checkpoint: a change to them would not show yet."""
        return max(0, self.records - self.signed)

    def document(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "signed": self.signed,
            "unsigned": self.unsigned,
            "findings": [{"kind": f.kind, "seq": f.seq, "message": f.message} for f in self.findings],
        }


def verify_access_log(
    client: AuditClient, verifiers: Sequence[NoteVerifier], *, page_size: int = 1000, state_dir: Path | None = None
) -> AccessLogReport:
    """Fetch and check the whole access log; ``verifiers`` are the hub's log keys under the access log's name."""
    records = _records(client, page_size)
    findings = verify_chain(records)
    hashes = {item.seq: item.hash for item in records}
    notes = _checkpoint_notes(client)
    seen = _read_seen(state_dir)
    if seen is not None:
        notes.append(seen)
    newest: tuple[Checkpoint, str] | None = None
    for note in notes:
        try:
            checkpoint = open_access_checkpoint(note, verifiers)
        except ProtocolError as e:
            findings.append(
                ChainFinding("checkpoint_invalid", 0, T_("a checkpoint does not verify: {error}", error=str(e)))
            )
            continue
        problem = check_checkpoint(checkpoint, hashes)
        if problem is not None:
            if note is seen:
                problem = ChainFinding(
                    problem.kind,
                    problem.seq,
                    T_(
                        "{problem} (the checkpoint this auditor verified earlier, kept in its state directory)",
                        problem=chain_message(problem.message),
                    ),
                )
            findings.append(problem)
        elif newest is None or checkpoint.size > newest[0].size:
            newest = (checkpoint, note)
    findings = sorted(dict.fromkeys(findings), key=lambda f: (f.seq, f.kind))
    if state_dir is not None and newest is not None and not findings:
        (state_dir / SEEN_FILE).write_text(newest[1], encoding="utf-8")
    return AccessLogReport(
        records=len(records),
        checkpoints=len(notes) - (1 if seen is not None else 0),
        signed=newest[0].size if newest is not None else 0,
        findings=tuple(findings),
    )


def _records(client: AuditClient, page_size: int) -> list[ChainedRecord]:
    found: list[ChainedRecord] = []
    after = 0
    while True:
        page = client.access_log(after=after, limit=page_size)
        found.extend(_record(item) for item in page.records)
        following = page.next_after
        if following is None or not page.records:
            return found
        if following <= after:
            raise HubResponseInvalid(
                T_(
                    "access log: next_after {following} does not move forward from {after}",
                    following=repr(following),
                    after=after,
                )
            )
        after = following


def _record(item: AccessLogRecord) -> ChainedRecord:
    try:
        return ChainedRecord(
            seq=item.seq,
            prev_hash=bytes.fromhex(item.prev_hash),
            hash=bytes.fromhex(item.hash),
            record=AccessRecord(
                at=item.at,
                token_id=item.token_id,
                role=item.role,
                label=item.label,
                countries=tuple(item.countries) if item.countries is not None else None,
                method=item.method,
                path=item.path,
                query=item.query,
                question=item.question,
                status=item.status,
                request_id=item.request_id,
            ),
        )
    except ValueError as e:
        raise HubResponseInvalid(
            T_("access log: a record is malformed ({kind}: {error})", kind=type(e).__name__, error=e)
        ) from None


def _checkpoint_notes(client: AuditClient) -> list[str]:
    notes: list[str] = []
    after = -1
    while True:
        page = client.access_log_checkpoints(after=after)
        notes.extend(item.note for item in page.checkpoints)
        following = page.next_after
        if following is None or not page.checkpoints:
            return notes
        if following <= after:
            raise HubResponseInvalid(
                T_("access log checkpoints: next_after {following} does not move forward", following=repr(following))
            )
        after = following


def _read_seen(state_dir: Path | None) -> str | None:
    if state_dir is None:
        return None
    path = state_dir / SEEN_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else None


#: What the shared chain check (``protocol.access_chain``) says, in English, with the placeholders to say it in
#: the auditor's language: a pattern of the English sentence, and its message id.
_CHAIN_MESSAGES: Final = (
    (re.compile(r"record\(s\) (?P<records>.+) are missing: deleted"), N_("record(s) {records} are missing: deleted")),
    (
        re.compile(r"record (?P<seq>\d+) is served after record (?P<before>\d+)"),
        N_("record {seq} is served after record {before}"),
    ),
    (
        re.compile(r"record (?P<seq>\d+) does not match its hash: it was edited"),
        N_("record {seq} does not match its hash: it was edited"),
    ),
    (
        re.compile(
            r"record (?P<seq>\d+) does not follow record (?P<before>\d+): records were reordered, or deleted and "
            r"renumbered, before it"
        ),
        N_(
            "record {seq} does not follow record {before}: records were reordered, or deleted and renumbered, before it"
        ),
    ),
    (
        re.compile(r"a checkpoint signs (?P<size>\d+) records but record \d+ is not served: records were deleted"),
        N_("a checkpoint signs {size} records but record {size} is not served: records were deleted"),
    ),
    (
        re.compile(
            r"the signed checkpoint of (?P<size>\d+) records does not match record \d+: a record at or before \d+ "
            r"was edited, deleted or reordered after it was signed"
        ),
        N_(
            "the signed checkpoint of {size} records does not match record {size}: a record at or before {size} was "
            "edited, deleted or reordered after it was signed"
        ),
    ),
)


def chain_message(message: str) -> str:
    """A finding of the access-log chain check as a :class:`~auditor.i18n.Text` the report translates (the same
    English sentence); a sentence it does not know is kept as it is."""
    if isinstance(message, Text):
        return message
    for pattern, msgid in _CHAIN_MESSAGES:
        found = pattern.fullmatch(message)
        if found is not None:
            return T_(msgid, **found.groupdict())
    return message
