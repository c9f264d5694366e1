# SPDX-License-Identifier: Apache-2.0
"""The dashboard's languages: English, Ukrainian, Romanian and Russian, through the gettext catalogues of
``hub/locale`` (domain ``hub``), English as the fallback for any message a catalogue lacks.

>>> choose_language(query="uk", cookie=None, accept_language="ro")
'uk'
>>> choose_language(query=None, cookie=None, accept_language="de-DE,de;q=0.9,ru;q=0.5")
'ru'
>>> choose_language(query=None, cookie=None, accept_language="de")
'en'

The language of a page is chosen by, first to last: the ``lang`` query parameter (the switcher's links, so a
page in a language is a bookmarkable URL; the choice is also kept in a cookie), the ``tipshare_lang`` cookie, the
browser's ``Accept-Language`` (highest quality first), English. Code that builds what a page shows calls
:func:`gettext` (``_``) while :func:`using` holds the page's language, in a context variable, so concurrent
requests never share one (:mod:`hub.i18n`, which the hub's services word their notes and refusals with too).
Messages written in constants are marked with :func:`N_` and translated where shown.
"""

from __future__ import annotations

import functools
import gettext as _gettext
from typing import Final

import pycountry

from hub.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALE_DIR,
    N_,
    current_language,
    gettext,
    ngettext,
    set_language,
    translations,
    using,
)

__all__ = [
    "COOKIE",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "accept_languages",
    "choose_language",
    "country_translations",
    "current_language",
    "gettext",
    "ngettext",
    "set_language",
    "translations",
    "using",
]

#: The cookie that keeps a language chosen with the switcher.
COOKIE: Final = "tipshare_lang"


@functools.cache
def country_translations(language: str) -> _gettext.NullTranslations:
    """ISO 3166-1 country names in ``language``, as pycountry ships them (maintained by Debian's iso-codes)."""
    if language == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def accept_languages(header: str | None) -> list[str]:
    """The primary language subtags of an ``Accept-Language`` header, best first (``q=0`` dropped).

    >>> accept_languages("ro-MD, ru;q=0.8, *;q=0.1, en;q=0")
    ['ro', 'ru', '*']
    """
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    return [primary for _, _, primary in sorted(ranked)]


def choose_language(*, query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page's language: the ``lang`` parameter, the cookie, the first language of ``Accept-Language`` the
    dashboard speaks, else English."""
    for chosen in (query, cookie):
        if chosen in LANGUAGES:
            return chosen
    for primary in accept_languages(accept_language):
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE
