# SPDX-License-Identifier: Apache-2.0
"""The taxonomies shipped in this package (``protocol/data/taxonomy-v<version>.json``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Final

from protocol.errors import TaxonomyViolation
from protocol.taxonomy.document import parse_taxonomy
from protocol.taxonomy.model import TAXONOMY_V1_ID, TAXONOMY_V2_ID, Taxonomy

__all__ = ["builtin_taxonomies", "builtin_taxonomy", "latest_taxonomy"]

_DATA_FILES: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {1: ("taxonomy-v1.json", TAXONOMY_V1_ID), 2: ("taxonomy-v2.json", TAXONOMY_V2_ID)}
)


@functools.cache
def builtin_taxonomy(version: int = 1) -> Taxonomy:
    """A taxonomy shipped in this package (``protocol/data/taxonomy-v<version>.json``), loaded once.

    Version 1 is the original eight tables; version 2 (:data:`TAXONOMY_V2_ID`) adds the one-cell total, the
    one-way margins and the two-way corridor that coordinators' questions need, with budget weights computed for
    their workload. A hub publishes and accepts both.
    """
    if version not in _DATA_FILES:
        raise TaxonomyViolation(f"this package ships taxonomy versions {sorted(_DATA_FILES)}, not {version!r}")
    name, expected = _DATA_FILES[version]
    data = resources.files("protocol").joinpath("data").joinpath(name).read_bytes()
    taxonomy = parse_taxonomy(data)
    if taxonomy.id != expected:
        raise TaxonomyViolation(f"{name} has id {taxonomy.id!r}, expected {expected!r}")
    return taxonomy


def builtin_taxonomies() -> tuple[Taxonomy, ...]:
    """Every taxonomy shipped in this package, oldest first."""
    return tuple(builtin_taxonomy(version) for version in sorted(_DATA_FILES))


def latest_taxonomy() -> Taxonomy:
    """The newest taxonomy shipped in this package: what a new hub publishes and a new node follows."""
    return builtin_taxonomy(max(_DATA_FILES))
