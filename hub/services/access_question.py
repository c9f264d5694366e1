# SPDX-License-Identifier: Apache-2.0
"""The question a request asked, parsed for the access log: what an auditor reads instead of the raw query.

The raw query hides as much as it shows: ``%68otline=la-strada-ua`` is ``hotline=la-strada-ua`` to the hub, and a
filter repeated with every code buries the rest. :func:`parse_question` decodes the query exactly as the routes do
(``application/x-www-form-urlencoded``, as Starlette's ``QueryParams``) and names each part:

>>> parse_question("/v1/stats/persons_corridor", "%68otline=la-strada-ua&group_by=period,citizenship"
...     "&citizenship=UA,MD", countries=frozenset({"UA"}))  # doctest: +NORMALIZE_WHITESPACE
{'scope': {'token_countries': ['UA'], 'hotline': 'la-strada-ua'}, 'table': 'persons_corridor',
 'group_by': ['period', 'citizenship'], 'filters': {'citizenship': ['UA', 'MD']}}

Every parameter given more than once is listed under ``repeated`` (a single-valued one keeps all its values, in
order), so a refused probe shows what it tried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qsl

__all__ = ["parse_question"]

#: Single-valued parameters and where they go: scope fields, periods, format and the views' options.
_SCOPE: Final = ("country", "hotline")
_PLAIN: Final = ("period_from", "period_to", "format")
_OPTIONS: Final = frozenset({"clip", "unit", "table", "split", "top", "after", "limit", "token_id", "since", "next"})
_SUBJECTS: Final = (
    (re.compile(r"/v1/stats/(?P<name>[^/]+)"), "table"),
    (re.compile(r"/v1/estimates/(?P<name>[^/]+)"), "unit"),
    (re.compile(r"/v1/exports/stats/(?P<name>[^/]+)\.sdmx\.csv"), "table"),
    (re.compile(r"/v1/exports/estimates/(?P<name>[^/]+)\.sdmx\.csv"), "unit"),
    (re.compile(r"/v1/(exports/)?(?P<name>completeness)(\.sdmx\.csv)?"), "view"),
    (re.compile(r"/(?P<name>[a-z]+)(/export)?"), "view"),
)


def parse_question(path: str, query: str, *, countries: Iterable[str] | None) -> dict[str, Any]:
    """The question of a request to ``path`` (decoded) with the raw ``query`` by a token limited to ``countries``."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    scope: dict[str, Any] = {"token_countries": sorted(countries) if countries is not None else None}
    question: dict[str, Any] = {"scope": scope}
    for kind_pattern, kind in _SUBJECTS:
        match = kind_pattern.fullmatch(path)
        if match:
            question[kind] = match.group("name")
            break
    options: dict[str, Any] = {}
    filters: dict[str, list[str]] = {}
    for name, given in values.items():
        if name in _SCOPE:
            scope[name] = _one(given)
        elif name in _PLAIN:
            question[name] = _one(given)
        elif name == "group_by":
            question["group_by"] = _codes(given)
        elif name in _OPTIONS:
            options[name] = _one(given)
        else:
            filters[name] = _codes(given)
    if options:
        question["options"] = options
    if filters:
        question["filters"] = filters
    repeated = sorted(name for name, given in values.items() if len(given) > 1)
    if repeated:
        question["repeated"] = repeated
    return question


def _one(given: list[str]) -> str | list[str]:
    return given[0] if len(given) == 1 else list(given)


def _codes(given: list[str]) -> list[str]:
    return [code.strip() for value in given for code in value.split(",") if code.strip()]
