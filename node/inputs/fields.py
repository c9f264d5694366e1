# SPDX-License-Identifier: Apache-2.0
"""The input fields a node reads from an export, what kind of value each holds, and how a value is checked.

Field names are HTCDS 2.0 names (``prs_``, ``vic_``, ``hte_``, ``cas_``) or tipshare extensions (``ext_``). A
column whose name is none of these is ignored (exports carry names, notes and much else the node never reads), except
that an unknown ``ext_`` name is reported, because that namespace is ours and such a column is almost surely a typo,
and so is a name that differs from a field's only in case, spaces, punctuation, invisible characters or look-alike
letters of another alphabet (``prs_gender``, ``PRS GENDER``, a stray byte-order mark, a Cyrillic ``е``): ignoring
it would count every person as unknown there.

Kinds of field:

``code``
    Read by one or more taxonomy dimensions: every field named in a dimension's input rule (``prs_Gender``,
    ``prs_Citizenship``, ``vic_TypeOfExploitation``, ``ext_ContactChannel``, ...). A value is valid when every
    dimension reading the field maps it, which is decided by the dimension's own rule
    (:func:`node.inputs.rules.code_for` / ``codes_for`` on a one-value record): this module never
    re-implements a rule. A cell may hold several values (HTCDS multiselect) separated by ``;`` or ``|``.
``choice``
    A closed HTCDS picklist that decides *whether* or *where* a record counts rather than a dimension:
    ``vic_TraffickingStatus`` and ``hte_Type``.
``date``
    ``YYYY-MM-DD`` (a time after it, ``T10:30`` or `` 10:30:00``, is ignored), or the mapping file's ``date_format``.
``id``
    Free identifiers that link rows: ``ext_PersonID``, ``ext_CaseID``, ``ext_ContactorID``.

Which field carries what (the choices, documented once here):

* ``ext_PersonID`` identifies a person: rows with the same id are one person (one row per ``hte_`` event is the
  usual shape). Without this column every row is a person of its own.
* ``ext_CaseID`` links persons to cases (project rule: a person belongs to exactly one case). Without it every
  person is a case of its own.
* ``ext_RegistrationDate`` is the day the person was registered at this node; when a row does not record it,
  ``cas_IncomingReferralDate`` (the HTCDS date the organisation took the case in) stands in. One of the two is
  required for every person: it decides the month the person counts in, and the age at registration.
* ``ext_CaseOpenedDate`` is the day the case was opened (optional; see :mod:`node.inputs.records`).
* ``hte_Type``, ``hte_Date``, ``hte_Country`` describe one historic trafficking event per row.
* Contacts: ``ext_ContactorID`` (optional; who contacted, for the per-contactor cap), ``ext_ContactDate``
  (required), ``ext_ContactChannel`` and ``ext_ContactType`` (code fields of the taxonomy).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from node.i18n import N_, Text
from node.inputs.rules import codes_for
from node.inputs.text import skeleton
from protocol.errors import TaxonomyViolation
from protocol.taxonomy import Dimension, Taxonomy

__all__ = [
    "BIRTHDATE",
    "CASE_ID",
    "CASE_OPENED_DATE",
    "CONTACTOR_ID",
    "CONTACT_DATE",
    "EVENT_COUNTRY",
    "EVENT_DATE",
    "EVENT_EXPLOITATION",
    "EVENT_TYPE",
    "NOT_A_VICTIM",
    "PERSON_ID",
    "REFERRAL_DATE",
    "REGISTRATION_DATE",
    "TRAFFICKING_STATUS",
    "FieldCatalog",
    "FieldKind",
    "InputField",
]

PERSON_ID: Final = "ext_PersonID"
CASE_ID: Final = "ext_CaseID"
REGISTRATION_DATE: Final = "ext_RegistrationDate"
REFERRAL_DATE: Final = "cas_IncomingReferralDate"
CASE_OPENED_DATE: Final = "ext_CaseOpenedDate"
BIRTHDATE: Final = "prs_Birthdate"
TRAFFICKING_STATUS: Final = "vic_TraffickingStatus"
EVENT_TYPE: Final = "hte_Type"
EVENT_DATE: Final = "hte_Date"
EVENT_COUNTRY: Final = "hte_Country"
CONTACTOR_ID: Final = "ext_ContactorID"
CONTACT_DATE: Final = "ext_ContactDate"

NOT_A_VICTIM: Final = "NotAVictimOfTrafficking"
EVENT_EXPLOITATION: Final = "Exploitation"
_STATUSES: Final = ("PossibleVictimOfTrafficking", "ActualVictimOfTrafficking", NOT_A_VICTIM)
_EVENT_TYPES: Final = ("Recruitment", "Transit", EVENT_EXPLOITATION)
_MAX_EXPECTED_CHARS: Final = 400


class FieldKind(enum.Enum):
    CODE = "code"
    CHOICE = "choice"
    DATE = "date"
    ID = "id"


@dataclass(frozen=True, slots=True)
class InputField:
    """One field a node reads: its kind, the dimensions that read it (``code``) or its values (``choice``)."""

    name: str
    kind: FieldKind
    dimensions: tuple[Dimension, ...] = ()
    choices: tuple[str, ...] = ()
    country: bool = False
    expected: str = ""

    def known_values(self) -> tuple[str, ...]:
        """The values this field accepts by name (picklist values, HTCDS values, country codes), for "did you mean"."""
        if self.kind is FieldKind.CHOICE:
            return self.choices
        found: dict[str, None] = {}
        for dimension in self.dimensions:
            for field_map in dimension.input.fields:
                if field_map.name == self.name:
                    found.update(dict.fromkeys(field_map.values))
            if self.country:
                found.update(dict.fromkeys(c.code for c in dimension.codes if c.kind == "country"))
        return tuple(found)

    def accepts(self, value: str) -> bool:
        """Whether a single stripped value is valid here (``code`` and ``choice`` fields; others accept anything)."""
        if self.kind is FieldKind.CHOICE:
            return value in self.choices
        if self.kind is not FieldKind.CODE:
            return True
        record = {self.name: (value,)}
        try:
            for dimension in self.dimensions:
                codes_for(dimension, record)
        except TaxonomyViolation:
            return False
        return True


@dataclass(frozen=True, slots=True)
class FieldCatalog:
    """Every field of one kind of input file (cases or contacts), derived from the taxonomy's input rules."""

    persons: Mapping[str, InputField] = field(hash=False)
    contacts: Mapping[str, InputField] = field(hash=False)

    @classmethod
    def from_taxonomy(cls, taxonomy: Taxonomy) -> FieldCatalog:
        person_dims: dict[str, Dimension] = {}
        contact_dims: dict[str, Dimension] = {}
        for table in taxonomy.tables.values():
            target = contact_dims if table.unit == "contact" else person_dims
            for dimension in table.dimensions:
                target[dimension.name] = dimension
        persons = {
            PERSON_ID: InputField(PERSON_ID, FieldKind.ID, expected=Text(N_("a person identifier"))),
            CASE_ID: InputField(CASE_ID, FieldKind.ID, expected=Text(N_("a case identifier"))),
            REGISTRATION_DATE: _date(REGISTRATION_DATE),
            REFERRAL_DATE: _date(REFERRAL_DATE),
            CASE_OPENED_DATE: _date(CASE_OPENED_DATE),
            BIRTHDATE: _date(BIRTHDATE),
            EVENT_DATE: _date(EVENT_DATE),
            TRAFFICKING_STATUS: _choice(TRAFFICKING_STATUS, _STATUSES),
            EVENT_TYPE: _choice(EVENT_TYPE, _EVENT_TYPES),
            **_code_fields(person_dims.values()),
        }
        contacts = {
            CONTACTOR_ID: InputField(CONTACTOR_ID, FieldKind.ID, expected=Text(N_("a contactor identifier"))),
            CONTACT_DATE: _date(CONTACT_DATE),
            **_code_fields(contact_dims.values()),
        }
        return cls(persons=MappingProxyType(persons), contacts=MappingProxyType(contacts))

    def for_unit(self, unit: str) -> Mapping[str, InputField]:
        """The fields of a cases file (``unit="person"``) or of a contacts file (``unit="contact"``)."""
        return self.contacts if unit == "contact" else self.persons

    def get(self, name: str) -> InputField | None:
        return self.persons.get(name) or self.contacts.get(name)

    def resembling(self, name: str) -> str | None:
        """The field ``name`` is a misspelling of (case, spaces, punctuation, invisible characters), or ``None``
        (also when ``name`` is a field itself)."""
        if self.get(name) is not None:
            return None
        key = _spelling_key(name)
        return next((field for field in self.names if _spelling_key(field) == key), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted({*self.persons, *self.contacts}))


