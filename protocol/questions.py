# SPDX-License-Identifier: Apache-2.0
"""The question a downloaded answer file answers, written into the file so that anyone can recompute it.

A CSV or SDMX-CSV answer of the hub (``/v1/stats``, ``/v1/estimates``, ``/v1/exports``) carries, on every line, a
``question`` column (SDMX-CSV: ``QUESTION``) holding the request that asks it again: the route and its query
parameters, in a canonical order. With the checkpoint columns the file already had, that is all an auditor needs
to recompute the file from the signed log (``tipshare-audit check FILE``). The JSON answers carry the question as
fields of their own.

>>> text = question_text(Question("stats", "contacts", ("period", "channel"), {"channel": ("web",)},
...     "2026-09", "2026-10", "country", "UA"))
>>> text
'/v1/stats/contacts?group_by=period,channel&period_from=2026-09&period_to=2026-10&country=UA&channel=web'
>>> parse_question_text(text) == Question("stats", "contacts", ("period", "channel"), {"channel": ("web",)},
...     "2026-09", "2026-10", "country", "UA")
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from protocol.api import EstimatesAnswer
from protocol.errors import MalformedMessage

__all__ = ["Question", "estimates_question", "parse_question_text", "question_text"]

Route = Literal["stats", "estimates"]
ScopeLevel = Literal["region", "country", "hotline"]

_PATH: Final = re.compile(r"/v1/(stats|estimates)/([A-Za-z0-9_]{1,64})")
_KNOWN: Final = ("group_by", "period_from", "period_to", "country", "hotline")
_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~,")


@dataclass(frozen=True, slots=True)
class Question:
    """What an answer answers: ``route`` and ``name`` (a table, or a unit), the group keys (``period`` among them,
    first when the rows are per month), the filters (dimension → codes kept), the months, and the scope."""

    route: Route
    name: str
    group_by: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]] = field(hash=False)
    period_from: str
    period_to: str
    scope_level: ScopeLevel
    scope_code: str | None


def question_text(question: Question) -> str:
    """The relative URL that asks ``question`` again (``,`` kept readable in lists)."""
    params: list[tuple[str, str]] = []
    if question.group_by:
        params.append(("group_by", ",".join(question.group_by)))
    params += [("period_from", question.period_from), ("period_to", question.period_to)]
    if question.scope_level != "region" and question.scope_code is not None:
        params.append((question.scope_level, question.scope_code))
    params += [(name, ",".join(codes)) for name, codes in question.filters.items()]
    return f"/v1/{question.route}/{question.name}?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params)


def estimates_question(answer: EstimatesAnswer) -> Question:
    """The question an estimates answer echoes."""
    echo = answer.question
    return Question(
        route="estimates",
        name=echo.unit,
        group_by=tuple(echo.group_by),
        filters={name: tuple(codes) for name, codes in echo.filters.items()},
        period_from=echo.period_from,
        period_to=echo.period_to,
        scope_level=echo.scope.level,
        scope_code=echo.scope.code,
    )


def parse_question_text(text: str) -> Question:
    """The question of :func:`question_text`; :class:`MalformedMessage` if ``text`` is not one."""
    path, _, query = text.strip().partition("?")
    matched = _PATH.fullmatch(path)
    if matched is None:
        raise MalformedMessage(f"question {text[:120]!r} does not start with /v1/stats/<table> or /v1/estimates/<unit>")
    values: dict[str, str] = {}
    for pair in query.split("&") if query else ():
        name, equals, value = pair.partition("=")
        if not equals:
            raise MalformedMessage(f"question {text[:120]!r} has a parameter without a value: {pair[:40]!r}")
        name, value = _unquote(name), _unquote(value)
        if name in values:
            raise MalformedMessage(f"question {text[:120]!r} names {name} twice")
        values[name] = value
    if "period_from" not in values or "period_to" not in values:
        raise MalformedMessage(f"question {text[:120]!r} names no period_from and period_to")
    if "country" in values and "hotline" in values:
        raise MalformedMessage(f"question {text[:120]!r} names both a country and a hotline")
    level: ScopeLevel = "country" if "country" in values else "hotline" if "hotline" in values else "region"
    route: Route = "stats" if matched.group(1) == "stats" else "estimates"
    return Question(
        route=route,
        name=matched.group(2),
        group_by=_codes(values.get("group_by", "")),
        filters={name: _codes(value) for name, value in values.items() if name not in _KNOWN},
        period_from=values["period_from"],
        period_to=values["period_to"],
        scope_level=level,
        scope_code=values.get(level) if level != "region" else None,
    )


def _codes(value: str) -> tuple[str, ...]:
    return tuple(code for code in value.split(",") if code)


def _quote(text: str) -> str:
    """Percent-encode (RFC 3986) all but unreserved characters and ``,``."""
    return "".join(chr(byte) if chr(byte) in _SAFE else f"%{byte:02X}" for byte in text.encode("utf-8"))


def _unquote(text: str) -> str:
    """Undo :func:`_quote` (``+`` is a plus, as written); :class:`MalformedMessage` on a broken escape."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            escape = text[i + 1 : i + 3]
            if len(escape) != 2 or not all(c in "0123456789ABCDEFabcdef" for c in escape):
                raise MalformedMessage(f"broken percent escape in the question: {text[i : i + 3]!r}")
            out.append(int(escape, 16))
            i += 3
        else:
            out += text[i].encode("utf-8")
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("the question is not UTF-8 once unescaped") from None
