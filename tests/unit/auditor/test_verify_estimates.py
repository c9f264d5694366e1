# SPDX-License-Identifier: Apache-2.0
"""The estimates half of ``verify``'s step 4 (:class:`auditor.verify_estimates.EstimatesStep`) against a hub that
answers from a script: what it does with answers, refusals and checkpoints, on the releases of
:mod:`tests.unit.auditor.test_estimates`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from auditor.client import AuditClient
from auditor.estimates import EstimatesRecomputation
from auditor.findings import Failure
from auditor.published import PublishedCheckpoint
from auditor.report import EstimatesSummary
from auditor.verify_estimates import EstimatesStep
from protocol.api import EstimatesAnswer
from tests.unit.auditor.test_estimates import _answer, _asked, _releases

SIZE = 16


@pytest.fixture(scope="module")
def recomputed() -> EstimatesRecomputation:
    return EstimatesRecomputation(_releases())


def _step(
    recomputed: EstimatesRecomputation, answer: Callable[[httpx.Request], httpx.Response]
) -> tuple[EstimatesStep, list[Failure]]:
    client = AuditClient(httpx.Client(transport=httpx.MockTransport(answer)), "https://hub.example.org", token="t")  # noqa: S106
    failures: list[Failure] = []

    def size(ref: PublishedCheckpoint, fail: Callable[[str], None]) -> int | None:
        if ref.size != SIZE:
            fail(f"an answer names checkpoint size {ref.size}")
            return None
        return SIZE

    step = EstimatesStep(
        client=client,
        summary=EstimatesSummary(),
        failures=failures,
        recomputation=lambda _size: recomputed,
        answer_size=size,
        broken=lambda: False,
        size=lambda: SIZE,
    )
    return step, failures


def _serving(answer: EstimatesAnswer) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(200, content=answer.model_dump_json())


def test_an_honest_answer_is_counted(recomputed: EstimatesRecomputation) -> None:
    asked = _asked("contact", "channel")
    step, failures = _step(recomputed, _serving(_answer(recomputed.answer(asked, countries=None), asked)))

    step.run([asked], [None], token_countries=None)

    assert failures == []
    summary = step.summary
    assert (summary.answers, summary.rows, summary.questions, summary.scopes) == (
        1,
        24,
        {("contact", "period,channel")},
        {"region"},
    )


def test_an_answer_to_a_question_the_log_cannot_answer_is_a_failure(recomputed: EstimatesRecomputation) -> None:
    honest = _asked("person", "gender")
    asked = _asked("person", "age_group")  # ua-a's version 1 release has no table with an age group
    published = _answer(recomputed.answer(honest, countries=None), honest)
    step, failures = _step(recomputed, _serving(published))

    step.run([asked], [None], token_countries=None)

    (failure,) = failures
    assert failure.message.startswith(
        "person group_by=period,age_group 2026-01..2026-03 (region): published, but the log (size 16) answers no such "
        "question: the question cannot be answered for 2026-01: some hotlines released none of the person tables "
        "that carry age_group together"
    )
    assert step.summary.answers == 0


def test_a_refusal_of_a_question_the_log_cannot_answer_is_counted(recomputed: EstimatesRecomputation) -> None:
    problem = {"code": "not_answerable", "detail": "age_group"}
    step, failures = _step(
        recomputed, lambda _r: httpx.Response(400, json=problem, headers={"content-type": "application/problem+json"})
    )

    step.run([_asked("person", "age_group")], [None, "MD"], token_countries=None)

    # Moldova's releases are all version 2, which carries age groups: refusing it there is a failure.
    assert step.summary.refused == 1
    (failure,) = failures
    assert failure.message.startswith("person group_by=period,age_group 2026-01..2026-03 (country MD): the hub refused")
    assert failure.message.endswith("but the log (size 16) answers it")


def test_an_answer_to_another_question_or_from_another_checkpoint_is_not_compared(
    recomputed: EstimatesRecomputation,
) -> None:
    asked = _asked("contact", "channel")
    honest = _answer(recomputed.answer(asked, countries=None), asked)
    other_scope = honest.question.model_copy(update={"scope": honest.question.scope.model_copy(update={"code": "UA"})})
    answers = iter(
        [
            honest.model_copy(update={"question": other_scope}),
            honest.model_copy(update={"checkpoint": honest.checkpoint.model_copy(update={"root_hash": "not base64!"})}),
            honest.model_copy(update={"checkpoint": honest.checkpoint.model_copy(update={"size": 99})}),
        ]
    )
    step, failures = _step(recomputed, lambda _r: httpx.Response(200, content=next(answers).model_dump_json()))

    step.run([asked, asked, asked], [None], token_countries=None)

    label = "contact group_by=period,channel 2026-01..2026-03 (region): "
    assert [f.message.removeprefix(label) for f in failures] == [
        "the answer is to another question: scope ('region', 'UA'), not ('region', None)",
        "an answer names a checkpoint that is not the log's: checkpoint root hash is not valid base64",
        "an answer names checkpoint size 99",
    ]
    assert step.summary.answers == 0


def test_country_scopes_outside_a_limited_token_are_not_asked(recomputed: EstimatesRecomputation) -> None:
    asked: list[httpx.Request] = []
    question = _asked("contact")

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        country = request.url.params.get("country")
        countries = None if country is None else frozenset({country})
        published = _answer(recomputed.answer(question, countries=countries), question)
        scope = published.question.scope.model_copy(update={"level": "country", "code": country})
        return httpx.Response(
            200,
            content=published.model_copy(
                update={"question": published.question.model_copy(update={"scope": scope})}
            ).model_dump_json(),
        )

    step, failures = _step(recomputed, answer)
    step.run([question], ["MD", "UA"], token_countries=frozenset({"UA"}))

    assert [r.url.params["country"] for r in asked] == ["UA"]
    assert failures == []
    assert step.summary.scopes == {"country UA"}
