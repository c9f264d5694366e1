# SPDX-License-Identifier: Apache-2.0
"""Errors of the hub. Services raise them; the web layer renders them as RFC 9457 problem details.

Every class carries the HTTP ``status_code`` and a stable machine-readable ``code`` (the last part of the
problem ``type`` URI). Messages say what failed and, where it helps, what to do.

The tree::

    HubError (500 internal)
    ├── BadRequest (400 bad_request)
    │   ├── PeriodOutOfRange (400 period_out_of_range)
    │   └── InvalidQuery (400 invalid_query)
    │       └── QuestionNotAnswerable (400 not_answerable)  no combination of released tables answers it
    ├── Unauthorized (401 unauthorized)
    ├── Forbidden (403 forbidden)
    │   ├── UnknownHotline (403 unknown_hotline)
    │   ├── UnknownKey (403 unknown_key)
    │   ├── KeyNotValid (403 key_not_valid)            revoked, rotated out, or not yet valid
    │   └── RoundForbidden (403 round_forbidden)       a round's message not signed by a member's valid key (rule)
    ├── NotFound (404 not_found)
    │   └── UnknownRound (404 unknown_round)           no such aggregation group or round (rule)
    ├── Conflict (409 conflict)
    │   ├── RevisionConflict (409 revision_conflict)   same (hotline, period, revision), other bytes
    │   ├── TaxonomyConflict (409 taxonomy_conflict)   a taxonomy reuses a table or dimension name for other cells
    │   └── RoundConflict (409 round_conflict)         a second, different message, a step closed or not open (rule)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── ImplausibleRelease (422 implausible_release)   a release breaks a plausibility rule (rule, limit, value)
    ├── RoundRefused (422 round_refused)               a group, roster or round message breaks a rule (rule)
    ├── RateLimited (429 rate_limited)                 too many requests: carries ``retry_after`` seconds
    │   └── DailyCapReached (429 daily_cap)            a hotline's months or revisions in 24 h (rule, limit, value)
    ├── NotInitialised (500 not_initialised)          the hub has no keys or schema yet
    ├── DatabaseUnavailable (503 database_unavailable) the database cannot be reached
    │   └── DatabaseBusy (503 database_busy)           locked longer than the busy timeout: try again
    ├── StorageFault (503 storage_fault)               the database's storage failed (an I/O error)
    │   ├── StorageFull (507 storage_full)             the database's disk is full
    │   └── DatabaseReadOnly (503 database_read_only)  the database refuses writes (permissions, mount, standby)
    └── LogIntegrityError (500 log_integrity)         the log would fork: nothing is signed
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "DailyCapReached",
    "DatabaseBusy",
    "DatabaseReadOnly",
    "DatabaseUnavailable",
    "Forbidden",
    "HubError",
    "ImplausibleRelease",
    "InvalidKey",
    "InvalidQuery",
    "KeyNotValid",
    "LogIntegrityError",
    "NotFound",
    "NotInitialised",
    "PayloadTooLarge",
    "PeriodOutOfRange",
    "QuestionNotAnswerable",
    "RateLimited",
    "RevisionConflict",
    "RoundConflict",
    "RoundForbidden",
    "RoundRefused",
    "StorageFault",
    "StorageFull",
    "TaxonomyConflict",
    "Unauthorized",
    "UnknownHotline",
    "UnknownKey",
    "UnknownRound",
    "UnsupportedMediaType",
]


class HubError(Exception):
    """Root of every error raised by ``hub``."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str = "", *, retry_after: int | None = None) -> None:
        super().__init__(message)
        #: Seconds a client should wait before trying again (sent as ``Retry-After``), when waiting helps.
        self.retry_after = retry_after

    def diagnostics(self) -> str:
        """A one-paragraph explanation fit to show a person."""
        return f"{type(self).__name__}: {self}"

    def problem_fields(self) -> dict[str, str]:
        """Extension members of the problem detail (RFC 9457 §3.2) beyond type, title, status, detail and code."""
        return {}


class BadRequest(HubError):
    status_code = 400
    code = "bad_request"
    title = "Bad request"


class PeriodOutOfRange(BadRequest):
    code = "period_out_of_range"
    title = "Period out of range"


class InvalidKey(HubError):
    """A public key that is well-formed text but not a valid key (off the curve, non-canonical, small order)."""

    status_code = 422
    code = "invalid_public_key"
    title = "Invalid public key"


