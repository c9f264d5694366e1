# SPDX-License-Identifier: Apache-2.0
"""The shipped deploy files keep the hub's edge safe: forwarded headers believed from the proxy only, a header-read
timeout at the proxy, the docs off, and a Compose worker default that agrees with the README."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import Settings
from tests.unit.deploy.deploykit import DEPLOY, ROOT, environment_assignments, load_yaml, unit_values

COMPOSE = DEPLOY / "compose"
KUBERNETES = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"
_DEFAULT = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")


def _env_example(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _compose_default(value: str) -> str:
    """``${NAME:-default}`` as Compose reads it with env.example's value for NAME (the value as is otherwise)."""
    match = _DEFAULT.fullmatch(value.strip())
    if match is None:
        return value
    return _env_example(COMPOSE / "env.example").get(match.group(1)) or match.group(2)


def _shipped_forwarded_allow_ips() -> dict[str, str]:
    compose = load_yaml(COMPOSE / "compose.yaml")
    configmap = load_yaml(KUBERNETES / "configmap.yaml")
    return {
        "compose": _compose_default(compose["services"]["hub"]["environment"]["TIPSHARE_HUB_FORWARDED_ALLOW_IPS"]),
        "kubernetes": configmap["data"]["TIPSHARE_HUB_FORWARDED_ALLOW_IPS"],
        "systemd": _env_example(SYSTEMD / "hub.env.example")["TIPSHARE_HUB_FORWARDED_ALLOW_IPS"],
        "serve default": Settings.model_fields["forwarded_allow_ips"].default,
    }


@pytest.mark.parametrize("where", ["compose", "kubernetes", "systemd", "serve default"])
def test_attack_no_shipped_setting_believes_forwarded_headers_from_everyone(where: str) -> None:
    value = _shipped_forwarded_allow_ips()[where]
    for part in value.split(","):
        network = ipaddress.ip_network(part.strip(), strict=True)  # an address or network, never "*"
        assert not network.is_global, f"{where} believes X-Forwarded-For from public addresses: {value}"


def test_compose_believes_exactly_the_proxy_network() -> None:
    compose = load_yaml(COMPOSE / "compose.yaml")
    subnet = _compose_default(compose["networks"]["frontend"]["ipam"]["config"][0]["subnet"])
    assert _shipped_forwarded_allow_ips()["compose"] == subnet
    members = sorted(name for name, service in compose["services"].items() if "frontend" in service.get("networks", []))
    assert members == ["hub", "proxy"]


def test_the_hub_refuses_to_believe_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("*", "127.0.0.1, *"):
        with pytest.raises(ValidationError, match="name the proxy's own address"):
            Settings(forwarded_allow_ips=value)
        monkeypatch.setenv("TIPSHARE_HUB_FORWARDED_ALLOW_IPS", value)
        with pytest.raises(ValidationError):
            Settings()


def test_the_shipped_proxies_time_out_slow_headers_and_ignore_client_forwarded_headers() -> None:
    caddyfile = (COMPOSE / "Caddyfile").read_text(encoding="utf-8")
    timeouts = re.search(r"timeouts\s*\{([^}]*)\}", caddyfile)
    assert timeouts is not None
    read_header = re.search(r"^\s*read_header\s+(\d+)s\s*$", timeouts.group(1), re.MULTILINE)
    assert read_header is not None
    assert int(read_header.group(1)) <= 30
    assert not re.search(r"^\s*trusted_proxies\b", caddyfile, re.MULTILINE)  # a client's XFF is never passed on
    ingress = (KUBERNETES / "ingress.yaml").read_text(encoding="utf-8")
    assert "client-header-timeout" in ingress
    assert "use-forwarded-headers" not in ingress
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "client-header-timeout" in readme
    assert "client_header_timeout" in readme
    assert "X-Forwarded-For $remote_addr" in readme


def test_the_shipped_deployments_turn_the_docs_off() -> None:
    compose = load_yaml(COMPOSE / "compose.yaml")
    assert compose["services"]["hub"]["environment"]["TIPSHARE_HUB_DOCS"] == "false"
    assert load_yaml(KUBERNETES / "configmap.yaml")["data"]["TIPSHARE_HUB_DOCS"] == "false"
    assert _env_example(SYSTEMD / "hub.env.example")["TIPSHARE_HUB_DOCS"] == "false"
    systemd = environment_assignments(unit_values(SYSTEMD / "tipshare-hub.service", "Service", "Environment"))
    assert systemd["TIPSHARE_HUB_HOST"] == "127.0.0.1"


def test_the_compose_worker_default_agrees_with_the_readme() -> None:
    compose = load_yaml(COMPOSE / "compose.yaml")
    default = _compose_default(compose["services"]["hub"]["environment"]["TIPSHARE_HUB_WORKERS"])
    assert default == _env_example(COMPOSE / "env.example")["HUB_WORKERS"]
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"Compose `HUB_WORKERS` \(default (\d+) per container", readme)
    assert stated is not None
    assert stated.group(1) == default
    if "one worker per pod or container" in readme:  # if the Monitoring section advises it again
        assert default == "1"
    assert "serve --workers" in (ROOT / "README.md").read_text(encoding="utf-8")
