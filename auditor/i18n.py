"""The language of the auditor's human report (``verify`` and its findings and ``--report`` summary, ``check``,
``receipt``, ``receipts``, ``access-log verify``, ``witness init``): English, Ukrainian, Romanian or Russian,
through the gettext catalogue ``auditor/locale/<lang>/LC_MESSAGES/auditor.mo``, English for any message a
catalogue lacks.

>>> language_from(None, {"LC_ALL": "ru_RU.UTF-8", "LANG": "uk_UA.UTF-8"})
'ru'
>>> language_from("ro", {"LANG": "uk_UA.UTF-8"}), language_from(None, {"LANG": "C.UTF-8"}), language_from(None, {})
('ro', 'en', 'en')

The language is ``tipshare-audit --lang``, else the first of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and
``LANG`` that is set (the POSIX precedence; ``C`` and ``POSIX`` mean English), else English. A language
the catalogues lack falls back to English. ``--json`` documents are never translated: scripts read them.

What a check finds is a :class:`Text`: the English sentence (a ``str``, which ``--json`` and every comparison
see) that also keeps its message id and named placeholders, so the human report says it in the chosen language
(:func:`translated`); a placeholder that is itself a :class:`Text` is translated too.

>>> found = T_("entry {index} is not signed", index=3)
>>> found, found == "entry 3 is not signed", translated(found)
('entry 3 is not signed', True, 'entry 3 is not signed')
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "LANGUAGES",
    "N_",
    "T_",
    "Joined",
    "Text",
    "gettext",
    "help_texts",
    "language_from",
    "language_in",
    "ngettext",
    "translate_help",
    "translated",
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
    """An English message (the ``str`` itself) that remembers its message id and placeholders to translate it."""

    __slots__ = ("english", "msgid", "params")
    msgid: str
    params: dict[str, Any]
    #: The English sentence when it is not ``msgid`` filled in (a sentence from ``protocol``, which speaks English
    #: only, said again in the auditor's words for the other languages); ``None`` otherwise.
    english: str | None

    def __new__(cls, msgid: str, params: dict[str, Any], english: str | None = None) -> Text:
        text = super().__new__(cls, msgid.format(**params) if english is None else english)
        text.msgid = msgid
        text.params = params
        text.english = english
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.msgid, self.params, self.english))


class Joined(str):
    """Messages joined with ``sep``, each translated where the whole is (:func:`translated`)."""

    __slots__ = ("parts", "sep")
    parts: tuple[str, ...]
    sep: str

    def __new__(cls, parts: Iterable[str], sep: str = ", ") -> Joined:
        parts = tuple(parts)
        joined = super().__new__(cls, sep.join(parts))
        joined.parts = parts
        joined.sep = sep
        return joined

    def __reduce__(self) -> tuple[Any, ...]:
        return (Joined, (self.parts, self.sep))


def T_(msgid: str, /, **params: Any) -> Text:
    """A finding's sentence: ``msgid`` (extracted for the catalogues) with its named ``{placeholders}`` filled."""
    return Text(msgid, params)


def translated(message: str) -> str:
    """``message`` in the language spoken now: a :class:`Text` is translated, any other ``str`` shown as it is."""
    if isinstance(message, Joined):
        return message.sep.join(translated(part) for part in message.parts)
    if not isinstance(message, Text):
        return message
    said = gettext(message.msgid)
    if message.english is not None and said == message.msgid:
        return message.english  # English (or no translation): the original sentence
    params = {name: translated(value) if isinstance(value, str) else value for name, value in message.params.items()}
    try:
        return said.format(**params)
    except (KeyError, IndexError, ValueError):
        return message.msgid.format(**params)


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
        _current[0] = _gettext.translation("auditor", LOCALE_DIR, languages=[language], fallback=True)


def gettext(message: str) -> str:
    return _current[0].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current[0].ngettext(singular, plural, n)
