# SPDX-License-Identifier: Apache-2.0
"""``tipshare-audit verify``: trust nothing the hub says; check the log, every submission, and the statistics.

>>> with StateStore.open(state_dir) as store:                                          # doctest: +SKIP
...     client = AuditClient(httpx.Client(), "https://hub.example.org", token=token)
...     report = Verification(client=client, store=store, now=now, log_key=vkey).run()
>>> report.verdict, [f.check for f in report.failures]                                # doctest: +SKIP
('VERIFIED', [])

A run, in order:

1. **Identity.** ``GET /v1/hub``; its log key must be the one pinned in the state DIR. The first run pins the
   key given with ``--log-key`` (recommended), or else the one the hub presents (trust on first use: its
   fingerprint must then be checked out of band). A pinned key is never replaced.
2. **Log** (:mod:`auditor.monitor`): the signed checkpoint, consistency with every checkpoint seen before, the
   new entries, and the full Merkle root rebuilt from all of them. If this verifies, the state DIR is updated.
3. **Entries** (:mod:`auditor.entries`): the key history from the key events, and every submission against it.
   What earlier runs concluded about the entries they checked is kept in the state DIR and resumed from, so a
   run checks only the entries after them (``recheck=True``, ``--recheck``: every entry again). The log itself
   (step 2) is always checked in full, so an old entry the hub changed is caught there, by the consistency
   proofs and the rebuilt root, whatever the saved conclusions say about it. Withdrawals (signed by the pinned log
   key) take submissions out of every recomputation from their entry on.
4. **Statistics** (:mod:`auditor.stats`, :mod:`auditor.compare`): for every table, over every month the log has
   data for, ``GET /v1/stats`` is compared exactly with the sums of the accepted payloads: for the region grouped
   by ``period``, by ``period`` plus each dimension, and by ``period`` plus every dimension (the full cell grid of
   each month, which covers every grouping: a cell forged so that every one-dimensional total stays the same is
   caught); for each country by ``period`` and by the full cell grid (:func:`table_groupings`). A grid larger
   than the hub's row limit is asked for in as many answers as it takes, a few months each. Each answer names
   the checkpoint it was computed from; it is recomputed for exactly that tree size (after fetching a newer
   checkpoint, if the hub moved on meanwhile). Then the least-squares estimates (:mod:`auditor.verify_estimates`):
   for every unit with data, its total by period, each dimension by period (over the whole range when it has
   more than 20 codes) and the corridor month by month and over the whole range, for the region and each
   country, ``GET /v1/estimates`` is compared with the answer recomputed from the same releases
   (:mod:`auditor.estimates`), every number exactly. The current submissions of a tree size are read once for
   both (:mod:`auditor.releases`).

Between steps 3 and 4, every secure-aggregation round of the verified log is re-added from the log alone
(:mod:`auditor.rounds`), and the hub's answer for each round that is over is compared with the logged result
(:mod:`auditor.round_answers`).

Failures are collected, not raised: the report names all of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Final, Literal

from auditor.client import AuditClient
from auditor.compare import compare_answer
from auditor.entries import AcceptedSubmission, EntryChecker
from auditor.errors import HubResponseInvalid, StateError, UsageError
from auditor.estimates import EstimatesRecomputation, audit_questions
from auditor.findings import Check, Failure
from auditor.hub_keys import describe_followed, follow_hub_keys
from auditor.i18n import N_, T_
from auditor.keys import HotlineWindows, KeyHistory
from auditor.monitor import LogMonitor
from auditor.policies import budget_rows
from auditor.published import PublishedCheckpoint, PublishedStats
from auditor.releases import CountedRound, LoadedRelease, Releases, TableRegistry
from auditor.report import VerifyReport
from auditor.resume import resume_checks
from auditor.round_answers import compare_published
from auditor.rounds import ROUND_MARK, RoundAudit
from auditor.state import StateStore
from auditor.stats import PERIOD, Recomputation, month_chunks, month_range
from auditor.verify_estimates import EstimatesStep
from auditor.witnessing import describe_verdict, policy_for, witness_problem
from protocol.api import MAX_MONTHS, MAX_ROWS, HubIdentity
from protocol.crypto import fingerprint
from protocol.errors import ProtocolError
from protocol.merkle import EMPTY_ROOT
from protocol.messages import b64decode
from protocol.note import NoteVerifier
from protocol.taxonomy import Taxonomy, parse_taxonomy

__all__ = ["MAX_RESYNCS", "Verification", "table_groupings"]

#: How often one run follows the hub to a newer checkpoint that a statistics answer names.
MAX_RESYNCS: Final = 3


def table_groupings(dimensions: Sequence[str], *, region: bool) -> list[tuple[str, ...]]:
    """The groupings of a table's answers ``verify`` compares: by period; for the region also by period and each
    dimension; and the full cell grid of each month (by period and every dimension), which covers every other
    grouping, so that a forged cell is caught even when it leaves every one-dimensional total unchanged.

    >>> table_groupings(("citizenship", "country_of_exploitation"), region=True)
    [('period',), ('period', 'citizenship'), ('period', 'country_of_exploitation'), \
('period', 'citizenship', 'country_of_exploitation')]
    >>> table_groupings(("channel",), region=False)
    [('period',), ('period', 'channel')]
    """
    groupings: list[tuple[str, ...]] = [(PERIOD,)]
    if region:
        groupings += [(PERIOD, d) for d in dimensions]
    full = (PERIOD, *dimensions)
    if dimensions and full not in groupings:
        groupings.append(full)
    return groupings


class Verification:
    """One ``verify`` run against one hub, with one open state DIR."""

    def __init__(
        self,
        *,
        client: AuditClient,
        store: StateStore,
        now: datetime,
        log_key: str | None = None,
        page_size: int = 100,
        country_scopes: bool = True,
        recheck: bool = False,
        witnesses: Sequence[str] = (),
        witness_quorum: int | None = None,
    ) -> None:
        self._witnesses = (list(witnesses), witness_quorum)
        self._client = client
        self._store = store
        self._now = now
        self._log_key = log_key
        self._page_size = page_size
        self._country_scopes = country_scopes
        self._recheck = recheck
        #: Entries below this index have their conclusions in the state DIR (saved, or resumed from).
        self._saved_through = 0
        self._resumed_checked = 0
        self._taxonomies: dict[str, Taxonomy] = {}
        self._recomputations: dict[int, Recomputation] = {}
        self._releases_at: dict[int, Releases] = {}
        self._estimates_by_size: dict[int, EstimatesRecomputation] = {}
        #: Rounds whose sums count as releases (:meth:`_rounds`), for the statistics recomputed after them.
        self._counted_rounds: list[CountedRound] = []
        self._registry = TableRegistry()
        self._resyncs = 0
        self._token_countries: frozenset[str] | None = None
        self.identity: HubIdentity | None = None
        self.report = VerifyReport(hub_url=client.hub_url)
        self._checker = EntryChecker(self._taxonomy_or_problem)

    def run(self) -> VerifyReport:
        monitor = self.prepare()
        if monitor is not None:
            assert self.identity is not None  # prepare() read it
            self._rounds(monitor)
            self._statistics(monitor, self.identity)
            self.finish(monitor)
        return self.report

    def prepare(self) -> LogMonitor | None:
        """Steps 1 to 3: the hub's identity, its log and every entry; the monitor of the verified log, or ``None``
        after an identity failure. :meth:`finish` concludes the run (:mod:`auditor.check_file` runs these, then
        recomputes one downloaded answer instead of every published one)."""
        self.identity = self._client.identity()
        verifier = self._trusted_key(self.identity)
        self.report.requests = self._client.requests
        if verifier is None:
            return None
        self._store.remember_hub_url(self._client.hub_url)
        monitor = LogMonitor(
            client=self._client, store=self._store, verifier=verifier, page_size=self._page_size, now=self._now
        )
        self._resume(verifier)
        if monitor.advance() and self._witnessed(monitor):
            self._save()
        self._check_entries(monitor)
        return monitor

    def finish(self, monitor: LogMonitor) -> None:
        """Save what verified and sum up the run in :attr:`report`."""
        if not monitor.broken:
            self._save()
        self._summarise(monitor)

    def taxonomy(self, taxonomy_id: str, content_hash: str) -> Taxonomy:
        """A taxonomy the log or the hub names, fetched and checked against its content hash (kept in the state)."""
        taxonomy = self._taxonomy(taxonomy_id, content_hash)
        self._registry.add(taxonomy)
        return taxonomy

    def recomputation(self, size: int, taxonomy: Taxonomy) -> Recomputation:
        """The per-table statistics the log of tree size ``size`` implies."""
        return self._recomputation(size, taxonomy)

    def estimates_at(self, size: int) -> EstimatesRecomputation:
        """The estimates the log of tree size ``size`` implies."""
        return self._estimates_at(size)

    @property
    def now(self) -> datetime:
        """The time of this run (a downloaded file was made before it)."""
        return self._now

    def completeness_at(self, size: int) -> tuple[list[HotlineWindows], list[AcceptedSubmission], datetime | None]:
        """What the completeness grid of tree size ``size`` is derived from: every hotline enrolled below it (with
        the ``reporting_from`` its latest policy there declares), the accepted submissions that count at that size
        (not withdrawn), and the latest time an entry below it records (``None``: none)."""
        history = KeyHistory.replay((i, e) for i, e in self._checker.history.events if i < size)
        declared = self._checker.policies.reporting_from(size=size)
        hotlines = [replace(h, reporting_from=declared.get(h.id)) for h in history.hotlines()]
        logged = [s for s in self._checker.accepted if s.index < size]
        times = [s.received_at for s in logged] + [start for h in hotlines for start, _ in h.windows]
        counted = [s for s in logged if self._checker.counts(s, size)]
        return hotlines, counted, max(times, default=None)

    def round_reports_at(self, size: int) -> list[tuple[str, str, datetime]]:
        """``(hotline, period, received_at)`` of each survivor of a round whose sum counts at tree size ``size``
        (after :meth:`read_rounds`): it reported the month with its masked vector."""
        return [
            (member, counted.release.period, when)
            for counted in self._counted_rounds
            if counted.index < size
            for member, when in counted.received.items()
        ]

    def answer_size(self, monitor: LogMonitor, ref: PublishedCheckpoint, fail: Callable[[str], None]) -> int | None:
        """The tree size to recompute an answer at, once its checkpoint is verified (else ``None``, after
        ``fail(reason)``)."""
        return self._answer_size(monitor, ref, fail)

    # ------------------------------------------------------------------ 1. identity

    def _trusted_key(self, identity: HubIdentity) -> NoteVerifier | None:
        """The log key to verify with (pinning it on the first run), or ``None`` after an identity failure."""
        try:
            offered = NoteVerifier.from_vkey(identity.log_vkey)
        except ProtocolError as e:
            raise HubResponseInvalid(T_("the hub publishes an invalid log key: {error}", error=e)) from e
        if offered.name != identity.log_origin:
            raise HubResponseInvalid(
                T_(
                    "the hub's log key is named {name}, not {log_origin}",
                    name=repr(offered.name),
                    log_origin=repr(identity.log_origin),
                )
            )
        explicit = None
        if self._log_key is not None:
            try:
                explicit = NoteVerifier.from_vkey(self._log_key.strip())
            except ProtocolError as e:
                raise UsageError(T_("--log-key is not a log verifier key (name+keyid+base64): {error}", error=e)) from e
        pinned = self._store.pinned()
        if pinned is None:
            trusted = explicit or offered
            how: Literal["explicit", "first-use"] = "explicit" if explicit else "first-use"
            self._describe(trusted, how)
            if trusted != offered:
                self._fail(
                    Check.IDENTITY,
                    T_("the hub presents log key {vkey}, not the key given with --log-key", vkey=offered.vkey),
                )
                return None
            self._store.pin(vkey=trusted.vkey, origin=trusted.name, how=how, now=self._now)
            self.report.pinned_now = True
            return trusted
        trusted = NoteVerifier.from_vkey(pinned.vkey)
        self._describe(trusted, pinned.how)
        earlier = {str(item["vkey"]) for item in self._store.key_history()}
        if explicit is not None and explicit != trusted and explicit.vkey not in earlier:
            raise StateError(
                T_(
                    "this state DIR pins the log key {vkey} (since {pinned_at}); --log-key names another",
                    vkey=trusted.vkey,
                    pinned_at=pinned.pinned_at,
                ),
                hint=N_("A pinned key is never replaced: use a new state DIR for another hub or key."),
            )
        if offered.name != trusted.name:
            raise StateError(
                T_(
                    "this state DIR belongs to the log {name}, but {hub_url} is {offered}",
                    name=repr(trusted.name),
                    hub_url=self._client.hub_url,
                    offered=repr(offered.name),
                ),
                hint=N_("Use the state DIR of that hub, or a new one."),
            )
        if offered != trusted:
            return self._follow_handover(trusted, offered, pinned_at=pinned.pinned_at, how=pinned.how)
        return trusted

    def _follow_handover(
        self, trusted: NoteVerifier, offered: NoteVerifier, *, pinned_at: str, how: str
    ) -> NoteVerifier | None:
        """The hub presents another log key: re-pin it if logged handovers lead there from the pinned key."""
        try:
            followed = follow_hub_keys(self._client, trusted)
            reason: str | None = (
                None if followed.log_key == offered else T_("no handover signed by the pinned key leads to it")
            )
        except ProtocolError as e:
            followed, reason = None, str(e)
        if followed is None or reason is not None:
            self._fail(
                Check.IDENTITY,
                T_(
                    "the hub presents log key {vkey} (fingerprint {fingerprint}), but this state DIR pinned {pinned} "
                    "on {pinned_at}, and the hub's handovers do not lead there from it ({reason}): refusing another "
                    "key",
                    vkey=offered.vkey,
                    fingerprint=fingerprint(bytes(offered.key)),
                    pinned=trusted.vkey,
                    pinned_at=pinned_at,
                    reason=reason,
                ),
            )
            return None
        self._store.repin(vkey=offered.vkey, now=self._now, handovers=[index for index, _ in followed.applied])
        self.report.notices.append(describe_followed(trusted, followed))
        self._describe(offered, how)
        return offered

    def _describe(self, key: NoteVerifier, how: str) -> None:
        self.report.origin = key.name
        self.report.log_vkey = key.vkey
        self.report.fingerprint = fingerprint(bytes(key.key))
        self.report.pinned_how = "explicit" if how == "explicit" else "first-use"

    def _witnessed(self, monitor: LogMonitor) -> bool:
        """With a witness policy, the checkpoint must carry enough cosignatures, or nothing of it is relied on."""
        policy = policy_for(self._store, *self._witnesses)
        if policy is None or monitor.checkpoint is None or monitor.note is None:
            return True
        verdict, problem = witness_problem(policy, monitor.note, monitor.checkpoint.size)
        if verdict is not None:
            self.report.notices.append(
                T_("checkpoint {size} is {verdict}", size=monitor.checkpoint.size, verdict=describe_verdict(verdict))
            )
        if problem is None:
            return True
        self._fail(Check.WITNESSES, problem)
        monitor.broken = True
        return False

    # ------------------------------------------------------------------ 3. entries

    def _resume(self, log_key: NoteVerifier) -> None:
        """Pick up the entry checks where the runs before left them (or say why every entry is checked again)."""
        earlier = tuple(NoteVerifier.from_vkey(str(item["vkey"])) for item in self._store.key_history())
        log_keys = (log_key, *(key for key in earlier if key.vkey != log_key.vkey))
        resumed = resume_checks(self._store, self._taxonomy_or_problem, recheck=self._recheck, log_keys=log_keys)
        self._checker = resumed.checker
        self._saved_through = self.report.entries_resumed = resumed.next_index
        self._resumed_checked = resumed.checked
        self.report.notices += resumed.notices

    def _check_entries(self, monitor: LogMonitor) -> None:
        """Check the entries not checked yet, up to the verified size (or all that are held, if it broke)."""
        stop = None if monitor.broken else monitor.size
        for index, data in self._store.iter_entries(self._checker.next_index, stop):
            self._checker.check(index, data)

    def _taxonomy_or_problem(self, taxonomy_id: str, content_hash: str) -> Taxonomy | str:
        try:
            return self._taxonomy(taxonomy_id, content_hash)
        except HubResponseInvalid as e:
            return T_(
                "names taxonomy {taxonomy} ({hash}), which the hub does not publish: {error}",
                taxonomy=taxonomy_id,
                hash=content_hash,
                error=str(e),
            )

    def _taxonomy(self, taxonomy_id: str, content_hash: str) -> Taxonomy:
        if content_hash not in self._taxonomies:
            taxonomy = self._stored_taxonomy(content_hash)
            if taxonomy is None or taxonomy.content_hash != content_hash or taxonomy.id != taxonomy_id:
                taxonomy = self._client.taxonomy(taxonomy_id, expected_hash=content_hash)
                self._store.add_taxonomy(
                    taxonomy_id=taxonomy.id, content_hash=taxonomy.content_hash, document=taxonomy.canonical_bytes()
                )
            self._taxonomies[content_hash] = taxonomy
        return self._taxonomies[content_hash]

    def _stored_taxonomy(self, content_hash: str) -> Taxonomy | None:
        stored = self._store.taxonomy_document(content_hash)
        try:
            return parse_taxonomy(stored) if stored is not None else None
        except ProtocolError:
            return None  # a damaged copy: fetch it again

    # ------------------------------------------------------------------ rounds

    def read_rounds(self, monitor: LogMonitor) -> RoundAudit | None:
        """Every secure-aggregation round re-added from the verified log (``None``: the log is broken); the rounds
        whose sums count as releases are kept for the statistics recomputed after (:mod:`auditor.check_file` calls
        this too, so that a downloaded answer is recomputed with them)."""
        if monitor.broken:
            return None
        audit = RoundAudit(self._taxonomy_or_problem)
        leaves = self._store.iter_entries_containing(ROUND_MARK, monitor.size)
        audit.run(leaves, key_events=self._checker.history.events)
        self._counted_rounds = audit.counted
        for cache in (self._releases_at, self._recomputations, self._estimates_by_size):
            cache.clear()  # any read before is read again, with the rounds
        return audit

    def _rounds(self, monitor: LogMonitor) -> None:
        """Every round re-added from the verified log, and the hub's round answers compared."""
        audit = self.read_rounds(monitor)
        if audit is None:
            return
        for key in audit.over:
            audit.summary.published += 1
            found = compare_published(key, self._client.round(*key), audit.results.get(key), size=monitor.size)
            if found is not None:
                audit.summary.findings += 1
                audit.failures.append(found)
        self.report.rounds = audit.summary
        self.report.failures += audit.failures

    # ------------------------------------------------------------------ 4. statistics

    def _statistics(self, monitor: LogMonitor, identity: HubIdentity) -> None:
        summary, estimates = self.report.stats, self.report.estimates
        if monitor.broken:
            summary.skipped = estimates.skipped = T_(
                "the log did not verify, so there is no trusted data to recompute them from"
            )
            return
        taxonomy = self._taxonomy(identity.taxonomy_id, identity.taxonomy_hash)
        self._registry.add(taxonomy)  # the hub's taxonomy defines the names it has (the statistics' tables)
        base = self._recomputation(monitor.size, taxonomy)
        if not base.periods:  # no current submission, and no round whose sum counts
            summary.skipped = estimates.skipped = T_(
                "the log holds no valid submission, so nothing can have been published"
            )
            return
        months = month_range(base.periods[0], base.periods[-1])
        if self._table_statistics(monitor, taxonomy, base, months):
            self._estimates(monitor, months)
        else:
            estimates.skipped = T_("the log stopped verifying while statistics were compared")

    def _table_statistics(
        self, monitor: LogMonitor, taxonomy: Taxonomy, base: Recomputation, months: Sequence[str]
    ) -> bool:
        """Every table's answers for the region (by period, by period and each dimension, and every cell of each
        month) and for each country (by period, and every cell); ``False`` if the log broke meanwhile.

        The full grid of a table nobody in scope released in the range is not asked for: its monthly totals, which
        must then all be missing, already say that every cell is. For the same reason the groupings by a dimension
        skip the stretches of months nobody released (:func:`~auditor.stats.month_chunks`), which the totals by
        period cover."""
        for name in sorted(taxonomy.tables):
            for grouping in table_groupings(taxonomy.table(name).dimension_names, region=True):
                if len(grouping) > 2 and not base.periods_with_data(name, months, None):
                    continue
                if not self._compare(monitor, taxonomy, name, grouping, months, None):
                    return False
        if not self._country_scopes:
            return True
        for country in base.countries:
            if self._token_countries is not None and country not in self._token_countries:
                continue  # a country-limited token: the hub would refuse, and the region answers covered them
            for name in sorted(taxonomy.tables):
                for grouping in table_groupings(taxonomy.table(name).dimension_names, region=False):
                    if len(grouping) > 1 and not base.periods_with_data(name, months, frozenset({country})):
                        continue
                    if not self._compare(monitor, taxonomy, name, grouping, months, country):
                        return False
        return True

    def _compare(
        self,
        monitor: LogMonitor,
        taxonomy: Taxonomy,
        table: str,
        group_by: tuple[str, ...],
        months: Sequence[str],
        country: str | None,
    ) -> bool:
        """Compare the answers for one table, grouping and scope (``None``: the region); ``False`` if the log broke
        meanwhile and nothing more can be compared."""
        codes = 1
        for name in group_by:
            if name != PERIOD:
                codes *= len(taxonomy.dimension(name))
        step = max(1, min(MAX_MONTHS, MAX_ROWS // codes))
        with_data = self._recomputation(monitor.size, taxonomy).periods if len(group_by) > 1 else None
        for chunk in month_chunks(months, step, with_data=with_data):  # by a dimension: the months with data
            params = {"group_by": ",".join(group_by), "period_from": chunk[0], "period_to": chunk[-1]}
            if country is not None:
                params["country"] = country
            published = self._client.stats(table, params)
            size = self._answer_size(
                monitor, published.checkpoint, lambda problem: self._fail(Check.STATISTICS, problem, table=table)
            )
            if monitor.broken:
                return False
            if size is None or not self._answer_fits(published, table, group_by, chunk, country, taxonomy):
                continue
            countries = frozenset({country}) if country is not None else None
            if country is None and published.scope_countries is not None:
                # A token limited to some countries sees the region as the sum of those countries.
                countries = self._token_countries = frozenset(published.scope_countries)
            recomputed = self._recomputation(size, taxonomy)
            expected = recomputed.rows(table, group_by, period_from=chunk[0], period_to=chunk[-1], countries=countries)
            scope = T_("region") if country is None else T_("country {country}", country=country)
            result = compare_answer(
                published,
                expected,
                expected_periods_with_data=recomputed.periods_with_data(table, chunk, countries),
                scope=scope,
            )
            summary = self.report.stats
            summary.answers += 1
            summary.rows += result.rows
            summary.tables.add(table)
            summary.groupings.add((table, ",".join(group_by)))
            summary.scopes.add(scope)
            self.report.failures += result.failures
        return True

    def _estimates(self, monitor: LogMonitor, months: Sequence[str]) -> None:
        """Every unit's questions (:func:`auditor.estimates.audit_questions`) for the region and each country."""
        for conflict in self._registry.conflicts:
            self._fail(
                Check.ESTIMATES,
                T_(
                    "{conflict}: a hub never registers both, since it sums tables (and filters dimensions) by name; "
                    "that name is left out of the recomputed estimates",
                    conflict=conflict,
                ),
            )
        releases = self._releases(monitor.size)
        questions = audit_questions(
            self._estimates_at(monitor.size).tables, releases.units, months, with_data=releases.periods
        )
        step = EstimatesStep(
            client=self._client,
            summary=self.report.estimates,
            failures=self.report.failures,
            recomputation=self._estimates_at,
            answer_size=lambda ref, fail: self._answer_size(monitor, ref, fail),
            broken=lambda: monitor.broken,
            size=lambda: monitor.size,
        )
        scopes = [None, *(releases.countries if self._country_scopes else ())]
        step.run(questions, scopes, token_countries=self._token_countries)

    def _estimates_at(self, size: int) -> EstimatesRecomputation:
        if size not in self._estimates_by_size:
            self._estimates_by_size[size] = EstimatesRecomputation(self._releases(size))
        return self._estimates_by_size[size]

    def _answer_size(self, monitor: LogMonitor, ref: PublishedCheckpoint, fail: Callable[[str], None]) -> int | None:
        """The tree size to recompute an answer at, once its checkpoint ``ref`` is verified; else ``None`` (after
        calling ``fail`` with the reason)."""
        while ref.size > monitor.size and self._resyncs < MAX_RESYNCS and not monitor.broken:
            self._resyncs += 1
            if monitor.advance():
                self._save()
            self._check_entries(monitor)
        if monitor.broken:
            return None
        if ref.size > monitor.size:
            fail(
                T_(
                    "an answer names checkpoint size {size}, beyond the hub's latest signed checkpoint ({latest}, "
                    "fetched after the answer)",
                    size=ref.size,
                    latest=monitor.size,
                )
            )
            return None
        problem: str | None = None
        if ref.size == 0:
            if ref.root_hash == EMPTY_ROOT:
                return 0
            problem = T_("an empty tree with a root")
        elif ref.note is None:
            problem = T_("size {size} without its signed note", size=ref.size)
        else:
            problem = monitor.adopt(ref.note, size=ref.size, root=ref.root_hash)
        if problem is not None:
            fail(T_("an answer names a checkpoint that is not the log's: {problem}", problem=problem))
            return None
        return ref.size

    def _answer_fits(
        self,
        published: PublishedStats,
        table: str,
        group_by: tuple[str, ...],
        months: Sequence[str],
        country: str | None,
        taxonomy: Taxonomy,
    ) -> bool:
        """The answer is the one asked for: table, grouping, months, scope and taxonomy."""
        asked = (table, group_by, months[0], months[-1], "country" if country else "region", country)
        got = (
            published.table,
            published.group_by,
            published.period_from,
            published.period_to,
            published.scope_level,
            published.scope_code,
        )
        if got != asked:
            self._fail(
                Check.STATISTICS, T_("asked for {asked}, the hub answered {got}", asked=asked, got=got), table=table
            )
            return False
        if (published.taxonomy_id, published.taxonomy_hash) != (taxonomy.id, taxonomy.content_hash):
            self._fail(
                Check.STATISTICS,
                T_(
                    "the answer follows taxonomy {taxonomy} ({hash}), not the hub's {expected} ({expected_hash})",
                    taxonomy=published.taxonomy_id,
                    hash=published.taxonomy_hash,
                    expected=taxonomy.id,
                    expected_hash=taxonomy.content_hash,
                ),
                table=table,
            )
            return False
        return True

    def _recomputation(self, size: int, taxonomy: Taxonomy) -> Recomputation:
        if size not in self._recomputations:
            self._recomputations[size] = Recomputation(taxonomy=taxonomy, releases=self._releases(size))
        return self._recomputations[size]

    def _releases(self, size: int) -> Releases:
        """The current submissions below ``size`` and what they release, read once for statistics and estimates."""
        if size not in self._releases_at:
            history = KeyHistory.replay((i, e) for i, e in self._checker.history.events if i < size)
            declared = self._checker.policies.reporting_from(size=size)
            self._releases_at[size] = Releases(
                submissions=[s for s in self._checker.accepted if self._checker.counts(s, size)],
                hotlines=[replace(h, reporting_from=declared.get(h.id)) for h in history.hotlines()],
                registry=self._registry,
                load=self._release,
                rounds=[counted for counted in self._counted_rounds if counted.index < size],
            )
        return self._releases_at[size]

    def _release(self, index: int) -> LoadedRelease:
        """The released tables of an accepted submission, and its taxonomy (verified before; read back as plain
        JSON)."""
        data = self._store.entry(index)
        if data is None:  # pragma: no cover - accepted entries are in the store
            raise StateError(T_("log entry {index} vanished from the state DIR during the run", index=index))
        payload = json.loads(b64decode(json.loads(data)["payload"]))
        named = payload["taxonomy"]
        return LoadedRelease(
            taxonomy=self._taxonomy(named["id"], named["hash"]),
            cells={table["name"]: table["cells"] for table in payload["tables"]},
        )

    # ------------------------------------------------------------------ bookkeeping

    def _save(self) -> None:
        """Commit what this run verified: the log (only ever called when it verified) and the entry checks so far,
        which never go beyond the verified size while the log verifies."""
        self._store.save_conclusions(self._checker.conclusions(start=self._saved_through))
        self._store.commit()
        self._saved_through = self._checker.next_index
        self.report.state_saved = True

    def _summarise(self, monitor: LogMonitor) -> None:
        report, checker = self.report, self._checker
        report.failures = [*monitor.failures, *checker.failures, *report.failures]
        if monitor.checkpoint is not None:
            report.checkpoint_size = monitor.checkpoint.size
            report.checkpoint_root = monitor.checkpoint.root_hash
        report.consistent_with = sorted(monitor.consistent_with)
        report.entries_total = monitor.entries_before + monitor.fetched
        report.entries_new = monitor.fetched
        report.entries_checked = checker.checked - self._resumed_checked
        history = checker.history
        report.key_events = checker.key_events
        report.enrolments, report.rotations, report.revocations = (
            history.enrolments,
            history.rotations,
            history.revocations,
        )
        hotlines = history.hotlines()
        report.hotlines = sorted(h.id for h in hotlines)
        report.countries = sorted({h.country for h in hotlines})
        report.submissions = checker.submissions
        report.accepted = len(checker.accepted)
        report.withdrawn = len(checker.withdrawn)
        counting = [s for s in checker.accepted if s.index not in checker.withdrawn]
        report.current = len({(s.hotline_id, s.period) for s in counting})
        report.periods = sorted({s.period for s in counting})
        report.budgets = budget_rows(checker.policies)

    def _fail(self, check: Check, message: str, *, table: str | None = None) -> None:
        self.report.failures.append(Failure(check, message, table=table))
