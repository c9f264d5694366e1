# SPDX-License-Identifier: Apache-2.0
"""The question column of answer files: written in one canonical form, read back exactly, refused when malformed."""

from __future__ import annotations

import doctest

import pytest

import protocol.questions
from protocol.api import EstimatesAnswer, QuestionEcho, ScopeEcho
from protocol.errors import MalformedMessage
from protocol.questions import Question, estimates_question, parse_question_text, question_text


@pytest.mark.parametrize(
    "question",
    [
        Question("stats", "persons_total", (), {}, "2026-01", "2026-01", "region", None),
        Question(
            "stats",
            "contacts",
            ("period", "channel"),
            {"channel": ("web", "phone")},
            "2025-11",
            "2026-10",
            "country",
            "MD",
        ),
        Question(
            "estimates",
            "person",
            ("citizenship", "period"),
            {"exploitation_group": ("labour",)},
            "2026-01",
            "2026-06",
            "hotline",
            "la-strada-ua",
        ),
        Question(
            "stats", "persons_control", ("period",), {"control_flag": ("a&b=c",)}, "2026-01", "2026-02", "region", None
        ),
    ],
)
def test_a_question_reads_back_as_written(question: Question) -> None:
    assert parse_question_text(question_text(question)) == question


def test_the_text_is_the_request_that_asks_it_again() -> None:
    question = Question(
        "stats",
        "persons_corridor",
        ("period", "citizenship"),
        {"citizenship": ("UA", "MD")},
        "2026-01",
        "2026-06",
        "country",
        "UA",
    )
    assert question_text(question) == (
        "/v1/stats/persons_corridor?group_by=period,citizenship&period_from=2026-01&period_to=2026-06&country=UA"
        "&citizenship=UA,MD"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("/v1/completeness?period_from=2026-01&period_to=2026-02", "does not start with /v1/stats"),
        ("/v1/stats/contacts?period_from=2026-01", "names no period_from and period_to"),
        ("/v1/stats/contacts?period_from=2026-01&period_to=2026-02&period_to=2026-03", "names period_to twice"),
        ("/v1/stats/contacts?period_from=2026-01&period_to=2026-02&country=UA&hotline=x-y", "both a country and"),
    ],
)
def test_a_malformed_question_is_refused(text: str, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        parse_question_text(text)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(protocol.questions)
    assert (result.failed, result.attempted > 0) == (0, True)


def test_an_estimates_answer_echoes_the_question_that_asks_it_again() -> None:
    echo = QuestionEcho(
        unit="case",
        group_by=["period", "exploitation_group"],
        filters={"exploitation_group": ["labour", "sexual"]},
        period_from="2026-01",
        period_to="2026-03",
        scope=ScopeEcho(level="country", code="MD", countries=None),
    )
    question = estimates_question(EstimatesAnswer.model_construct(question=echo))
    assert question == Question(
        "estimates",
        "case",
        ("period", "exploitation_group"),
        {"exploitation_group": ("labour", "sexual")},
        "2026-01",
        "2026-03",
        "country",
        "MD",
    )
    assert question_text(question) == (
        "/v1/estimates/case?group_by=period,exploitation_group&period_from=2026-01&period_to=2026-03&country=MD"
        "&exploitation_group=labour,sexual"
    )


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("period_from=2026-01&period_to", "a parameter without a value: 'period_to'"),
        ("period_from=2026-01&period_to=2026-02&&x=1", "a parameter without a value: ''"),
        ("period_from=2026-01&period_to=2026-0%2", r"broken percent escape in the question: '%2'"),
        ("period_from=2026-01&period_to=2026-02&c%zz=1", r"broken percent escape in the question: '%zz'"),
        ("period_from=2026-01&period_to=2026-02&country=%FF", "not UTF-8 once unescaped"),
        ("period_from=2026-01&period_to=2026-02&country=%C3", "not UTF-8 once unescaped"),
    ],
)
def test_a_malformed_query_is_refused_naming_the_flaw(query: str, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_question_text(f"/v1/stats/persons_total?{query}")


def test_escaped_utf8_reads_back() -> None:
    text = "/v1/stats/contacts?period_from=2026-01&period_to=2026-01&channel=caf%C3%A9,a%2Cb"
    assert parse_question_text(text).filters == {"channel": ("café", "a", "b")}
