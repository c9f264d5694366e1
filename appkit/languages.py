# SPDX-License-Identifier: Apache-2.0
"""Which language a command speaks, and its gettext catalogue: one mechanism for the node and the auditor.

The language is the command's ``--lang``, else the first of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``
that is set (``LANGUAGE`` may list several: the first one spoken wins), else English. Each app keeps its own
catalogue (``<app>/locale/<lang>/LC_MESSAGES/<app>.mo``) in a :class:`Catalogue`; its help texts are said in the
chosen language by :func:`translate_help`, one walk over the command tree that ``make i18n`` also extracts from
(:func:`help_texts`).

>>> language_in(["--lang", "uk", "status"], {}), language_in(["--lang=ro"], {})
('uk', 'ro')
>>> language_in(["status"], {"LANG": "ru_RU.UTF-8"}), language_in(["status"], {"LANGUAGE": "de:ro"})
('ru', 'ro')
>>> language_from(None, {"LC_ALL": "C"})
'en'
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = ["LANGUAGES", "Catalogue", "help_texts", "language_from", "language_in", "translate_help"]

#: The languages every app speaks: English and the region's three others.
LANGUAGES: Final = ("en", "uk", "ro", "ru")
_ENVIRONMENT: Final = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


class Catalogue:
    """One app's messages in the language spoken now (a process runs one command: one language at a time)."""

    def __init__(self, domain: str, locale_dir: Path) -> None:
        self.domain = domain
        self.locale_dir = locale_dir
        self._current: _gettext.NullTranslations = _gettext.NullTranslations()

    def use(self, language: str) -> None:
        """Speak ``language`` from now on; English (the messages themselves) for a language not spoken."""
        if language == "en" or language not in LANGUAGES:
            self._current = _gettext.NullTranslations()
        else:
            self._current = _gettext.translation(self.domain, self.locale_dir, languages=[language], fallback=True)

    def gettext(self, message: str) -> str:
        return self._current.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._current.ngettext(singular, plural, n)


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


def language_in(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The language of a command line not parsed yet: its ``--lang X`` or ``--lang=X``, else the environment.

    ``--help`` is written before the commands run, so ``main`` chooses the language from the raw arguments."""
    option: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            option = argv[i + 1]
            break
        if arg.startswith("--lang="):
            option = arg.removeprefix("--lang=")
            break
    return language_from(option, environ)


def help_texts(command: Any) -> Iterator[tuple[Any, str, str]]:
    """Every help text of a click ``command`` (as ``typer.main.get_command`` builds it) and of everything under it:
    ``(holder, attribute, text)`` for each command's and group's ``help`` and ``short_help`` and each parameter's
    ``help``. ``make i18n`` extracts these texts and ``main`` translates them: one walk, one source of truth."""
    for attribute in ("help", "short_help"):
        text = getattr(command, attribute, None)
        if isinstance(text, str) and text:
            yield command, attribute, text
    for param in getattr(command, "params", ()):
        text = getattr(param, "help", None)
        if isinstance(text, str) and text:
            yield param, "help", text
    for sub in dict(getattr(command, "commands", None) or {}).values():
        yield from help_texts(sub)


def translate_help(command: Any, gettext: Callable[[str], str]) -> None:
    """Say every help text of ``command`` and everything under it through ``gettext`` (the language spoken now).

    Click's own words stay English: typer's click writes "Usage:" and "Show this message and exit." without
    gettext, and typer looks its panel titles ("Options", "Commands") up in gettext's process-wide default domain
    once, when it is imported; neither ships a translation, and no hook takes a language per run."""
    for holder, attribute, text in list(help_texts(command)):
        setattr(holder, attribute, gettext(text))


def _primary(tag: str) -> str:
    """``uk_UA.UTF-8`` → ``uk``; ``C``/``POSIX`` → ``en``."""
    primary = tag.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return "en" if primary in ("c", "posix", "") else primary
