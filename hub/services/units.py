# SPDX-License-Identifier: Apache-2.0
"""Which releases in an answer declare a weaker unit of privacy than one person in a month, in words.

A hotline that cannot link a person's records (no person identifier in its export, or contacts without a
contactor identifier) releases with the unit ``record-month``: the noise then protects each record of its export,
and a person with several records less. Its numbers are as accurate as any other's, so an answer that includes
such releases is computed as usual and says so in a note (:func:`unit_notes`).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.i18n import N_
from hub.i18n import gettext as _
from hub.models import Hotline, Submission
from hub.services.scope import ResolvedScope, period_text

__all__ = ["PERSON_MONTH", "REGION_NOTE", "unit_notes", "weaker_units"]

#: The note of an answer for a token limited to some countries (estimates and stats alike).
REGION_NOTE: Final = N_("region is the sum of this token's countries: %(countries)s")

PERSON_MONTH = "person-month"


def weaker_units(session: Session, scope: ResolvedScope, first: int, last: int) -> dict[str, dict[str, list[str]]]:
    """``unit -> hotline -> periods`` of the current releases in ``scope`` and the months that declare another unit
    than person-month (one indexed query over the submissions of those months)."""
    found = session.execute(
        select(Submission.privacy_unit, Submission.hotline_id, Submission.period)
        .join(Hotline, Hotline.id == Submission.hotline_id)
        .where(
            Submission.is_current.is_(True),
            Submission.period.between(period_text(first), period_text(last)),
            Submission.privacy_unit != PERSON_MONTH,
            scope.hotline_filter(),
        )
        .order_by(Submission.privacy_unit, Submission.hotline_id, Submission.period)
    ).all()
    units: dict[str, dict[str, list[str]]] = {}
    for unit, hotline_id, period in found:
        units.setdefault(unit, {}).setdefault(hotline_id, []).append(period)
    return units


def unit_notes(session: Session, scope: ResolvedScope, first: int, last: int) -> list[str]:
    """One note per weaker unit among the answer's releases, naming the hotlines and months."""
    notes = []
    for unit, hotlines in weaker_units(session, scope, first, last).items():
        listed = "; ".join(f"{hotline} ({', '.join(periods)})" for hotline, periods in hotlines.items())
        notes.append(
            _(
                "releases of %(releases)s declare the unit of privacy %(unit)s: their noise protects each record of "
                "the hotline's export in a month, not each person (the hotline could not link a person's records), "
                "so a person with several records is less protected there; the estimates are computed alike"
            )
            % {"releases": listed, "unit": unit}
        )
    return notes
