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
requests never share one. Messages written in constants are marked with :func:`N_` and translated where shown.
"""

from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pycountry

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

#: The languages the dashboard speaks, by code, each named in itself (as the switcher shows them).
LANGUAGES: Final = {"en": "English", "uk": "Українська", "ro": "Română", "ru": "Русский"}
DEFAULT_LANGUAGE: Final = "en"
#: The cookie that keeps a language chosen with the switcher.
COOKIE: Final = "tipshare_lang"
#: Where the compiled catalogues are: ``<lang>/LC_MESSAGES/hub.mo``.
LOCALE_DIR: Final = Path(__file__).resolve().parents[1] / "locale"
DOMAIN: Final = "hub"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("tipshare_dashboard_language", default="en")


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language`` (English: none, the messages are English)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])


@functools.cache
def country_translations(language: str) -> _gettext.NullTranslations:
    """ISO 3166-1 country names in ``language``, as pycountry ships them (maintained by Debian's iso-codes)."""
    if language == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def current_language() -> str:
    return _language.get()


def gettext(message: str) -> str:
    """``message`` in the current page's language (English if its catalogue lacks it)."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


def set_language(language: str) -> None:
    """Speak ``language`` for the rest of the current context (one request's endpoint)."""
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def using(language: str) -> Iterator[None]:
    """Speak ``language`` (one of :data:`LANGUAGES`) until the block ends."""
    token = _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


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
