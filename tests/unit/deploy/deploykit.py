# SPDX-License-Identifier: Apache-2.0
"""What the deploy/ tests share: paths, parsers, the settings the hub and node really read, and their CLIs.

No container engine, Kubernetes cluster or systemd is needed: files are parsed (YAML with PyYAML, unit files as
INI) and checked against the code they configure, so a renamed setting or command breaks the build, not a
deployment.
"""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import typer.main
import yaml

import hub.cli
import node.cli
from hub.settings import Settings
from node.settings import NodeSettings

ROOT: Final = Path(__file__).resolve().parents[3]
DEPLOY: Final = ROOT / "deploy"
#: The image the Kubernetes manifests run (kustomize's images: rewrites its tag).
IMAGE: Final = "ghcr.io/tipshare/tipshare-hub"
#: A setting's name as it can appear in any file: TIPSHARE_HUB_… or TIPSHARE_NODE_…, upper case.
SETTING_NAME: Final = re.compile(r"\bTIPSHARE_(?:HUB|NODE)_[A-Z0-9_]*[A-Z0-9]\b")


def deploy_files() -> list[Path]:
    return sorted(path for path in DEPLOY.rglob("*") if path.is_file())


def settings_read() -> frozenset[str]:
    """Every environment variable :class:`hub.settings.Settings` and :class:`node.settings.NodeSettings` read."""
    names: set[str] = set()
    for model in (Settings, NodeSettings):
        prefix = str(model.model_config.get("env_prefix", ""))
        names.update(f"{prefix}{field}".upper() for field in model.model_fields)
    return frozenset(names)


def load_yaml_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as stream:
        return [document for document in yaml.safe_load_all(stream) if document is not None]


def load_yaml(path: Path) -> Any:
    documents = load_yaml_documents(path)
    assert len(documents) == 1, f"{path} should hold one YAML document, not {len(documents)}"
    return documents[0]


def load_unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit as INI. Repeated keys (Environment=, SystemCallFilter=) are allowed; the last one is kept."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive in systemd
    parser.read(path, encoding="utf-8")
    return parser


def unit_values(path: Path, section: str, key: str) -> list[str]:
    """Every value of a repeatable key (configparser keeps only the last one)."""
    values: list[str] = []
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
        elif current == section and "=" in stripped and not stripped.startswith(("#", ";")):
            name, value = stripped.split("=", 1)
            if name.strip() == key:
                values.append(value.strip())
    return values


def environment_assignments(values: list[str]) -> dict[str, str]:
    """``Environment=`` values (each one or more ``NAME=value`` words, shell-quoted) as a mapping."""
    assignments: dict[str, str] = {}
    for value in values:
        for word in shlex.split(value):
            name, _, setting = word.partition("=")
            assignments[name] = setting
    return assignments


# ------------------------------------------------------------------------------------------------ the CLIs


# typer builds click commands (from its own vendored copy of click in recent releases), so they are handled by
# their shape: a group has a ``commands`` mapping, an option parameter has ``param_type_name == "option"``.
Command = Any


@dataclass(frozen=True, slots=True)
class CLI:
    name: str
    group: Command

    @property
    def root_options(self) -> frozenset[str]:
        return _options(self.group)


def clis() -> dict[str, CLI]:
    return {
        "tipshare-hub": CLI("tipshare-hub", typer.main.get_command(hub.cli.app)),
        "tipshare-node": CLI("tipshare-node", typer.main.get_command(node.cli.app)),
    }


def _is_group(command: Command) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _options(command: Command) -> frozenset[str]:
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return frozenset(names)


def check_command(cli: CLI, argv: list[str], *, complete: bool) -> list[str]:
    """Problems with ``argv`` given to ``cli``: unknown subcommands or options (empty: it is a real command).

    With ``complete``, ``argv`` is a whole command line (from a unit file or a container's arguments) and must
    name a command, not just a group. Otherwise it is text found in documentation: a word after a group must be
    one of its commands, and words after a command that are not options end the check (arguments or prose).
    """
    problems: list[str] = []
    command = cli.group
    path = [cli.name]
    allowed = set(cli.root_options)
    for token in argv:
        option = token.split("=", 1)[0]
        if token.startswith("-"):
            if option not in allowed:
                problems.append(f"`{' '.join(path)}` has no option {option}")
            continue
        if _is_group(command):
            sub = command.commands.get(token)
            if sub is None:
                problems.append(f"`{' '.join(path)}` has no command {token!r}")
                break
            command = sub
            path.append(token)
            allowed = set(_options(command)) | set(cli.root_options)
        elif not complete:
            break
    if complete and _is_group(command):
        problems.append(f"`{' '.join(path)}` is a group of commands, not a command")
    return problems


#: ``tipshare-hub`` or ``tipshare-node`` followed by words and options, as written in prose or shell lines: at the
#: start of a line, after a space, quote, backtick or parenthesis, or as ``…/bin/tipshare-hub``; not where the
#: name is a user or group (``sudo -u tipshare-hub``, ``install -o … -g tipshare-hub``) or part of a path.
_MENTION: Final = re.compile(
    r"(?:^|(?<=[\s`(\"'])|(?<=/bin/))(?<!-[ugo] )"
    r"(tipshare-(?:hub|node)|hubctl|nodectl)((?:[ \t]+(?:--?[a-z][a-z0-9-]*|[a-z][a-z0-9-]*))*)",
    re.MULTILINE,
)


#: Shell functions deploy/README.md defines to run the CLIs as their service accounts.
_ALIASES: Final = {"hubctl": "tipshare-hub", "nodectl": "tipshare-node"}


def command_mentions(text: str) -> Iterator[tuple[str, list[str]]]:
    """Every ``tipshare-hub …``/``tipshare-node …`` command line in ``text``: the program and its words."""
    for match in _MENTION.finditer(text):
        words = match.group(2).split()
        if words:
            yield _ALIASES.get(match.group(1), match.group(1)), words
