# SPDX-License-Identifier: Apache-2.0
"""Rebuild the rollups from the transparency log, compare them with the stored ones, and repair them.

The rollups (:mod:`hub.services.rollups`) are a cache that ingest maintains; everything in them follows from the
log. This module recomputes them from the log's leaves alone — the signed payloads of ``submission`` entries and
the countries that ``key_*`` entries state — as an auditor holding only the log could, and lists every
difference from what the database holds:

>>> differences = check_rollups(session, context.taxonomies)          # doctest: +SKIP
>>> differences
[]

What the rebuild computes (the rules ingest follows):

* the **current** release of a (hotline, period) is its highest revision in the log that no
  ``submission_withdrawn`` entry took back; older and withdrawn ones stay in the log and count for nothing (a
  withdrawal of the current revision brings back the highest revision left, if any);
* a hotline's country is the one its latest key event before the submission states;
* for every table of every current release, at the scopes ``region``, ``country:<CC>`` and ``hotline:<id>``: one
  ``rollup_cells`` row per cell of the table's dense domain (zeros included) holding the sum over the scope's
  current releases, and one ``rollup_noise`` row with the number of hotlines and their noise terms
  (:func:`hub.services.rollups.encode_terms`); a (table, scope, period) that no current release covers has no
  rows at all;
* a secure round's result counts as its survivors' release (:mod:`protocol.secagg.release`, from the log's
  roster, survivor set, masked vectors with their declared noise, and result): its sum at ``region``, at
  ``country:<CC>`` when every survivor is of that country, and at ``secure:<group>``, with one noise term per
  survivor (a scaled round: one term for the round, on its first survivor's row); its ``round_release_noise`` rows
  are the survivors' parts of that noise. A round some survivor declared no noise for counts for nothing;
* the ``submissions`` flagged current, and the current ``release_noise`` rows that completeness and
  ``hotlines_reporting`` read, are exactly those of the current releases; the ``submissions`` flagged withdrawn
  are exactly those the log withdraws, each by its entry.

Signatures are not verified here (the log's entries are what the hub accepted; verifying them against the key
history is the auditor's job); entries must be well formed, name a taxonomy given, and be consistent with their
payload, or :class:`~hub.errors.LogIntegrityError` is raised; so must withdrawals (each names an earlier
submission entry and describes it, and none is withdrawn twice). Memory grows with the number of rollup rows and
with the releases held while a later one replaces them (kept so that a withdrawal can bring them back).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from hub.errors import LogIntegrityError
from hub.models import (
    Hotline,
    LogLeaf,
    ReleaseNoise,
    RollupCell,
    RollupNoise,
    RoundReleaseNoise,
    SecaggRound,
    Submission,
)
from hub.services.rollups import REGION, country_scope, encode_terms, hotline_scope, round_scope
from protocol.crypto import payload_hash
from protocol.errors import ProtocolError
from protocol.messages import (
    KeyEventEntry,
    SecaggMemberEntry,
    SecaggStepEntry,
    SubmissionEntry,
    SubmissionPayload,
    SubmissionWithdrawnEntry,
    b64decode,
    parse_log_entry,
)
from protocol.secagg.messages import MaskedSubmission, RoundResult, RoundRoster, Survivors
from protocol.secagg.release import NoNoiseDeclared, RoundRelease, round_release
from protocol.secagg.signed import member_message, step_message
from protocol.taxonomy import Taxonomy

__all__ = [
    "CellRow",
    "CurrentRelease",
    "NoiseRow",
    "Rebuilt",
    "ReleaseRow",
    "RollupSnapshot",
    "RoundShareRow",
    "SliceKey",
    "check_rollups",
    "compare",
    "expected_rollups",
    "load_rollups",
    "rebuild_rollups",
    "replace_rollups",
]

#: ``(table, scope, period)``: the rows of one table for one scope and month.
SliceKey = tuple[str, str, str]
#: Differences listed per slice before the rest are only counted.
MAX_DIFFERENCES_PER_SLICE: Final = 5
_BATCH: Final = 5000


class CellRow(NamedTuple):
    """One ``rollup_cells`` row: the summed noisy value and the cell's codes (``None`` past the table's dims)."""

    value: int
    d1: str | None
    d2: str | None
    d3: str | None


class NoiseRow(NamedTuple):
    """One ``rollup_noise`` row: hotlines reporting and the encoded noise terms of one cell."""

    hotlines: int
    terms: str


class CurrentRelease(NamedTuple):
    """The current revision of one (hotline, period): what ``submissions.is_current`` must flag."""

    hotline_id: str
    period: str
    revision: int
    payload_hash: str


class ReleaseRow(NamedTuple):
    """One current ``release_noise`` row, named by its submission's payload hash."""

    payload_hash: str
    table: str
    hotline_id: str
    country: str
    period: str
    mechanism: str
    scale: str


