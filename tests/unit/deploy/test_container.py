# SPDX-License-Identifier: Apache-2.0
"""deploy/container/Dockerfile: two stages, a non-root user, nothing secret, and only what the build needs.

No container engine runs here: the Dockerfile is parsed line by line (continuations joined), which is enough to
check its structure and the paths it copies against the repository.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from tests.unit.deploy.deploykit import DEPLOY, ROOT

DOCKERFILE = DEPLOY / "container" / "Dockerfile"
IGNORE = DEPLOY / "container" / "Dockerfile.dockerignore"


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    arguments: str


def _instructions() -> list[Instruction]:
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # comments inside a continued instruction are dropped by the parser
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    instructions = []
    for line in joined:
        keyword, _, arguments = line.strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def _stages() -> dict[str, list[Instruction]]:
    stages: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for instruction in _instructions():
        if instruction.keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", instruction.arguments, flags=re.IGNORECASE)
            assert match, f"every stage is named: FROM {instruction.arguments}"
            current = stages.setdefault(match.group(2), [])
        elif current is not None:
            current.append(instruction)
    return stages


def test_known_instructions_only() -> None:
    known = {"ARG", "FROM", "ENV", "RUN", "WORKDIR", "COPY", "LABEL", "USER", "EXPOSE", "HEALTHCHECK"}
    known |= {"ENTRYPOINT", "CMD"}
    assert {instruction.keyword for instruction in _instructions()} <= known


def test_multi_stage_build_and_runtime() -> None:
    stages = _stages()
    assert list(stages) == ["build", "runtime"]
    runtime = stages["runtime"]
    copies = [i.arguments for i in runtime if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/tipshare /opt/tipshare"], "the runtime stage takes only the built venv"
    assert not any(i.keyword == "RUN" and "pip" in i.arguments for i in runtime), "no pip in the runtime stage"


def test_runs_as_a_fixed_non_root_user() -> None:
    runtime = _stages()["runtime"]
    users = [i.arguments for i in runtime if i.keyword == "USER"]
    assert users == ["10001:10001"]
    assert runtime[-1].keyword in ("CMD", "ENTRYPOINT")
    last_user = max(index for index, i in enumerate(runtime) if i.keyword == "USER")
    assert all(i.keyword != "RUN" for i in runtime[last_user:]), "nothing runs as root after USER"
    setup = " ".join(i.arguments for i in runtime if i.keyword == "RUN")
    assert "--uid 10001" in setup
    assert "-m 0700 /var/lib/tipshare-hub" in setup  # the data directory, owned by that user


def test_ready_for_a_read_only_root_filesystem() -> None:
    environment = " ".join(i.arguments for i in _stages()["runtime"] if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in environment
    assert "TIPSHARE_HUB_DATA_DIR=/var/lib/tipshare-hub" in environment
    build = " ".join(i.arguments for i in _stages()["build"] if i.keyword == "RUN")
    assert "compileall" in build  # bytecode is made at build time, never at run time


def test_entrypoint_serves_and_checks_health() -> None:
    runtime = {i.keyword: i.arguments for i in _stages()["runtime"]}
    assert runtime["ENTRYPOINT"] == '["tipshare-hub"]'
    assert runtime["CMD"] == '["serve"]'
    assert "/healthz" in runtime["HEALTHCHECK"]
    assert runtime["EXPOSE"] == "8750"


def test_no_secrets_in_the_image_definition() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    for instruction in _instructions():
        if instruction.keyword in ("ENV", "ARG"):
            assert not re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|KEY", instruction.arguments, re.IGNORECASE), (
                instruction
            )
        if instruction.keyword == "COPY":
            assert not re.search(r"\.env|keys|\.sqlite|\.x25519|\.ed25519", instruction.arguments), instruction
    assert "postgresql://" not in text
    assert "postgresql+psycopg://" not in text


def test_copies_exactly_what_the_distribution_is_built_from() -> None:
    copied: set[str] = set()
    for instruction in _stages()["build"]:
        if instruction.keyword == "COPY":
            *sources, _destination = instruction.arguments.split()
            copied.update(source.rstrip("/") for source in sources)
    for source in copied:
        assert (ROOT / source).exists(), source
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"packages the wheel includes but the image does not copy: {packages - copied}"
    assert {"pyproject.toml", project["project"]["readme"]} <= copied


def test_dockerignore_is_an_allow_list_of_the_copied_sources() -> None:
    lines = [line for line in IGNORE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        source.rstrip("/")
        for instruction in _stages()["build"]
        if instruction.keyword == "COPY"
        for source in instruction.arguments.split()[:-1]
    }
    assert allowed == copied
