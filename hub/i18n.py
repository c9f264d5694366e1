# SPDX-License-Identifier: Apache-2.0
"""The hub's languages: English, Ukrainian, Romanian and Russian, through the gettext catalogues of ``hub/locale``
(domain ``hub``), English as the fallback for any message a catalogue lacks.

The language is held in a context variable, so concurrent requests never share one. Only the dashboard sets it
(:func:`hub.dashboard.i18n.using` and :func:`set_language`, for one page); the API, the exports and the command
line never do, so what the hub's services word (an answer's notes, a refusal's reason) stays English there, byte
for byte, and is in the page's language on a dashboard page. Services word such texts as whole sentences with
named placeholders, ``_("... %(unit)s ...") % {...}``, so that a translator sees the sentence; messages written
in constants (and in :mod:`protocol`, which translates nothing) are marked with :func:`N_` and translated where
they are shown.
"""

from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = [
    "DEFAULT_LANGUAGE",
    "DIMENSION_NAMES",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "current_language",
    "dimension_term",
    "dimensions_term",
    "gettext",
    "ngettext",
    "set_language",
    "translate",
    "translations",
    "using",
]

#: The languages the hub speaks, by code, each named in itself (as the dashboard's switcher shows them).
LANGUAGES: Final = {"en": "English", "uk": "Українська", "ro": "Română", "ru": "Русский"}
DEFAULT_LANGUAGE: Final = "en"
#: Where the compiled catalogues are: ``<lang>/LC_MESSAGES/hub.mo``.
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "hub"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("tipshare_hub_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


#: Dimension names as the dashboard shows them (any other: ``country_of_exploitation`` → ``Country of
#: exploitation``).
DIMENSION_NAMES: Final = {
    "citizenship": N_("Citizenship"),
    "country_of_exploitation": N_("Country of exploitation"),
    "exploitation_type": N_("Exploitation type"),
    "exploitation_group": N_("Exploitation group"),
    "gender": N_("Gender"),
    "age_band": N_("Age band"),
    "age_group": N_("Age group"),
    "recruiter_relation": N_("Recruiter relation"),
    "recruitment_channel": N_("Recruitment channel"),
    "control_flag": N_("Control flag"),
    "cross_border": N_("Cross border"),
    "channel": N_("Channel"),
    "contact_type": N_("Contact type"),
}


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language`` (English: none, the messages are English)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])


def current_language() -> str:
    return _language.get()


def gettext(message: str) -> str:
    """``message`` in the current language (English if its catalogue lacks it)."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


def translate(template: str, params: Mapping[str, object]) -> str:
    """``template`` (a message with named placeholders, marked with :func:`N_`) in the current language, filled
    with ``params``; in English exactly ``template % params``."""
    return gettext(template) % dict(params)


def dimension_term(name: str) -> str:
    """A dimension named inside a sentence: its code name in English (what the API and the exports say), the
    dashboard's label in lower case in another language (``citizenship`` → ``громадянство``)."""
    if _language.get() == DEFAULT_LANGUAGE or name not in DIMENSION_NAMES:
        return name
    label = gettext(DIMENSION_NAMES[name])
    return label[:1].lower() + label[1:]


def dimensions_term(names: Iterator[str] | tuple[str, ...] | list[str], separator: str = ", ") -> str:
    """Several dimensions named inside a sentence (:func:`dimension_term`), joined by ``separator``."""
    return separator.join(dimension_term(name) for name in names)


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