class RoundShareRow(NamedTuple):
    """One ``round_release_noise`` row: a survivor's part of the noise of a table in a round whose sum counts."""

    group: str
    period: str
    round: int
    hotline_id: str
    table: str
    country: str
    scope_country: str | None
    taxonomy_id: str
    #: Its part of the noise (:meth:`~protocol.secagg.release.RoundRelease.member_terms`; None: none of its own).
    mechanism: str | None
    scale: str | None


@dataclass(frozen=True, slots=True)
class RollupSnapshot:
    """Rollup tables (and the current-release flags they depend on), as rows keyed like the tables."""

    cells: Mapping[SliceKey, Mapping[int, CellRow]]
    noise: Mapping[SliceKey, NoiseRow]
    #: The current release of every (hotline, period) that has one.
    current: frozenset[CurrentRelease]
    releases: frozenset[ReleaseRow]
    #: ``(payload hash, index of the withdrawal entry)`` of every withdrawn submission.
    withdrawn: frozenset[tuple[str, int]] = frozenset()
    #: The survivors' shares of every round whose sum counts.
    rounds: frozenset[RoundShareRow] = frozenset()


_Codes = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class _Release:
    payload: SubmissionPayload
    payload_hash: str
    country: str
    leaf_index: int


_RoundKey = tuple[str, str, int]


@dataclass(slots=True)
class _Round:
    """A round's messages as the log holds them, for the statistics: what its result needs."""

    roster: RoundRoster | None = None
    survivors: Survivors | None = None
    masked: dict[str, MaskedSubmission] = field(default_factory=dict)
    result: RoundResult | None = None
    result_index: int = -1
    #: Each survivor's country when the result was logged.
    countries: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- rebuilding


def expected_rollups(
    entries: Iterable[bytes], taxonomies: Mapping[str, Taxonomy], countries: Mapping[str, str] | None = None
) -> RollupSnapshot:
    """The rollups that the log's leaves (``entries``, leaf data in log order) imply.

    ``taxonomies`` maps taxonomy ids to the taxonomies the payloads name. ``countries`` maps hotline ids to
    countries; by default (``None``) each hotline's country is the one its latest preceding key event states.
    """
    snapshot, _ = _rebuild(entries, taxonomies, countries)
    return snapshot


