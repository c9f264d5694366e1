# SPDX-License-Identifier: Apache-2.0
"""deploy/ names only settings the hub and node really read, with values they accept, and only real commands.

A misspelt ``TIPSHARE_HUB_*`` variable is silently ignored by pydantic-settings (``extra="ignore"``), so a
deployment could run for months on a default nobody chose. These tests compare every name in every file under
deploy/ (manifests, units, examples and the docs) with the fields of :class:`hub.settings.Settings` and
:class:`node.settings.NodeSettings`, and every ``tipshare-hub …``/``tipshare-node …`` command line with the CLIs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hub.settings import Settings
from node.settings import NodeSettings
from tests.unit.deploy.deploykit import (
    DEPLOY,
    SETTING_NAME,
    check_command,
    clis,
    command_mentions,
    deploy_files,
    environment_assignments,
    load_yaml,
    load_yaml_documents,
    settings_read,
    unit_values,
)

COMPOSE = DEPLOY / "compose" / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"


def test_the_settings_come_from_the_code() -> None:
    names = settings_read()
    assert {"TIPSHARE_HUB_DATA_DIR", "TIPSHARE_HUB_DATABASE_URL", "TIPSHARE_HUB_WORKERS"} <= names
    assert {"TIPSHARE_NODE_HOME", "TIPSHARE_NODE_TIMEOUT"} <= names
    assert "TIPSHARE_HUB_ORIGIN" not in names  # the origin is an init option, stored in the database


@pytest.mark.parametrize("path", deploy_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_setting_named_in_deploy_is_read_by_the_code(path: Path) -> None:
    found = set(SETTING_NAME.findall(path.read_text(encoding="utf-8")))
    unknown = sorted(found - settings_read())
    assert not unknown, f"{path.relative_to(DEPLOY)} names settings that neither hub nor node reads: {unknown}"


def test_the_docs_document_every_setting() -> None:
    documented = set(SETTING_NAME.findall((DEPLOY / "README.md").read_text(encoding="utf-8")))
    assert documented == settings_read()


# ------------------------------------------------------------------------------------------------ values


def _compose_interpolated(text: str) -> str:
    """``${NAME:?message}`` and ``${NAME:-default}`` replaced with the example values of env.example."""
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "compose" / "env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    example["POSTGRES_PASSWORD"] = "0123456789abcdef"  # noqa: S105 - env.example leaves it empty on purpose

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        return example.get(name) or default or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(:[?-]([^}]*))?\}", value, text)


def _hub_settings(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the hub would build from exactly ``environment``."""
    for name in settings_read():
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_compose_values_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    services = yaml.safe_load(_compose_interpolated(COMPOSE.read_text(encoding="utf-8")))["services"]
    for name in ("hub", "hub-init", "migrate"):
        environment = {key: str(value) for key, value in services[name]["environment"].items()}
        settings = _hub_settings(environment, monkeypatch)
        assert str(settings.data_dir) == "/var/lib/tipshare-hub"
        assert settings.database_url is not None
        assert settings.database_url.startswith("postgresql+psycopg://tipshare:")
        assert settings.database_url.endswith("@db:5432/tipshare")
    hub = _hub_settings({k: str(v) for k, v in services["hub"]["environment"].items()}, monkeypatch)
    assert (hub.host, hub.port, hub.workers) == ("0.0.0.0", 8750, 1)  # noqa: S104 - inside the container network


def test_kubernetes_values_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    configmap = load_yaml(KUBERNETES / "configmap.yaml")["data"]
    deployment = load_yaml(KUBERNETES / "deployment.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    environment = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    settings = _hub_settings({**configmap, **environment}, monkeypatch)
    assert (settings.port, settings.workers, str(settings.data_dir)) == (8750, 1, "/var/lib/tipshare-hub")
    assert settings.deadline_days == 15


def test_systemd_values_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    unit = environment_assignments(unit_values(SYSTEMD / "tipshare-hub.service", "Service", "Environment"))
    example = dict(
        line.split("=", 1)
        for line in (SYSTEMD / "hub.env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert not set(unit) & set(example), "a setting is given both in the unit and in hub.env"
    settings = _hub_settings({**unit, **example}, monkeypatch)
    assert (settings.host, settings.port, str(settings.data_dir)) == ("127.0.0.1", 8750, "/var/lib/tipshare-hub")
    for name in ("tipshare-node-submit.service", "tipshare-node-sync.service"):
        node_environment = environment_assignments(unit_values(SYSTEMD / name, "Service", "Environment"))
        for key in settings_read():
            monkeypatch.delenv(key, raising=False)
        for key, value in node_environment.items():
            monkeypatch.setenv(key, value)
        assert str(NodeSettings().home) == "/var/lib/tipshare-node"


# ------------------------------------------------------------------------------------------------ commands


def _text_commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in deploy_files():
        for program, words in command_mentions(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(DEPLOY)), program, words))
    return found


def test_every_command_mentioned_in_deploy_exists() -> None:
    programs = clis()
    mentions = _text_commands()
    assert len(mentions) > 30, "the command scanner found almost nothing: is the pattern broken?"
    problems = [
        f"{where}: {problem}"
        for where, program, words in mentions
        for problem in check_command(programs[program], words, complete=False)
    ]
    assert not problems, "\n".join(problems)


def _container_commands() -> list[tuple[str, list[str]]]:
    """Arguments given to the image's entrypoint (tipshare-hub) in Compose and Kubernetes."""
    found: list[tuple[str, list[str]]] = []
    services = load_yaml(COMPOSE)["services"]
    for name, service in services.items():
        if "command" in service and "tipshare" in str(service.get("image", "")):
            found.append((f"compose {name}", [str(word) for word in service["command"]]))
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        for document in load_yaml_documents(path):
            for container in _containers(document):
                if "args" in container:
                    found.append((f"{path.name} {container['name']}", [str(word) for word in container["args"]]))
    return found


def _containers(document: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                found += value
            else:
                found += _containers(value)
    elif isinstance(document, list):
        for item in document:
            found += _containers(item)
    return found


def test_container_commands_are_real_commands() -> None:
    hub = clis()["tipshare-hub"]
    commands = _container_commands()
    assert {" ".join(argv) for _, argv in commands} >= {"serve", "db upgrade", "-v db upgrade", "log verify"}
    for where, argv in commands:
        assert not check_command(hub, argv, complete=True), (where, check_command(hub, argv, complete=True))


def test_unit_commands_are_real_commands() -> None:
    programs = clis()
    for path in sorted(SYSTEMD.glob("*.service")):
        (exec_start,) = unit_values(path, "Service", "ExecStart")
        binary, *argv = exec_start.split()
        program = Path(binary).name
        assert binary == f"/opt/tipshare/bin/{program}", path.name
        assert not check_command(programs[program], argv, complete=True), path.name
