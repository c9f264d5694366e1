# SPDX-License-Identifier: Apache-2.0
"""Checks of a verified payload against the taxonomy it names and against its own privacy declaration.

:func:`check_payload` is what the hub runs on every submission after the signature checks, and what an auditor
runs on every logged payload. It raises on the first rule broken, naming the table and rule:

* the payload names this taxonomy (id and content hash);
* every table exists in the taxonomy and carries exactly its dense cell count;
* from taxonomy version 2 on, a release is complete: every person and case table, and either every contact table
  or none (a month without a contacts file). The hub's least-squares answers combine tables on the understanding
  that one hotline's tables describe the same people; a release with some of them left out would be a class of
  its own that most questions cannot include;
* the privacy block declares, for every table, the taxonomy's own contribution bounds as sensitivities;
* each table's declared spend is at least the privacy loss its scale and sensitivity imply (a node may round
  its declaration up, never down), and the release's total is exactly the sum of the tables' spends;
* the period has begun (``now`` is passed in: this module reads no clock).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from protocol.errors import MalformedMessage, TaxonomyViolation
from protocol.messages import SubmissionPayload
from protocol.period import Period
from protocol.privacy_loss import gaussian_rho, laplace_epsilon
from protocol.taxonomy import Taxonomy

__all__ = ["SPEND_TOLERANCE", "check_payload", "implied_spend"]

#: Relative slack between the loss a scale implies and the spend declared for it. OpenDP's parameter search
#: returns a float scale whose exact loss can exceed the target in the last bits; anything beyond this is a lie.
SPEND_TOLERANCE: Final = Fraction(1, 10**9)


def implied_spend(mechanism: str, *, scale: str, l1: int, l2_squared: int) -> Fraction:
    """The privacy loss (ρ or ε) that noise of ``scale`` gives a table with these sensitivities."""
    if mechanism == "discrete_gaussian":
        return Fraction(gaussian_rho(l2_squared, scale))
    if mechanism == "discrete_laplace":
        return Fraction(laplace_epsilon(l1, scale))
    raise MalformedMessage(f"unknown noise mechanism {mechanism!r}")


def _check_complete(payload: SubmissionPayload, taxonomy: Taxonomy) -> None:
    released = {release.name for release in payload.tables}
    required = {name for name, table in taxonomy.tables.items() if table.unit in ("person", "case")}
    if missing := sorted(required - released):
        raise TaxonomyViolation(
            f"a release under taxonomy {taxonomy.id} carries every person and case table; missing: {', '.join(missing)}"
        )
    contacts = {name for name, table in taxonomy.tables.items() if table.unit == "contact"}
    if (released & contacts) and (absent := sorted(contacts - released)):
        raise TaxonomyViolation(
            f"a release under taxonomy {taxonomy.id} carries every contact table or none; missing: {', '.join(absent)}"
        )


def check_payload(payload: SubmissionPayload, taxonomy: Taxonomy, *, now: datetime) -> None:
    """Raise :class:`TaxonomyViolation` or :class:`MalformedMessage` if ``payload`` breaks any rule above."""
    if payload.taxonomy.id != taxonomy.id or payload.taxonomy.hash != taxonomy.content_hash:
        raise TaxonomyViolation(
            f"payload follows taxonomy {payload.taxonomy.id} ({payload.taxonomy.hash}); "
            f"this check uses {taxonomy.id} ({taxonomy.content_hash})"
        )
    if Period.parse(payload.period).start > now:
        raise MalformedMessage(f"period {payload.period} has not begun yet")

    for release in payload.tables:
        table = taxonomy.table(release.name)  # raises TaxonomyViolation naming an unknown table
        if len(release.cells) != table.cell_count:
            raise TaxonomyViolation(
                f"table {release.name} has {len(release.cells)} cells; the taxonomy declares {table.cell_count}"
            )
    if taxonomy.version >= 2:
        _check_complete(payload, taxonomy)

    total = Decimal(0)
    for noise in payload.privacy.tables:
        table = taxonomy.table(noise.table)
        if noise.l1_sensitivity != table.l1_bound or noise.l2_sensitivity_squared != table.l2_sensitivity_squared:
            raise TaxonomyViolation(
                f"privacy block of table {noise.table} declares sensitivities L1={noise.l1_sensitivity}, "
                f"L2²={noise.l2_sensitivity_squared}; the taxonomy bounds are L1={table.l1_bound}, "
                f"L2²={table.l2_sensitivity_squared}"
            )
        implied = implied_spend(
            payload.privacy.mechanism,
            scale=noise.scale,
            l1=noise.l1_sensitivity,
            l2_squared=noise.l2_sensitivity_squared,
        )
        declared = Fraction(Decimal(noise.spent))
        if implied > declared * (1 + SPEND_TOLERANCE):
            raise MalformedMessage(
                f"table {noise.table}: scale {noise.scale} spends {float(implied):.6g} "
                f"{payload.privacy.measure}, more than the {noise.spent} declared"
            )
        total += Decimal(noise.spent)
    if total != Decimal(payload.privacy.spent):
        raise MalformedMessage(
            f"the release declares a total spend of {payload.privacy.spent}, but its tables' spends add up to {total}"
        )
