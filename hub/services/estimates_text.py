# SPDX-License-Identifier: Apache-2.0
"""An estimates answer in words and as a file: its notes, how a refusal names months and questions, its CSV.

Notes and refusals are worded through :mod:`hub.i18n`: English on the API and in files, the page's language on a
dashboard page (:func:`refusal_text` shows a refusal :mod:`protocol` words, which carries its English template).

The CSV (:func:`estimates_to_csv`) has one line per row and repeats on every line what is needed to read the line
alone: the question (unit, filters, period range, scope; and ``question``, the request that asks it again, which
``tipshare-audit check`` recomputes), the checkpoint the answer reflects, and the interval's method, so that a
line pasted into a spreadsheet or a report still says what it is. Cells go through
:func:`hub.services.csv_files.csv_cell`, which neutralises text a spreadsheet would run as a formula.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hub.i18n import dimension_term, dimensions_term, translate
from hub.i18n import gettext as _
from hub.services.csv_files import write_csv
from hub.services.export_metadata import export_filename, filters_text, group_by_text
from hub.services.scope import period_text
from hub.services.units import REGION_NOTE
from protocol.api import EstimatesAnswer
from protocol.combination import NotAnswerable, Plan, ResolvedQuestion, observed_table
from protocol.questions import estimates_question
from protocol.questions import question_text as text_of
from protocol.taxonomy import Table

__all__ = [
    "answer_notes",
    "describe_months",
    "describe_question",
    "estimates_filename",
    "estimates_to_csv",
    "refusal_text",
]


def describe_months(months: Sequence[int]) -> str:
    """Months as runs: ``2026-01..2026-03, 2026-06``.

    >>> describe_months([24312, 24313, 24314, 24317])
    '2026-01..2026-03, 2026-06'
    """
    runs: list[list[int]] = []
    for month in sorted(months):
        if runs and month == runs[-1][-1] + 1:
            runs[-1].append(month)
        else:
            runs.append([month])
    return ", ".join(
        period_text(run[0]) if len(run) == 1 else f"{period_text(run[0])}..{period_text(run[-1])}" for run in runs
    )


def describe_question(question: ResolvedQuestion) -> str:
    """``the number of persons by citizenship, country_of_exploitation (exploitation_group: labour)``."""
    filtered = "; ".join(f"{dimension_term(name)}: {', '.join(codes)}" for name, codes in question.filters.items())
    if question.group_by:
        text = _("the number of %(unit)ss by %(dimensions)s") % {
            "unit": question.unit,
            "dimensions": dimensions_term(question.group_by),
        }
    else:
        text = _("the number of %(unit)ss in total") % {"unit": question.unit}
    return text + (f" ({filtered})" if filtered else "")


def refusal_text(error: NotAnswerable) -> str:
    """A refusal :mod:`protocol` words, in the current language (in English: ``str(error)``, byte for byte).
    Dimensions listed together read as the dashboard's labels; codes, tables and months stay as they are."""
    params = dict(error.params)
    if params.get("dimensions"):
        params["dimensions"] = dimensions_term(params["dimensions"].split(", "))
    if error.causes:
        params["detail"] = "; ".join(f"{months}: {refusal_text(cause)}" for months, cause in error.causes)
    return translate(error.template, params)


