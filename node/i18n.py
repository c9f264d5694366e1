# SPDX-License-Identifier: Apache-2.0
"""The language of the node's messages (``prepare``'s summary and preview, its check, the hints after
them): English, Ukrainian, Romanian or Russian, through the gettext catalogue
``node/locale/<lang>/LC_MESSAGES/node.mo``, English for any message a catalogue lacks.

>>> language_from(None, {"LC_ALL": "ru_RU.UTF-8", "LANG": "uk_UA.UTF-8"})
'ru'
>>> language_from("ro", {"LANG": "uk_UA.UTF-8"}), language_from(None, {"LANG": "C.UTF-8"}), language_from(None, {})
('ro', 'en', 'en')

The language is ``tipshare-node --lang``, else the first of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and
``LANG`` that is set (the POSIX precedence; ``C`` and ``POSIX`` mean English), else English. A language
the catalogues lack falls back to English. ``--json`` documents are never translated: scripts read them.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "LANGUAGES",
    "N_",
    "Text",
    "gettext",
    "help_texts",
    "language_from",
    "language_in",
    "ngettext",
    "translate",
    "translate_help",
    "use",
]

LANGUAGES: Final = ("en", "uk", "ro", "ru")
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
_ENVIRONMENT: Final = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_current: list[_gettext.NullTranslations] = [_gettext.NullTranslations()]


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


class Text(str):
    """An English message (``msgid % args``) that remembers its msgid and named arguments, so that the screen can
    show it in the officer's language while ``str()``, logs and tests keep the English text.

    >>> t = Text(N_("row %(row)s: no %(field)s"), row=7, field="ext_PersonID")
    >>> t, translate(t)
    ('row 7: no ext_PersonID', 'row 7: no ext_PersonID')

    Arguments that are themselves :class:`Text` are translated too; other arguments (names and values from the
    export) never are.
    """

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, /, **params: object) -> Text:
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid = msgid
        text.params = params
        return text


def translate(text: str) -> str:
    """``text`` in the current language if it is a :class:`Text`; any other string as it is."""
    if not isinstance(text, Text):
        return text
    message = gettext(text.msgid)
    if not text.params:
        return message
    params = {k: translate(v) if isinstance(v, Text) else v for k, v in text.params.items()}
    try:
        return message % params
    except (KeyError, ValueError, TypeError):  # a broken translation must not hide the error: English then
        return text.msgid % params


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

    ``--help`` is written before the commands run, so ``main`` chooses the language from the raw arguments.

    >>> language_in(["--lang", "uk", "status"], {}), language_in(["--lang=ro"], {})
    ('uk', 'ro')
    >>> language_in(["status"], {"LANG": "ru_RU.UTF-8"})
    'ru'

    """
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


def translate_help(command: Any) -> None:
    """Say every help text of ``command`` and everything under it in the language spoken now (see :func:`use`).

    Click's own words stay English: typer's click writes "Usage:" and "Show this message and exit." without
    gettext, and typer looks its panel titles ("Options", "Commands") up in gettext's process-wide default domain
    once, when it is imported; neither ships a translation, and no hook takes a language per run."""
    for holder, attribute, text in list(help_texts(command)):
        setattr(holder, attribute, gettext(text))


def _primary(tag: str) -> str:
    """``uk_UA.UTF-8`` → ``uk``; ``C``/``POSIX`` → ``en``."""
    primary = tag.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return "en" if primary in ("c", "posix", "") else primary


def use(language: str) -> None:
    """Speak ``language`` from now on (this process runs one command)."""
    if language == "en" or language not in LANGUAGES:
        _current[0] = _gettext.NullTranslations()
    else:
        _current[0] = _gettext.translation("node", LOCALE_DIR, languages=[language], fallback=True)


def gettext(message: str) -> str:
    return _current[0].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current[0].ngettext(singular, plural, n)
