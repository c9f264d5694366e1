# SPDX-License-Identifier: Apache-2.0
"""The node's input stage: read an export (CSV or JSON, any encoding of the region, optionally through a column
mapping), check every value against the taxonomy's input rules, and turn rows into persons and contacts.

The public entry point is :func:`node.aggregate.prepare_tables`; this package holds its parts:

* :mod:`node.inputs.readers`: a file to rows (CSV dialects, size limits);
* :mod:`node.inputs.encodings`: bytes to text (what is text at all, the region's encodings told apart);
* :mod:`node.inputs.jsonfiles`: JSON and JSON Lines shapes;
* :mod:`node.inputs.mapping`: the TOML column mapping file;
* :mod:`node.inputs.fields`: which fields the node reads and what each accepts;
* :mod:`node.inputs.cells`: one cell to checked values (stripping, multiselect, the mapping's values);
* :mod:`node.inputs.records`: rows to persons and contacts (merging a person's rows, events, dates, cases);
* :mod:`node.inputs.coding`: persons, cases and contacts to taxonomy codes;
* :mod:`node.inputs.errors`: :class:`InputError` and :class:`MappingError`.
"""

from __future__ import annotations

from node.inputs.errors import InputError, InputProblem, MappingError

__all__ = ["InputError", "InputProblem", "MappingError"]
