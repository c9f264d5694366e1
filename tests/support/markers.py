# SPDX-License-Identifier: Apache-2.0
"""Which tests are database tests: those whose code reaches a database the run's backend provides.

``tests/conftest.py`` marks them ``db`` at collection, so ``make unit-postgresql`` (``pytest --backend postgresql
-m db``) reruns exactly them, and a new test is covered without anyone remembering a marker.

A test uses the database when its function, a fixture it requests (directly or through other fixtures), or any
function or class of the test suite those call, names :func:`~tests.support.backends.fresh_database_url` or
:func:`~tests.support.backends.fresh_hub_database`. :func:`~tests.support.hubs.start_hub` (the ``hub`` fixtures)
does, as do the suite's other ways of starting a hub. The call graph is read from the code objects, following the
names a function uses to the suite's own functions, classes and modules (never into the hub or the libraries).
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

__all__ = ["DATABASE_ENTRY_POINTS", "uses_database"]

#: Where a test gets a database of the run's backend (``tests.support.backends``).
DATABASE_ENTRY_POINTS: Final = frozenset({"fresh_database_url", "fresh_hub_database"})

_SUITE: Final = str(Path(__file__).resolve().parents[1]) + "/"
_verdicts: dict[types.CodeType, bool] = {}


def uses_database(item: pytest.Item) -> bool:
    """Whether the test ``item`` reaches a database of the run's backend."""
    function = getattr(item, "obj", None)
    owner = getattr(item, "cls", None)
    if function is not None and _reaches(function, owner):
        return True
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", {}) if info is not None else {}
    return any(_reaches(definition.func, None) for defs in definitions.values() for definition in defs)


def _reaches(obj: Any, owner: type | None) -> bool:
    function = _plain_function(obj)
    if function is None:
        return False
    code = function.__code__
    if code in _verdicts:
        return _verdicts[code]
    _verdicts[code] = False  # while in progress: a cycle adds nothing
    verdict = any(_reaches(callee, owner) for callee in _callees(function, owner))
    verdict = verdict or not DATABASE_ENTRY_POINTS.isdisjoint(_names(code))
    _verdicts[code] = verdict
    return verdict


def _plain_function(obj: Any) -> types.FunctionType | None:
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", None)  # a @given test: the test it wraps
    obj = inspect.unwrap(inner or obj)
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType) and obj.__code__.co_filename.startswith(_SUITE):
        return obj
    return None


def _names(code: types.CodeType) -> Iterator[str]:
    """Every global and attribute name the code (and the functions, lambdas and comprehensions in it) uses."""
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _names(constant)


def _callees(function: types.FunctionType, owner: type | None) -> Iterator[Any]:
    """The suite's functions (and the methods of its classes) that ``function`` names."""
    names = set(_names(function.__code__))
    namespaces: list[Any] = [function.__globals__]
    # A suite module the function imports where it runs (``from tests.support.x import y`` in its body, so that
    # only the tests that use it pay for its imports): a dotted name is only ever a module's.
    namespaces += [vars(importlib.import_module(name)) for name in names if name.startswith("tests.")]
    if owner is not None:
        namespaces.append(vars(owner))
    for name in names:
        for namespace in namespaces:
            value = namespace.get(name)
            if value is None:
                continue
            if isinstance(value, types.ModuleType):
                if getattr(value, "__file__", None) and str(value.__file__).startswith(_SUITE):
                    yield from (getattr(value, attribute, None) for attribute in names)
            elif isinstance(value, type):
                yield from _methods(value)
            else:
                yield value


def _methods(cls: type) -> Iterator[Any]:
    """The functions of a class (whose own filter, :func:`_plain_function`, keeps those the suite wrote)."""
    for value in vars(cls).values():
        yield value.fget if isinstance(value, property) else value
