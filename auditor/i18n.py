# SPDX-License-Identifier: Apache-2.0
"""The language of the auditor's human report (``verify``, ``check``, ``receipt``, ``receipts``): English,
Ukrainian, Romanian or Russian, through the gettext catalogue
``auditor/locale/<lang>/LC_MESSAGES/auditor.mo``, English for any message a catalogue lacks.

>>> language_from(None, {"LC_ALL": "ru_RU.UTF-8", "LANG": "uk_UA.UTF-8"})
'ru'
>>> language_from("ro", {"LANG": "uk_UA.UTF-8"}), language_from(None, {"LANG": "C.UTF-8"}), language_from(None, {})
('ro', 'en', 'en')

The language is ``tipshare-audit --lang``, else the first of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and
``LANG`` that is set (the POSIX precedence; ``C`` and ``POSIX`` mean English), else English. A language
the catalogues lack falls back to English. ``--json`` documents are never translated: scripts read them.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["LANGUAGES", "N_", "gettext", "language_from", "ngettext", "use"]

LANGUAGES: Final = ("en", "uk", "ro", "ru")
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
_ENVIRONMENT: Final = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_current: list[_gettext.NullTranslations] = [_gettext.NullTranslations()]


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


def language_from(option: str | None, environ: Mapping[str, str]) -> str:
    """The language to speak: ``option`` (``--lang``), else the locale environment, else English."""
    if option:
        return _primary(option)
    for name in _ENVIRONMENT:
        value = environ.get(name, "")
        if value:
            # LANGUAGE may list several (uk:ru): the first one spoken wins.
            for candidate in value.split(":"):
                primary = _primary(candidate)
                if primary in LANGUAGES:
                    return primary
            return "en"
    return "en"


def _primary(tag: str) -> str:
    """``uk_UA.UTF-8`` → ``uk``; ``C``/``POSIX`` → ``en``."""
    primary = tag.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return "en" if primary in ("c", "posix", "") else primary


def use(language: str) -> None:
    """Speak ``language`` from now on (this process runs one command)."""
    if language == "en" or language not in LANGUAGES:
        _current[0] = _gettext.NullTranslations()
    else:
        _current[0] = _gettext.translation("auditor", LOCALE_DIR, languages=[language], fallback=True)


def gettext(message: str) -> str:
    return _current[0].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current[0].ngettext(singular, plural, n)
