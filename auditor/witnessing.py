# SPDX-License-Identifier: Apache-2.0
"""``verify --witness VKEY --witness-quorum K``: refuse a checkpoint that *k* of the given witnesses did not cosign.

The policy is kept in the state DIR (given once, used by every later run; giving it again replaces it). A witness
cosigns only a checkpoint consistent with everything it cosigned before (:mod:`auditor.witness`), so an auditor
and the hotlines that require the same witnesses are shown one log: a split view cannot get their cosignatures.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.errors import UsageError
from auditor.i18n import T_, Text
from auditor.state import StateStore
from protocol.cosignature import WitnessPolicy, WitnessVerdict
from protocol.errors import InvalidCheckpoint, ProtocolError

__all__ = ["describe_verdict", "policy_for", "witness_problem"]


def policy_for(store: StateStore, vkeys: Sequence[str], quorum: int | None) -> WitnessPolicy | None:
    """The policy given on the command line (then remembered in the state DIR), or the one remembered."""
    if not vkeys:
        if quorum is not None:
            raise UsageError(T_("--witness-quorum needs the witnesses' keys: give each with --witness"))
        saved = store.witness_policy()
        if saved is None:
            return None
        vkeys, quorum = saved
    try:
        policy = WitnessPolicy.from_vkeys(list(vkeys), quorum)
    except ProtocolError as e:
        raise UsageError(T_("--witness / --witness-quorum: {error}", error=e)) from e
    store.set_witness_policy(list(policy.vkeys), policy.quorum)
    return policy


def witness_problem(policy: WitnessPolicy, note: str, size: int) -> tuple[WitnessVerdict | None, str | None]:
    """Who cosigned checkpoint ``size``, and why it is refused (``None``: the quorum is met)."""
    try:
        verdict = policy.check(note)
    except InvalidCheckpoint as e:
        return None, T_(
            "checkpoint {size} carries a cosignature that does not verify: {error}", size=size, error=str(e)
        )
    if verdict.ok:
        return verdict, None
    return verdict, T_(
        "checkpoint {size} is {verdict}: refusing to rely on it", size=size, verdict=describe_verdict(verdict)
    )


def describe_verdict(verdict: WitnessVerdict) -> Text:
    """Who cosigned: ``cosigned by w1 (1 of 2; 2 required); not by w2`` (:meth:`WitnessVerdict.describe`), in the
    auditor's language."""
    signed = ", ".join(verdict.signed) or T_("no witness")
    text = T_(
        "cosigned by {signed} ({count} of {total}; {quorum} required)",
        signed=signed,
        count=len(verdict.signed),
        total=len(verdict.signed) + len(verdict.missing),
        quorum=verdict.quorum,
    )
    if verdict.missing:
        text = T_("{cosigned}; not by {missing}", cosigned=text, missing=", ".join(verdict.missing))
    return Text(text.msgid, text.params, english=verdict.describe())
