# SPDX-License-Identifier: Apache-2.0
"""Hotline profiles for synthetic exports: who calls a hotline in each country, and where they were exploited.

The figures are plausible shapes, not statistics: corridors in the spirit of what La Strada, IOM and Eurostat
describe for the region (Ukrainians exploited in Poland, Germany, Russia and Italy; Moldovans in Russia, Italy and
Türkiye; Romanians in Italy, Spain, Germany and the United Kingdom; Bulgarians in Germany, Greece and the
Netherlands; Georgians in Türkiye and Greece; Poland both a destination and a source), exploitation mixes with more
labour than sexual exploitation among men and the reverse among women, and a minority of children.

>>> [p.name for p in profiles()]
['ua', 'md', 'ro', 'pl', 'bg', 'ge']
>>> profile("md").hotline_id
'la-strada-md'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from node.errors import NodeError
from node.i18n import N_, Text

__all__ = ["Profile", "SynthError", "UnknownProfile", "profile", "profiles"]

Weights = tuple[tuple[str, float], ...]


class SynthError(NodeError):
    """Synthetic export parameters that cannot be used."""


class UnknownProfile(SynthError):
    """A synthetic profile name that does not exist."""


@dataclass(frozen=True, slots=True)
class Profile:
    """How one hotline's synthetic export looks.

    ``destinations`` maps a citizenship (``*``: any other) to where its persons were exploited: an ISO code, ``XN``
    (reached before exploitation) or ``ZZ`` (not known). ``groups`` weighs the exploitation groups (``none``: no
    form recorded). ``registration_column`` is the date column the export uses for registration.
    """

    name: str
    hotline_id: str
    country: str
    description: str
    persons_per_month: int
    contacts_per_month: int
    citizenships: Weights
    destinations: Mapping[str, Weights] = field(hash=False)
    groups: Weights
    female_share: Mapping[str, float] = field(hash=False)
    child_share: float
    dual_citizenship: tuple[str, float] = ("", 0.0)
    registration_column: str = "ext_RegistrationDate"
    relation_column: str = "vic_RelationshipToTrafficker"
    delimiter: str = ","
    notes: tuple[str, ...] = ("Hotline call",)


def _w(**weights: float) -> Weights:
    return tuple(weights.items())


_FEMALE_SHARE: Final = MappingProxyType({"sexual": 0.93, "labour": 0.3, "other": 0.7, "multiple": 0.75, "none": 0.55})

_PROFILES: Final = (
    Profile(
        name="ua",
        hotline_id="la-strada-ua",
        country="UA",
        description="Ukraine: labour and sexual exploitation in Poland, Germany, Russia, Italy, Czechia; domestic",
        persons_per_month=180,
        contacts_per_month=900,
        citizenships=_w(UA=0.9, MD=0.02, BY=0.02, RU=0.01, VN=0.01, ZZ=0.03, XX=0.01),
        destinations=MappingProxyType(
            {
                "*": _w(
                    PL=0.24, DE=0.12, RU=0.1, IT=0.07, CZ=0.08, UA=0.14, TR=0.04, AE=0.03, IL=0.03, XN=0.08, ZZ=0.07
                ),
            }
        ),
        groups=_w(labour=0.46, sexual=0.28, other=0.06, multiple=0.1, none=0.1),
        female_share=_FEMALE_SHARE,
        child_share=0.08,
        notes=("Дзвінок на гарячу лінію", "Консультація, м. Київ", "Звернення через чат; повторне", "=1+2"),
    ),
    Profile(
        name="md",
        hotline_id="la-strada-md",
        country="MD",
        description="Moldova: Russia, Italy, Türkiye and domestic; many dual Moldovan-Romanian citizens",
        persons_per_month=70,
        contacts_per_month=400,
        citizenships=_w(MD=0.92, UA=0.04, ZZ=0.03, RO=0.01),
        destinations=MappingProxyType(
            {
                "*": _w(
                    RU=0.24, IT=0.12, TR=0.12, MD=0.15, DE=0.05, PL=0.04, IL=0.03, AE=0.03, UA=0.02, XN=0.12, ZZ=0.08
                ),
            }
        ),
        groups=_w(labour=0.5, sexual=0.27, other=0.08, multiple=0.08, none=0.07),
        female_share=_FEMALE_SHARE,
        child_share=0.1,
        dual_citizenship=("RO", 0.12),
        relation_column="ext_RecruiterRelation",
        notes=("Apel la linia fierbinte", "Consultație, Chișinău", "Звонок, г. Бельцы"),
    ),
    Profile(
        name="ro",
        hotline_id="anitp-ro",
        country="RO",
        description="Romania: Italy, Spain, Germany, United Kingdom, France; large domestic sexual exploitation",
        persons_per_month=140,
        contacts_per_month=600,
        citizenships=_w(RO=0.95, MD=0.03, ZZ=0.02),
        destinations=MappingProxyType(
            {
                "*": _w(IT=0.18, ES=0.14, DE=0.14, GB=0.1, FR=0.05, NL=0.04, AT=0.03, RO=0.22, XN=0.04, ZZ=0.06),
            }
        ),
        groups=_w(sexual=0.48, labour=0.34, other=0.06, multiple=0.07, none=0.05),
        female_share=_FEMALE_SHARE,
        child_share=0.18,
        relation_column="ext_RecruiterRelation",
        notes=("Apel telefonic", "Sesizare, București", "Caz semnalat de poliție; urmărire"),
    ),
    Profile(
        name="pl",
        hotline_id="kcik-pl",
        country="PL",
        description="Poland: a destination (Ukrainians, Belarusians, Asians in labour) and a source (Germany, NL, UK)",
        persons_per_month=110,
        contacts_per_month=700,
        citizenships=_w(PL=0.45, UA=0.32, BY=0.06, VN=0.04, IN=0.03, PH=0.02, NA=0.01, ZZ=0.05, XX=0.02),
        destinations=MappingProxyType(
            {
                "PL": _w(PL=0.55, DE=0.14, NL=0.1, GB=0.07, NO=0.04, XN=0.04, ZZ=0.06),
                "*": _w(PL=0.82, DE=0.05, CZ=0.03, XN=0.04, ZZ=0.06),
            }
        ),
        groups=_w(labour=0.58, sexual=0.2, other=0.07, multiple=0.07, none=0.08),
        female_share=_FEMALE_SHARE,
        child_share=0.05,
        registration_column="cas_IncomingReferralDate",
        delimiter=";",
        notes=("Zgłoszenie telefoniczne", "Konsultacja, Łódź", 'Sprawa "pilna"; kontakt z policją'),
    ),
    Profile(
        name="bg",
        hotline_id="a21-bg",
        country="BG",
        description="Bulgaria: Germany, Greece, the Netherlands, Belgium, France, Spain; domestic cases",
        persons_per_month=60,
        contacts_per_month=300,
        citizenships=_w(BG=0.95, RO=0.02, ZZ=0.03),
        destinations=MappingProxyType(
            {
                "*": _w(DE=0.22, GR=0.16, NL=0.12, BE=0.06, FR=0.05, ES=0.05, CY=0.03, BG=0.18, XN=0.05, ZZ=0.08),
            }
        ),
        groups=_w(sexual=0.45, labour=0.35, other=0.08, multiple=0.06, none=0.06),
        female_share=_FEMALE_SHARE,
        child_share=0.12,
        notes=("Обаждане на горещата линия", "Консултация, София", "Сигнал от Германия"),
    ),
    Profile(
        name="ge",
        hotline_id="ge-hotline",
        country="GE",
        description="Georgia: Türkiye, Greece, the Gulf and Russia; domestic cases; some Central Asian citizens",
        persons_per_month=35,
        contacts_per_month=250,
        citizenships=_w(GE=0.86, AZ=0.03, AM=0.03, UZ=0.02, TJ=0.02, ZZ=0.04),
        destinations=MappingProxyType(
            {
                "GE": _w(TR=0.34, GR=0.15, DE=0.05, RU=0.05, AE=0.06, GE=0.2, XN=0.08, ZZ=0.07),
                "*": _w(GE=0.7, TR=0.15, XN=0.05, ZZ=0.1),
            }
        ),
        groups=_w(labour=0.5, sexual=0.3, other=0.06, multiple=0.06, none=0.08),
        female_share=_FEMALE_SHARE,
        child_share=0.07,
        notes=("ზარი ცხელ ხაზზე", "კონსულტაცია, თბილისი", "Звонок из Турции"),
    ),
)


def profiles() -> tuple[Profile, ...]:
    """Every profile, in a fixed order."""
    return _PROFILES


def profile(name: str) -> Profile:
    """The profile called ``name``; raises :class:`UnknownProfile` naming the ones there are."""
    for candidate in _PROFILES:
        if candidate.name == name:
            return candidate
    raise UnknownProfile(
        Text(
            N_("no synthetic profile %(name)s; profiles are: %(profiles)s"),
            name=repr(name),
            profiles=", ".join(p.name for p in _PROFILES),
        )
    )
