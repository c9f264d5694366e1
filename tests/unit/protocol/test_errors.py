# SPDX-License-Identifier: Apache-2.0
"""protocol.errors: what an error says to a person."""

from __future__ import annotations

from protocol.errors import InvalidCheckpoint, ProtocolError, TaxonomyViolation


def test_diagnostics_name_the_error_type_and_carry_its_message() -> None:
    assert TaxonomyViolation("table x has no dimensions").diagnostics() == (
        "TaxonomyViolation: table x has no dimensions"
    )
    assert InvalidCheckpoint("bad note").diagnostics() == "InvalidCheckpoint: bad note"
    assert ProtocolError().diagnostics() == "ProtocolError: "