def _rebuild(
    entries: Iterable[bytes], taxonomies: Mapping[str, Taxonomy], countries: Mapping[str, str] | None
) -> tuple[RollupSnapshot, dict[str, str]]:
    """The snapshot, and every hotline's country as the log's key events last state it."""
    logged: dict[str, str] = {}
    #: Per (hotline, period), its releases that count, by revision (the highest is current).
    held: dict[tuple[str, str], dict[int, _Release]] = {}
    revisions: dict[tuple[str, str], dict[int, int]] = {}
    by_index: dict[int, tuple[str, str, str, int, str]] = {}
    withdrawn: dict[int, int] = {}
    hashes: dict[int, str] = {}
    rounds: dict[_RoundKey, _Round] = {}
    for index, data in enumerate(entries):
        try:
            entry = parse_log_entry(data)
        except ProtocolError as e:
            raise LogIntegrityError(f"log entry {index} is not a valid log entry: {e}") from e
        if isinstance(entry, KeyEventEntry):
            logged[entry.hotline_id] = entry.country
            continue
        if isinstance(entry, SecaggStepEntry | SecaggMemberEntry):
            _collect_round(index, entry, rounds, logged if countries is None else countries)
            continue
        if isinstance(entry, SubmissionWithdrawnEntry):
            _withdraw(index, entry, by_index, withdrawn, held)
            continue
        if not isinstance(entry, SubmissionEntry):  # handovers, policies, backfill approvals: nothing for statistics
            continue
        try:
            payload_bytes = b64decode(entry.payload, what="payload")
            payload = SubmissionPayload.from_canonical(payload_bytes)
        except ProtocolError as e:
            raise LogIntegrityError(f"log entry {index} holds no valid payload: {e}") from e
        digest = payload_hash(payload_bytes)
        stated = (entry.hotline_id, entry.key_id, entry.period, entry.revision, entry.payload_hash)
        if stated != (payload.hotline_id, payload.key_id, payload.period, payload.revision, digest):
            raise LogIntegrityError(f"log entry {index} does not describe the payload it holds")
        source = logged if countries is None else countries
        country = source.get(payload.hotline_id)
        if country is None:
            raise LogIntegrityError(
                f"log entry {index} is a submission of hotline {payload.hotline_id}, whose country is unknown "
                + ("(no key event enrolls it before)" if countries is None else "(not in the countries given)")
            )
        key = (payload.hotline_id, payload.period)
        seen = revisions.setdefault(key, {})
        if payload.revision in seen:
            raise LogIntegrityError(
                f"log entries {seen[payload.revision]} and {index} are both revision {payload.revision} of "
                f"{payload.period} from {payload.hotline_id}"
            )
        seen[payload.revision] = index
        by_index[index] = stated
        hashes[index] = digest
        if payload.revision == max(seen):  # a lower revision logged after a higher one never counts
            held.setdefault(key, {})[payload.revision] = _Release(payload, digest, country, index)
    current = [releases[max(releases)] for releases in held.values() if releases]
    counted = [found for found in (_round_release(r, taxonomies) for r in rounds.values()) if found is not None]
    snapshot = _snapshot(current, taxonomies, counted)
    gone = frozenset((hashes[index], by) for index, by in withdrawn.items())
    return (
        RollupSnapshot(snapshot.cells, snapshot.noise, snapshot.current, snapshot.releases, gone, snapshot.rounds),
        logged,
    )


def _collect_round(
    index: int,
    entry: SecaggStepEntry | SecaggMemberEntry,
    rounds: dict[_RoundKey, _Round],
    countries: Mapping[str, str],
) -> None:
    """Keep what the statistics need of a round's entry: roster, survivors, masked vectors, result."""
    try:
        message = step_message(entry) if isinstance(entry, SecaggStepEntry) else member_message(entry)
    except ProtocolError as e:
        raise LogIntegrityError(f"log entry {index} holds no valid round message: {e}") from e
    held = rounds.setdefault((message.group, message.period, message.round), _Round())
    if isinstance(message, RoundRoster):
        held.roster = message
    elif isinstance(message, Survivors):
        held.survivors = message
    elif isinstance(message, MaskedSubmission):
        held.masked[message.member] = message
    elif isinstance(message, RoundResult):
        held.result, held.result_index = message, index
        if held.survivors is not None:
            for member in held.survivors.member_ids:
                if member not in countries:
                    raise LogIntegrityError(f"log entry {index}: survivor {member} has no country (no key event)")
                held.countries[member] = countries[member]


def _round_release(held: _Round, taxonomies: Mapping[str, Taxonomy]) -> tuple[RoundRelease, dict[str, str]] | None:
    """The release a logged result stands for (None: no result, or a survivor declared no noise)."""
    if held.result is None:
        return None
    if held.roster is None or held.survivors is None:
        raise LogIntegrityError(f"log entry {held.result_index}: a round's result without its roster or survivors")
    taxonomy = taxonomies.get(held.roster.taxonomy.id)
    if taxonomy is None or taxonomy.content_hash != held.roster.taxonomy.hash:
        raise LogIntegrityError(
            f"log entry {held.result_index}: the round follows taxonomy {held.roster.taxonomy.id}, which was not given"
        )
    try:
        release = round_release(
            roster=held.roster, survivors=held.survivors, masked=held.masked, result=held.result, taxonomy=taxonomy
        )
    except NoNoiseDeclared:
        return None
    except ProtocolError as e:
        raise LogIntegrityError(f"log entry {held.result_index}: {e}") from e
    return release, held.countries


