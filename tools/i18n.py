# SPDX-License-Identifier: Apache-2.0
"""``make i18n``: extract the messages of the hub, the node and the auditor, update their Ukrainian, Romanian and
Russian catalogues, compile them, and fail (naming each) on a message a catalogue leaves untranslated or fuzzy.

    python -m tools.i18n            # extract, update, compile, check
    python -m tools.i18n --check    # only check that the committed catalogues are complete and compiled

Catalogues live in ``<package>/locale/<lang>/LC_MESSAGES/<package>.po`` with the compiled ``.mo`` next to them
(committed, so an install from a clone needs no build step); the template is ``<package>/locale/<package>.pot``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

ROOT: Final = Path(__file__).resolve().parents[1]
DOMAINS: Final = ("hub", "node", "auditor")
LANGUAGES: Final = ("uk", "ro", "ru")
TEMPLATES: Final = "hub/dashboard/templates/**.html"
_STABLE_DATE: Final = datetime(2026, 12, 1, tzinfo=UTC)

Extractor = Callable[..., Iterator[Any]]


def extract_taxonomy(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    """The taxonomy's code labels (``protocol/data/taxonomy-*.json``), which the dashboard shows. Country codes are
    left out: their names come from pycountry's ISO 3166-1 translations."""
    taxonomy = json.loads(fileobj.read().decode("utf-8"))
    for name, dimension in taxonomy["dimensions"].items():
        for code in dimension["codes"]:
            if code.get("kind") != "country":
                yield 0, "_", code["label"], [f"taxonomy: {name} code {code['code']}"]


#: What each domain's messages are extracted from: (pattern relative to the repository, extractor).
SOURCES: Final[Mapping[str, list[tuple[str, str | Extractor]]]] = {
    "hub": [
        ("hub/**.py", "python"),
        # The refusals protocol words (marked with N_) that the dashboard shows translated.
        ("protocol/combination.py", "python"),
        ("protocol/estimation.py", "python"),
        (TEMPLATES, babel_extract),
        ("protocol/data/taxonomy-*.json", extract_taxonomy),
    ],
    "node": [("node/**.py", "python")],
    "auditor": [("auditor/**.py", "python")],
}
#: The command-line apps whose ``--help`` texts (every command's, group's and option's help) each domain holds:
#: (module, attribute). They are read from the click command tree typer builds, the same tree ``main`` translates.
HELP_APPS: Final[Mapping[str, tuple[str, str]]] = {"node": ("node.cli", "app"), "auditor": ("auditor.cli", "app")}


def help_messages(domain: str) -> Iterator[tuple[str, str, str]]:
    """``(text, where, comment)`` for each help text of ``domain``'s command-line app (none for the hub)."""
    if domain not in HELP_APPS:
        return
    import importlib

    import typer

    module_name, attribute = HELP_APPS[domain]
    module = importlib.import_module(module_name)
    i18n = importlib.import_module(f"{domain}.i18n")
    command = typer.main.get_command(getattr(module, attribute))
    for holder, field, text in i18n.help_texts(command):
        kind = "option" if hasattr(holder, "opts") else "command"
        name = "/".join(holder.opts) if kind == "option" and holder.opts else (holder.name or "")
        yield text, f"{module_name.replace('.', '/')}.py", f"--help: {kind} {name} {field}"


#: gettext's keywords, and the auditor's ``T_`` (a finding's sentence with named placeholders: its first argument).
KEYWORDS: Final = {**DEFAULT_KEYWORDS, "T_": None}
_OPTIONS: Final = {
    TEMPLATES: {"extensions": "jinja2.ext.i18n", "trim_blocks": "1", "lstrip_blocks": "1", "trimmed": "1"}
}


def po_path(domain: str, language: str) -> Path:
    return ROOT / domain / "locale" / language / "LC_MESSAGES" / f"{domain}.po"


def collect(domain: str) -> Catalog:
    """Every message of ``domain`` in the code, templates and data it is extracted from."""
    # A fixed creation date: running make i18n twice must not change a catalogue (or its .mo), nor conflict in merges.
    template = Catalog(project="tipshare", domain=domain, fuzzy=False, creation_date=_STABLE_DATE)
    method_map: Any = SOURCES[domain]
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, _OPTIONS, keywords=KEYWORDS, comment_tags=("taxonomy",), strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for message, filename, comment in help_messages(domain):
        if message in template:
            template[message].auto_comments.append(comment)
        else:
            template.add(message, None, [(filename, 0)], auto_comments=[comment])
    return template


def extract(domain: str) -> Catalog:
    """Every message of ``domain``, written to ``<domain>/locale/<domain>.pot``."""
    template = collect(domain)
    pot = ROOT / domain / "locale" / f"{domain}.pot"
    pot.parent.mkdir(parents=True, exist_ok=True)
    with pot.open("wb") as f:
        write_po(f, template, width=0, omit_header=True, sort_by_file=True, include_lineno=False)
    return template


def update(domain: str, template: Catalog) -> None:
    """Bring each language's catalogue in line with the template (new messages empty, dropped ones removed)."""
    for language in LANGUAGES:
        po = po_path(domain, language)
        if po.exists():
            with po.open("rb") as f:
                catalog = read_po(f, locale=language)
        else:
            catalog = Catalog(locale=language, domain=domain, project="tipshare", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        po.parent.mkdir(parents=True, exist_ok=True)
        with po.open("wb") as f:
            write_po(f, catalog, width=0, include_previous=False, include_lineno=False)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def problems(domain: str) -> list[str]:
    """What is wrong with the catalogues of ``domain``: a missing translation, a fuzzy one, a message of the
    template that a catalogue lacks, or a ``.mo`` that is not the compiled ``.po``."""
    found: list[str] = []
    pot_path = ROOT / domain / "locale" / f"{domain}.pot"
    with pot_path.open("rb") as f:
        template = read_po(f)
    for language in LANGUAGES:
        po = po_path(domain, language)
        with po.open("rb") as f:
            catalog = read_po(f, locale=language)
        for message in template:
            if message.id and message.id not in catalog:
                found.append(f"{po.relative_to(ROOT)}: no entry for msgid {message.id!r}")
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if not all(strings):
                found.append(f"{po.relative_to(ROOT)}: msgid {message.id!r} has no translation")
            if message.fuzzy:
                found.append(f"{po.relative_to(ROOT)}: msgid {message.id!r} is fuzzy")
            # Only messages with named placeholders are %-formatted; Babel also flags "95% interval" (a "% i").
            if "%(" in str(message.id):
                for error in message.check(catalog):
                    found.append(f"{po.relative_to(ROOT)}: msgid {message.id!r}: {error}")
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(catalog):
            found.append(f"{mo.relative_to(ROOT)}: not compiled from its .po (run make i18n)")
    return found


def compile_all(domain: str) -> None:
    for language in LANGUAGES:
        po = po_path(domain, language)
        with po.open("rb") as f:
            catalog = read_po(f, locale=language)
        po.with_suffix(".mo").write_bytes(compiled(catalog))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the committed catalogues")
    args = parser.parse_args(argv)
    found: list[str] = []
    for domain in DOMAINS:
        if not args.check:
            update(domain, extract(domain))
            compile_all(domain)
        found.extend(problems(domain))
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s) in the catalogues: translate them and run make i18n again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
