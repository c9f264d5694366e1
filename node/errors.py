# SPDX-License-Identifier: Apache-2.0
"""Errors of ``node``: one root, :class:`NodeError`, whose messages say what happened and what to do next.

The people who read these are hotline data officers, often without IT support, so every message names the
file, period or hub involved and ends with a concrete next step (:attr:`NodeError.hint`). Nothing secret and
no count from a case export ever appears in a message.

The tree::

    NodeError
    ├── NotInitialised         no node home yet (run ``tipshare-node init``)
    ├── AlreadyInitialised     ``init`` on a home that belongs to another hotline or hub
    ├── ConfigError            config.toml, the ledger database, the stored taxonomy or a TIPSHARE_NODE_* setting
    ├── KeyFileError           the signing key file is missing, malformed, or readable by other users
    ├── BudgetExceeded         a release would spend more than the per-period or per-year cap
    ├── TaxonomyUpdateBlocked  a release prepared under the pinned taxonomy is not delivered yet
    ├── ReleaseError           the release asked for cannot be made or found
    │   ├── NoSuchRelease      nothing was prepared for that period
    │   ├── NotApproved        the release waits for ``tipshare-node approve``
    │   ├── ReleaseSent        the release reached the outbox (maybe the hub): it cannot be discarded
    │   └── PeriodNotOver      the month has not ended yet
    ├── NoiseError             OpenDP could not calibrate or draw the noise (nothing was stored)
    ├── HubExchangeError       an exchange with the hub failed: it did not do what the protocol says
    │   ├── HubUnreachable     transient: no connection, timeout, 5xx, 408 or 429 (the release stays queued)
    │   ├── HubResponseInvalid the hub answered something that is not the tipshare/1 contract
    │   ├── SubmissionRejected permanent: the hub refused the submission (4xx), with the hub's explanation
    │   │   └── SubmissionConflict  the hub holds a different release for the same period and revision (409)
    │   └── ReceiptInvalid     the hub's receipt does not verify against the pinned log key
    └── InputError             (``node.inputs.errors``) the case export cannot be read or mapped
"""

from __future__ import annotations

from typing import ClassVar

from node.i18n import N_, gettext, translate

__all__ = [
    "INTERNAL_ERROR_HINT",
    "PROTOCOL_ERROR_HINT",
    "AlreadyInitialised",
    "BudgetExceeded",
    "ConfigError",
    "HubExchangeError",
    "HubKeysNotHandedOver",
    "HubResponseInvalid",
    "HubUnreachable",
    "KeyFileError",
    "NoSuchRelease",
    "NodeError",
    "NoiseError",
    "NotApproved",
    "NotInitialised",
    "PeriodNotOver",
    "ReceiptInvalid",
    "ReleaseError",
    "ReleaseSent",
    "SubmissionConflict",
    "SubmissionRejected",
    "TaxonomyUpdateBlocked",
    "protocol_diagnostics",
]


#: The next step after one of the node's internal consistency checks fails: only a bug can cause it.
INTERNAL_ERROR_HINT = N_(
    "This is a fault in tipshare-node, not in your export: nothing was sent and no budget was spent. Please report "
    "the message above, as it is, to the tipshare developers; do not delete the node home."
)
#: The next step after an error of the shared protocol code reaches the officer (its text stays English).
PROTOCOL_ERROR_HINT = N_(
    "The protocol refused what is named above: nothing was sent. Check that tipshare-node is up to date "
    "(`tipshare-node version`), then tell your hub operator what is shown above."
)


def protocol_diagnostics(error: Exception) -> str:
    """A :class:`~protocol.errors.ProtocolError` as a person should see it: its class and text (translated when the
    node gave it in its words, as is otherwise: the protocol speaks English), then the next step."""
    message = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else str(error)
    return f"{type(error).__name__}: {translate(message)}\n{gettext(PROTOCOL_ERROR_HINT)}"


class NodeError(Exception):
    """Root of every error raised by ``node``.

    ``hint`` is the next step for the person at the keyboard; subclasses set a default, callers may give a
    more specific one.
    """

    hint: ClassVar[str | None] = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self._hint = hint

    @property
    def next_step(self) -> str | None:
        """What to do about it, or ``None``."""
        if self._hint is not None:
            return translate(self._hint)
        hint = type(self).hint
        return gettext(hint) if hint else None  # the class's own next step, in the officer's language

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        message = self.args[0] if self.args and isinstance(self.args[0], str) else str(self)
        text = f"{type(self).__name__}: {translate(message)}"
        step = self.next_step
        return f"{text}\n{step}" if step else text


