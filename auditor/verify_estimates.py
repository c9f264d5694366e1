# SPDX-License-Identifier: Apache-2.0
"""Step 4 of ``verify``, second half: every estimates answer (``GET /v1/estimates/{unit}``) against the log.

For the region and each country (:class:`EstimatesStep`), every question of :func:`auditor.estimates.audit_questions`
is asked, and the answer recomputed at the tree size of the checkpoint it names (following the hub to a newer
checkpoint if needed, as for the per-table statistics) and compared field by field
(:func:`auditor.compare_estimates.compare_estimates`). A question the log does not answer (some month's releases
carry none of the tables it needs) must be refused by the hub (400 ``not_answerable``); an answer to it, or a
refusal of a question the log answers, is a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from auditor.client import AuditClient
from auditor.compare_estimates import compare_estimates, question_differences
from auditor.errors import QuestionRefused
from auditor.estimates import Asked, EstimatesRecomputation, ExpectedEstimates
from auditor.findings import Check, Failure
from auditor.i18n import T_, Joined
from auditor.published import PublishedCheckpoint
from auditor.report import EstimatesSummary
from protocol.api import CheckpointRef
from protocol.combination import NotAnswerable
from protocol.errors import ProtocolError
from protocol.messages import b64decode

__all__ = ["EstimatesStep"]

#: ``(checkpoint, fail) -> tree size`` to recompute an answer at, or ``None`` after ``fail(reason)``.
AnswerSize = Callable[[PublishedCheckpoint, Callable[[str], None]], "int | None"]


@dataclass
class EstimatesStep:
    """The estimates half of a run's step 4, with what it needs of the run: the recomputation at a tree size, the
    checkpoint handling (:meth:`auditor.verify.Verification._answer_size`), whether the log broke, its size."""

    client: AuditClient
    summary: EstimatesSummary
    failures: list[Failure]
    recomputation: Callable[[int], EstimatesRecomputation]
    answer_size: AnswerSize
    broken: Callable[[], bool]
    size: Callable[[], int]

    def run(
        self, questions: Sequence[Asked], scopes: Sequence[str | None], *, token_countries: frozenset[str] | None
    ) -> None:
        """Ask every question of every scope (``None``: the region); stop if the log stops verifying."""
        for country in scopes:
            if country is not None and token_countries is not None and country not in token_countries:
                continue  # a country-limited token: the hub would refuse, and the region answers covered them
            for asked in questions:
                if not self._compare(asked, country, token_countries):
                    self.summary.skipped = T_("the log stopped verifying while estimates were compared")
                    return

    def _compare(self, asked: Asked, country: str | None, token_countries: frozenset[str] | None) -> bool:
        """Ask one question for one scope and compare the answer; ``False`` if the log broke meanwhile."""
        scope = T_("region") if country is None else T_("country {country}", country=country)
        label = T_("{question} ({scope})", question=asked.describe(), scope=scope)
        countries = frozenset({country}) if country is not None else token_countries

        def fail(message: str) -> None:
            self.failures.append(Failure(Check.ESTIMATES, T_("{question}: {problem}", question=label, problem=message)))

        params = asked.params() | ({"country": country} if country is not None else {})
        try:
            published = self.client.estimates(asked.unit, params)
        except QuestionRefused as e:
            size = self.size()
            refused = self._expected(size, asked, countries)
            if isinstance(refused, str):
                self.summary.refused += 1  # the log does not answer it either
            else:
                fail(T_("{refusal}; but the log (size {size}) answers it", refusal=str(e), size=size))
            return not self.broken()
        ref = _checkpoint(published.checkpoint)
        if isinstance(ref, str):
            fail(ref)
            return True
        at = self.answer_size(ref, fail)
        if self.broken():
            return False
        if at is None:
            return True
        if country is None:
            # A token limited to some countries sees the region as the sum of those countries.
            limited = published.question.scope.countries
            countries = None if limited is None else frozenset(limited)
        expected = self._expected(at, asked, countries)
        if isinstance(expected, str):
            fail(
                T_(
                    "published, but the log (size {size}) answers no such question: {reason}",
                    size=at,
                    reason=expected,
                )
            )
            return True
        where = ("region", None) if country is None else ("country", country)
        differ = question_differences(published, asked, scope=where, filters=expected.question.filters)
        if differ:
            fail(T_("the answer is to another question: {differences}", differences=Joined(differ, "; ")))
            return True
        result = compare_estimates(published, expected, asked=asked, label=label)
        self.summary.answers += 1
        self.summary.rows += result.rows
        self.summary.questions.add((asked.unit, ",".join(asked.keys)))
        self.summary.scopes.add(scope)
        self.failures += result.failures
        return True

    def _expected(self, size: int, asked: Asked, countries: frozenset[str] | None) -> ExpectedEstimates | str:
        """The answer the log implies at ``size``, or why no combination of its releases answers the question."""
        try:
            return self.recomputation(size).answer(asked, countries=countries)
        except NotAnswerable as e:
            return str(e)


def _checkpoint(ref: CheckpointRef) -> PublishedCheckpoint | str:
    """An estimates answer's checkpoint as the statistics' (root hash decoded), or what is wrong with it."""
    try:
        root = b64decode(ref.root_hash, what="checkpoint root hash")
    except ProtocolError as e:
        return T_("an answer names a checkpoint that is not the log's: {problem}", problem=str(e))
    return PublishedCheckpoint(size=ref.size, root_hash=root, note=ref.note)