def _withdraw(
    index: int,
    entry: SubmissionWithdrawnEntry,
    submissions: Mapping[int, tuple[str, str, str, int, str]],
    withdrawn: dict[int, int],
    held: dict[tuple[str, str], dict[int, _Release]],
) -> None:
    """Apply withdrawal entry ``index``: its submission stops counting (and the revision below it may count again)."""
    stated = submissions.get(entry.leaf_index)
    if stated is None:
        raise LogIntegrityError(f"log entry {index} withdraws entry {entry.leaf_index}, which is no earlier submission")
    if stated != (entry.hotline_id, entry.key_id, entry.period, entry.revision, entry.payload_hash):
        raise LogIntegrityError(
            f"log entry {index} withdraws entry {entry.leaf_index} but describes another submission"
        )
    if entry.leaf_index in withdrawn:
        raise LogIntegrityError(
            f"log entry {index} withdraws entry {entry.leaf_index} again (entry {withdrawn[entry.leaf_index]} did)"
        )
    withdrawn[entry.leaf_index] = index
    held.get((entry.hotline_id, entry.period), {}).pop(entry.revision, None)


def _snapshot(
    current: list[_Release],
    taxonomies: Mapping[str, Taxonomy],
    rounds: Sequence[tuple[RoundRelease, dict[str, str]]] = (),
) -> RollupSnapshot:
    sums: dict[SliceKey, list[int]] = {}
    slice_codes: dict[SliceKey, tuple[_Codes, ...]] = {}
    reporters: dict[SliceKey, list[tuple[str, str | None, str | None]]] = {}
    releases: set[ReleaseRow] = set()
    cache: dict[tuple[str, str], tuple[_Codes, ...]] = {}
    shares: set[RoundShareRow] = set()
    for sums_of, countries in rounds:
        country = sums_of.country(countries)
        round_scopes = [REGION, round_scope(sums_of.group)] + ([] if country is None else [country_scope(country)])
        for name, cells in sums_of.cells.items():
            parts = sums_of.member_terms(name)  # a scaled round: one term, on its first survivor
            round_codes = _cell_codes(taxonomies[sums_of.taxonomy.id], name, cache, -1)
            for at in round_scopes:
                slice_key = (name, at, sums_of.period)
                slice_codes.setdefault(slice_key, round_codes)
                summed = sums.setdefault(slice_key, [0] * len(round_codes))
                for i, value in enumerate(cells):
                    summed[i] += value
                reporters.setdefault(slice_key, []).extend(
                    (member, *(term or (None, None))) for member, term in parts.items()
                )
            shares.update(
                RoundShareRow(
                    sums_of.group,
                    sums_of.period,
                    sums_of.round,
                    member,
                    name,
                    countries[member],
                    country,
                    sums_of.taxonomy.id,
                    *(term or (None, None)),
                )
                for member, term in parts.items()
            )
    for release in current:
        payload = release.payload
        taxonomy = taxonomies.get(payload.taxonomy.id)
        if taxonomy is None or taxonomy.content_hash != payload.taxonomy.hash:
            raise LogIntegrityError(
                f"log entry {release.leaf_index} follows taxonomy {payload.taxonomy.id} ({payload.taxonomy.hash}), "
                "which was not given"
            )
        scales = {noise.table: noise.scale for noise in payload.privacy.tables}
        mechanism = payload.privacy.mechanism
        scopes = (REGION, country_scope(release.country), hotline_scope(payload.hotline_id))
        for table in payload.tables:
            codes = _cell_codes(taxonomy, table.name, cache, release.leaf_index)
            if len(table.cells) != len(codes) or table.name not in scales:
                raise LogIntegrityError(
                    f"log entry {release.leaf_index}: table {table.name} has {len(table.cells)} cells, not the "
                    f"{len(codes)} of taxonomy {taxonomy.id}, or no noise parameters"
                )
            for scope in scopes:
                key = (table.name, scope, payload.period)
                if slice_codes.setdefault(key, codes) != codes:
                    raise LogIntegrityError(
                        f"log entry {release.leaf_index}: table {table.name} of {payload.period} has another domain "
                        "than in releases it is summed with"
                    )
                total = sums.setdefault(key, [0] * len(codes))
                for i, value in enumerate(table.cells):
                    total[i] += value
                reporters.setdefault(key, []).append((payload.hotline_id, mechanism, scales[table.name]))
            releases.add(
                ReleaseRow(
                    payload_hash=release.payload_hash,
                    table=table.name,
                    hotline_id=payload.hotline_id,
                    country=release.country,
                    period=payload.period,
                    mechanism=mechanism,
                    scale=scales[table.name],
                )
            )
    return RollupSnapshot(
        cells={
            key: {i: CellRow(value, *code) for i, (value, code) in enumerate(zip(total, slice_codes[key], strict=True))}
            for key, total in sums.items()
        },
        noise={
            key: NoiseRow(
                hotlines=len({h for h, _, _ in found}),
                terms=encode_terms((m, s) for _, m, s in found if m is not None and s is not None),
            )
            for key, found in reporters.items()
        },
        current=frozenset(
            CurrentRelease(r.payload.hotline_id, r.payload.period, r.payload.revision, r.payload_hash) for r in current
        ),
        releases=frozenset(releases),
        rounds=frozenset(shares),
    )


