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

from pathlib import Path
from typing import Any, Final

from appkit.languages import LANGUAGES, Catalogue, help_texts, language_from, language_in
from appkit.languages import translate_help as _translate_help

__all__ = [
    "CATALOGUE",
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

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"


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


def translate_help(command: Any) -> None:
    """Say every help text of ``command`` and everything under it in the language spoken now (see :func:`use`)."""
    _translate_help(command, gettext)


CATALOGUE: Final = Catalogue("node", LOCALE_DIR)
#: Speak a language from now on (this process runs one command).
use = CATALOGUE.use
gettext = CATALOGUE.gettext
ngettext = CATALOGUE.ngettext
