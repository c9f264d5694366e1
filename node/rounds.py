# SPDX-License-Identifier: Apache-2.0
"""Taking part in a secure round: ``prepare`` keeps the round's tables, each ``sync`` does the step that is open.

A node with ``[secure_group]`` in config.toml (:mod:`node.secure_group`) makes two things of a month in ``prepare``:

* its **round vectors**: every table as true counts plus one noise *share* (σ²/t, drawn once,
  :func:`node.secure_group.add_noise_shares`), and every table's one-cell total (the true cells' sum plus a
  discrete Gaussian of its own, :func:`node.secure_group.draw_totals`), kept in the node database (``rounds``,
  :mod:`node.store`) with the round's spend and both guarantees (:class:`~node.secure_group.RoundSpend`);
* the **local release** as without a group (full noise, pending approval): the fallback if the round is missed.

Once the officer approves the month, ``sync`` (and so the timer) takes part in the group's round with no further
attention, one step per run (:func:`take_part`): it reads the round (a signed request), checks the roster (its own
membership and sealing key, the group, the taxonomy and tables, and every member's sealing key against the logged
key events, with inclusion proofs to a checkpoint signed by the pinned log key), then sends its share submission,
its masked vector (with each table's noise share σ and one-cell total) or its reveal. The round's secrets are
written to the node home (0600) *before* the share submission is posted, so a crash and a re-run send the same
bytes again.

While the round runs, the month's local release is held (never queued). The round's sum takes the member's vector:
the local release is marked superseded and never sent (its spend stays recorded: it bounds the round's spend
against the hub). The round is missed (a deadline passed, the round failed, the node was left out, or the hub has
not opened it ``round_wait_days`` after the month while the node has sent nothing of it) or refused (the roster or
the survivor set breaks a rule): the local release goes out the ordinary way instead. So a table of a
month reaches the hub once, in the round's sum or in a local release, never both.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from secrets import token_bytes
from typing import Any, TypeVar

from node.client import HubClient
from node.errors import HubUnreachable, NodeError
from node.home import NodeHome
from node.i18n import N_, Text, translate
from node.keystore import ensure_private_dir, sealing_key, write_private_file
from node.round_store import RoundStore, StoredRound
from node.secure_group import ROUND_WAIT_DAYS, round_gives_up_at
from protocol.api import RoundState
from protocol.checkpoint import open_checkpoint
from protocol.crypto import AgreementKey, VerifyKey
from protocol.errors import ProtocolError, UnmaskRefused
from protocol.merkle import leaf_hash, verify_inclusion
from protocol.messages import (
    KeyEventEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    b64decode,
    b64encode,
    format_timestamp,
    parse_log_entry,
)
from protocol.secagg.layout import layout_of_roster
from protocol.secagg.member import (
    RoundSecrets,
    decide_unmask,
    make_masked_submission,
    make_share_submission,
    reveal_shares,
)
from protocol.secagg.messages import (
    CommittedSet,
    MaskedSubmission,
    RoundResult,
    RoundRoster,
    ShareSubmission,
    Survivors,
    UnmaskReveal,
)
from protocol.secagg.signed import (
    RoundRead,
    check_roster_keys,
    member_message,
    sign_member_message,
    sign_round_read,
    step_message,
    verify_member_entry,
)
from protocol.shamir import Share

__all__ = ["RoundReport", "take_part"]

_log = logging.getLogger("node.rounds")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RoundReport:
    """What one ``sync`` did for one month's round."""

    period: str
    group: str
    round: int | None
    #: The round's status at the node after this run (``waiting``, ``shares``, ... ``done``, ``missed``, ``refused``).
    status: str
    #: What was done: ``none``, ``shares-sent``, ``masked-sent``, ``reveal-sent``, ``refused``, ``missed``, ``done``.
    action: str
    #: The rule a refusal names, or why the round was missed (English, for the JSON and the log).
    detail: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "group": self.group,
            "round": self.round,
            "status": self.status,
            "action": self.action,
            "detail": self.detail,
        }

    def describe(self) -> str:
        """One line for the officer (translated)."""
        words = {
            "none": N_("waiting (%(detail)s)"),
            "shares-sent": N_("share submission sent"),
            "masked-sent": N_("masked vector sent"),
            "reveal-sent": N_("reveal sent"),
            "done": N_("the round's sum holds this month's tables; the local release is not sent"),
            "missed": N_("round missed (%(detail)s): the local release with full noise is sent instead"),
            "refused": N_("REFUSED to take part (%(detail)s): the local release with full noise is sent instead"),
        }
        return translate(
            Text(
                N_("Secure round %(group)s %(period)s: %(what)s"),
                group=self.group,
                period=self.period,
                what=Text(words[self.action], detail=self.detail or ""),
            )
        )


