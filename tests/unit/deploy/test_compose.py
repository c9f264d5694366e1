# SPDX-License-Identifier: Apache-2.0
"""deploy/compose: PostgreSQL, the hub, a TLS proxy; volumes, health checks, one-off init and migrate jobs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.settings import Settings
from tests.unit.deploy.deploykit import DEPLOY, load_yaml

COMPOSE = DEPLOY / "compose"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE / "compose.yaml")
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def test_services(services: dict[str, Any]) -> None:
    assert set(services) == {"db", "hub-init", "migrate", "hub", "proxy"}


def test_the_image_is_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    for name in ("hub-init", "migrate", "hub"):
        build = services[name]["build"]
        assert (COMPOSE / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "container" / "Dockerfile"


def test_tipshare_containers_are_locked_down(services: dict[str, Any]) -> None:
    for name in ("hub-init", "migrate", "hub"):
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert any(mount.startswith("/tmp:") for mount in service["tmpfs"]), name  # noqa: S108 - a tmpfs mount
        assert "ports" not in service, f"{name} must not publish a port: only the proxy does"
    assert services["proxy"]["read_only"] is True
    assert services["proxy"]["cap_add"] == ["NET_BIND_SERVICE"]


def test_health_checks(services: dict[str, Any]) -> None:
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["hub"]["healthcheck"]["test"])
    assert services["proxy"]["healthcheck"]["test"]
    for name in ("hub-init", "migrate"):
        assert services[name]["healthcheck"] == {"disable": True}, f"{name} is a one-off, not a server"


def test_start_order(services: dict[str, Any]) -> None:
    hub = services["hub"]["depends_on"]
    assert hub["db"]["condition"] == "service_healthy"
    assert hub["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["hub"]["condition"] == "service_healthy"


def test_init_is_a_one_off_that_writes_the_keys_the_hub_only_reads(services: dict[str, Any]) -> None:
    init, hub = services["hub-init"], services["hub"]
    assert init["profiles"] == ["init"], "init must not run on every `docker compose up`"
    assert init["command"][:2] == ["init", "--origin"]
    data_dir = init["environment"]["TIPSHARE_HUB_DATA_DIR"]
    assert init["volumes"] == [f"hub-data:{data_dir}"]
    assert hub["volumes"] == [f"hub-data:{data_dir}:ro"]
    assert "volumes" not in services["migrate"], "migrations need no keys"


def test_volumes_and_networks(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"db-data", "hub-data", "caddy-data", "caddy-config"}
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert compose["networks"]["backend"]["internal"] is True
    assert services["db"]["networks"] == ["backend"]
    assert set(services["hub"]["networks"]) == {"backend", "frontend"}
    assert services["proxy"]["networks"] == ["frontend"]
    assert sorted(services["proxy"]["ports"]) == ["443:443", "443:443/udp", "80:80"]


def test_secrets_come_from_the_env_file(services: dict[str, Any]) -> None:
    url = services["hub"]["environment"]["TIPSHARE_HUB_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url, "the password is required from .env, never a default"
    assert "${POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]
    example = (COMPOSE / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^POSTGRES_PASSWORD=$", example, re.MULTILINE), "the example must not ship a password"
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (COMPOSE / "compose.yaml").read_text(encoding="utf-8")))
    offered = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    assert used == offered, "env.example offers exactly the variables compose.yaml interpolates"


def test_caddy_proxies_to_the_hub_with_tls_and_a_body_limit(services: dict[str, Any]) -> None:
    caddyfile = (COMPOSE / "Caddyfile").read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in caddyfile.splitlines())
    blocks = re.sub(r"\{\$[A-Z0-9_]+(:[^}]*)?\}", "", code)  # environment placeholders are not blocks
    depth = 0
    for character in blocks:
        depth += {"{": 1, "}": -1}.get(character, 0)
        assert depth >= 0, "a } closes a block that was never opened"
    assert depth == 0, "unbalanced braces"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    port = services["hub"]["environment"]["TIPSHARE_HUB_PORT"]
    assert f"reverse_proxy hub:{port}" in code
    assert "health_uri /healthz" in code
    assert "{$TIPSHARE_DOMAIN}" in code
    assert "@metrics path /metrics" in code
    assert "respond @metrics 404" in code
    limit = re.search(r"max_size (\d+)MB", code)
    assert limit is not None
    body = int(services["hub"]["environment"]["TIPSHARE_HUB_MAX_BODY_BYTES"])
    assert body == Settings.model_fields["max_body_bytes"].default
    assert int(limit.group(1)) * 1_000_000 > body, "the proxy must let the hub answer oversize bodies itself"
