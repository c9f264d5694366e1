# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit receipt``: a node's stored receipt, verified offline with the hub's log key alone.

:func:`protocol.receipt.verify_receipt` does the work: the checkpoint is a note signed by the log key, the tree
size and root come only from it, and the entry's leaf hash is included at its index. With the payload the
hotline signed, the entry must hold exactly those bytes. With an auditor's state DIR, the receipt must also
agree with the log the auditor verified: same entry at that index and, if the state reaches that far, the same
root for the checkpoint's size (otherwise the hub showed the hotline a different log than the auditor).

A receipt whose signed tree is *larger* than the largest checkpoint the auditor verified, although the auditor
verified that checkpoint after the receipt was issued (the entry's ``received_at``, with
:data:`CLOCK_TOLERANCE` for clocks that disagree), is signed proof of a rollback: the hub had signed the larger
tree, then showed the auditor a smaller one. Both signed notes are quoted in the failure.

:func:`check_receipts` checks a directory of receipts handed over by hotlines, one verdict each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from auditor.errors import AuditError, UsageError, VerificationFailed
from auditor.i18n import N_, T_
from auditor.state import StateStore
from protocol.errors import ProtocolError
from protocol.merkle import root_hash
from protocol.messages import Receipt, SubmissionEntry, b64decode, parse_timestamp
from protocol.note import NoteVerifier
from protocol.receipt import VerifiedReceipt, verify_receipt

__all__ = ["CLOCK_TOLERANCE", "ReceiptCheck", "ReceiptVerdict", "ReceiptsCheck", "check_receipt", "check_receipts"]

#: How far the hub's clock (a receipt's ``received_at``) and the auditor's may disagree.
CLOCK_TOLERANCE: Final = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """A receipt that verified, and what else was checked."""

    verified: VerifiedReceipt
    log_key: NoteVerifier
    submission_id: int
    payload_checked: bool
    #: What the state DIR says (``None``: no state DIR given).
    state_note: str | None


def check_receipt(
    receipt: bytes, *, hub_key: str, payload: bytes | None = None, store: StateStore | None = None
) -> ReceiptCheck:
    """Verify ``receipt`` (the JSON a node stored); raise :class:`VerificationFailed` naming what does not hold."""
    try:
        log_key = NoteVerifier.from_vkey(hub_key.strip())
    except ProtocolError as e:
        raise UsageError(
            T_("--hub-key is not a log verifier key: {error}", error=e),
            hint=N_("It looks like origin+keyid+base64; the hub publishes it as log_vkey at GET /v1/hub."),
        ) from e
    try:
        parsed = Receipt.from_json(receipt)
        verified = verify_receipt(parsed, log_key=log_key, payload_bytes=payload)
    except ProtocolError as e:
        raise VerificationFailed(T_("the receipt does not verify: {error}", error=str(e))) from e
    state_note = None
    if store is not None:
        state_note = _against_state(store, verified, log_key, b64decode(parsed.leaf), parsed.checkpoint)
    return ReceiptCheck(
        verified=verified,
        log_key=log_key,
        submission_id=parsed.submission_id,
        payload_checked=payload is not None,
        state_note=state_note,
    )


def _against_state(store: StateStore, verified: VerifiedReceipt, log_key: NoteVerifier, leaf: bytes, note: str) -> str:
    pinned = store.pinned()
    if pinned is None:
        raise UsageError(
            T_("the state DIR has not verified any hub yet"), hint=N_("Run tipshare-audit verify with it first.")
        )
    if pinned.vkey != log_key.vkey:
        raise UsageError(T_("the state DIR pins the log key {vkey}, not the --hub-key given", vkey=pinned.vkey))
    held = store.entry_count()
    index, size = verified.leaf_index, verified.checkpoint.size
    if index < held and store.entry(index) != leaf:
        raise VerificationFailed(
            T_(
                "entry {index} of the log the auditor verified is not this receipt's entry: the hub showed two logs",
                index=index,
            )
        )
    if size > held:
        _refuse_rollback(store, verified, note)
        return T_(
            "its checkpoint (size {size}) is newer than the state DIR ({held} entries): run verify to check it",
            size=size,
            held=held,
        )
    if root_hash(store.leaf_hashes()[:size]) != verified.checkpoint.root_hash:
        raise VerificationFailed(
            T_(
                "the receipt's checkpoint {size} is not the tree of that size in the log the auditor verified: the "
                "hub showed two logs",
                size=size,
            )
        )
    return T_("matches the log verified in the state DIR (entry {index}, tree size {size})", index=index, size=size)


