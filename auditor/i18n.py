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

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from appkit.languages import LANGUAGES, Catalogue, help_texts, language_from, language_in
from appkit.languages import translate_help as _translate_help

__all__ = [
    "CATALOGUE",
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

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"


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


def translate_help(command: Any) -> None:
    """Say every help text of ``command`` and everything under it in the language spoken now (see :func:`use`)."""
    _translate_help(command, gettext)


CATALOGUE: Final = Catalogue("auditor", LOCALE_DIR)
#: Speak a language from now on (this process runs one command).
use = CATALOGUE.use
gettext = CATALOGUE.gettext
ngettext = CATALOGUE.ngettext
