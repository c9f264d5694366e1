# SPDX-License-Identifier: Apache-2.0
"""SDMX-CSV exports of estimates answers, of per-table statistics and of reporting completeness.

>>> text = estimates_to_sdmx_csv(answer, context.tables)                      # doctest: +SKIP
>>> text.splitlines()[:2]                                                     # doctest: +SKIP
['STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,AGE_BAND,...,TIME_PERIOD,OBS_VALUE,CI95_LOWER,CI95_UPPER,...',
 'dataflow,TIPSHARE:PERSON_ESTIMATES(1.0.0),R,_T,_T,...,2026-01-01/P6M,41.37,25.1,57.64,conservative,A,F,true,3,...']
>>> text = stats_to_sdmx_csv(result, taxonomy.table(result.table))            # doctest: +SKIP
>>> text.splitlines()[:2]                                                     # doctest: +SKIP
['STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,CITIZENSHIP,...,TIME_PERIOD,OBS_VALUE,CI95_LOWER,CI95_UPPER,...',
 'dataflow,TIPSHARE:PERSONS_CORRIDOR(1.0.0),R,_T,UA,PL,_T,2026-09,41,25,57,A,F,3,3,person,...']

The messages follow the SDMX-CSV 2.x field guide (sdmx-twg/sdmx-csv, ``data-message/docs``): RFC 4180 CSV with a
mandatory header row; ``STRUCTURE``, ``STRUCTURE_ID`` and ``ACTION`` first; then the dimensions, the measure and
the attributes, in that order; one row per observation; attributes attached above the observation level (the
checkpoint) repeated on every row; intentionally missing numbers written ``NaN`` and other missing values
``#N/A``. The media type is :data:`SDMX_CSV_MEDIA_TYPE` (the columns used here read the same in 2.0 and 2.1).

Estimates (:func:`estimates_to_sdmx_csv`)
-----------------------------------------
The answer of ``GET /v1/estimates/{unit}`` (:class:`protocol.api.EstimatesAnswer`): what the dashboard shows and
what coordinators should publish. The columns are those of the statistics below, except:

``STRUCTURE_ID``
    ``TIPSHARE:<UNIT>_ESTIMATES(<answer version>.0.0)``, e.g. ``TIPSHARE:PERSON_ESTIMATES(1.0.0)``: one dataflow
    per unit, whatever tables and taxonomies an answer combines.
one column per dimension of the unit, upper-cased, in alphabetical order
    every dimension some table of the unit carries (in any taxonomy the hub accepts), so that every answer about a
    unit has the same columns: the row's code for a grouped dimension, the one code a dimension was filtered to,
    else ``_T`` (every code). As below, a dimension summed over several chosen codes is refused.
``OBS_VALUE``
    the least-squares estimate as published: at most two decimals, possibly fractional or negative, never clipped;
    ``NaN`` for a month no hotline in scope reported.
``CI95_LOWER``, ``CI95_UPPER``
    the published 95 % interval (``NaN`` with a missing estimate).
``INTERVAL_METHOD``
    ``exact`` (from the noise distribution itself) or ``conservative`` (a proven lower bound on its coverage);
    ``#N/A`` with a missing estimate.
``OBS_STATUS``, ``CONF_STATUS``
    as below: ``A`` normal, ``U`` low reliability (wide interval or negative estimate), ``O`` missing; ``F`` free.
``DISTINGUISHABLE``
    ``true`` when the observation is distinguishable from zero: the answer's multiple-comparison procedure
    (``ranking`` in the JSON answer: Holm's step-down procedure at 5 % family-wise error rate, see
    :mod:`protocol.estimation`) over every observation of the answer with an estimate rejects "the true count is
    zero"; ``false`` otherwise, a missing estimate included.
``RANK``
    1, 2, … by estimate among the distinguishable observations (within each ``TIME_PERIOD`` when the answer is
    grouped by period); **empty** (the attribute is not reported) for an observation that is not distinguishable
    from zero: such an observation is never ranked, and a "largest" list holds only ranked observations.
``P_ZERO``
    the p-value (an upper bound) of "the true count is zero" against "it is positive" that the ranking tested
    (``NaN`` with a missing estimate).
``HOTLINES_REPORTING``, ``HOTLINES_EXPECTED``, ``UNIT_MEASURE`` and the checkpoint, as below.

Statistics of one table (:func:`stats_to_sdmx_csv`)
---------------------------------------------------
The raw sums of one released table (``GET /v1/stats/{table}``), for auditors and experts.
``STRUCTURE``, ``STRUCTURE_ID``, ``ACTION``
    ``dataflow``, ``TIPSHARE:<TABLE>(<taxonomy version>.0.0)`` and ``R`` (replace: what the field guide
    recommends for the answer to a data query).
``REF_AREA``
    what the numbers cover: ``_T`` the whole region, an ISO 3166-1 alpha-2 code for one country, the countries of a
    token limited to some joined with ``+`` (``MD+UA``), or a hotline id for one hotline.
one column per dimension of the table, upper-cased, in taxonomy order
    the code of a grouped dimension; ``_T`` (the SDMX total) for a dimension summed over all its codes, or the one
    code it was filtered to. Codes are written as SDMX codes (:mod:`protocol.sdmx_codes`: ``48+`` is ``Y_GE48``,
    ``9-17`` ``Y9-17``, the UN M49 area ``002`` ``M49_002``), the ids of the codelists of the structure messages
    (:mod:`hub.services.sdmx_structure`). A dimension summed over *several* chosen codes has no code to write
    (taxonomy codes may themselves hold ``+``), so such a query is refused (:class:`~hub.errors.InvalidQuery`):
    group by that dimension instead.
``TIME_PERIOD``
    ``YYYY-MM``; a row summed over several months gets the SDMX time range ``YYYY-MM-01/P<n>M``.
``OBS_VALUE``
    the estimate: the unbiased sum of noisy counts, never clipped, possibly negative; ``NaN`` for a month no
    hotline in scope reported.
``CI95_LOWER``, ``CI95_UPPER``
    the 95 % interval (``NaN`` with a missing estimate).
``OBS_STATUS``, ``CONF_STATUS``
    SDMX cross-domain codes: ``A`` normal, ``U`` low reliability (wide interval or negative estimate), ``O``
    missing; ``F`` free (differential privacy, not suppression, protects the numbers).
``INTERVAL_METHOD``
    how the interval was computed (``exact`` or ``normal``; ``#N/A`` with a missing estimate).
``HOTLINES_REPORTING``, ``HOTLINES_EXPECTED``
``UNIT_MEASURE``
    from Eurostat's unit codelist (ESTAT:CL_UNIT): ``PER`` (persons) for persons, ``NR`` (number) for cases and
    contacts (:data:`UNIT_MEASURES`).
``CHECKPOINT_ORIGIN``, ``CHECKPOINT_SIZE``, ``CHECKPOINT_ROOT``
    the signed log checkpoint the answer reflects (``#N/A`` origin while the log is empty).
``GROUP_BY``, ``FILTERS``, ``PERIOD_FROM``, ``PERIOD_TO``
    the question in words, constant in a message: the group keys (``period,citizenship``), the filters with the
    API's codes (``exploitation_group=labour; citizenship=MD,UA``), ``#N/A`` for none, and the months asked.
``QUESTION``
    the request that asks the answer again (``/v1/stats/<table>?group_by=…&period_from=…``, see
    :mod:`protocol.questions`): with the checkpoint, what ``tipshare-audit check FILE`` recomputes the message
    from. Estimates messages carry it too.

Completeness (:func:`completeness_to_sdmx_csv`)
-----------------------------------------------
Dataflow ``TIPSHARE:REPORTING_COMPLETENESS(1.0.0)``; dimensions ``REF_AREA`` (the hotline's country), ``HOTLINE``
and ``TIME_PERIOD``; ``OBS_VALUE`` is the number of reports received for the month, 1 or 0 (DHIS2's
ACTUAL_REPORTS); attributes ``REPORTING_STATUS`` (on_time, late, not_due, missing, not_enrolled),
``EXPECTED_REPORTS`` (1 or 0), ``CORRECTED``, ``REVISIONS``, ``FIRST_RECEIVED``, ``DEADLINE``, the checkpoint,
``PERIOD_FROM`` and ``PERIOD_TO``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from hub.errors import InvalidQuery
from hub.services.completeness import CompletenessResult
from hub.services.csv_files import write_csv
from hub.services.export_metadata import filters_text, group_by_text
from hub.services.scope import parse_period
from hub.services.stats import CheckpointRef, StatsResult, StatsRow, stats_question
from protocol.api import PERIOD, EstimateRow, EstimatesAnswer
from protocol.messages import format_timestamp
from protocol.questions import estimates_question, question_text
from protocol.sdmx_codes import sdmx_code
from protocol.taxonomy import Table

__all__ = [
    "AGENCY",
    "COMPLETENESS_DATAFLOW",
    "MISSING_NUMBER",
    "MISSING_VALUE",
    "SDMX_ACTION",
    "SDMX_CSV_MEDIA_TYPE",
    "TOTAL",
    "UNIT_MEASURES",
    "completeness_to_sdmx_csv",
    "estimates_dataflow",
    "estimates_to_sdmx_csv",
    "sdmx_dataflow",
    "stats_to_sdmx_csv",
]

#: What ``Content-Type`` an SDMX-CSV data message is sent with.
SDMX_CSV_MEDIA_TYPE: Final = "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8"
#: The maintenance agency of the hub's dataflows.
AGENCY: Final = "TIPSHARE"
#: The dataflow of reporting completeness.
COMPLETENESS_DATAFLOW: Final = f"{AGENCY}:REPORTING_COMPLETENESS(1.0.0)"
#: Replace: the action the field guide recommends for data returned by a query.
SDMX_ACTION: Final = "R"
#: The SDMX code of a total over every code of a dimension.
TOTAL: Final = "_T"
#: An intentionally missing number.
MISSING_NUMBER: Final = "NaN"
#: An intentionally missing value of any other type.
MISSING_VALUE: Final = "#N/A"

_HEAD: Final = ("STRUCTURE", "STRUCTURE_ID", "ACTION")
_CHECKPOINT: Final = ("CHECKPOINT_ORIGIN", "CHECKPOINT_SIZE", "CHECKPOINT_ROOT")
#: The request that asks the answer again (:func:`protocol.questions.question_text`), after the checkpoint.
_QUESTION: Final = "QUESTION"
#: The question in words, constant per message (:mod:`hub.services.export_metadata`), before ``QUESTION``.
_DESCRIBED: Final = ("GROUP_BY", "FILTERS", "PERIOD_FROM", "PERIOD_TO")
#: ``UNIT_MEASURE`` per unit: codes of Eurostat's unit codelist (ESTAT:CL_UNIT), ``PER`` persons, ``NR`` number.
UNIT_MEASURES: Final = {"person": "PER", "case": "NR", "contact": "NR"}
_STATS_ATTRIBUTES: Final = (
    "CI95_LOWER",
    "CI95_UPPER",
    "INTERVAL_METHOD",
    "OBS_STATUS",
    "CONF_STATUS",
    "HOTLINES_REPORTING",
    "HOTLINES_EXPECTED",
    "UNIT_MEASURE",
    *_CHECKPOINT,
)
_ESTIMATES_ATTRIBUTES: Final = (
    "CI95_LOWER",
    "CI95_UPPER",
    "INTERVAL_METHOD",
    "OBS_STATUS",
    "CONF_STATUS",
    "DISTINGUISHABLE",
    "RANK",
    "P_ZERO",
    "HOTLINES_REPORTING",
    "HOTLINES_EXPECTED",
    "UNIT_MEASURE",
    *_CHECKPOINT,
)
#: Every attribute of a statistics / estimates message, in column order: what the data structure definitions of
#: :mod:`hub.services.sdmx_structure` declare, so the files and their structures cannot drift apart.
STATS_ATTRIBUTES: Final = (*_STATS_ATTRIBUTES, *_DESCRIBED, _QUESTION)
ESTIMATES_ATTRIBUTES: Final = (*_ESTIMATES_ATTRIBUTES, *_DESCRIBED, _QUESTION)
_COMPLETENESS_ATTRIBUTES: Final = (
    "REPORTING_STATUS",
    "EXPECTED_REPORTS",
    "CORRECTED",
    "REVISIONS",
    "FIRST_RECEIVED",
    "DEADLINE",
    *_CHECKPOINT,
    "PERIOD_FROM",
    "PERIOD_TO",
)

Cell = str | int | float | bool


def sdmx_dataflow(table: str, taxonomy_id: str) -> str:
    """``TIPSHARE:<TABLE>(<major>.0.0)``: the taxonomy's version is the dataflow's major version.

    >>> sdmx_dataflow("persons_corridor", "tipshare-taxonomy/1")
    'TIPSHARE:PERSONS_CORRIDOR(1.0.0)'
    """
    version = taxonomy_id.rpartition("/")[2]
    return f"{AGENCY}:{table.upper()}({version}.0.0)"


def estimates_dataflow(unit: str, version: int) -> str:
    """``TIPSHARE:<UNIT>_ESTIMATES(<version>.0.0)``: the answers about one unit, ``version`` the answer format's.

    >>> estimates_dataflow("person", 1)
    'TIPSHARE:PERSON_ESTIMATES(1.0.0)'
    """
    return f"{AGENCY}:{unit.upper()}_ESTIMATES({version}.0.0)"


def estimates_to_sdmx_csv(answer: EstimatesAnswer, tables: Mapping[str, Table]) -> str:
    """An SDMX-CSV data message of an estimates answer (see the module docstring for every column).

    ``tables`` are the tables of every taxonomy the hub accepts (their dimensions of the answer's unit are the
    message's dimension columns). Raises :class:`InvalidQuery` when a dimension that is not grouped by was filtered
    to several codes: such a sum has no SDMX code.
    """
    question = answer.question
    names = sorted({d.name for t in tables.values() if t.unit == question.unit for d in t.dimensions})
    for name, codes in question.filters.items():
        if name not in question.group_by and len(codes) > 1:
            raise InvalidQuery(
                f"SDMX-CSV needs one code per dimension, but {name} sums {len(codes)} codes ({', '.join(codes)}): "
                f"group by {name}, filter it to one code, or drop the filter (its total is written {TOTAL})"
            )
    header = [*_HEAD, "REF_AREA", *(name.upper() for name in names), "TIME_PERIOD", "OBS_VALUE"]
    header += [*_ESTIMATES_ATTRIBUTES, *_DESCRIBED, _QUESTION]
    scope = question.scope
    ref_area = scope.code or ("+".join(scope.countries) if scope.countries else TOTAL)
    head: list[Cell | None] = ["dataflow", estimates_dataflow(question.unit, answer.version), SDMX_ACTION, ref_area]
    checkpoint: list[Cell] = [
        answer.checkpoint.origin or MISSING_VALUE,
        answer.checkpoint.size,
        answer.checkpoint.root_hash,
        *_described(question.group_by, question.filters, question.period_from, question.period_to),
        question_text(estimates_question(answer)),
    ]
    whole_range = _range(question.period_from, question.period_to)

    def code(name: str, row: EstimateRow) -> str:
        if name in question.group_by:
            return sdmx_code(row.keys[name])
        codes = question.filters.get(name, ())
        return sdmx_code(codes[0]) if codes else TOTAL

    def line(row: EstimateRow) -> list[Cell | None]:
        time_period = row.keys[PERIOD] if PERIOD in question.group_by else whole_range
        return [
            *head,
            *(code(name, row) for name in names),
            time_period,
            *_estimate(row),
            UNIT_MEASURES[question.unit],
            *checkpoint,
        ]

    return write_csv(header, (line(row) for row in answer.rows))


def _estimate(row: EstimateRow) -> list[Cell | None]:
    """``OBS_VALUE`` and the observation's own attributes, up to ``HOTLINES_EXPECTED``."""

    def number(value: float | None) -> Cell:
        return MISSING_NUMBER if value is None else value

    return [
        number(row.estimate),
        number(row.ci95_low),
        number(row.ci95_high),
        row.interval_method or MISSING_VALUE,
        row.obs_status,
        row.conf_status,
        row.distinguishable,
        row.rank,  # None: written empty, the attribute is not reported
        number(row.p_zero),
        row.hotlines_reporting,
        row.hotlines_expected,
    ]


def stats_to_sdmx_csv(result: StatsResult, table: Table) -> str:
    """An SDMX-CSV data message of a statistics answer (see the module docstring for every column).

    ``table`` is the taxonomy table the answer is about. Raises :class:`InvalidQuery` when a dimension that is not
    grouped by was filtered to several codes: such a sum has no SDMX code.
    """
    if table.name != result.table:
        raise ValueError(f"the answer is about table {result.table!r}, not {table.name!r}")
    for name in table.dimension_names:
        codes = result.filters.get(name, ())
        if name not in result.group_by and len(codes) > 1:
            raise InvalidQuery(
                f"SDMX-CSV needs one code per dimension, but {name} sums {len(codes)} codes ({', '.join(codes)}): "
                f"group by {name}, filter it to one code, or drop the filter (its total is written {TOTAL})"
            )
    dimensions = [name.upper() for name in table.dimension_names]
    header = [*_HEAD, "REF_AREA", *dimensions, "TIME_PERIOD", "OBS_VALUE", *_STATS_ATTRIBUTES, *_DESCRIBED, _QUESTION]
    head: list[Cell] = ["dataflow", sdmx_dataflow(result.table, result.taxonomy_id), SDMX_ACTION, _ref_area(result)]
    checkpoint = [
        *_checkpoint(result.checkpoint),
        *_described(result.group_by, result.filters, result.period_from, result.period_to),
        question_text(stats_question(result)),
    ]
    lines = (
        [
            *head,
            *(_dimension_value(result, name, row) for name in table.dimension_names),
            _time_period(result, row),
            *_observation(result, row),
            *checkpoint,
        ]
        for row in result.rows
    )
    return write_csv(header, lines)


def completeness_to_sdmx_csv(result: CompletenessResult) -> str:
    """An SDMX-CSV data message of the completeness grid: one observation per hotline and month."""
    header = [*_HEAD, "REF_AREA", "HOTLINE", "TIME_PERIOD", "OBS_VALUE", *_COMPLETENESS_ATTRIBUTES]
    checkpoint = [*_checkpoint(result.checkpoint), result.period_from, result.period_to]
    lines = (
        [
            "dataflow",
            COMPLETENESS_DATAFLOW,
            SDMX_ACTION,
            row.country,
            row.hotline_id,
            row.period,
            1 if row.status in ("on_time", "late") else 0,
            row.status,
            1 if row.expected else 0,
            row.corrected,
            row.revisions,
            MISSING_VALUE if row.first_received_at is None else format_timestamp(row.first_received_at),
            format_timestamp(row.deadline),
            *checkpoint,
        ]
        for row in result.rows
    )
    return write_csv(header, lines)


# ---------------------------------------------------------------------------------------------- columns


def _ref_area(result: StatsResult) -> str:
    scope = result.scope
    if scope.code is not None:
        return scope.code
    if result.countries is not None:
        return "+".join(result.countries)
    return TOTAL


def _dimension_value(result: StatsResult, name: str, row: StatsRow) -> str:
    if name in result.group_by:
        return sdmx_code(row.keys[name])
    codes = result.filters.get(name, ())
    return sdmx_code(codes[0]) if codes else TOTAL


def _time_period(result: StatsResult, row: StatsRow) -> str:
    if PERIOD in result.group_by:
        return row.keys[PERIOD]
    return _range(result.period_from, result.period_to)


def _range(period_from: str, period_to: str) -> str:
    """``YYYY-MM`` for one month, else the SDMX time range ``YYYY-MM-01/P<n>M``."""
    months = parse_period(period_to, param="period_to") - parse_period(period_from, param="period_from")
    if months == 0:
        return period_from
    return f"{period_from}-01/P{months + 1}M"


def _observation(result: StatsResult, row: StatsRow) -> Sequence[Cell]:
    def number(value: int | None) -> Cell:
        return MISSING_NUMBER if value is None else value

    return [
        number(row.estimate),
        number(row.ci95_low),
        number(row.ci95_high),
        row.interval_method or MISSING_VALUE,
        row.obs_status,
        row.conf_status,
        row.hotlines_reporting,
        row.hotlines_expected,
        UNIT_MEASURES[result.unit],
    ]


def _described(
    group_by: Sequence[str], filters: Mapping[str, Sequence[str]], period_from: str, period_to: str
) -> list[Cell]:
    """``GROUP_BY``, ``FILTERS``, ``PERIOD_FROM``, ``PERIOD_TO``: ``#N/A`` for no grouping or no filter."""
    return [group_by_text(group_by) or MISSING_VALUE, filters_text(filters) or MISSING_VALUE, period_from, period_to]


def _checkpoint(checkpoint: CheckpointRef) -> list[Cell]:
    return [checkpoint.origin or MISSING_VALUE, checkpoint.size, checkpoint.root_hash_b64]
