# SPDX-License-Identifier: Apache-2.0
"""What the dashboard shows for codes and numbers: country names, code labels, signed numbers, in the page's
language.

>>> labels = Labels(builtin_taxonomy())                    # doctest: +SKIP
>>> labels.code("citizenship", "MD"), labels.code("citizenship", "150"), labels.code("gender", "F")  # doctest: +SKIP
('Moldova', 'Europe, other than the countries listed', 'Female')

Country names come from ISO 3166-1 as maintained in ``pycountry`` (its common name where it has one, e.g.
"Moldova" rather than "Moldova, Republic of"); the taxonomy's own labels name the M49 region buckets and the codes
ISO leaves to users (XX stateless, ZZ unknown, XN not exploited, XK Kosovo). Exports keep the codes.

In another language, country names come from the ISO 3166-1 translations pycountry ships (Debian's iso-codes,
maintained by their translators), dimension names and the taxonomy's labels from the hub's own catalogue (the
taxonomy's labels are extracted from its JSON by ``make i18n``).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import babel
import babel.dates
import babel.numbers
import pycountry

from hub.dashboard.i18n import N_, country_translations, current_language
from hub.dashboard.i18n import gettext as _
from hub.i18n import DIMENSION_NAMES
from protocol.taxonomy import Taxonomy

__all__ = [
    "DIMENSION_NAMES",
    "MESSAGES",
    "MINUS",
    "Labels",
    "country_name",
    "format_count",
    "format_moment",
    "format_number",
    "format_percent",
    "number_symbols",
]

#: The minus sign shown for negative numbers (U+2212, read as "minus" by screen readers).
MINUS: Final = "\u2212"


#: Words the hub's answers carry in English that pages show: unit labels (``protocol.api.UNIT_LABELS``), roles.
MESSAGES: Final = (
    N_("potential victims reported to hotlines"),
    N_("cases opened by hotlines"),
    N_("contacts received by hotlines"),
    N_("coordinator"),
    N_("auditor"),
)


def country_name(code: str) -> str | None:
    """The short name of an ISO 3166-1 alpha-2 code in the current language, or ``None`` if ISO assigns none."""
    return _country_name(code, current_language())


@functools.cache
def _country_name(code: str, language: str) -> str | None:
    if len(code) != 2 or not code.isalpha() or not code.isupper():
        return None
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return None
    translations = country_translations(language)
    # The common name ("Moldova") where the language's catalogue has one, else the translated ISO name.
    known: dict[str, str] = getattr(translations, "_catalog", {})
    common: str | None = getattr(country, "common_name", None)
    if common is not None and (language == "en" or common in known):
        return translations.gettext(common)
    name: str = translations.gettext(country.name)
    return name


def format_count(value: int | None) -> str:
    """A count as shown: thousands separated, a real minus sign, an en dash for "no value".

    >>> format_count(1234), format_count(-7), format_count(None)
    ('1,234', '−7', '–')
    """
    return format_number(value)


def format_number(value: float | None) -> str:
    """An estimate as published (at most two decimals; least-squares estimates are fractional), thousands
    separated, trailing zeros dropped, a real minus sign, an en dash for "no value"; grouping and decimal sign as
    the page's language writes them (Babel's CLDR data: ``1 234,5`` in Ukrainian and Russian, ``1.234,5`` in
    Romanian). Files and the API keep machine numbers.

    >>> format_number(1234.5), format_number(-7.25), format_number(412.0), format_number(-0.001), format_number(None)
    ('1,234.5', '−7.25', '412', '0', '–')
    """
    if value is None:
        return "\u2013"
    # Rounded as published (two decimals), then written in the page's language.
    rounded = Decimal(f"{abs(value):.2f}")
    text = babel.numbers.format_decimal(rounded, format="#,##0.##", locale=current_language())
    return MINUS + text if value < 0 and rounded != 0 else text


def format_percent(rate: float | None, *, decimals: str = "0") -> str:
    """A rate (0..1) as a percentage in the page's language, one decimal by default (``decimals="#"``: only
    when needed), an en dash for "no value".

    >>> format_percent(0.525), format_percent(1.0), format_percent(0.05, decimals="#"), format_percent(None)
    ('52.5%', '100.0%', '5%', '–')
    """
    if rate is None:
        return "\u2013"
    language = current_language()
    pattern = babel.Locale.parse(language).percent_formats[None].pattern.replace("#,##0", f"#,##0.{decimals}")
    return babel.numbers.format_percent(rate, format=pattern, locale=language)


def number_symbols() -> tuple[str, str]:
    """``(group, decimal)`` separators of the page's language, for the charts' script."""
    language = current_language()
    return babel.numbers.get_group_symbol(language), babel.numbers.get_decimal_symbol(language)


def format_moment(moment: datetime | None) -> str:
    """An instant (UTC) as the page's language writes it: ``2026-03-05 09:00 UTC`` in English,
    ``5 березня 2026, 09:00 UTC`` in Ukrainian."""
    if moment is None:
        return "\u2013"
    language = current_language()
    if language == "en":
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"{babel.dates.format_datetime(moment, 'd MMMM y, HH:mm', tzinfo=UTC, locale=language)} UTC"


class Labels:
    """Labels of the dimensions and codes of one taxonomy."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._taxonomy = taxonomy

    def dimension(self, name: str) -> str:
        """``country_of_exploitation`` → ``Country of exploitation`` (in the current language)."""
        return _(DIMENSION_NAMES[name]) if name in DIMENSION_NAMES else name.replace("_", " ").capitalize()

    def code(self, dimension: str, code: str) -> str:
        """The label of a code: the country name for ISO country codes, else the taxonomy's label (translated)."""
        found = self._taxonomy.dimensions.get(dimension)
        if found is None:
            return code
        position = found.code_names.index(code) if code in found.code_names else None
        if position is None:
            return code
        entry = found.codes[position]
        if entry.kind == "country":
            return country_name(code) or _(entry.label)
        return _(entry.label)

    def country(self, code: str) -> str:
        """The name of a hotline's country (ISO 3166-1 alpha-2)."""
        return country_name(code) or code

    def is_country_dimension(self, dimension: str) -> bool:
        found = self._taxonomy.dimensions.get(dimension)
        return found is not None and any(code.kind for code in found.codes)
