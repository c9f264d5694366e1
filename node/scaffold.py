# SPDX-License-Identifier: Apache-2.0
"""``tipshare-node mapping init``: a commented mapping file drafted from an export, for the officer to finish.

The draft lists the export's columns and, for columns with few distinct values, those values; it guesses the
HTCDS field of a column and the HTCDS value or code of a value only where the match is clear, and writes ``"?"``
wherever the officer must decide. ``prepare`` refuses a mapping that still holds a ``"?"``
(:data:`node.inputs.mapping.UNDECIDED`), so nothing is released on a guess left unchecked.

What is guessed:

* **a column's field**: its header is a field name (``prs_Gender``), or spelled like one (case, spaces,
  look-alike letters), or names the field in Ukrainian, Romanian, Russian or English (:data:`_FIELD_WORDS`, the
  words case-management systems of the region use in headers); or its values are mostly dates or country names;
* **a value's code**: the value is one the field accepts already (then it needs no line), or differs from one only
  in case or look-alike letters; or, in a country field, it is a country's name in Ukrainian, Romanian, Russian or
  English, looked up in the ISO 3166-1 translations that ship with pycountry (reverse lookup, names with and
  without "Republic of ..." forms), never in a hand-made list.

**Privacy.** The draft is a file on disk, so it never holds a record: a column's values are listed only if it has
at most ``max_values`` distinct values, and only the values that occur at least :data:`MIN_OCCURRENCES` times
(a name, an identifier or a note never does); the rest are counted, not shown. Nothing else of the export is read
into the draft.
"""

from __future__ import annotations

import gettext
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from node.inputs import fields as f
from node.inputs.fields import FieldCatalog, FieldKind, InputField
from node.inputs.mapping import UNDECIDED
from node.inputs.readers import InputSource
from node.inputs.text import normal, skeleton

__all__ = ["MIN_OCCURRENCES", "ColumnDraft", "country_code", "draft_columns", "render_mapping"]

#: A value is listed in the draft only if it occurs at least this often (a name or a note hardly ever does).
MIN_OCCURRENCES: Final = 3
_LANGUAGES: Final = ("uk", "ro", "ru")
#: Header words (compared in lower case, after normalisation) that name a field, in the region's languages.
_FIELD_WORDS: Final = (
    (f.PERSON_ID, ("номер особи", "id особи", "код особи", "номер лица", "id лица", "nr. persoan", "id persoan")),
    (f.CASE_ID, ("номер справи", "справа", "номер дела", "дело", "nr. dosar", "dosar", "nr. caz", "case id")),
    (f.REGISTRATION_DATE, ("дата реєстрації", "дата регистрации", "data înregistrării", "registration date")),
    (f.CASE_OPENED_DATE, ("дата відкриття", "дата открытия", "data deschiderii")),
    (f.BIRTHDATE, ("дата народження", "дата рождения", "data nașterii", "birth")),
    ("prs_Gender", ("стать", "пол", "sex", "gen", "gender")),
    ("prs_Citizenship", ("громадянство", "гражданство", "cetățenie", "cetățenia", "citizenship", "nationality")),
    ("vic_LocationOfExploitation", ("країна експлуатації", "страна эксплуатации", "țara exploatării")),
    ("vic_TypeOfExploitation", ("вид експлуатації", "вид эксплуатации", "tipul exploatării", "forma de exploatare")),
    (f.TRAFFICKING_STATUS, ("статус", "status")),
    ("vic_MethodsOfControl", ("методи контролю", "методы контроля", "metode de control")),
    ("ext_RecruiterRelation", ("хто вербував", "кто вербовал", "recrutor")),
    (f.CONTACTOR_ID, ("абонент", "номер абонента", "apelant")),
    (f.CONTACT_DATE, ("дата дзвінка", "дата звонка", "data apelului")),
    ("ext_ContactChannel", ("канал", "canal")),
    ("ext_ContactType", ("тип звернення", "тип обращения", "tipul apelului")),
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4}")
_DATE_FORMATS: Final = ((re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}"), "%d.%m.%Y"),)


@dataclass(frozen=True, slots=True)
class ColumnDraft:
    """What the draft says about one column of the export."""

    column: str
    field: str  # a field name, "" (ignored), or "?"
    why: str
    #: ``(value, count)`` of the values listed (few distinct, frequent enough), most frequent first.
    values: tuple[tuple[str, int], ...]
    #: Distinct values not listed (too rare, or too many distinct values in the column).
    unlisted: int
    #: ``value -> guessed HTCDS value or code ("?": to decide; absent: accepted as it is)``.
    guesses: Mapping[str, str]
    date_format: str | None = None


@cache
def _country_names() -> Mapping[str, str]:
    """Normalised, case-folded country name (English, Ukrainian, Romanian, Russian) → ISO 3166-1 alpha-2."""
    import pycountry

    found: dict[str, set[str]] = {}
    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang]) for lang in _LANGUAGES]
    for country in pycountry.countries:
        english = {getattr(country, a) for a in ("name", "common_name", "official_name") if hasattr(country, a)}
        names = set(english)
        for translation in translations:
            names.update(translation.gettext(name) for name in english)
        for name in list(names):
            names.add(name.split(",")[0])  # "Moldova, Republic of", "Moldova, Republica"
            names.add(name.split(" (")[0])
        for name in names:
            found.setdefault(normal(name).casefold().strip(), set()).add(country.alpha_2)
    return {name: next(iter(codes)) for name, codes in found.items() if len(codes) == 1 and name}


