# SPDX-License-Identifier: Apache-2.0
"""deploy/kubernetes: a Deployment with probes and Secret references, a Service, an Ingress, the migration Job.

Manifests are parsed with PyYAML and checked for what a cluster would only reveal at run time: selectors that
match, ports that line up, Secrets that name the hub's key files, pods that meet the restricted Pod Security
profile, and service links turned off (they would set TIPSHARE_HUB_PORT).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hub.dashboard.secret import SESSION_SECRET_FILE
from hub.keys import ENVELOPE_KEY_FILE, LOG_KEY_FILE
from tests.unit.deploy.deploykit import DEPLOY, IMAGE, load_yaml, load_yaml_documents

KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(path for path in KUBERNETES.rglob("*.yaml") if path.name != "kustomization.yaml")


def _objects() -> dict[tuple[str, str], dict[str, Any]]:
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in MANIFESTS:
        for document in load_yaml_documents(path):
            assert {"apiVersion", "kind", "metadata"} <= set(document), path
            key = (document["kind"], document["metadata"]["name"])
            assert key not in objects, f"{key} defined twice"
            objects[key] = document
    return objects


def _pod_specs() -> dict[str, dict[str, Any]]:
    """Every pod template: Deployment, Job and CronJob."""
    objects = _objects()
    specs = {
        "deployment": objects[("Deployment", "tipshare-hub")]["spec"]["template"],
        "migrate": objects[("Job", "tipshare-hub-migrate")]["spec"]["template"],
        "log-verify": objects[("CronJob", "tipshare-hub-log-verify")]["spec"]["jobTemplate"]["spec"]["template"],
        "witness-collect": objects[("CronJob", "tipshare-hub-witness-collect")]["spec"]["jobTemplate"]["spec"][
            "template"
        ],
        "round-tick": objects[("CronJob", "tipshare-hub-round-tick")]["spec"]["jobTemplate"]["spec"]["template"],
    }
    return specs


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return _objects()[("Deployment", "tipshare-hub")]


def _hub_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_the_expected_objects() -> None:
    assert set(_objects()) == {
        ("Namespace", "tipshare"),
        ("ConfigMap", "tipshare-hub-settings"),
        ("Deployment", "tipshare-hub"),
        ("Service", "tipshare-hub"),
        ("Ingress", "tipshare-hub"),
        ("PodDisruptionBudget", "tipshare-hub"),
        ("NetworkPolicy", "tipshare-hub"),
        ("CronJob", "tipshare-hub-log-verify"),
        ("CronJob", "tipshare-hub-witness-collect"),
        ("CronJob", "tipshare-hub-access-log-checkpoint"),
        ("CronJob", "tipshare-hub-round-tick"),
        ("Job", "tipshare-hub-migrate"),
    }


def test_kustomizations_list_every_manifest_once() -> None:
    main = load_yaml(KUBERNETES / "kustomization.yaml")
    migrate = load_yaml(KUBERNETES / "migrate" / "kustomization.yaml")
    listed = [KUBERNETES / name for name in main["resources"]] + [
        KUBERNETES / "migrate" / name for name in migrate["resources"]
    ]
    assert sorted(listed) == MANIFESTS
    assert main["namespace"] == migrate["namespace"] == "tipshare"
    assert main["images"] == migrate["images"], "the migration must run the release that rolls out"
    assert main["images"][0]["name"] == IMAGE


def test_hub_pods_serve_with_probes_on_healthz(deployment: dict[str, Any]) -> None:
    container = _hub_container(deployment)
    assert container["args"] == ["serve"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    environment = {item["name"]: item.get("value") for item in container["env"]}
    assert int(environment["TIPSHARE_HUB_PORT"]) == port
    assert environment["TIPSHARE_HUB_HOST"] == "0.0.0.0"  # noqa: S104 - the pod network is the boundary
    assert environment["TIPSHARE_HUB_WORKERS"] == "1", "scale with replicas: one worker per pod, scraped per pod"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert container["livenessProbe"]["failureThreshold"] * container["livenessProbe"]["periodSeconds"] >= 60
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > 30, "uvicorn takes up to 30 s to finish requests in flight"


def test_secrets_are_referenced_never_included(deployment: dict[str, Any]) -> None:
    assert not [key for key in _objects() if key[0] == "Secret"], "Secrets are created by the operator, not here"
    container = _hub_container(deployment)
    url = next(item for item in container["env"] if item["name"] == "TIPSHARE_HUB_DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"] == {"name": "tipshare-hub-database", "key": "url"}
    assert container["envFrom"] == [{"configMapRef": {"name": "tipshare-hub-settings"}}]
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    keys = volumes["keys-secret"]["secret"]
    assert keys["secretName"] == "tipshare-hub-keys"
    # The session secret too: every replica must sign and check dashboard sessions with the same one.
    assert {item["key"] for item in keys["items"]} == {ENVELOPE_KEY_FILE, LOG_KEY_FILE, SESSION_SECRET_FILE}
    assert keys["defaultMode"] == 0o440


def test_keys_reach_the_hub_as_owner_only_files_in_memory(deployment: dict[str, Any]) -> None:
    spec = deployment["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    script = " ".join(init["command"])
    assert "install -m 0600" in script
    for name in (ENVELOPE_KEY_FILE, LOG_KEY_FILE, SESSION_SECRET_FILE):
        assert f"/etc/tipshare-hub/keys/{name}" in script
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["data"]["emptyDir"]["medium"] == "Memory"
    data_dir = next(
        item["value"] for item in _hub_container(deployment)["env"] if item["name"] == "TIPSHARE_HUB_DATA_DIR"
    )
    mounts = {mount["name"]: mount for mount in _hub_container(deployment)["volumeMounts"]}
    assert mounts["data"] == {"name": "data", "mountPath": data_dir, "readOnly": True}
    assert "keys-secret" not in mounts, "the hub reads only the 0600 copy"
    assert f"{data_dir}/keys" in script


@pytest.mark.parametrize("name", ["deployment", "migrate", "log-verify", "witness-collect", "round-tick"])
def test_pods_meet_the_restricted_profile_and_drop_service_links(name: str) -> None:
    template = _pod_specs()[name]
    spec = template["spec"]
    assert spec["enableServiceLinks"] is False, "service links would set TIPSHARE_HUB_PORT=tcp://..."
    assert spec["automountServiceAccountToken"] is False
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 10001
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec.get("initContainers", []) + spec["containers"]:
        assert container["image"].startswith(f"{IMAGE}:"), container["name"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "tipshare-hub"  # the NetworkPolicy applies


def test_jobs_run_the_right_commands() -> None:
    objects = _objects()
    migrate = objects[("Job", "tipshare-hub-migrate")]
    (container,) = migrate["spec"]["template"]["spec"]["containers"]
    assert container["args"][-2:] == ["db", "upgrade"]
    assert migrate["spec"]["backoffLimit"] == 0
    assert migrate["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    verify = objects[("CronJob", "tipshare-hub-log-verify")]
    assert verify["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = verify["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["log", "verify"]
    collect = objects[("CronJob", "tipshare-hub-witness-collect")]
    assert (collect["spec"]["schedule"], collect["spec"]["concurrencyPolicy"]) == ("* * * * *", "Forbid")
    (container,) = collect["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["witness", "collect"]
    tick = objects[("CronJob", "tipshare-hub-round-tick")]
    assert re.fullmatch(r"[0-5]?[0-9] \* \* \* \*", tick["spec"]["schedule"]), "hourly"
    assert tick["spec"]["concurrencyPolicy"] == "Forbid", "two ticks at once would race on a round's step"
    (container,) = tick["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["round", "tick"]


def test_service_ingress_and_budget_select_the_hub_pods(deployment: dict[str, Any]) -> None:
    objects = _objects()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects[("Service", "tipshare-hub")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert objects[("PodDisruptionBudget", "tipshare-hub")]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects[("NetworkPolicy", "tipshare-hub")]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ingress = objects[("Ingress", "tipshare-hub")]
    assert ingress["spec"]["tls"], "TLS terminates at the Ingress"
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert backends == [{"name": "tipshare-hub", "port": {"name": service["spec"]["ports"][0]["name"]}}]


def test_settings_configmap_does_not_override_the_pod_template(deployment: dict[str, Any]) -> None:
    configmap = _objects()[("ConfigMap", "tipshare-hub-settings")]["data"]
    explicit = {item["name"] for item in _hub_container(deployment)["env"]}
    assert not set(configmap) & explicit
    assert all(isinstance(value, str) for value in configmap.values()), "ConfigMap values must be strings"


def test_the_namespace_enforces_the_restricted_profile() -> None:
    labels = _objects()[("Namespace", "tipshare")]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_manifest_is_documented() -> None:
    readme = (KUBERNETES / "README.md").read_text(encoding="utf-8")
    for path in MANIFESTS:
        relative = path.relative_to(KUBERNETES)
        shown = f"`{relative.parent}/`" if relative.parent != Path() else f"`{relative}`"
        assert shown in readme, relative
