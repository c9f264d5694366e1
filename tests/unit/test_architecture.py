# SPDX-License-Identifier: Apache-2.0
"""House rules that hold for the whole code base: layering, error roots, exports, purity, runnable docs."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "protocol": "protocol.errors.ProtocolError",
    "node": "node.errors.NodeError",
    "hub": "hub.errors.HubError",
    "auditor": "auditor.errors.AuditError",
}


def _modules(package: str) -> list[ModuleType]:
    root = importlib.import_module(package)
    names = [package] + [info.name for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
    return [importlib.import_module(name) for name in sorted(names)]


def _resolve(dotted: str) -> type[BaseException]:
    module, _, name = dotted.rpartition(".")
    value = getattr(importlib.import_module(module), name)
    assert isinstance(value, type)
    assert issubclass(value, BaseException)
    return value


def test_import_contracts_hold() -> None:
    """The import-linter contracts of pyproject.toml: layering, nacl only in protocol.crypto, opendp only in node."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("package", "root"), PACKAGES.items())
def test_every_exception_derives_from_its_package_root(package: str, root: str) -> None:
    root_class = _resolve(root)
    strays = []
    for module in _modules(package):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not issubclass(value, root_class)
            ):
                strays.append(f"{module.__name__}.{name}")
    assert strays == [], f"exceptions outside {root}: {strays}"


@pytest.mark.parametrize("package", PACKAGES)
def test_exported_members_exist(package: str) -> None:
    for module in _modules(package):
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{module.__name__}.__all__ names {name!r}, which does not exist"


def test_protocol_reads_no_clock_environment_or_files() -> None:
    forbidden = re.compile(
        r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|time\.monotonic|os\.environ|os\.getenv|"
        r"open\(|Path\(|requests|urlopen)"
    )
    offenders = []
    for path in sorted((ROOT / "protocol").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if forbidden.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("module", _modules("protocol"), ids=lambda m: m.__name__)
def test_protocol_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_protocol_readme_examples_run() -> None:
    readme = ROOT / "protocol" / "README.md"
    result = doctest.testfile(
        str(readme), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 10, "protocol/README.md should show the whole round trip as runnable examples"
    assert result.failed == 0