def country_code(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country named in English, Ukrainian, Romanian or Russian, or ``None``.

    >>> [country_code(n) for n in ("Польща", "Republica Moldova", "Германия", "Atlantis")]
    ['PL', 'MD', 'DE', None]
    """
    return _country_names().get(normal(name).casefold().strip())


def _field_from_header(header: str, catalog: FieldCatalog) -> tuple[str, str] | None:
    if catalog.get(header) is not None:
        return header, "the column has the field's name (no line is needed)"
    spelled = catalog.resembling(header)
    if spelled is not None:
        return spelled, f"spelled like {spelled}"
    words = normal(header).casefold().strip()
    for field, names in _FIELD_WORDS:
        if catalog.get(field) is not None and any(words == n or words.startswith(n + " ") for n in names):
            return field, f"the header names {field}"
    for field, names in _FIELD_WORDS:
        if catalog.get(field) is not None and any(n in words for n in names if len(n) > 4):
            return field, f"the header mentions {field}; check"
    return None


def _value_guess(value: str, field: InputField) -> str | None:
    """The HTCDS value or code ``value`` stands for (``None``: accepted as it is), or ``"?"``."""
    if field.accepts(value):
        return None
    known = field.known_values()
    shape = skeleton(value)
    alike = [k for k in known if skeleton(k) == shape]
    if len(alike) == 1:
        return alike[0]
    if field.country:
        return country_code(value) or UNDECIDED
    return UNDECIDED


def draft_columns(
    source: InputSource, catalog: FieldCatalog, *, unit: str, max_values: int = 30
) -> tuple[ColumnDraft, ...]:
    """Read every row of ``source`` and draft its columns (see the module docstring)."""
    counters: list[Counter[str]] = [Counter() for _ in source.columns]
    overflow = [False] * len(source.columns)
    for _, cells in source.rows():
        for index, cell in enumerate(cells):
            if overflow[index]:
                continue
            for text in cell if isinstance(cell, list) else [cell or ""]:
                text = text.strip()
                if text:
                    counters[index][text] += 1
            if len(counters[index]) > 4 * max_values:
                overflow[index] = True  # free text or identifiers: stop counting
    fields = catalog.for_unit(unit)
    drafts = []
    for index, column in enumerate(source.columns):
        counter = counters[index]
        frequent = [(v, n) for v, n in counter.most_common() if n >= MIN_OCCURRENCES]
        many = overflow[index] or len(counter) > max_values
        listed = () if many else tuple(frequent)
        unlisted = len(counter) - len(listed) if not overflow[index] else -1
        guess = _field_from_header(column, catalog)
        field, why = guess if guess is not None else ("", "")
        sample = list(counter)
        date_format = None
        if guess is None and sample and sum(1 for v in sample if _DATE.fullmatch(v)) >= 0.9 * len(sample):
            field, why = UNDECIDED, "holds dates: ext_RegistrationDate, prs_Birthdate, hte_Date, ...?"
        elif guess is None and listed and sum(n for v, n in listed if country_code(v)) >= 0.6 * sum(counter.values()):
            field, why = UNDECIDED, "holds country names: prs_Citizenship or vic_LocationOfExploitation?"
        elif guess is None:
            field, why = UNDECIDED, 'no field guessed: name the field it holds, or "" if the node does not need it'
        target = fields.get(field) or catalog.get(field)
        if target is not None and target.kind is FieldKind.DATE:
            date_format = next((fmt for pattern, fmt in _DATE_FORMATS if all(map(pattern.fullmatch, sample))), None)
        guesses: dict[str, str] = {}
        if target is not None and target.kind in (FieldKind.CODE, FieldKind.CHOICE):
            for value, _ in listed:
                found = _value_guess(normal(value), target)
                if found is not None:
                    guesses[value] = found
        drafts.append(ColumnDraft(column, field, why, listed, unlisted, guesses, date_format))
    return tuple(drafts)


def _q(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def render_mapping(
    *, files: Sequence[tuple[InputSource, Sequence[ColumnDraft]]], encoding: str | None, delimiter: str | None
) -> str:
    """The commented TOML draft."""
    lines = [
        "# tipshare column mapping, drafted by `tipshare-node mapping init` from "
        + " and ".join(source.name for source, _ in files)
        + ".",
        '# Replace every "?" with your decision: prepare refuses a mapping that still holds one.',
        '# A column\'s field: an HTCDS or ext_ field name, or "" to ignore the column. A value: the HTCDS value or',
        '# taxonomy code it stands for, a list of them, or "" (not recorded). Guesses are marked; check them.',
        "# Values that occur fewer than 3 times, and columns with many distinct values, are not listed (the draft",
        "# never holds a record): prepare names any value it does not accept.",
        "",
        "[options]",
    ]
    lines.append(f"encoding = {_q(encoding)}" if encoding else '# encoding = "cp1251"  (detected: UTF-8)')
    lines.append(f"delimiter = {_q(delimiter)}" if delimiter else "# delimiter: not needed (JSON)")
    formats = {d.date_format for _, drafts in files for d in drafts if d.date_format}
    if len(formats) == 1:
        lines.append(f"date_format = {_q(formats.pop())}  # guessed from the date columns")
    else:
        lines.append('# date_format = "%d.%m.%Y"  (default: YYYY-MM-DD)')
    lines += ["", "[columns]"]
    values: list[str] = []
    claimed: dict[str, str] = {}
    for source, drafts in files:
        lines.append(f"# {source.name}")
        for d in drafts:
            if d.field not in ("", UNDECIDED) and d.field in claimed:
                why = f"looks like {d.field} too, which column {claimed[d.field]!r} gives: one column per field"
                d = ColumnDraft(d.column, UNDECIDED, why, d.values, d.unlisted, {}, None)
            elif d.field not in ("", UNDECIDED):
                claimed[d.field] = d.column
            if d.field == d.column:
                lines.append(f"# {_q(d.column)} is already the field {d.field}")
            else:
                lines.append(f"{_q(d.column)} = {_q(d.field)}  # {d.why}")
            values += _value_lines(d)
    return "\n".join([*lines, "", *values]).rstrip("\n") + "\n"


def _value_lines(draft: ColumnDraft) -> list[str]:
    shown = [(v, n) for v, n in draft.values if draft.field == UNDECIDED or v in draft.guesses]
    if not shown:
        return []
    more = f"; values not listed: {draft.unlisted}" if draft.unlisted > 0 else ""
    if draft.field in ("", UNDECIDED):
        lines = [f"# Values of {_q(draft.column)} (map them under [values.<field>] once you choose its field{more}):"]
        lines += [f"#   {_q(v)}  ({n} rows)" for v, n in shown]
        return [*lines, ""]
    lines = [f"[values.{draft.field}]  # from column {_q(draft.column)}{more}"]
    for value, n in shown:
        guess = draft.guesses[value]
        note = "decide" if guess == UNDECIDED else "guessed; check"
        lines.append(f"{_q(value)} = {_q(guess)}  # {n} rows; {note}")
    return [*lines, ""]


def accepted_as_is(drafts: Iterable[ColumnDraft]) -> int:
    """How many listed values need no line (the field accepts them as they are)."""
    return sum(1 for d in drafts for v, _ in d.values if v not in d.guesses and d.field not in ("", UNDECIDED))
