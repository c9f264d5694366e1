# SPDX-License-Identifier: Apache-2.0
"""The dashboard's languages: ``?lang=`` (the switcher's links, kept in a cookie) before ``Accept-Language``
before English; ``<html lang>``; translated labels, code names and country names (pycountry's translations);
``lang`` chooses the page's language and is never read as part of the question; the hub's notes and refusals and
the numbers follow the page, while the API and the files stay English."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.dashboard import i18n
from hub.dashboard.labels import format_number, format_percent, number_symbols
from tests.support.dashboard_demo import MONTHS
from tests.support.hubs import HubUnderTest

VIEWS = ("/trends", "/corridors", "/demography", "/completeness")
RANGE = {"period_from": MONTHS[0], "period_to": MONTHS[-1]}


@pytest.fixture(scope="module")
def demo(dashboard_demo: HubUnderTest) -> HubUnderTest:
    """The session's demo hub (``tests/conftest.py``), which this module only reads."""
    return dashboard_demo


def _signed_in(hub: HubUnderTest, **headers: str) -> TestClient:
    client = TestClient(hub.client.app, follow_redirects=False, headers=headers)
    form = client.get("/login", params={"lang": "en"})
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"token": hub.tokens["coordinator"], "csrf": csrf})
    assert response.status_code == 303, response.text
    client.cookies.delete(i18n.COOKIE)
    return client


def _lang(html: str) -> str:
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_accept_language_picks_the_language(demo: HubUnderTest) -> None:
    client = _signed_in(demo, **{"Accept-Language": "de-DE, uk;q=0.8, en;q=0.5"})
    html = client.get("/trends", params=RANGE).text
    assert _lang(html) == "uk"
    assert "<h1>Динаміка: потенційні жертви, про яких повідомлено гарячим лініям, за місяцями</h1>" in html
    assert "Сексуальна експлуатація" in html  # a code name of the taxonomy


def test_an_unknown_language_falls_back_to_english(demo: HubUnderTest) -> None:
    client = _signed_in(demo, **{"Accept-Language": "de-DE,de;q=0.9"})
    html = client.get("/trends", params=RANGE).text
    assert _lang(html) == "en"
    assert "<h1>Trends: potential victims reported to hotlines, by month</h1>" in html
    assert _lang(client.get("/trends", params={**RANGE, "lang": "de"}).text) == "en"


def test_the_switcher_links_choose_and_keep_the_language(demo: HubUnderTest) -> None:
    client = _signed_in(demo, **{"Accept-Language": "en"})
    html = client.get("/corridors", params=RANGE).text
    # each language is offered as the same page with lang replaced (a bookmarkable URL)
    for code in ("en", "uk", "ro", "ru"):
        assert f'hreflang="{code}"' in html
    assert f"/corridors?period_from={MONTHS[0]}&amp;period_to={MONTHS[-1]}&amp;lang=ro" in html
    chosen = client.get("/corridors", params={**RANGE, "lang": "ro"})
    assert _lang(chosen.text) == "ro"
    assert "Coridoare: cetățenie × țara exploatării" in chosen.text
    assert chosen.cookies.get(i18n.COOKIE) == "ro"
    # the choice is kept: the next view, without lang, Accept-Language saying English
    later = client.get("/demography", params=RANGE).text
    assert _lang(later) == "ro"
    assert "Demografie: gen × vârstă" in later


@pytest.mark.parametrize("view", VIEWS)
def test_lang_is_a_parameter_of_every_view_not_of_its_question(demo: HubUnderTest, view: str) -> None:
    client = _signed_in(demo)
    english = client.get(view, params=RANGE)
    russian = client.get(view, params={**RANGE, "lang": "ru"})
    assert english.status_code == russian.status_code == 200
    assert _lang(russian.text) == "ru"
    main = russian.text.split("<main", 1)[1].split("</main>")[0]
    assert "lang=ru" not in main  # neither in the export links nor in the API question shown
    assert 'class="notice"' not in main or "lang" not in main.split('class="notice"', 1)[1].split("</p>", 1)[0]
    # the same numbers: the question did not change
    assert english.text.count("data-estimate=") == russian.text.count("data-estimate=")


def test_country_names_come_from_pycountrys_translations(demo: HubUnderTest) -> None:
    client = _signed_in(demo)
    for language in ("uk", "ro", "ru"):
        html = client.get("/corridors", params={**RANGE, "lang": language}).text
        for english in ("Moldova", "Ukraine", "Romania"):
            translated = i18n.country_translations(language).gettext(english)
            assert f'<th scope="row">{translated}</th>' in html, (language, translated)
        assert ("Україна" in html) == (language == "uk")
        assert ("Ucraina" in html) == (language == "ro")