def _cell_codes(
    taxonomy: Taxonomy, name: str, cache: dict[tuple[str, str], tuple[_Codes, ...]], leaf_index: int
) -> tuple[_Codes, ...]:
    """Every cell's codes in dense order, padded to three (computed here, not taken from the rollups module)."""
    key = (taxonomy.content_hash, name)
    if key not in cache:
        table = taxonomy.tables.get(name)
        if table is None:
            raise LogIntegrityError(f"log entry {leaf_index}: taxonomy {taxonomy.id} has no table {name!r}")
        padded = (tuple(itertools.islice(itertools.chain(cell, (None, None, None)), 3)) for cell in table.iter_cells())
        cache[key] = tuple((p[0], p[1], p[2]) for p in padded)
    return cache[key]


# ----------------------------------------------------------------------------------------------- reading


def load_rollups(session: Session) -> RollupSnapshot:
    """The rollups (and current-release flags) the database holds, in the shape :func:`expected_rollups` returns."""
    cells: dict[SliceKey, dict[int, CellRow]] = {}
    rows = session.execute(
        select(
            RollupCell.table_name,
            RollupCell.scope,
            RollupCell.period,
            RollupCell.cell,
            RollupCell.value,
            RollupCell.d1,
            RollupCell.d2,
            RollupCell.d3,
        ).execution_options(yield_per=_BATCH)
    )
    for table, scope, period, cell, value, d1, d2, d3 in rows:
        cells.setdefault((table, scope, period), {})[cell] = CellRow(value, d1, d2, d3)
    noise = {
        (row.table_name, row.scope, row.period): NoiseRow(row.hotlines, row.terms)
        for row in session.execute(
            select(
                RollupNoise.table_name, RollupNoise.scope, RollupNoise.period, RollupNoise.hotlines, RollupNoise.terms
            )
        )
    }
    current = frozenset(
        CurrentRelease(*row)
        for row in session.execute(
            select(Submission.hotline_id, Submission.period, Submission.revision, Submission.payload_hash).where(
                Submission.is_current.is_(True)
            )
        )
    )
    releases = frozenset(
        ReleaseRow(*row)
        for row in session.execute(
            select(
                Submission.payload_hash,
                ReleaseNoise.table_name,
                ReleaseNoise.hotline_id,
                ReleaseNoise.country,
                ReleaseNoise.period,
                ReleaseNoise.mechanism,
                ReleaseNoise.scale,
            )
            .join(Submission, Submission.id == ReleaseNoise.submission_id)
            .where(ReleaseNoise.is_current.is_(True))
        )
    )
    withdrawn = frozenset(
        (str(digest), int(by or 0))
        for digest, by in session.execute(
            select(Submission.payload_hash, Submission.withdrawn_index).where(Submission.withdrawn_index.is_not(None))
        )
    )
    rounds = frozenset(
        RoundShareRow._make(row)
        for row in session.execute(
            select(
                RoundReleaseNoise.group_id,
                RoundReleaseNoise.period,
                SecaggRound.round_number,
                RoundReleaseNoise.hotline_id,
                RoundReleaseNoise.table_name,
                RoundReleaseNoise.country,
                RoundReleaseNoise.scope_country,
                RoundReleaseNoise.taxonomy_id,
                RoundReleaseNoise.mechanism,
                RoundReleaseNoise.scale,
            ).join(SecaggRound, SecaggRound.id == RoundReleaseNoise.round_id)
        )
    )
    return RollupSnapshot(
        cells=cells, noise=noise, current=current, releases=releases, withdrawn=withdrawn, rounds=rounds
    )


