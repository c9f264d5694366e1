# SPDX-License-Identifier: Apache-2.0
"""Errors of ``auditor``: one root, :class:`AuditError`, whose messages say what to do next.

A *verification failure* (a bad signature, a forked log, a statistic that does not add up) is not an exception:
``tipshare-audit verify`` collects every one of them into its report and exits 1. The exceptions below are for
everything that stops the auditor from verifying at all, and each carries the exit status it maps to.

The tree::

    AuditError
    ├── UsageError            arguments, files or keys the auditor was given cannot be used        (exit 2)
    │   └── StateError        the state DIR: another hub's, another pinned key, corrupt, or in use  (exit 2)
    ├── HubFetchError         the hub did not let the auditor fetch what it needs                   (exit 2)
    │   ├── HubUnreachable    no connection, timeout, or 5xx / 408 / 429
    │   └── HubResponseInvalid  the hub answered outside the tipshare/1 contract (4xx, malformed body)
    │       └── QuestionRefused   the hub refused an estimates question as not answerable (400)
    └── VerificationFailed    a single object (a receipt) does not verify                           (exit 1)
"""

from __future__ import annotations

from typing import ClassVar

from auditor.i18n import N_, Joined, Text, gettext, translated

__all__ = [
    "PROTOCOL_ERROR_SUMMARY",
    "AuditError",
    "HubFetchError",
    "HubResponseInvalid",
    "HubUnreachable",
    "QuestionRefused",
    "StateError",
    "UsageError",
    "VerificationFailed",
    "protocol_diagnostics",
]


#: Said after an error of the shared protocol code that stops a run (its text stays English: the protocol speaks it).
PROTOCOL_ERROR_SUMMARY = N_(
    "The shared protocol code refused what is named above: nothing more was verified. Check that this "
    "tipshare-audit matches the hub (`tipshare-audit version`); if it does, keep the file or state DIR and report "
    "what is shown above to the hub operator."
)


def protocol_diagnostics(error: Exception) -> str:
    """A :class:`~protocol.errors.ProtocolError` that stops a run, as a person should see it: its class and English
    text as the protocol gives them, then (in a language other than English) what it means and what to do."""
    text = f"{type(error).__name__}: {error}"
    said = gettext(PROTOCOL_ERROR_SUMMARY)
    return f"{text}\n  {said}" if said != PROTOCOL_ERROR_SUMMARY else text


class AuditError(Exception):
    """Root of every error raised by ``auditor``.

    ``hint`` is the next step for the auditor at the keyboard; ``exit_code`` the process status it maps to.
    """

    exit_code: ClassVar[int] = 2
    default_hint: ClassVar[str | None] = None
    #: What the error means for the run, said after the message in the auditor's language (English runs leave it
    #: out: the message says it already). The message's technical detail (the hub's words) stays as it came.
    summary: ClassVar[str | None] = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint if hint is not None else self.default_hint

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        message = self.args[0] if len(self.args) == 1 and isinstance(self.args[0], str) else str(self)
        lines = [f"{type(self).__name__}: {translated(message)}"]
        summary = type(self).summary
        if summary and gettext(summary) != summary:
            lines.append(f"  {gettext(summary)}")
        if self.hint:
            # A hint is an N_-marked sentence (or a Text): said in the auditor's language.
            hint = translated(self.hint) if isinstance(self.hint, Text | Joined) else gettext(self.hint)
            label = gettext("hint")  # the label before the next step ("  hint: ..."), as tools and tests look for it
            lines.append(f"  {label}: {hint}")
        return "\n".join(lines)


class UsageError(AuditError):
    """An argument, file or key given to the auditor cannot be used."""

    summary = N_(
        "The auditor cannot use an argument, file or key it was given: nothing was verified. Correct what is named "
        "above and run the same command again."
    )


class StateError(UsageError):
    """The state DIR cannot be used for this hub (or at all right now)."""

    summary = N_("The state DIR named above cannot be used for this run: nothing was verified.")


class HubFetchError(AuditError):
    """The hub did not provide what verification needs; nothing was verified."""

    summary = N_("The hub did not provide what verification needs: nothing was verified.")


class HubUnreachable(HubFetchError):
    """No connection, a timeout, or a transient error status: try again later."""

    summary = N_("The hub could not be reached: nothing was verified.")
    default_hint = N_("Check the hub URL and your network, then run the same command again.")


class HubResponseInvalid(HubFetchError):
    """The hub answered something outside the ``tipshare/1`` contract."""

    summary = N_(
        "The hub answered outside the tipshare/1 protocol: nothing was verified. The hub's own words, if any, are "
        "quoted above as they came."
    )


class QuestionRefused(HubResponseInvalid):
    """The hub refused an estimates question as one no combination of its releases answers (400
    ``not_answerable``). ``tipshare-audit verify`` only asks questions the log answers, so it reports such a
    refusal as a failure instead of stopping."""


class VerificationFailed(AuditError):
    """A single object handed to the auditor (such as a receipt) does not verify."""

    exit_code: ClassVar[int] = 1
