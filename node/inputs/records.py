# SPDX-License-Identifier: Apache-2.0
"""Turn the rows of an export into persons (cases file) and contacts (contacts file), checking every value.

Every row of a file is checked, whichever month it belongs to: a value a field does not accept is a problem naming
file, row, column and what was expected, and every problem is collected before :class:`InputError` is raised.
Nothing is counted from an input that has a problem. With ``allow_unknown`` (an explicit choice of the officer)
a value the taxonomy does not list is read as unknown instead: the dimensions reading it take their missing code
(``ZZ``, ``U``, ``unknown``, ...); in a multi-valued dimension it counts only as "some value recorded" (the any
code); an unknown ``vic_TraffickingStatus`` counts as not recorded; an unknown ``hte_Type`` leaves its event out; an
unreadable ``prs_Birthdate`` or ``hte_Date`` is not recorded. Registration, case-opened and contact dates have no
unknown: they decide the month, so they stay errors.

Values are checked by :mod:`node.inputs.cells` (stripping, splitting multiselect cells, the mapping's values).

Persons (field choices in :mod:`node.inputs.fields`):

* Rows with the same ``ext_PersonID`` are one person; each code field holds the values of all its rows, in row
  order without repeats, so the taxonomy's rules (first, several, priority, each) see them as one record. Without
  an ``ext_PersonID`` column every row is a person.
* ``hte_Country`` is the country of the person's latest event (by ``hte_Date``; undated events count as the
  earliest, ties go to the later row) with ``hte_Type`` ``Exploitation`` and a country recorded, as the taxonomy's
  note for ``country_of_exploitation`` says. A row with ``hte_Country`` but no ``hte_Type`` is a problem.
* The registration date is the earliest ``ext_RegistrationDate`` (or, on a row without it,
  ``cas_IncomingReferralDate``) over the person's rows; a person without one is a problem.
* ``vic_TraffickingStatus``, ``prs_Birthdate`` and ``ext_CaseOpenedDate``: the first recorded over the rows. A
  person whose status is ``NotAVictimOfTrafficking`` is not counted; no status recorded counts (a hotline registers
  potential victims).
* A person belongs to exactly one case (project rule, on which the contribution bound of ``cases_opened`` rests):
  rows of one person naming two ``ext_CaseID`` values are a problem, and so are two different
  ``ext_CaseOpenedDate`` values for one case.

Contacts: one row is one contact. ``ext_ContactDate`` is required; a row without ``ext_ContactorID`` is a contactor
of its own (an anonymous contact cannot be linked to others).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, TypeAlias

from node.i18n import N_, Text
from node.inputs import fields as f
from node.inputs.cells import INVALID, MAX_ID_CHARS, UNKNOWN, CellCheck, Slot, Values
from node.inputs.errors import InputProblem, ProblemLog, shown_value
from node.inputs.fields import FieldCatalog, FieldKind
from node.inputs.mapping import ColumnMapping
from node.inputs.readers import InputSource

__all__ = ["UNKNOWN", "Contact", "Person", "Values", "read_contacts", "read_persons"]

_Row: TypeAlias = list[Slot]
_Rows: TypeAlias = Sequence[tuple[int, _Row]]
_TICK_ROWS: Final = 4096
#: Date fields whose unreadable values become "not recorded" under allow_unknown (the others decide the month).
_TOLERANT_DATES: Final = frozenset({f.BIRTHDATE, f.EVENT_DATE})
_EVENT_TYPE_NEEDED: Final = Text(
    N_("%(type)s (Recruitment, Transit or Exploitation) of the event whose %(country)s this row records"),
    type=f.EVENT_TYPE,
    country=f.EVENT_COUNTRY,
)
_ONE_CASE: Final = Text(N_("one case per person (project rule); an earlier row of this person names another case"))
_REGISTRATION_NEEDED: Final = Text(
    N_("a registration date (%(registered)s or %(referred)s) on at least one row of each person"),
    registered=f.REGISTRATION_DATE,
    referred=f.REFERRAL_DATE,
)


@dataclass(frozen=True, slots=True)
class Person:
    """One person of the cases file: rows merged, values checked, not yet coded."""

    key: str
    row: int
    #: How many rows of the export the person has.
    rows: int
    case: str
    registered: date
    case_opened: date | None
    status: str | None
    birthdate: date | None
    values: Mapping[str, Values]

    @property
    def counts(self) -> bool:
        """Whether the person counts at all (anything but ``NotAVictimOfTrafficking``)."""
        return self.status != f.NOT_A_VICTIM


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact of the contacts file."""

    row: int
    contactor: str
    day: date
    values: Mapping[str, Values]
    #: No ``ext_ContactorID``: the contact is a contactor of its own (it cannot be linked to the caller's others).
    anonymous: bool = False