class NotInitialised(NodeError):
    hint = N_("Run `tipshare-node init --hotline-id <your id> --hub <hub URL>` first (or set TIPSHARE_NODE_HOME).")


class AlreadyInitialised(NodeError):
    hint = N_(
        "This node home already belongs to another hotline or hub. Use another home "
        "(--home or TIPSHARE_NODE_HOME), or ask your hub operator before changing anything."
    )


class ConfigError(NodeError):
    hint = N_(
        "Correct the setting named above; `tipshare-node init` wrote a commented config.toml you can compare with."
    )


class KeyFileError(NodeError):
    hint = N_("The key file must be readable by your user only (permissions 0600). Never copy it to another computer.")


class BudgetExceeded(NodeError):
    hint = N_("Nothing was spent and no noise was drawn. `tipshare-node budget` shows what is left.")


class TaxonomyUpdateBlocked(NodeError):
    """The node cannot follow another taxonomy yet: a release of the pinned one is still to be delivered."""

    hint = N_(
        "Deliver it first with `tipshare-node submit` (or `tipshare-node sync` if it is already queued), then run "
        "`tipshare-node taxonomy --update` again. The hub still accepts releases of the taxonomy they were "
        "prepared under, so nothing is lost."
    )


class ReleaseError(NodeError):
    """The release asked for cannot be made or found."""


class NoSuchRelease(ReleaseError):
    hint = N_("Prepare it first: `tipshare-node prepare --period YYYY-MM <case export>`.")


class NotApproved(ReleaseError):
    """The release was prepared but not approved: nothing is sent before the data officer approves it."""

    hint = N_(
        "Look at it again (`tipshare-node prepare` with the same --period shows it unchanged); if it is right, run "
        "`tipshare-node approve --period <month>`; if it is wrong, `tipshare-node discard --period <month>`."
    )


class ReleaseSent(ReleaseError):
    hint = N_("To release corrected data for the month, use `tipshare-node correct` (a new revision, more budget).")


class PeriodNotOver(ReleaseError):
    hint = N_("Prepare a month once it has ended, so that all its cases are in the export.")


class NoiseError(NodeError):
    hint = N_("Nothing was stored and no budget was spent. Please report this to the tipshare developers.")


class HubExchangeError(NodeError):
    """The hub did not answer as the tipshare/1 protocol says."""


class HubUnreachable(HubExchangeError):
    """A transient failure: worth retrying later. ``retry_after`` is the hub's requested pause, if it gave one."""

    hint = N_(
        "Check the internet connection. Anything already queued is kept safely and goes out with the next "
        "`tipshare-node submit` or `tipshare-node sync`."
    )

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class HubResponseInvalid(HubExchangeError):
    hint = N_("Check the hub URL; if it is right, tell your hub operator what is shown above.")


class HubKeysNotHandedOver(HubExchangeError):
    """The hub presents keys that no handover signed by the pinned log key leads to: nothing is re-pinned."""

    hint = N_(
        "Do not submit. Call your hub operator and compare the log key fingerprints: either the hub lost its key, "
        "or someone is impersonating it. Nothing was sent or changed."
    )


class SubmissionRejected(HubExchangeError):
    """The hub refused the submission for good (a 4xx other than 408/429); ``code`` and ``detail`` are its words."""

    hint = N_("The release is kept and marked failed. Fix the cause above, then run `tipshare-node submit` again.")

    def __init__(self, message: str, *, status: int, code: str = "", detail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.detail = detail


class SubmissionConflict(SubmissionRejected):
    hint = N_(
        "The hub already holds a different release for this period and revision (perhaps prepared on another "
        "computer or before this node's data was lost). Ask your hub operator; a correction "
        "(`tipshare-node correct`) sends a new revision."
    )


class ReceiptInvalid(HubExchangeError):
    hint = N_(
        "The release was NOT marked delivered and stays queued. Contact your hub operator and compare the hub's "
        "log key fingerprint (`tipshare-node status`) by phone; do not re-initialise the node."
    )
