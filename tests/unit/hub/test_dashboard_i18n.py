# SPDX-License-Identifier: Apache-2.0
"""The dashboard's languages: ``?lang=`` (the switcher's links, kept in a cookie) before ``Accept-Language``
before English; ``<html lang>``; translated labels, code names and country names (pycountry's translations);
``lang`` chooses the page's language and is never read as part of the question."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.dashboard import i18n
from tests.support.hubs import HubUnderTest
from tests.unit.hub.test_dashboard_views import MONTHS, demo_hub

VIEWS = ("/trends", "/corridors", "/demography", "/completeness")
RANGE = {"period_from": MONTHS[0], "period_to": MONTHS[-1]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    yield from demo_hub(tmp_path_factory.mktemp("i18n") / "hub")


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