def read_persons(
    source: InputSource,
    *,
    catalog: FieldCatalog,
    mapping: ColumnMapping,
    allow_unknown: bool,
    problems: ProblemLog,
    tick: Callable[[int], None] | None = None,
    usage: dict[str, set[str]] | None = None,
) -> list[Person]:
    """Every person of a cases file, in order of first row; every problem goes to ``problems``. The mapping's
    source values that matched a cell are added to ``usage[field]``."""
    reader = _RowReader(source, catalog, "person", mapping, allow_unknown, problems)
    if f.REGISTRATION_DATE not in reader.labels and f.REFERRAL_DATE not in reader.labels:
        reader.file_problem(
            Text(
                N_("a registration date column: %(registered)s or %(referred)s"),
                registered=f.REGISTRATION_DATE,
                referred=f.REFERRAL_DATE,
            )
        )
    groups: dict[str, list[tuple[int, _Row]]] = {}
    has_id, id_slot = f.PERSON_ID in reader.labels, reader.slots[f.PERSON_ID]
    for number, row in reader.rows(tick):
        key = row[id_slot] if has_id else f"row {number}"
        if isinstance(key, str):
            groups.setdefault(key, []).append((number, row))
        elif key is None:
            reader.problem(
                number, f.PERSON_ID, Text(N_("a person identifier: the column is there, so every row needs one"))
            )
    merger = _Merger(reader)
    persons = [person for key, rows in groups.items() if (person := merger.person(key, rows)) is not None]
    reader.record_usage(usage)
    return persons


def read_contacts(
    source: InputSource,
    *,
    catalog: FieldCatalog,
    mapping: ColumnMapping,
    allow_unknown: bool,
    problems: ProblemLog,
    tick: Callable[[int], None] | None = None,
    usage: dict[str, set[str]] | None = None,
) -> list[Contact]:
    """Every contact of a contacts file, in row order; every problem goes to ``problems`` (and the mapping's values
    used to ``usage``, as :func:`read_persons` does)."""
    reader = _RowReader(source, catalog, "contact", mapping, allow_unknown, problems)
    if f.CONTACT_DATE not in reader.labels:
        reader.file_problem(Text(N_("a contact date column: %(field)s"), field=f.CONTACT_DATE))
    code_slots = [(name, reader.slots[name]) for name, fd in reader.fields.items() if fd.kind is FieldKind.CODE]
    id_slot, date_slot = reader.slots[f.CONTACTOR_ID], reader.slots[f.CONTACT_DATE]
    contacts: list[Contact] = []
    for number, row in reader.rows(tick):
        day, contactor = row[date_slot], row[id_slot]
        if day is None and f.CONTACT_DATE in reader.labels:
            reader.problem(number, f.CONTACT_DATE, Text(N_("a date YYYY-MM-DD: every contact needs its date")))
        if not isinstance(day, date):
            continue
        values = {name: v for name, slot in code_slots if isinstance(v := row[slot], tuple)}
        named = isinstance(contactor, str)
        who = f"id {contactor}" if named else f"row {number}"
        contacts.append(Contact(row=number, contactor=who, day=day, values=values, anonymous=not named))
    reader.record_usage(usage)
    return contacts