# ----------------------------------------------------------------------------------------------- comparing


def compare(expected: RollupSnapshot, actual: RollupSnapshot) -> list[str]:
    """Every difference between two snapshots, one sentence each, in a stable order (empty: they agree)."""
    differences: list[str] = []
    for key in sorted(expected.cells.keys() | actual.cells.keys()):
        want, found = expected.cells.get(key), actual.cells.get(key)
        if found is None:
            differences.append(f"rollup_cells {_where(key)}: missing ({len(want or ())} rows expected)")
        elif want is None:
            differences.append(f"rollup_cells {_where(key)}: {len(found)} rows where no current release reports")
        else:
            differences += _cell_differences(key, want, found)
    for key in sorted(expected.noise.keys() | actual.noise.keys()):
        noise, stored = expected.noise.get(key), actual.noise.get(key)
        if stored is None:
            differences.append(f"rollup_noise {_where(key)}: missing (expected {_noise(noise)})")
        elif noise is None:
            differences.append(f"rollup_noise {_where(key)}: {_noise(stored)} where no current release reports")
        elif noise != stored:
            differences.append(f"rollup_noise {_where(key)}: expected {_noise(noise)}, found {_noise(stored)}")
    for release in sorted(expected.current - actual.current):
        differences.append(f"submissions: {_release(release)} is the current release but is not flagged current")
    for release in sorted(actual.current - expected.current):
        differences.append(f"submissions: {_release(release)} is flagged current but is not the current release")
    for row in sorted(expected.releases - actual.releases):
        differences.append(f"release_noise: no current row for {_release_row(row)}")
    for row in sorted(actual.releases - expected.releases):
        differences.append(f"release_noise: a current row for {_release_row(row)}, which is not current")
    for digest, by in sorted(expected.withdrawn - actual.withdrawn):
        differences.append(f"submissions: {digest} is withdrawn by log entry {by} but not flagged so")
    for digest, by in sorted(actual.withdrawn - expected.withdrawn):
        differences.append(f"submissions: {digest} is flagged withdrawn by entry {by}, which the log does not say")
    for share in sorted(expected.rounds - actual.rounds, key=repr):
        differences.append(f"round_release_noise: no row for {_share(share)}")
    for share in sorted(actual.rounds - expected.rounds, key=repr):
        differences.append(f"round_release_noise: a row for {_share(share)}, which the log's rounds do not hold")
    return differences


def _share(row: RoundShareRow) -> str:
    return (
        f"table {row.table} of {row.period} from {row.hotline_id} in round {row.round} of group {row.group} "
        f"({'no noise term of its own' if row.scale is None else f'{row.mechanism} {row.scale}'})"
    )


def _cell_differences(key: SliceKey, want: Mapping[int, CellRow], found: Mapping[int, CellRow]) -> list[str]:
    found_differences: list[str] = []
    for cell in sorted(want.keys() | found.keys()):
        expected, stored = want.get(cell), found.get(cell)
        if expected == stored:
            continue
        if stored is None:
            found_differences.append(f"rollup_cells {_where(key)} cell {cell}: missing (expected {expected})")
        elif expected is None:
            found_differences.append(f"rollup_cells {_where(key)} cell {cell}: outside the table's domain ({stored})")
        elif expected.value != stored.value:
            found_differences.append(
                f"rollup_cells {_where(key)} cell {cell}: expected value {expected.value}, found {stored.value}"
            )
        else:
            found_differences.append(
                f"rollup_cells {_where(key)} cell {cell}: expected codes {expected[1:]}, found {stored[1:]}"
            )
    if len(found_differences) > MAX_DIFFERENCES_PER_SLICE:
        more = len(found_differences) - MAX_DIFFERENCES_PER_SLICE
        found_differences = [
            *found_differences[:MAX_DIFFERENCES_PER_SLICE],
            f"rollup_cells {_where(key)}: and {more} more differing cells",
        ]
    return found_differences