def test_the_sign_in_page_speaks_the_browsers_language(demo: HubUnderTest) -> None:
    client = TestClient(demo.client.app, follow_redirects=False, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    html = client.get("/login").text
    assert _lang(html) == "ru"
    assert ">Войти</button>" in html


def test_chart_words_reach_the_script_through_data_attributes(demo: HubUnderTest) -> None:
    html = _signed_in(demo).get("/trends", params={**RANGE, "lang": "uk"}).text
    assert 'data-text-interval="95% інтервал" data-text-to="до"' in html
    static = Path(i18n.__file__).parent / "static" / "dashboard.js"
    assert '" (95% interval "' not in static.read_text(encoding="utf-8")  # the English words it had


# ------------------------------------------------------------------ the hub's own messages and numbers

UNBIASED = (
    "Estimates are unbiased and never clipped at zero: a negative estimate or an interval reaching below zero is "
    "what the noise gives, and is kept so that sums stay unbiased."
)


def test_an_answers_notes_follow_the_page_but_the_api_and_files_stay_english(demo: HubUnderTest) -> None:
    client = _signed_in(demo)
    api = demo.client.get("/v1/estimates/person", params=RANGE, headers=demo.auth("coordinator")).json()
    assert api["notes"][0] == UNBIASED
    with i18n.using("uk"):
        unbiased_uk = i18n.gettext(UNBIASED)
    assert unbiased_uk != UNBIASED
    html = client.get("/trends", params={**RANGE, "lang": "uk"}).text
    assert f"<li>{unbiased_uk}</li>" in html
    assert UNBIASED not in html
    # The page's JSON file is the API's body, notes in English, byte for byte; its CSV has no words to translate.
    exported = client.get("/trends/export", params={**RANGE, "format": "json", "lang": "uk"}).json()
    assert exported["notes"] == api["notes"]
    # Nothing set the language outside the page: the API answers in English right after it.
    again = demo.client.get("/v1/estimates/person", params=RANGE, headers=demo.auth("coordinator")).json()
    assert again["notes"] == api["notes"]


def test_a_refusal_follows_the_page_but_the_api_stays_english(demo: HubUnderTest) -> None:
    client = _signed_in(demo)
    refused = {**RANGE, "period_from": "2026-13"}
    api = demo.client.get("/v1/estimates/person", params=refused, headers=demo.auth("coordinator"))
    english = "period_from must be a month written YYYY-MM, such as 2026-10; got '2026-13'"
    assert english in api.json()["detail"]
    html = client.get("/trends", params={**refused, "lang": "ro"}).text
    assert "period_from trebuie să fie o lună scrisă AAAA-LL, de exemplu 2026-10; s-a primit &#39;2026-13&#39;" in html
    assert "must be a month" not in html
    # A refusal the protocol words (months whose releases cannot answer), shown translated, the API's in English.
    v1 = {**RANGE, "group_by": "exploitation_group,gender"}
    api = demo.client.get("/v1/estimates/person", params=v1, headers=demo.auth("coordinator"))
    assert api.status_code == 400
    assert "the question cannot be answered for 2026-05" in api.json()["detail"]
    html = client.get("/pivot", params={**RANGE, "rows": "exploitation_group", "columns": "gender", "lang": "ru"}).text
    assert "на вопрос невозможно ответить для 2026-05" in html
    assert "cannot be answered for" not in html
    # Its file is asked in English, and refused: the error page says why in the page's language.
    pivot = {**RANGE, "rows": "exploitation_group", "columns": "gender", "format": "csv", "lang": "ru"}
    response = client.get("/pivot/export", params=pivot)
    assert response.status_code == 400
    assert "на вопрос невозможно ответить для 2026-05" in response.text


@pytest.mark.parametrize(
    ("language", "number", "percent"),
    [("en", "−1,234.5", "52.5%"), ("uk", "−1\u00a0234,5", "52,5%"), ("ro", "−1.234,5", "52,5\u00a0%"),
     ("ru", "−1\u00a0234,5", "52,5\u00a0%")],
)  # fmt: skip
def test_numbers_follow_the_language(language: str, number: str, percent: str) -> None:
    with i18n.using(language):
        assert format_number(-1234.5) == number
        assert format_number(0.004) == "0"
        assert format_percent(0.525) == percent
        assert number_symbols()[1] == ("." if language == "en" else ",")


def test_the_page_gives_the_charts_its_separators(demo: HubUnderTest) -> None:
    client = _signed_in(demo)
    assert (
        '<html lang="ro" data-number-group="." data-number-decimal=",">'
        in client.get("/trends", params={**RANGE, "lang": "ro"}).text
    )
    assert (
        '<html lang="en" data-number-group="," data-number-decimal=".">'
        in client.get("/trends", params={**RANGE, "lang": "en"}).text
    )
