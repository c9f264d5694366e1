# SPDX-License-Identifier: Apache-2.0
"""deploy/systemd: the hub as a sandboxed service, a node's monthly submit and daily sync as timers.

The units are parsed as INI (systemd's syntax is close enough for these files; repeated keys are allowed) and
checked for the keys that matter: what runs, as whom, where it may write, how it is sandboxed, and when.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.deploy.deploykit import DEPLOY, environment_assignments, load_unit, unit_values

SYSTEMD = DEPLOY / "systemd"
SERVICES = (
    "tipshare-hub.service",
    "tipshare-hub-witness-collect.service",
    "tipshare-hub-access-log-checkpoint.service",
    "tipshare-hub-round-tick.service",
    "tipshare-node-submit.service",
    "tipshare-node-sync.service",
)
TIMERS = (
    "tipshare-hub-witness-collect.timer",
    "tipshare-hub-access-log-checkpoint.timer",
    "tipshare-hub-round-tick.timer",
    "tipshare-node-submit.timer",
    "tipshare-node-sync.timer",
)
#: Sandboxing every service unit here must have (``systemd-analyze security`` scores them).
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}
# A calendar event that fires once a month: "monthly", or a fixed day of every month ("*-*-10 09:00:00").
MONTHLY = re.compile(r"monthly|\*-\*-(0[1-9]|1[0-9]|2[0-8])( [0-2][0-9]:[0-5][0-9](:[0-5][0-9])?)?")


def test_the_expected_units_are_there() -> None:
    assert {path.name for path in SYSTEMD.glob("*.service")} == set(SERVICES)
    assert {path.name for path in SYSTEMD.glob("*.timer")} == set(TIMERS)


@pytest.mark.parametrize("name", SERVICES + TIMERS)
def test_units_parse_with_the_usual_sections(name: str) -> None:
    unit = load_unit(SYSTEMD / name)
    kind = "Service" if name.endswith(".service") else "Timer"
    assert {"Unit", kind} <= set(unit.sections())
    assert unit["Unit"]["Description"]
    assert unit["Unit"]["Documentation"].startswith("https://")
    if kind == "Timer" or name == "tipshare-hub.service":
        assert "Install" in unit.sections()
    for section in unit.sections():
        for key in unit[section]:
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", key), f"{name} [{section}] {key}"


@pytest.mark.parametrize("name", SERVICES)
def test_services_run_sandboxed_as_their_own_user(name: str) -> None:
    service = load_unit(SYSTEMD / name)["Service"]
    account = "tipshare-hub" if "hub" in name else "tipshare-node"
    assert (service["User"], service["Group"]) == (account, account)
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{name}: {key}={service.get(key)!r}, expected {value!r}"
    assert service["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert "@system-service" in unit_values(SYSTEMD / name, "Service", "SystemCallFilter")
    # The only writable path is the state directory, and it is the directory the program is told to use.
    state = f"/var/lib/{service['StateDirectory']}"
    assert service["ReadWritePaths"] == state
    assert service["StateDirectoryMode"] == "0700"
    environment = environment_assignments(unit_values(SYSTEMD / name, "Service", "Environment"))
    home = environment["TIPSHARE_HUB_DATA_DIR" if account == "tipshare-hub" else "TIPSHARE_NODE_HOME"]
    assert home == state


def test_the_hub_service_serves_on_loopback_and_stops_gracefully() -> None:
    service = load_unit(SYSTEMD / "tipshare-hub.service")["Service"]
    assert service["ExecStart"] == "/opt/tipshare/bin/tipshare-hub serve"
    assert service["Type"] == "exec"
    assert service["Restart"] == "on-failure"
    environment = environment_assignments(unit_values(SYSTEMD / "tipshare-hub.service", "Service", "Environment"))
    assert environment["TIPSHARE_HUB_HOST"] == "127.0.0.1", "behind a proxy on the same host"
    assert service["EnvironmentFile"] == "-/etc/tipshare/hub.env"
    stop = int(service["TimeoutStopSec"].removesuffix("s"))
    assert stop > 30, "uvicorn takes up to 30 s to finish requests in flight"
    assert load_unit(SYSTEMD / "tipshare-hub.service")["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize(("name", "command"), [("tipshare-node-submit", "submit"), ("tipshare-node-sync", "sync")])
def test_node_services_are_one_shots_started_by_their_timers(name: str, command: str) -> None:
    service = load_unit(SYSTEMD / f"{name}.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == f"/opt/tipshare/bin/tipshare-node {command}"
    timer = load_unit(SYSTEMD / f"{name}.timer")
    assert timer["Timer"]["Unit"] == f"{name}.service"
    assert timer["Timer"]["Persistent"] == "true", "a machine that was off catches up at boot"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert "Install" not in load_unit(SYSTEMD / f"{name}.service").sections(), "started by the timer only"


def test_witness_cosignatures_are_collected_every_minute_as_the_hub_user() -> None:
    service = load_unit(SYSTEMD / "tipshare-hub-witness-collect.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == "/opt/tipshare/bin/tipshare-hub witness collect"
    assert service["EnvironmentFile"] == "-/etc/tipshare/hub.env", "the same database as the hub"
    timer = load_unit(SYSTEMD / "tipshare-hub-witness-collect.timer")
    assert timer["Timer"]["Unit"] == "tipshare-hub-witness-collect.service"
    assert timer["Timer"]["OnCalendar"] == "minutely"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_secure_rounds_tick_every_hour_as_the_hub_user() -> None:
    service = load_unit(SYSTEMD / "tipshare-hub-round-tick.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == "/opt/tipshare/bin/tipshare-hub round tick"
    assert service["EnvironmentFile"] == "-/etc/tipshare/hub.env", "the same database and log key as the hub"
    timer = load_unit(SYSTEMD / "tipshare-hub-round-tick.timer")
    assert timer["Timer"]["Unit"] == "tipshare-hub-round-tick.service"
    assert timer["Timer"]["OnCalendar"] == "hourly"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert "Install" not in load_unit(SYSTEMD / "tipshare-hub-round-tick.service").sections(), "started by the timer"


def test_submit_is_monthly_before_the_deadline_and_sync_daily() -> None:
    submit = load_unit(SYSTEMD / "tipshare-node-submit.timer")["Timer"]["OnCalendar"]
    assert MONTHLY.fullmatch(submit), submit
    day = re.match(r"\*-\*-(\d+)", submit)
    assert day is None or int(day.group(1)) < 15, "the hub's default deadline is 15 days after the month"
    assert load_unit(SYSTEMD / "tipshare-node-sync.timer")["Timer"]["OnCalendar"] == "daily"


def test_hub_env_example_sets_only_settings_not_given_by_the_unit() -> None:
    example: Path = SYSTEMD / "hub.env.example"
    names = re.findall(r"^#?(TIPSHARE_HUB_[A-Z_]+)=", example.read_text(encoding="utf-8"), re.MULTILINE)
    unit = environment_assignments(unit_values(SYSTEMD / "tipshare-hub.service", "Service", "Environment"))
    assert "TIPSHARE_HUB_DATABASE_URL" in names
    assert not set(names) & set(unit)
