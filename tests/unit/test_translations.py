# SPDX-License-Identifier: Apache-2.0
"""The gettext catalogues of the hub, the node and the auditor: every message of the code and templates is in
each of the Ukrainian, Romanian and Russian catalogues, translated and not fuzzy, named placeholders kept, and the
committed ``.mo`` files are exactly the compiled ``.po`` files (``make i18n`` extracts, updates, compiles and runs
this same check; after a merge it names every message still to translate)."""

from __future__ import annotations

import gettext
import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    """``tools/i18n.py`` (what ``make i18n`` runs; tools/ is not an installed package)."""
    spec = importlib.util.spec_from_file_location("tipshare_tools_i18n", ROOT / "tools" / "i18n.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


i18n = _load_tool()


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_committed_catalogues_are_complete_and_compiled(domain: str) -> None:
    assert i18n.problems(domain) == []


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_the_catalogues_hold_every_message_of_the_code(domain: str) -> None:
    """Extraction from the code as it is finds no message the catalogues lack (else: run make i18n, translate)."""
    with (i18n.ROOT / domain / "locale" / f"{domain}.pot").open("rb") as f:
        in_template = {message.id for message in read_po(f) if message.id}
    missing = {message.id for message in i18n.collect(domain) if message.id} - in_template
    assert missing == set(), f"messages not in the {domain} catalogues (run make i18n and translate them): {missing}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_installed_catalogues_load_with_gettext(language: str) -> None:
    for domain in i18n.DOMAINS:
        translations = gettext.translation(domain, i18n.ROOT / domain / "locale", languages=[language])
        assert isinstance(translations, gettext.GNUTranslations)


def test_the_dashboard_speaks_each_language() -> None:
    hub = gettext.translation("hub", i18n.ROOT / "hub" / "locale", languages=["uk"])
    assert hub.gettext("Trends") == "Динаміка"
    assert gettext.translation("hub", i18n.ROOT / "hub" / "locale", languages=["ro"]).gettext("Trends") == "Tendințe"
    assert gettext.translation("hub", i18n.ROOT / "hub" / "locale", languages=["ru"]).gettext("Trends") == "Динамика"


def test_an_install_ships_the_compiled_catalogues() -> None:
    """The .mo files are package data of each package (a wheel or an install from a clone has them)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = project["tool"]["setuptools"]["package-data"]
    for domain in i18n.DOMAINS:
        assert "locale/*/LC_MESSAGES/*.mo" in package_data[domain]
        assert sorted(p.parent.parent.name for p in (ROOT / domain / "locale").glob("*/LC_MESSAGES/*.mo")) == sorted(
            i18n.LANGUAGES
        )


def _help_texts(command: Any) -> Iterator[str]:
    """Every help text of a click command tree, walked here on its own (not with the extractor under test)."""
    for text in (command.help, command.short_help, *(getattr(param, "help", None) for param in command.params)):
        if text:
            yield text
    for sub in getattr(command, "commands", {}).values():  # a group (typer's own click: not click.Group)
        yield from _help_texts(sub)


@pytest.mark.parametrize(("domain", "module"), [("node", "node.cli"), ("auditor", "auditor.cli")])
def test_every_commands_and_options_help_is_translated(domain: str, module: str) -> None:
    """``--help`` of tipshare-node and tipshare-audit: a command or option added without a translated help fails."""
    command = typer.main.get_command(importlib.import_module(module).app)
    texts = set(_help_texts(command))
    assert len(texts) > 30  # the walk reached every command, group and option
    for language in i18n.LANGUAGES:
        catalogue = gettext.translation(domain, i18n.ROOT / domain / "locale", languages=[language])
        untranslated = sorted(text for text in texts if catalogue.gettext(text) == text)
        assert untranslated == [], f"--help texts without a {language} translation (run make i18n): {untranslated}"