def answer_notes(
    question: ResolvedQuestion,
    tables: Mapping[str, Table],
    plans: Sequence[Plan],
    followed: Sequence[str],
    *,
    region_of: Sequence[str] | None,
) -> list[str]:
    """What a reader needs to know to read the numbers: how they were combined, and what they count."""
    used = sorted({observed_table(name) for plan in plans for name in plan.marginals})
    unit = question.unit
    notes = [
        _(
            "Estimates are unbiased and never clipped at zero: a negative estimate or an interval reaching below "
            "zero is what the noise gives, and is kept so that sums stay unbiased."
        ),
        _(
            "Each estimate combines every released %(unit)s table that can answer the question, by generalised "
            "least squares (weights proportional to the inverse of each table's noise variance, so the parts add "
            "up to the total); the weights used are listed under combination, per months whose releases look "
            "alike. Tables used: %(tables)s."
        )
        % {"unit": unit, "tables": ", ".join(used) or _("none (no release in range)")},
    ]
    if len(followed) > 1:
        notes.append(
            _(
                "The months in range hold releases of several taxonomies (%(taxonomies)s): each table is observed "
                "per taxonomy (the cells of the hotlines that released it under that taxonomy), so the hotlines of "
                "each taxonomy are known from their own tables, each with its own noise variance."
            )
            % {"taxonomies": ", ".join(followed)}
        )
    for name in question.dimensions:
        dimension = next(d for t in tables.values() for d in t.dimensions if d.name == name)
        if dimension.multi_valued:
            notes.append(
                _(
                    "%(dimension)s is multi-valued: a %(unit)s counts once under every code that applies, so rows "
                    "(and a filter on several codes) count (%(unit)s, code) pairs and need not add up to a number "
                    "of %(unit)ss; such a question is answered by the one table that carries %(dimension)s."
                )
                % {"dimension": dimension_term(name), "unit": unit}
            )
    if region_of is not None:
        notes.append(_(REGION_NOTE) % {"countries": ", ".join(region_of)})
    return notes


# ----------------------------------------------------------------------------------------------- CSV


def estimates_to_csv(answer: EstimatesAnswer) -> str:
    """One header line, then one line per row, each carrying the question, the checkpoint and the flags."""
    question = answer.question
    question_text = text_of(estimates_question(answer))
    filters = filters_text(question.filters)
    scope = answer.question.scope
    scope_text = "region" if scope.code is None else f"{scope.level}:{scope.code}"
    if scope.countries and scope.level == "region":
        scope_text += f" ({', '.join(scope.countries)})"
    header = [
        "unit",
        *question.group_by,
        "estimate",
        "ci95_low",
        "ci95_high",
        "halfwidth",
        "std",
        "interval_method",
        "coverage",
        "hotlines_reporting",
        "hotlines_expected",
        "obs_status",
        "conf_status",
        "wide_interval",
        "p_zero",
        "distinguishable",
        "rank",
        "group_by",
        "filters",
        "period_from",
        "period_to",
        "scope",
        "unit_label",
        "checkpoint_size",
        "checkpoint_root",
        "question",
    ]
    lines = (
        [
            question.unit,
            *(row.keys[name] for name in question.group_by),
            row.estimate,
            row.ci95_low,
            row.ci95_high,
            row.halfwidth,
            None if row.std is None else f"{row.std:.3f}",
            row.interval_method,
            row.coverage,
            row.hotlines_reporting,
            row.hotlines_expected,
            row.obs_status,
            row.conf_status,
            row.wide_interval,
            row.p_zero,
            row.distinguishable,
            row.rank,
            group_by_text(question.group_by),
            filters,
            question.period_from,
            question.period_to,
            scope_text,
            answer.unit_label,
            answer.checkpoint.size,
            answer.checkpoint.root_hash,
            question_text,
        ]
        for row in answer.rows
    )
    return write_csv(header, lines)


def estimates_filename(answer: EstimatesAnswer, extension: str = "csv") -> str:
    """The file name of an estimates answer (:func:`hub.services.export_metadata.export_filename`).

    >>> estimates_filename(answer)                                                                # doctest: +SKIP
    'tipshare-estimates-person-by-citizenship-exploitation_group=labour-2026-01..2026-06-country-UA-cp1234.csv'
    """
    question = answer.question
    return export_filename(
        "estimates",
        question.unit,
        question.group_by,
        question.filters,
        question.period_from,
        question.period_to,
        _scope_name(answer),
        answer.checkpoint.size,
        extension,
    )


def _scope_name(answer: EstimatesAnswer) -> str:
    scope = answer.question.scope
    text = "region" if scope.code is None else f"{scope.level}-{scope.code}"
    return f"{text}-of-{'+'.join(scope.countries)}" if scope.countries and scope.level == "region" else text
