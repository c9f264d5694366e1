# SPDX-License-Identifier: Apache-2.0
"""The taxonomy: which tables a node releases each month, over which code lists, with which contribution bounds.

A taxonomy is a JSON document (version 1 ships as ``protocol/data/taxonomy-v1.json``) naming *dimensions*
(closed code lists, plus the rule that turns HTCDS record values into codes) and *tables* (up to three
dimensions, a counting unit and a per-person contribution bound). Its identity is ``content_hash``, the SHA-256
of its RFC 8785 canonical bytes, so a payload that names a taxonomy names exactly one set of code lists.

A table is released densely: every cell of its domain, in row-major order over its dimensions' code lists (the
last dimension varies fastest). Releasing only non-zero cells would leak which cells are non-zero.

>>> taxonomy = builtin_taxonomy()
>>> taxonomy.id
'tipshare-taxonomy/1'
>>> corridor = taxonomy.table("persons_corridor")
>>> [dimension.name for dimension in corridor.dimensions]
['citizenship', 'country_of_exploitation', 'exploitation_group']
>>> corridor.cell_codes(corridor.cell_index(["UA", "PL", "labour"]))
('UA', 'PL', 'labour')
>>> taxonomy.table("persons_control").l2_sensitivity_squared
9

The package holds the model (:mod:`~protocol.taxonomy.model`), the reading of a document
(:mod:`~protocol.taxonomy.document`) and the taxonomies shipped (:mod:`~protocol.taxonomy.builtin`). How a record
is coded by a dimension's input rule is the node's work (``node.inputs.rules``). Every rule a document breaks
raises :class:`~protocol.errors.TaxonomyViolation` naming the dimension, table or code at fault. Only the document
is trusted to be a taxonomy after :func:`load_taxonomy` returns.
"""

from __future__ import annotations

from protocol.taxonomy.builtin import builtin_taxonomies, builtin_taxonomy, latest_taxonomy
from protocol.taxonomy.document import load_taxonomy, parse_taxonomy
from protocol.taxonomy.model import (
    CODE_KINDS,
    INPUT_RULES,
    MAX_CELLS_PER_TABLE,
    MAX_CODES_PER_DIMENSION,
    MAX_CONTRIBUTION_BOUND,
    MAX_DIMENSIONS_PER_TABLE,
    MAX_WEIGHT,
    TAXONOMY_V1_ID,
    TAXONOMY_V2_ID,
    UNITS,
    AgeRange,
    Code,
    Dimension,
    FieldMap,
    InputRule,
    Table,
    Taxonomy,
    WorkloadQuestion,
    same_cells,
)

__all__ = [
    "CODE_KINDS",
    "INPUT_RULES",
    "MAX_CELLS_PER_TABLE",
    "MAX_CODES_PER_DIMENSION",
    "MAX_CONTRIBUTION_BOUND",
    "MAX_DIMENSIONS_PER_TABLE",
    "MAX_WEIGHT",
    "TAXONOMY_V1_ID",
    "TAXONOMY_V2_ID",
    "UNITS",
    "AgeRange",
    "Code",
    "Dimension",
    "FieldMap",
    "InputRule",
    "Table",
    "Taxonomy",
    "WorkloadQuestion",
    "builtin_taxonomies",
    "builtin_taxonomy",
    "latest_taxonomy",
    "load_taxonomy",
    "parse_taxonomy",
    "same_cells",
]