def _refuse_rollback(store: StateStore, verified: VerifiedReceipt, receipt_note: str) -> None:
    """Fail if the auditor verified a smaller log after this receipt's larger checkpoint was signed."""
    latest = store.latest_seen()
    entry = verified.entry
    if latest is None or not isinstance(entry, SubmissionEntry):
        return
    seen, seen_at = latest
    issued = parse_timestamp(entry.received_at)
    if seen.size < verified.checkpoint.size and seen_at >= issued + CLOCK_TOLERANCE:
        raise VerificationFailed(
            T_(
                "the hub rolled its log back: this receipt's checkpoint, signed when entry {leaf_index} was received "
                "({received_at}), has tree size {size}, but on {seen_at} UTC, later, the hub showed the auditor a log "
                "of only {seen_size} entries, signed with the same key. The receipt's signed checkpoint:\n"
                "{receipt_note}\n"
                "The checkpoint the auditor verified:\n{note}",
                leaf_index=verified.leaf_index,
                received_at=entry.received_at,
                size=verified.checkpoint.size,
                seen_at=format(seen_at, "%Y-%m-%d %H:%M"),
                seen_size=seen.size,
                receipt_note=receipt_note,
                note=seen.note,
            ),
            hint=N_(
                "Keep the receipt and the state DIR: together they are signed proof that the hub took back a "
                "submission it had receipted."
            ),
        )


@dataclass(frozen=True, slots=True)
class ReceiptVerdict:
    """One receipt of a directory: ``valid``, ``failed`` (it proves the hub misbehaved, or is forged) or ``error``."""

    file: str
    verdict: str
    message: str
    check: ReceiptCheck | None = None

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"file": self.file, "verdict": self.verdict, "message": self.message}
        if self.check is not None:
            document |= {
                "leaf_index": self.check.verified.leaf_index,
                "checkpoint_size": self.check.verified.checkpoint.size,
                "submission_id": self.check.submission_id,
            }
        return document


@dataclass
class ReceiptsCheck:
    """Every receipt of a directory, checked."""

    directory: str
    verdicts: list[ReceiptVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.verdict == "valid" for v in self.verdicts)

    def document(self) -> dict[str, Any]:
        counts = {name: sum(v.verdict == name for v in self.verdicts) for name in ("valid", "failed", "error")}
        return {
            "verdict": "VALID" if self.ok else "FAILED",
            "directory": self.directory,
            "receipts": len(self.verdicts),
            **counts,
            "results": [v.document() for v in self.verdicts],
        }


def check_receipts(directory: Path, *, hub_key: str, store: StateStore | None = None) -> ReceiptsCheck:
    """Check every ``*.json`` receipt in ``directory`` (not recursively), each on its own."""
    if not _valid_vkey(hub_key):
        raise UsageError(
            T_("--hub-key is not a log verifier key"), hint=N_("The hub publishes it as log_vkey at GET /v1/hub.")
        )
    files = sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise UsageError(
            T_("{directory} holds no receipt (*.json)", directory=directory),
            hint=N_("Give the directory the hotlines' receipts are in."),
        )
    result = ReceiptsCheck(directory=str(directory))
    for path in files:
        try:
            checked = check_receipt(path.read_bytes(), hub_key=hub_key, store=store)
        except VerificationFailed as e:
            result.verdicts.append(ReceiptVerdict(path.name, "failed", _said(e)))
        except (AuditError, OSError) as e:
            result.verdicts.append(ReceiptVerdict(path.name, "error", _said(e)))
        else:
            result.verdicts.append(ReceiptVerdict(path.name, "valid", checked.state_note or T_("verifies"), checked))
    return result


def _said(error: Exception) -> str:
    """The error's message, translatable where it was said as a :class:`~auditor.i18n.Text`."""
    message = error.args[0] if len(error.args) == 1 and isinstance(error, AuditError) else None
    return message if isinstance(message, str) else str(error)


def _valid_vkey(vkey: str) -> bool:
    try:
        NoteVerifier.from_vkey(vkey.strip())
    except ProtocolError:
        return False
    return True
