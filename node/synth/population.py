# SPDX-License-Identifier: Apache-2.0
"""A synthetic hotline population, month by month: persons, cases, their export rows, contacts and the truth.

See :mod:`node.synth.generator` for what the export looks like and why the truth is independent of the node.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from node.synth import oracle as o
from node.synth.profiles import Profile
from protocol.taxonomy import Table, Taxonomy

__all__ = ["InvalidCell", "Population"]


@dataclass(frozen=True, slots=True)
class InvalidCell:
    """A cell ``invalid_rows`` made invalid on purpose: row number (header = 1), column, value."""

    row: int
    column: str
    value: str


@dataclass(slots=True)
class _Person:
    """What the generator decided about one person, and the codes that follow from it."""

    key: str
    case: str
    registered: date
    counted: bool
    codes: dict[str, tuple[str, ...]]
    forms: tuple[str, ...]
    cross_border: str


class Population:
    """Accumulates rows and true counts, month by month."""

    def __init__(self, chosen: Profile, rng: random.Random, *, dirty: bool, taxonomy: Taxonomy) -> None:
        self.profile = chosen
        self.rng = rng
        self.dirty = dirty
        self.taxonomy = taxonomy
        self.case_columns = (
            "ext_PersonID",
            "ext_CaseID",
            chosen.registration_column,
            "ext_CaseOpenedDate",
            "vic_TraffickingStatus",
            "prs_Gender",
            "prs_Birthdate",
            "prs_Citizenship",
            "vic_TypeOfExploitation",
            "vic_MethodsOfControl",
            "vic_MethodOfRecruitment",
            "vic_RecruitmentWebsitesAndApps",
            chosen.relation_column,
            "hte_Type",
            "hte_Date",
            "hte_Country",
            "vic_LocationOfExploitation",
            "Notes",
        )
        self.case_rows: list[dict[str, str]] = []
        self.contact_rows: list[dict[str, str]] = []
        self.truth: dict[str, dict[str, list[int]]] = {}
        self._listed = {c.code for c in taxonomy.dimension("citizenship").codes if c.kind == "country"}
        self._offsets: dict[str, list[tuple[str, dict[str, int]]]] = {}
        self._persons = 0
        self._cases = 0
        self._contactors = 0

    # ---------------------------------------------------------------- truth

    def empty_truth(self) -> dict[str, list[int]]:
        return {name: [0] * table.cell_count for name, table in self.taxonomy.tables.items()}

    def _count(self, period: str, table: Table, codes: dict[str, tuple[str, ...]]) -> None:
        """Count a record in every cell its codes name (one cell, or one per code of a multi-valued dimension)."""
        tables = self.truth.get(period)
        if tables is None:
            tables = self.truth[period] = self.empty_truth()
        counts = tables[table.name]
        offsets = self._offsets.get(table.name)
        if offsets is None:
            strides = [math.prod(table.shape[i + 1 :]) for i in range(len(table.shape))]
            offsets = self._offsets[table.name] = [
                (dimension.name, {code: position * stride for position, code in enumerate(dimension.code_names)})
                for dimension, stride in zip(table.dimensions, strides, strict=True)
            ]
        for parts in itertools.product(*[[where[c] for c in codes[name]] for name, where in offsets]):
            counts[sum(parts)] += 1

    # ---------------------------------------------------------------- persons

    def month(self, month: date, persons: int, contacts: int) -> None:
        rng = self.rng
        target = max(1, round(persons * rng.uniform(0.85, 1.15)))
        period = month.strftime("%Y-%m")
        made = 0
        while made < target:
            size = int(o.pick(rng, (("1", 0.86), ("2", 0.1), ("3", 0.04))))
            made += size
            self._case(period, month + timedelta(days=rng.randrange(o.days_in(month))), size)
        self._contacts(month, period, max(1, round(contacts * rng.uniform(0.85, 1.15))))

    def _case(self, period: str, registered: date, size: int) -> None:
        rng, p = self.rng, self.profile
        self._cases += 1
        case_id = f"{p.country}-{registered.year}-{self._cases:06d}"
        opened_written = rng.random() < 0.9
        citizenship = o.pick(rng, p.citizenships)
        destination = o.pick(rng, p.destinations.get(citizenship, p.destinations["*"]))
        group = "none" if destination == "XN" else o.pick(rng, p.groups)
        members = [
            self._person(period, case_id, registered, opened_written, citizenship, destination, group)
            for _ in range(size)
        ]
        counted = [m for m in members if m.counted]
        if not counted:
            return
        forms = {form for m in counted for form in m.forms}
        kind = forms.pop() if len(forms) == 1 else ("Multiple" if forms else "NotSpecified")
        found = {m.cross_border for m in counted}
        border = "international" if "international" in found else "domestic" if "domestic" in found else "unknown"
        table = self.taxonomy.table("cases_opened")
        self._count(period, table, {"exploitation_type": (kind,), "cross_border": (border,)})

    def _person(
        self,
        period: str,
        case_id: str,
        registered: date,
        opened_written: bool,
        citizenship: str,
        destination: str,
        group: str,
    ) -> _Person:
        rng, p = self.rng, self.profile
        self._persons += 1
        key = f"P-{self._persons:07d}"
        if rng.random() < 0.3:  # persons of one case need not share everything
            citizenship = o.pick(rng, p.citizenships)
        status = o.pick(rng, o.STATUSES)
        gender = "F" if rng.random() < p.female_share[group] else "M"
        gender = o.pick(rng, ((gender, 0.93), ("X", 0.01), ("U", 0.06)))
        child = rng.random() < p.child_share * (1.8 if group == "sexual" else 1.0)
        age = rng.randint(2 if group == "labour" else 9, 17) if child else min(18 + int(rng.expovariate(1 / 12)), 70)
        birthdate = None if rng.random() < 0.08 else o.birthdate_for(rng, registered, age)
        forms = self._forms(group, child)
        methods = () if rng.random() < 0.35 else tuple(rng.sample(sorted(o.FLAG_OF_METHOD), rng.randint(1, 4)))
        codes = {
            "citizenship": (self._country_code(citizenship),),
            "country_of_exploitation": (self._country_code(destination),),
            "exploitation_type": (forms[0] if len(set(forms)) == 1 else ("Multiple" if forms else "NotSpecified"),),
            "exploitation_group": o.group_code(forms),
            "gender": (gender,),
            "age_band": (o.age_band(birthdate, registered),),
            "age_group": (o.age_group(birthdate, registered),),
            "control_flag": o.flags(methods),
        }
        row = {
            "ext_PersonID": key,
            "ext_CaseID": case_id,
            p.registration_column: self._date(registered),
            "ext_CaseOpenedDate": registered.isoformat() if opened_written else "",
            "vic_TraffickingStatus": status,
            "prs_Gender": self._messy(rng.choice(o.GENDER_SPELLINGS[gender])),
            "prs_Birthdate": birthdate.isoformat() if birthdate else "",
            "prs_Citizenship": self._citizenship(citizenship),
            "vic_TypeOfExploitation": self._multi(forms),
            "vic_MethodsOfControl": self._multi(methods),
            "Notes": self._note(),
        }
        codes["recruiter_relation"] = self._relation(row)
        codes["recruitment_channel"] = self._recruitment(row)
        rows = self._events(row, citizenship, destination, registered)
        cross = o.cross_border(citizenship, destination)
        if rng.random() < 0.03:  # the same person exported twice
            rows.append({**rows[-1], "prs_Gender": self._messy(rng.choice(o.GENDER_SPELLINGS[gender]))})
        self.case_rows.extend(rows)
        counted = status != "NotAVictimOfTrafficking"
        if counted:
            for table in self.taxonomy.tables.values():
                if table.unit == "person":
                    self._count(period, table, codes)
        return _Person(key, case_id, registered, counted, codes, forms, cross)

    def _forms(self, group: str, child: bool) -> tuple[str, ...]:
        rng = self.rng
        if group == "none":
            return ()
        if group == "sexual":
            return ("SexualExploitation",)
        if group == "labour":
            first = o.pick(rng, o.LABOUR_FORMS) if child else o.pick(rng, o.LABOUR_FORMS[:3])
            return (first, "ForcedBegging") if first == "ForcedLabour" and rng.random() < 0.05 else (first,)
        if group == "other":
            return (o.pick(rng, o.OTHER_FORMS),)
        return ("SexualExploitation", o.pick(rng, o.LABOUR_FORMS[:3]))

    def _country_code(self, iso: str) -> str:
        if iso in ("ZZ", "XN", "XX"):
            return iso
        return iso if iso in self._listed else o.REGION_OF[iso]

    def _citizenship(self, iso: str) -> str:
        rng = self.rng
        if iso == "ZZ":
            return rng.choice(("", "ZZ", "XXX")) if self.dirty else ""
        if iso == "XX":
            return rng.choice(("XX", "XXA")) if self.dirty else "XX"
        text = self._country(iso)
        second, share = self.profile.dual_citizenship
        if second and second != iso and rng.random() < share:
            text += rng.choice((";", " ; ", "|")) + self._country(second) if self.dirty else ";" + second
        return text

    def _country(self, iso: str) -> str:
        if not self.dirty:
            return iso
        rng = self.rng
        text = "EL" if iso == "GR" and rng.random() < 0.3 else iso
        text = rng.choice((text, text, text, text.lower(), text.capitalize()))
        return self._messy(text)

    def _events(
        self, row: dict[str, str], citizenship: str, destination: str, registered: date
    ) -> list[dict[str, str]]:
        """The person's rows: destination written as hte_ events, as vic_LocationOfExploitation, or not at all."""
        rng = self.rng
        if destination in ("XN", "ZZ"):
            written = {"XN": rng.choice(("XN", "XN", "xn")), "ZZ": rng.choice(("", "ZZ"))}[destination]
            return [{**row, "vic_LocationOfExploitation": written if self.dirty else destination}]
        shape = rng.random()
        if shape < 0.2:
            return [{**row, "vic_LocationOfExploitation": self._country(destination)}]
        start = registered - timedelta(days=rng.randint(30, 700))
        exploited = {
            "hte_Type": "Exploitation",
            "hte_Country": self._country(destination),
            "hte_Date": (start + timedelta(days=20)).isoformat(),
        }
        if shape < 0.75:
            return [{**row, **exploited}]
        recruited = {
            "hte_Type": "Recruitment",
            "hte_Country": self._country(citizenship if citizenship not in ("ZZ", "XX") else "UA"),
            "hte_Date": start.isoformat(),
        }
        events = [recruited, exploited]
        if shape > 0.92:  # exploited first elsewhere, later in the destination; the later event may come first
            decoy = rng.choice([c for c in ("TR", "RU", "DE", "IT") if c != destination])
            earlier = {
                "hte_Type": "Exploitation",
                "hte_Country": self._country(decoy),
                "hte_Date": (start + timedelta(days=5)).isoformat(),
            }
            events = [exploited, earlier, recruited]
        return [{**row, **event} for event in events]

    def _relation(self, row: dict[str, str]) -> tuple[str, ...]:
        rng, column = self.rng, self.profile.relation_column
        if rng.random() < 0.3:
            return ("Unknown",)
        if column == "ext_RecruiterRelation":
            value = rng.choice(o.EXT_RELATIONS)
            row[column] = self._messy(value)
            return (value,)
        value = rng.choice(sorted(o.HTCDS_RELATIONS))
        row[column] = self._messy(value)
        return (o.HTCDS_RELATIONS[value],)

    def _recruitment(self, row: dict[str, str]) -> tuple[str, ...]:
        rng = self.rng
        methods = () if rng.random() < 0.4 else tuple(rng.sample(sorted(o.RECRUITMENT_CHANNEL), rng.randint(1, 2)))
        apps = tuple(rng.sample(o.APPS, rng.randint(1, 2))) if rng.random() < 0.2 else ()
        row["vic_MethodOfRecruitment"] = self._multi(methods)
        row["vic_RecruitmentWebsitesAndApps"] = self._multi(apps)
        found = {o.RECRUITMENT_CHANNEL[m] for m in methods} | ({"online"} if apps else set())
        return (next((c for c in ("online", "offline", "unknown") if c in found), "unknown"),)

    # ---------------------------------------------------------------- contacts

    def _contacts(self, month: date, period: str, total: int) -> None:
        """``total`` contacts in ``month``, shuffled; the truth keeps each contactor's first C by date, then row."""
        rng = self.rng
        contacts: list[tuple[str, date, str, str]] = []
        while len(contacts) < total:
            if rng.random() < 0.1:  # anonymous: a contactor of its own
                contactor, calls = "", 1
            else:
                self._contactors += 1
                again = rng.random() < 0.1  # someone who called before
                contactor = f"C-{rng.randrange(1, self._contactors + 1) if again else self._contactors:06d}"
                calls = int(o.pick(rng, o.CALLS_PER_CONTACTOR))
            for _ in range(calls):
                day = month + timedelta(days=rng.randrange(o.days_in(month)))
                contacts.append((contactor, day, o.pick(rng, o.CHANNELS), o.pick(rng, o.CONTACT_TYPE_WEIGHTS)))
        rng.shuffle(contacts)
        table = self.taxonomy.table("contacts")
        by_contactor: dict[str, list[tuple[date, int, str, str]]] = {}
        for contactor, day, channel, written in contacts:
            row_number = len(self.contact_rows) + 2
            self.contact_rows.append(
                {
                    "ext_ContactorID": contactor,
                    "ext_ContactDate": self._date(day),
                    "ext_ContactChannel": self._messy(channel),
                    "ext_ContactType": self._messy(written),
                    "Notes": self._note() if rng.random() < 0.3 else "",
                }
            )
            calls_of = by_contactor.setdefault(contactor or f"row {row_number}", [])
            calls_of.append((day, row_number, channel or "unknown", o.CONTACT_TYPE_CODES[written]))
        for calls_of in by_contactor.values():
            for _, _, channel_code, kind in sorted(calls_of)[: table.l1_bound]:
                self._count(period, table, {"channel": (channel_code,), "contact_type": (kind,)})

    # ---------------------------------------------------------------- dirt

    def _messy(self, value: str) -> str:
        if not self.dirty or not value or self.rng.random() > 0.08:
            return value
        return self.rng.choice((" ", "  ", "\t", "")) + value + self.rng.choice((" ", "", "  "))

    def _multi(self, values: Sequence[str]) -> str:
        separator = self.rng.choice((";", "; ", " | ")) if self.dirty else ";"
        return separator.join(self._messy(v) for v in values)

    def _date(self, day: date) -> str:
        if self.dirty and self.rng.random() < 0.05:
            return f"{day.isoformat()} {self.rng.randrange(8, 20):02d}:{self.rng.randrange(60):02d}"
        return day.isoformat()

    def _note(self) -> str:
        note = self.rng.choice(self.profile.notes)
        if self.dirty and self.rng.random() < 0.05:
            note += "\nдруга лінія / second line"
        return note

    def corrupt(self, count: int) -> tuple[InvalidCell, ...]:
        """Make ``count`` distinct rows invalid (a value no rule accepts); returns where."""
        if count <= 0:
            return ()
        rows = self.rng.sample(range(len(self.case_rows)), min(count, len(self.case_rows)))
        invalid = []
        for i, index in enumerate(sorted(rows)):
            column, value = o.INVALID[i % len(o.INVALID)]
            self.case_rows[index][column] = value
            if column == "hte_Type" and not self.case_rows[index].get("hte_Country"):
                self.case_rows[index]["hte_Country"] = "PL"
            invalid.append(InvalidCell(index + 2, column, value))
        return tuple(invalid)