def _spelling_key(name: str) -> str:
    return "".join(c for c in skeleton(name) if c.isalnum())


def _date(name: str) -> InputField:
    return InputField(name, FieldKind.DATE, expected=Text(N_("a date YYYY-MM-DD")))


def _choice(name: str, choices: tuple[str, ...]) -> InputField:
    return InputField(
        name, FieldKind.CHOICE, choices=choices, expected=Text(N_("one of %(values)s"), values=", ".join(choices))
    )


def _code_fields(dimensions: Iterable[Dimension]) -> dict[str, InputField]:
    readers: dict[str, list[Dimension]] = {}
    for dimension in dimensions:
        for field_map in dimension.input.fields:
            readers.setdefault(field_map.name, []).append(dimension)
    result: dict[str, InputField] = {}
    for name, dims in readers.items():
        country = any(d.input.rule == "country" for d in dims)
        result[name] = InputField(
            name, FieldKind.CODE, dimensions=tuple(dims), country=country, expected=_expected(name, dims, country)
        )
    return result


def _expected(name: str, dimensions: list[Dimension], country: bool) -> str:
    """What a field accepts, in the taxonomy's order (HTCDS 2.0 names first, then older spellings)."""
    listed: list[str] = []
    for i, dimension in enumerate(dimensions):
        values = [v for fm in dimension.input.fields if fm.name == name for v in fm.values]
        listed = values if i == 0 else [v for v in listed if v in values]
    if country:
        special = Text(N_("; or %(values)s"), values=", ".join(listed)) if listed else ""
        return Text(
            N_("an ISO 3166-1 alpha-2 country code such as UA, PL or DE (NA is Namibia)%(special)s"), special=special
        )
    text = f"one of {', '.join(listed)}"
    shown = text if len(text) <= _MAX_EXPECTED_CHARS else text[: _MAX_EXPECTED_CHARS - 1] + "…"
    return Text(N_("one of %(values)s"), values=shown.removeprefix("one of "))