def _where(key: SliceKey) -> str:
    table, scope, period = key
    return f"{table} {scope} {period}"


def _noise(row: NoiseRow | None) -> str:
    return "nothing" if row is None else f"{row.hotlines} hotline(s), terms {row.terms}"


def _release(release: CurrentRelease) -> str:
    return f"revision {release.revision} of {release.period} from {release.hotline_id} ({release.payload_hash})"


def _release_row(row: ReleaseRow) -> str:
    return (
        f"table {row.table} of {row.period} from {row.hotline_id} ({row.country}, {row.mechanism} scale {row.scale}, "
        f"{row.payload_hash})"
    )


# ----------------------------------------------------------------------------------------------- the database


def check_rollups(session: Session, taxonomies: Mapping[str, Taxonomy]) -> list[str]:
    """Rebuild the rollups from the log in ``session`` and list how the stored ones differ (empty: they agree).

    Hotline countries come from the log's key events; where the ``hotlines`` table disagrees, that is listed too.
    """
    query = select(LogLeaf.data).order_by(LogLeaf.index).execution_options(yield_per=500)
    with session.execute(query) as leaves:  # closed (its server-side cursor too) if the rebuild stops midway
        expected, logged = _rebuild(leaves.scalars(), taxonomies, None)
    enrolled = {row.id: row.country for row in session.execute(select(Hotline.id, Hotline.country))}
    differences: list[str] = []
    for hotline_id in sorted(logged.keys() | enrolled.keys()):
        in_log, in_table = logged.get(hotline_id), enrolled.get(hotline_id)
        if in_log != in_table:
            differences.append(
                f"hotlines: {hotline_id} has country {in_table or '(no row)'} in the hotlines table, but "
                f"{in_log or '(no key event)'} in the log's key events"
            )
    return differences + compare(expected, load_rollups(session))


def replace_rollups(session: Session, snapshot: RollupSnapshot) -> None:
    """Overwrite ``rollup_cells`` and ``rollup_noise`` with ``snapshot`` (in the caller's write transaction).

    Repairs the rollups only: the current-release flags of ``submissions`` and ``release_noise`` are not touched.
    """
    session.execute(delete(RollupCell))
    session.execute(delete(RollupNoise))
    rows = (
        {
            "table_name": table,
            "scope": scope,
            "period": period,
            "cell": cell,
            "value": row.value,
            "d1": row.d1,
            "d2": row.d2,
            "d3": row.d3,
        }
        for (table, scope, period), cells in sorted(snapshot.cells.items())
        for cell, row in sorted(cells.items())
    )
    while batch := list(itertools.islice(rows, _BATCH)):
        session.execute(insert(RollupCell), batch)
    noise = [
        {"table_name": table, "scope": scope, "period": period, "hotlines": row.hotlines, "terms": row.terms}
        for (table, scope, period), row in sorted(snapshot.noise.items())
    ]
    if noise:
        session.execute(insert(RollupNoise), noise)
    session.flush()


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What :func:`rebuild_rollups` did: the log entries it read and the cells it wrote."""

    entries: int
    cells: int


def rebuild_rollups(session: Session, taxonomies: Mapping[str, Taxonomy]) -> Rebuilt:
    """Rewrite the rollups from every entry of the log (``tipshare-hub rollups rebuild``), in the caller's write
    transaction; the log itself is never changed."""
    leaves = session.scalars(select(LogLeaf.data).order_by(LogLeaf.index)).all()
    snapshot = expected_rollups(leaves, taxonomies)
    replace_rollups(session, snapshot)
    return Rebuilt(entries=len(leaves), cells=sum(len(rows) for rows in snapshot.cells.values()))