class _RowReader:
    """Reads the rows of one file into lists aligned with the fields of its kind, checking every cell once."""

    def __init__(
        self,
        source: InputSource,
        catalog: FieldCatalog,
        unit: str,
        mapping: ColumnMapping,
        allow_unknown: bool,
        problems: ProblemLog,
    ) -> None:
        self.source = source
        self.fields = fields = catalog.for_unit(unit)
        self.problems = problems
        self.slots = {name: i for i, name in enumerate(fields)}
        self.labels: dict[str, str] = {}
        self._plan: list[tuple[int, int, CellCheck]] = []
        header = 1 if source.format == "csv" else None
        for index, column in enumerate(source.columns):
            name = mapping.field_for(column)
            if not name:
                continue
            label = column if name == column else f"{column} ({name})"
            if name in self.labels:
                self.problem(
                    header,
                    label,
                    Text(
                        N_("one column per field; column %(column)s also gives %(field)s"),
                        column=repr(self.labels[name]),
                        field=name,
                    ),
                )
            elif name in fields:
                self.labels[name] = label
                tolerant = allow_unknown and (fields[name].kind is not FieldKind.DATE or name in _TOLERANT_DATES)
                self._plan.append((index, self.slots[name], CellCheck(fields[name], mapping, tolerant=tolerant)))
            elif (spelled := catalog.resembling(name)) is not None:
                self.problem(
                    header,
                    label,
                    Text(
                        N_(
                            "the field name spelled exactly %(field)s (names are case-sensitive): this column would "
                            'be ignored. Rename it, or map it in a mapping file ([columns]; "" ignores a column)'
                        ),
                        field=spelled,
                    ),
                )
            elif name.startswith("ext_") and catalog.get(name) is None:
                known = ", ".join(n for n in catalog.names if n.startswith("ext_"))
                self.problem(
                    header,
                    label,
                    Text(N_("a known ext_ field name (%(names)s); this column would be ignored"), names=known),
                )

    def rows(self, tick: Callable[[int], None] | None) -> Iterator[tuple[int, _Row]]:
        """``(row number, checked values aligned with the fields)`` for every usable row."""
        width = len(self.slots)
        plan = [(index, slot, check.cache, check) for index, slot, check in self._plan]
        event_country, event_type = self.slots.get(f.EVENT_COUNTRY), self.slots.get(f.EVENT_TYPE)
        done = 0
        for number, cells in self.source.rows():
            done += 1
            if tick is not None and done % _TICK_ROWS == 0:
                tick(done)
            row: _Row = [None] * width
            for index, slot, cache, check in plan:
                cell = cells[index]
                if not cell:
                    continue
                if type(cell) is str:
                    if cache is None and len(cell) <= MAX_ID_CHARS and cell[0].isalnum():
                        # an identifier that is neither too long nor starts like a formula: nothing to check
                        row[slot] = cell.strip() or None
                        continue
                    hit = cache.get(cell) if cache is not None else None
                else:
                    hit = None
                if hit is None:
                    hit = check(cell)
                row[slot] = hit[0]
                for raw in hit[1]:
                    self.problem(number, check.field.name, check.expected_for(raw), raw)
            if (
                event_country is not None
                and isinstance(row[event_country], tuple)
                and (event_type is None or row[event_type] is None)
            ):
                self.problem(number, f.EVENT_TYPE, _EVENT_TYPE_NEEDED)
            yield number, row
        if tick is not None:
            tick(done)

    def record_usage(self, usage: dict[str, set[str]] | None) -> None:
        """Add the mapping's source values that matched a cell, per field, to ``usage``."""
        if usage is None:
            return
        for _, _, check in self._plan:
            usage.setdefault(check.field.name, set()).update(check.used)

    def problem(self, row: int | None, name: str, expected: str, value: str | None = None) -> None:
        shown = None if value is None else shown_value(value)
        column = self.labels.get(name, name)
        self.problems.add(InputProblem(self.source.name, row, column, expected, shown, self.source.row_label))

    def file_problem(self, expected: str) -> None:
        self.problems.add(InputProblem(self.source.name, None, None, expected, row_label=self.source.row_label))