class InvalidQuery(BadRequest):
    code = "invalid_query"
    title = "Invalid query"


class QuestionNotAnswerable(InvalidQuery):
    """No combination of the released tables answers a question (at all, or for some months in range)."""

    code = "not_answerable"
    title = "Question not answerable from the released tables"


class Unauthorized(HubError):
    status_code = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(HubError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


class UnknownHotline(Forbidden):
    code = "unknown_hotline"
    title = "Unknown hotline"


class UnknownKey(Forbidden):
    code = "unknown_key"
    title = "Unknown key"


class KeyNotValid(Forbidden):
    code = "key_not_valid"
    title = "Key not valid"


class NotFound(HubError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(HubError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class RevisionConflict(Conflict):
    code = "revision_conflict"
    title = "Revision already submitted with other content"


class TaxonomyConflict(Conflict):
    """A taxonomy reuses a registered table or dimension name for other cells or codes."""

    code = "taxonomy_conflict"
    title = "Taxonomy conflicts with a registered one"


class _RoundRule:
    """A refusal of a secure-aggregation group, roster or round message, naming its ``rule`` (RFC 9457 member)."""

    rule: str

    def problem_fields(self) -> dict[str, str]:
        return {"rule": self.rule}


class RoundForbidden(_RoundRule, Forbidden):
    code = "round_forbidden"
    title = "Round message not signed by a member"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class UnknownRound(_RoundRule, NotFound):
    code = "unknown_round"
    title = "No such aggregation group or round"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class RoundConflict(_RoundRule, Conflict):
    code = "round_conflict"
    title = "Round message conflicts with the round's state"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class RoundRefused(_RoundRule, HubError):
    status_code = 422
    code = "round_refused"
    title = "Secure-aggregation rule broken"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class PayloadTooLarge(HubError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(HubError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class RateLimited(HubError):
    """Too many requests from one source address, token or hotline; ``retry_after`` says when to try again."""

    status_code = 429
    code = "rate_limited"
    title = "Too many requests"


class DailyCapReached(RateLimited):
    """A hotline reached a daily cap on the months or revisions it submits; ``rule`` names which."""

    code = "daily_cap"
    title = "Daily cap of a hotline reached"

    def __init__(self, message: str, *, rule: str, limit: str, value: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.rule, self.limit, self.value = rule, limit, value

    def problem_fields(self) -> dict[str, str]:
        return {"rule": self.rule, "limit": self.limit, "value": self.value}


class ImplausibleRelease(HubError):
    """A release breaks a plausibility rule (``protocol.plausibility``): the rule, its limit and the value found."""

    status_code = 422
    code = "implausible_release"
    title = "Release refused as implausible"

    def __init__(self, message: str, *, rule: str, limit: str, value: str) -> None:
        super().__init__(message)
        self.rule, self.limit, self.value = rule, limit, value

    def problem_fields(self) -> dict[str, str]:
        return {"rule": self.rule, "limit": self.limit, "value": self.value}


class NotInitialised(HubError):
    code = "not_initialised"
    title = "Hub not initialised"


class DatabaseUnavailable(HubError):
    status_code = 503
    code = "database_unavailable"
    title = "Database unavailable"


class DatabaseBusy(DatabaseUnavailable):
    """The database stayed locked (or the transaction lost a conflict) past the wait; nothing was stored."""

    code = "database_busy"
    title = "Database busy"


class StorageFault(HubError):
    """The database's storage refused a write; only the hub's operator can fix it, and nothing was stored.

    ``str(error)`` is fit for any client. ``server_detail`` adds what the operator needs (where the database is,
    what to check): it goes to the server log and the command line, never into a response.
    """

    status_code = 503
    code = "storage_fault"
    title = "Database storage failed"

    def __init__(self, message: str, *, server_detail: str) -> None:
        super().__init__(message)
        self.server_detail = server_detail

    def diagnostics(self) -> str:
        return f"{type(self).__name__}: {self.server_detail}"


class StorageFull(StorageFault):
    status_code = 507
    code = "storage_full"
    title = "Insufficient storage"


class DatabaseReadOnly(StorageFault):
    code = "database_read_only"
    title = "Database read-only"


class LogIntegrityError(HubError):
    code = "log_integrity"
    title = "Transparency log integrity failure"
