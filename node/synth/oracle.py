# SPDX-License-Identifier: Apache-2.0
"""The synthetic generator's own tables: what each value it writes means, and the codes that follow.

This is the generator's independent reading of the taxonomy (see :mod:`node.synth.generator`): small tables of the
values it emits with their meaning (form -> exploitation group, method of control -> flag, ...) and the rules it
applies itself (age bands, several, each, priority, cross-border). It shares no code with ``node.inputs``, so the
truth it computes checks the node's input code rather than repeating it.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

from node.synth.profiles import Weights

__all__ = [
    "AGE_BANDS",
    "APPS",
    "CALLS_PER_CONTACTOR",
    "CHANNELS",
    "CONTACT_TYPE_CODES",
    "CONTACT_TYPE_WEIGHTS",
    "EXT_RELATIONS",
    "FLAG_OF_METHOD",
    "GENDER_SPELLINGS",
    "GROUP_OF_FORM",
    "HTCDS_RELATIONS",
    "INVALID",
    "LABOUR_FORMS",
    "OTHER_FORMS",
    "RECRUITMENT_CHANNEL",
    "REGION_OF",
    "STATUSES",
    "add_months",
    "age_band",
    "age_group",
    "birthdate_for",
    "cross_border",
    "days_in",
    "flags",
    "group_code",
    "pick",
]

GROUP_OF_FORM: Final = {
    "SexualExploitation": "sexual",
    "ForcedLabour": "labour",
    "ForcedBegging": "labour",
    "Servitude": "labour",
    "ChildLabour": "labour",
    "ForcedMarriage": "other",
    "ForcedCriminalActivities": "other",
    "OrganRemoval": "other",
    "Surrogacy": "other",
    "Other": "other",
}
LABOUR_FORMS: Final = (("ForcedLabour", 0.72), ("ForcedBegging", 0.1), ("Servitude", 0.12), ("ChildLabour", 0.06))
OTHER_FORMS: Final = (("ForcedCriminalActivities", 0.4), ("ForcedMarriage", 0.3), ("Other", 0.2), ("Surrogacy", 0.1))
FLAG_OF_METHOD: Final = {
    "DebtBondage": "meansDebtBondageEarnings",
    "TakesEarnings": "meansDebtBondageEarnings",
    "PhysicalThreats": "meansThreats",
    "ThreatsLawEnforcement": "meansThreats",
    "PhysicalAbuse": "meansAbusePsyPhySex",
    "PsychologicalAbuse": "meansAbusePsyPhySex",
    "SexualAbuse": "meansAbusePsyPhySex",
    "FalsePromises": "meansFalsePromises",
    "PsychoactiveSubstance": "meansDrugsAlcohol",
    "RestrictsMovement": "meansDenyBasicNeeds",
    "WithholdsNecessities": "meansDenyBasicNeeds",
    "ExcessiveWorkingHours": "meansExcessiveWorkHours",
    "WithholdsDocuments": "meansWithholdDocs",
    "Other": "_any_info",
}
RECRUITMENT_CHANNEL: Final = {
    "ThroughOnlineSocialNetworks": "online",
    "ThroughAnOnlineAdvertisement": "online",
    "ThroughFriendsOrSocialEvents": "offline",
    "ThroughFamilyOrFamilyEvents": "offline",
    "AtWork": "offline",
    "ThroughANewspaperAdvert": "offline",
    "Other": "unknown",
}
APPS: Final = ("Facebook", "Telegram", "Viber", "WhatsApp", "Instagram", "TikTok", "Other")
HTCDS_RELATIONS: Final = {
    "Familial": "Family",
    "Acquainted": "Friend",
    "Unaquainted": "Other",
    "Unacquainted": "Other",
}
EXT_RELATIONS: Final = ("IntimatePartner", "Friend", "Family", "Other", "Unknown")
#: Countries some profiles use that the taxonomy does not list individually, with their UN M49 bucket.
REGION_OF: Final = {"VN": "035", "IN": "034", "PH": "035", "NA": "002"}
AGE_BANDS: Final = (
    (8, "0-8"),
    (17, "9-17"),
    (20, "18-20"),
    (23, "21-23"),
    (26, "24-26"),
    (29, "27-29"),
    (38, "30-38"),
    (47, "39-47"),
)
GENDER_SPELLINGS: Final = {
    "F": ("Feminine", "Female", "Woman"),
    "M": ("Masculine", "Male", "Man"),
    "X": ("TransgenderFeminine", "NonConforming", "Transgender/NonConforming"),
    "U": ("NonSpecifiedUnknown", "Unknown", ""),
}
CALLS_PER_CONTACTOR: Final = (("1", 0.7), ("2", 0.12), ("3", 0.08), ("4", 0.05), ("6", 0.03), ("9", 0.02))
CHANNELS: Final = (
    ("phone", 0.55),
    ("chat", 0.2),
    ("sms", 0.04),
    ("email", 0.05),
    ("webform", 0.05),
    ("in_person", 0.03),
    ("other", 0.02),
    ("", 0.06),
)
#: (written value, code, weight)
CONTACT_TYPES: Final = (
    ("information", "information", 0.22),
    ("General Information", "information", 0.08),
    ("safe_migration_consultation", "safe_migration_consultation", 0.25),
    ("tip", "tip", 0.06),
    ("Tip", "tip", 0.02),
    ("crisis", "crisis", 0.03),
    ("Crisis", "crisis", 0.01),
    ("service_request", "service_request", 0.08),
    ("Referral", "service_request", 0.03),
    ("unrelated", "unrelated", 0.1),
    ("High Risk", "high_risk_non_trafficking", 0.04),
    ("high_risk_non_trafficking", "high_risk_non_trafficking", 0.03),
    ("training_ta", "training_ta", 0.01),
    ("", "unknown", 0.04),
)
CONTACT_TYPE_WEIGHTS: Final = tuple((written, weight) for written, _, weight in CONTACT_TYPES)
CONTACT_TYPE_CODES: Final = {written: code for written, code, _ in CONTACT_TYPES}
#: Values no input rule accepts, for ``invalid_rows``: (column, value).
INVALID: Final = (
    ("prs_Gender", "Femme"),
    ("prs_Citizenship", "Ukraine"),
    ("prs_Citizenship", "UK"),
    ("vic_TypeOfExploitation", '=HYPERLINK("http://x.example")'),
    ("vic_TraffickingStatus", "Victim"),
    ("hte_Type", "exploitation"),
    ("vic_MethodsOfControl", "Threats"),
)
STATUSES: Final = (
    ("PossibleVictimOfTrafficking", 0.55),
    ("ActualVictimOfTrafficking", 0.38),
    ("NotAVictimOfTrafficking", 0.05),
    ("", 0.02),
)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def days_in(month: date) -> int:
    return (add_months(month, 1) - month).days


_CUMULATIVE: dict[tuple[tuple[str, float], ...], tuple[tuple[str, ...], tuple[float, ...]]] = {}


def pick(rng: random.Random, weights: Weights) -> str:
    """A key of ``weights`` drawn with its weight (cumulative weights remembered per distinct table)."""
    prepared = _CUMULATIVE.get(weights)
    if prepared is None:
        prepared = _CUMULATIVE[weights] = (
            tuple(k for k, _ in weights),
            tuple(itertools.accumulate(w for _, w in weights)),
        )
    keys, cumulative = prepared
    return keys[min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), len(keys) - 1)]


def birthdate_for(rng: random.Random, registered: date, age: int) -> date:
    """A birthdate at which the person is ``age`` on ``registered``."""
    latest = (
        registered.replace(year=registered.year - age)
        if (registered.month, registered.day) != (2, 29)
        else (date(registered.year - age, 2, 28))
    )
    return latest - timedelta(days=rng.randrange(365))


def years(birthdate: date, day: date) -> int:
    years = day.year - birthdate.year
    if (day.month, day.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


def age_band(birthdate: date | None, registered: date) -> str:
    if birthdate is None:
        return "unknown"
    age = years(birthdate, registered)
    return next((band for top, band in AGE_BANDS if age <= top), "48+")


def age_group(birthdate: date | None, registered: date) -> str:
    if birthdate is None:
        return "unknown"
    return "child" if years(birthdate, registered) < 18 else "adult"


def group_code(forms: Sequence[str]) -> tuple[str, ...]:
    groups = {GROUP_OF_FORM[f] for f in forms}
    return (groups.pop() if len(groups) == 1 else ("multiple" if groups else "unknown"),)


def flags(methods: Sequence[str]) -> tuple[str, ...]:
    flags = {FLAG_OF_METHOD[m] for m in methods}
    return (*sorted(flags - {"_any_info"}), "_any_info") if methods else ()


def cross_border(citizenship: str, destination: str) -> str:
    if citizenship in ("ZZ", "XX") or destination in ("ZZ", "XN"):
        return "unknown"
    return "domestic" if citizenship == destination else "international"