# ------------------------------------------------------------------------------------------------- sync


class _Refused(NodeError):
    """The round breaks a rule the node checks: it takes no (further) part. Internal to :func:`take_part` (a
    :class:`NodeError` like every node exception, though it never leaves the module)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule


@dataclass
class _Read:
    """A round as the hub showed it to this member, parsed (the checks come after)."""

    number: int
    step: str
    roster: RoundRoster | None
    committed: CommittedSet | None
    survivors: Survivors | None
    result: RoundResult | None
    shares: dict[str, ShareSubmission]
    masked: dict[str, MaskedSubmission]
    reveals: dict[str, UnmaskReveal]
    key_events: list[KeyEventEntry]
    member_entries: list[SecaggMemberEntry]


def take_part(home: NodeHome, db: sqlite3.Connection, client: HubClient, *, now: datetime) -> list[RoundReport]:
    """Do the open step of every round the node still takes part in (see the module docstring); one report each.

    An unreachable hub changes nothing: the next run tries again. Before the node has sent its masked vector, any
    other problem ends its part in the round (``missed`` or ``refused``) and its local release goes out instead: the
    hub holds nothing of its tables. Once it has sent it (or may have: the status is set before posting), its vector
    may be in the round's sum whatever it does next, so the local release goes out only when the log shows it is not:
    the round failed, or its survivor set leaves the node out (``own-vector-missing``). Until then a problem or a
    refusal (say, to reveal for a survivor set below the threshold) is reported and the round stays held.
    """
    store = RoundStore(db)
    reports = []
    for stored in store.active():
        latest = db.execute(
            "SELECT status FROM releases WHERE period = ? ORDER BY revision DESC LIMIT 1", (stored.period,)
        ).fetchone()
        if latest is None or latest[0] == "prepared":
            reports.append(
                RoundReport(
                    stored.period,
                    stored.group_id,
                    stored.round_number,
                    stored.status,
                    "none",
                    "the month's release waits for approval",
                )
            )
            continue
        try:
            report = _step(home, store, stored, client, now=now)
        except HubUnreachable as e:
            report = RoundReport(
                stored.period, stored.group_id, stored.round_number, stored.status, "none", f"hub unreachable: {e}"
            )
        except (_Refused, NodeError, ProtocolError) as e:
            report = _stop(store, stored.period, e, now=now)
        if report.action == "refused":
            _log.warning("%s", report.detail)
        reports.append(report)
    return reports


def _stop(store: RoundStore, period: str, error: Exception, *, now: datetime) -> RoundReport:
    """The node's part in the round after ``error``: ended (the local release goes out), or held while the hub may
    still add a masked vector the node sent."""
    current = store.get(period)
    assert current is not None
    action = "refused" if isinstance(error, _Refused) else "missed"
    left_out = isinstance(error, _Refused) and error.rule == "own-vector-missing"
    if current.status in ("masked", "revealed") and not left_out:
        return RoundReport(period, current.group_id, current.round_number, current.status, action, str(error))
    store.update(period, status=action, round_number=current.round_number, detail=str(error), now=now)
    return RoundReport(period, current.group_id, current.round_number, action, action, str(error))


def _step(home: NodeHome, store: RoundStore, stored: StoredRound, client: HubClient, *, now: datetime) -> RoundReport:
    key = home.signing_key()
    me = home.config.hotline_id
    request = RoundRead(
        type="secagg-read",
        version="tipshare/1",
        hotline_id=me,
        group=stored.group_id,
        period=stored.period,
        round=stored.round_number,
        at=format_timestamp(now),
    )
    document = client.round_state(sign_round_read(request, key=key).canonical_bytes())

    def report(status: str, action: str, detail: str | None = None, number: int | None = None) -> RoundReport:
        number = stored.round_number if number is None else number
        if (status, number, detail) != (stored.status, stored.round_number, stored.detail):
            store.update(stored.period, status=status, round_number=number, detail=detail, now=now)
        return RoundReport(stored.period, stored.group_id, number, status, action, detail)

    if document is None:
        if _gives_up(home, stored, now=now):
            days = _wait_days(home)
            return report("missed", "missed", f"the hub did not open the round within {days} days after the month")
        return report("waiting", "none", "the hub has not opened the round yet")
    read = _parse(document, home)
    if read.roster is None:
        raise _Refused("no-roster", "the hub shows a round without a roster")
    _check_roster(home, stored, read)
    number = read.number
    secrets_path = home.layout.root / "rounds" / f"{stored.group_id}-{stored.period}-{number}.json"
    secrets = _load_secrets(secrets_path)
    signing = key
    if read.step == "failed":
        return report("missed", "missed", "the round failed: nothing was published", number)
    if read.step == "done":
        if read.survivors is not None and me in read.survivors.member_ids:
            return report("done", "done", None, number)
        if read.survivors is not None and stored.status in ("masked", "revealed"):
            raise _Refused(
                "own-vector-missing",
                "the survivor set does not hold the masked vector this node sent: the hub claims it dropped",
            )
        return report("missed", "missed", "the round's sum does not hold this node's vector", number)
    if read.step == "shares":
        if secrets is None:
            submission, fresh = make_share_submission(
                roster=read.roster, member=me, sealing_key=sealing_key(signing), randomness=token_bytes
            )
            signed = sign_member_message(submission, key=signing)
            _save_secrets(secrets_path, fresh, signed.canonical_bytes())  # before posting: a re-run re-sends it
            secrets = fresh, signed.canonical_bytes()
        client.round_message(secrets[1])
        return report("shares", "shares-sent", None, number)
    if secrets is None or read.committed is None or me not in read.committed.members:
        return report("missed", "missed", "this node's share submission is not in the committed set", number)
    own = make_masked_submission(
        _values(stored, read.roster, home),
        roster=read.roster,
        committed=read.committed,
        submissions=read.shares,
        member=me,
        secrets=secrets[0],
        noise=None if stored.noise is None else {t: stored.noise[t] for t in read.roster.tables},
        totals=None if stored.totals is None else {t: stored.totals[t] for t in read.roster.tables},
    )
    if read.step == "masked":
        report("masked", "masked-sent", None, number)  # before posting: the hub may hold it even if the answer is lost
        client.round_message(sign_member_message(own, key=signing).canonical_bytes())
        return RoundReport(stored.period, stored.group_id, number, "masked", "masked-sent")
    if read.step != "reveal" or read.survivors is None:
        raise _Refused("unknown-step", f"the hub shows the round at step {read.step!r}")
    if stored.status not in ("masked", "revealed"):  # what the node sent, not what the hub says it holds
        return report("missed", "missed", "this node's masked vector was not sent before its deadline", number)
    try:
        decision = decide_unmask(
            roster=read.roster, committed=read.committed, survivors=read.survivors, member=me, own=own
        )
    except UnmaskRefused as e:
        raise _Refused(e.rule, str(e)) from e
    reveal = reveal_shares(
        decision,
        roster=read.roster,
        survivors=read.survivors,
        submissions=read.shares,
        member=me,
        sealing_key=sealing_key(signing),
        secrets=secrets[0],
    )
    client.round_message(sign_member_message(reveal, key=signing).canonical_bytes())
    return report("revealed", "reveal-sent", None, number)


def _wait_days(home: NodeHome) -> int:
    config = home.config.secure_group
    return ROUND_WAIT_DAYS if config is None else config.round_wait_days


def _gives_up(home: NodeHome, stored: StoredRound, *, now: datetime) -> bool:
    """Whether ``sync`` stops waiting for a round the hub has not opened: ``round_wait_days`` after the month ended,
    and only if the node sent nothing of it. Its secrets file is written before its share submission is posted, so
    a node that may have sent one keeps waiting (the hub may still hold it: the existing rules then apply)."""
    if now < round_gives_up_at(stored.period, _wait_days(home)) or stored.status != "waiting":
        return False
    sent = home.layout.root / "rounds"
    return not any(sent.glob(f"{stored.group_id}-{stored.period}-*.json"))


def _values(stored: StoredRound, roster: RoundRoster, home: NodeHome) -> list[int]:
    taxonomy = home.taxonomy_of(roster.taxonomy.id, roster.taxonomy.hash)
    return layout_of_roster(roster, taxonomy).vector({t: stored.vectors[t] for t in roster.tables})


def _parse(document: RoundState, home: NodeHome) -> _Read:
    try:
        steps: dict[str, Any] = {}
        for name, leaf in document.steps.items():
            entry = parse_log_entry(b64decode(leaf.entry))
            if isinstance(entry, SecaggStepEntry):
                steps[name] = step_message(entry)
        entries: list[SecaggMemberEntry] = []
        messages: dict[str, dict[str, Any]] = {"shares": {}, "masked": {}, "reveals": {}}
        for name, leaves in (("shares", document.shares), ("masked", document.masked), ("reveals", document.reveals)):
            into = messages[name]
            for leaf in leaves:
                entry = parse_log_entry(b64decode(leaf.entry))
                if not isinstance(entry, SecaggMemberEntry):
                    raise _Refused("not-a-member-entry", f"a leaf of {name} is not a member's message")
                entries.append(entry)
                message = member_message(entry)
                into[message.member] = message
        events = _key_events(document, home)
        return _Read(
            number=document.round,
            step=document.step,
            roster=_typed(steps.get("roster"), RoundRoster),
            committed=_typed(steps.get("committed"), CommittedSet),
            survivors=_typed(steps.get("survivors"), Survivors),
            result=_typed(steps.get("result"), RoundResult),
            shares=messages["shares"],
            masked=messages["masked"],
            reveals=messages["reveals"],
            key_events=events,
            member_entries=entries,
        )
    except (TypeError, ValueError, AttributeError) as e:
        raise _Refused("malformed-state", f"the hub's round state is not well formed ({type(e).__name__})") from None


def _typed(value: Any, kind: type[_T]) -> _T | None:
    if value is None:
        return None
    if not isinstance(value, kind):
        raise _Refused("malformed-state", f"the hub's round state holds a {type(value).__name__} for a {kind.__name__}")
    return value


def _key_events(document: RoundState, home: NodeHome) -> list[KeyEventEntry]:
    """The key events the hub sent, each proven included in a checkpoint signed by the pinned log key."""
    note = document.checkpoint
    if note is None:
        raise _Refused("no-checkpoint", "the hub sent no signed checkpoint to check the members' keys against")
    try:
        checkpoint = open_checkpoint(note, home.config.hub.identity.log_verifier)
    except ProtocolError as e:
        raise _Refused("bad-checkpoint", f"the checkpoint is not signed by the pinned log key: {e}") from e
    events = []
    for item in document.key_events:
        data = b64decode(item.entry)
        proof = [b64decode(node) for node in item.inclusion_proof]
        try:
            verify_inclusion(item.leaf_index, checkpoint.size, leaf_hash(data), proof, checkpoint.root_hash)
        except ProtocolError as e:
            raise _Refused("key-event-not-in-log", f"a key event is not in the log: {e}") from e
        event = parse_log_entry(data)
        if not isinstance(event, KeyEventEntry):
            raise _Refused("not-a-key-event", "the hub sent a leaf that is not a key event as one")
        events.append(event)
    return events


def _check_roster(home: NodeHome, stored: StoredRound, read: _Read) -> None:
    """The roster names this node with its sealing key, its group and month, the scaling factor and at least the
    threshold the round vectors were drawn for, at most the members the hotline agreed to, their taxonomy, tables
    the node holds, and sealing keys the log enrolled; every member message verifies."""
    roster = read.roster
    assert roster is not None
    me = home.config.hotline_id
    if (roster.group, roster.period) != (stored.group_id, stored.period):
        raise _Refused("wrong-round", f"the roster is of {roster.group} {roster.period}")
    if me not in roster.member_ids:
        raise _Refused("not-a-member", f"the roster does not name {me}")
    own = roster.members[roster.index(me) - 1].sealing_key
    if own != sealing_key(home.signing_key()).public_key.to_text():
        raise _Refused("own-sealing-key", "the roster lists another sealing key for this node than its own")
    if roster.factor != stored.scaling:
        raise _Refused(
            "scaling",
            f"the roster scales the round by {roster.factor}, but this node drew its shares for {stored.scaling}: "
            "set the group's scaling in [secure_group] as the hub operator gave it",
        )
    if roster.threshold < stored.threshold:
        raise _Refused(
            "threshold",
            f"the roster's threshold {roster.threshold} is below the {stored.threshold} this node's shares are drawn "
            "for: a sum of fewer shares would protect this hotline's people less than its ledger records",
        )
    if len(roster.members) > stored.members:
        raise _Refused(
            "members",
            f"the roster lists {len(roster.members)} members, more than the {stored.members} of this node's "
            "[secure_group]: members the hotline did not agree to could be the hub's own, adding no noise",
        )
    if roster.taxonomy.hash != stored.taxonomy_hash:
        raise _Refused("taxonomy", f"the roster's taxonomy {roster.taxonomy.id} is not the one of this month's tables")
    missing = [t for t in roster.tables if t not in stored.vectors]
    if missing:
        raise _Refused("tables", f"the roster adds tables this node did not prepare: {', '.join(missing)}")
    try:
        _values(stored, roster, home)
        check_roster_keys(roster, read.key_events)
    except ProtocolError as e:
        raise _Refused(getattr(e, "rule", "roster"), str(e)) from e
    keys = {e.key_id: e.public_key for e in read.key_events if e.kind != "key_revoked"}
    for entry in read.member_entries:
        public = keys.get(entry.key_id)
        if public is None:
            raise _Refused("unknown-key", f"a member's message is signed by key {entry.key_id}, not in the log")
        try:
            verify_member_entry(entry, VerifyKey.from_text(public))
        except ProtocolError as e:
            raise _Refused("bad-signature", f"a member's message does not verify: {e}") from e


def _save_secrets(path: Path, secrets: RoundSecrets, signed_submission: bytes) -> None:
    ensure_private_dir(path.parent)
    document = {
        "agreement_key": b64encode(secrets.agreement_key.secret()),
        "self_mask_seed": b64encode(secrets.self_mask_seed),
        "own_self_mask_share": [secrets.own_self_mask_share.x, str(secrets.own_self_mask_share.y)],
        "own_agreement_share": [secrets.own_agreement_share.x, str(secrets.own_agreement_share.y)],
        "share_submission": b64encode(signed_submission),
    }
    write_private_file(path, json.dumps(document, sort_keys=True).encode(), overwrite=False)


def _load_secrets(path: Path) -> tuple[RoundSecrets, bytes] | None:
    if not path.exists():
        return None
    data = json.loads(path.read_bytes())
    secrets = RoundSecrets(
        agreement_key=AgreementKey(b64decode(data["agreement_key"])),
        self_mask_seed=b64decode(data["self_mask_seed"]),
        own_self_mask_share=Share(x=int(data["own_self_mask_share"][0]), y=int(data["own_self_mask_share"][1])),
        own_agreement_share=Share(x=int(data["own_agreement_share"][0]), y=int(data["own_agreement_share"][1])),
    )
    return secrets, b64decode(data["share_submission"])