class _Merger:
    """Merges the rows of each person into a :class:`Person`, checking the case rules across persons."""

    def __init__(self, reader: _RowReader) -> None:
        self._reader = reader
        slot = reader.slots
        self._case, self._opened = slot[f.CASE_ID], slot[f.CASE_OPENED_DATE]
        self._registered, self._referred = slot[f.REGISTRATION_DATE], slot[f.REFERRAL_DATE]
        self._status, self._birthdate = slot[f.TRAFFICKING_STATUS], slot[f.BIRTHDATE]
        self._event = (slot[f.EVENT_TYPE], slot[f.EVENT_DATE], slot[f.EVENT_COUNTRY])
        self._codes = [
            (name, slot[name])
            for name, field in reader.fields.items()
            if field.kind is FieldKind.CODE and name != f.EVENT_COUNTRY
        ]
        self._case_opened: dict[tuple[str, str], date] = {}
        self._has_registration_column = f.REGISTRATION_DATE in reader.labels or f.REFERRAL_DATE in reader.labels

    def person(self, key: str, rows: _Rows) -> Person | None:
        """The person of these rows, or ``None`` (with the problem reported) if they break a rule."""
        if len(rows) == 1:
            person = self._single(key, *rows[0])
            if person is not None:
                return person
        case_ids = list(dict.fromkeys(c for _, row in rows if isinstance(c := row[self._case], str)))
        if len(case_ids) > 1:
            number = next(n for n, row in rows if row[self._case] == case_ids[1])
            self._reader.problem(number, f.CASE_ID, _ONE_CASE, case_ids[1])
            return None
        dates = [d for _, row in rows if isinstance(d := row[self._registered] or row[self._referred], date)]
        if not dates:
            reported = any(INVALID in (row[self._registered], row[self._referred]) for _, row in rows)
            if self._has_registration_column and not reported:
                self._reader.problem(rows[0][0], f.REGISTRATION_DATE, _REGISTRATION_NEEDED)
            return None
        values = self._values(rows)
        country = self._exploitation_country(rows)
        if country is not None:
            values[f.EVENT_COUNTRY] = country
        case = ("case", case_ids[0]) if case_ids else ("person", key)
        return Person(
            key=key,
            row=rows[0][0],
            rows=len(rows),
            case=" ".join(case),
            registered=min(dates),
            case_opened=self._case_opened_date(case, rows),
            status=next((s for _, row in rows if isinstance(s := row[self._status], str)), None),
            birthdate=next((b for _, row in rows if isinstance(b := row[self._birthdate], date)), None),
            values=values,
        )

    def _single(self, key: str, number: int, row: _Row) -> Person | None:
        """The same as the general merge for a person of one row (most persons), without the merging; ``None``
        leaves an unusual row (no registration date) to the general merge, which reports it."""
        registered = row[self._registered] or row[self._referred]
        if not isinstance(registered, date):
            return None
        case_id, status, birthdate = row[self._case], row[self._status], row[self._birthdate]
        case = ("case", case_id) if isinstance(case_id, str) else ("person", key)
        values = {name: v for name, slot in self._codes if isinstance(v := row[slot], tuple)}
        kind, _, where = self._event
        if row[kind] == f.EVENT_EXPLOITATION and isinstance(country := row[where], tuple):
            values[f.EVENT_COUNTRY] = country
        return Person(
            key=key,
            row=number,
            rows=1,
            case=" ".join(case),
            registered=registered,
            case_opened=self._case_opened_date(case, ((number, row),)) if row[self._opened] is not None else None,
            status=status if isinstance(status, str) else None,
            birthdate=birthdate if isinstance(birthdate, date) else None,
            values=values,
        )

    def _values(self, rows: _Rows) -> dict[str, Values]:
        """Each code field's values over the person's rows, in row order, without repeats."""
        values: dict[str, Values] = {}
        for name, slot in self._codes:
            recorded = [v for _, row in rows if isinstance(v := row[slot], tuple)]
            if len(recorded) == 1:
                values[name] = recorded[0]
            elif recorded:
                values[name] = tuple(dict.fromkeys(v for vs in recorded for v in vs))
        return values

    def _case_opened_date(self, case: tuple[str, str], rows: _Rows) -> date | None:
        """The first ext_CaseOpenedDate of the person; every one must agree with the case's other rows."""
        opened: date | None = None
        for number, row in rows:
            day = row[self._opened]
            if isinstance(day, date):
                known = self._case_opened.setdefault(case, day)
                if known != day:
                    expected = Text(N_("the same date as the case's other rows (%(date)s)"), date=known.isoformat())
                    self._reader.problem(number, f.CASE_OPENED_DATE, expected, day.isoformat())
                opened = opened or day
        return opened

    def _exploitation_country(self, rows: _Rows) -> Values | None:
        """The country of the latest Exploitation event (by hte_Date, undated first; ties: the later row)."""
        kind, when, where = self._event
        latest: tuple[date, int] | None = None
        country: Values | None = None
        for position, (_, row) in enumerate(rows):
            recorded = row[where]
            if row[kind] != f.EVENT_EXPLOITATION or not isinstance(recorded, tuple):
                continue
            day = row[when]
            order = (day if isinstance(day, date) else date.min, position)
            if latest is None or order >= latest:
                latest, country = order, recorded
        return country
