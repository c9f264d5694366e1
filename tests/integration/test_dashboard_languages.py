# SPDX-License-Identifier: Apache-2.0
"""Every dashboard view rendered in Chromium in Ukrainian, Romanian and Russian, failing on a missing translation.

A page in another language than English must show no English: every visible text node (and every label a screen
reader reads: ``aria-label``, ``title``, ``placeholder``) is checked, except what is marked as not to translate
(``translate="no"``: hotline names, the signed-in token's label; ``<code>``: codes and URLs). A text fails when it
is an English message of the hub's catalogue (the test names that msgid: a template wraps it but the catalogue has
no translation for it) or when it still reads as English (three Latin words in a row in Ukrainian or Russian; an
English function word in any of the three: text a template forgot to wrap), codes inside a sentence set aside
(parameter, table and taxonomy names, quoted values). The hub's own messages are checked the same way and against
the catalogue: an answer's notes, a refused question's reason (the hub's, and one protocol words), the trends
notice of an older link; and numbers must be written with the language's decimal sign. The custom table (rows,
columns, a filter, totals; and a question it refuses), the completeness legend and the chart's hover tip are
checked too, and so are the words scripts take from ``data-`` attributes (the searchable filter's, the chart
tip's). Also: ``Accept-Language`` picks the language, the
switcher's links change it and the choice stays as the user moves between views, and German falls back to English.

Screenshots of every view in every language go to ``test-artifacts/dashboard/i18n/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hub.dashboard import i18n
from tests.support.hubs import HubUnderTest, served_in_thread

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard" / "i18n"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
MONTHS = "period_from=2026-05&period_to=2026-10"
#: Months whose releases all carry taxonomy v2's cuts (forms of exploitation × gender).
V2_MONTHS = "period_from=2026-08&period_to=2026-10"
#: Every view, with a question that fills it (and the views' variants with more to show).
VIEWS = (
    ("trends", f"/trends?{MONTHS}"),
    ("trends-split", f"/trends?{MONTHS}&split=exploitation_group&clip=on"),
    ("corridors", f"/corridors?{MONTHS}"),
    ("corridors-group", f"/corridors?{MONTHS}&exploitation_group=labour&top=0"),
    ("demography", f"/demography?{MONTHS}"),
    ("demography-group", f"/demography?{MONTHS}&exploitation_group=sexual"),
    ("completeness", f"/completeness?{MONTHS}"),
    ("pivot", f"/pivot?{V2_MONTHS}&rows=gender&columns=age_group&exploitation_group=sexual,labour"),
    ("pivot-refused", f"/pivot?{MONTHS}&rows=exploitation_group&columns=gender"),
    ("refused", "/trends?period_from=2026-13"),
    ("trends-table-link", f"/trends?{MONTHS}&table=persons_corridor"),
)
#: Codes inside the hub's sentences, which stay as they are: names with ``_``, ``@`` or ``/`` (parameters, tables,
#: taxonomies) and quoted values.
CODES = re.compile(r"'[^']*'|[^\s(),;:]*[_@/][^\s(),;:]*")
#: Words that stay as they are in every language: the product, formats, standards and units.
PROPER = {"tipshare", "csv", "json", "sdmx", "sdmx-csv", "api", "get", "utc", "iso", "holm", "benjamini", "hochberg"}
#: English words no Ukrainian, Romanian or Russian sentence holds: a text with one is English.
ENGLISH = {
    "the",
    "of",
    "and",
    "with",
    "which",
    "from",
    "this",
    "that",
    "by",
    "each",
    "every",
    "per",
    "month",
    "hotline",
}

#: What the page shows and reads out, except what is not to be translated.
TEXTS = """() => {
  const skip = (el) => el.closest('[translate="no"], [lang="en"], code, script, style, .visually-hidden-skip');
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text && !skip(node.parentElement)) found.push(text);
  }
  for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
    if (skip(el)) continue;
    for (const name of ['aria-label', 'title', 'placeholder']) {
      const value = el.getAttribute(name);
      if (value && (name !== 'placeholder' || el.classList.contains('choice-search'))) found.push(value.trim());
    }
  }
  // The words scripts show, which the server renders in the page's language (chart tip, searchable filter).
  const words = ['data-text-interval', 'data-text-to', 'data-remove-label', 'data-none-text', 'data-all-text'];
  for (const el of document.querySelectorAll(words.map((name) => `[${name}]`).join(', '))) {
    if (skip(el)) continue;
    for (const name of words) {
      const value = el.getAttribute(name);
      if (value) found.push(value.trim());
    }
  }
  found.push(document.title);
  return found;
}"""


def _catalogue(language: str) -> dict[str, str]:
    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "hub.po"
    with path.open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id and isinstance(m.id, str)}


def untranslated(texts: list[str], language: str) -> list[str]:
    """What of ``texts`` is still English, each naming the msgid or the text that gave it away."""
    catalogue = _catalogue(language)
    english_messages = {msgid for msgid, translation in catalogue.items() if translation != msgid}
    problems: list[str] = []
    for shown in texts:
        text = CODES.sub(" ", shown)
        if shown in english_messages:
            problems.append(f"msgid {text!r} is shown untranslated")
            continue
        words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text) if w.lower() not in PROPER]
        if language in ("uk", "ru") and re.search(r"(?:\b[A-Za-z]{2,}\b[^\w]+){2}\b[A-Za-z]{2,}\b", text):
            latin = [w for w in re.findall(r"\b[A-Za-z]{2,}\b", text) if w.lower() not in PROPER]
            if len(latin) >= 3:
                problems.append(f"English text {shown!r}")
                continue
        if ENGLISH.intersection(words):
            problems.append(f"English text {shown!r}")
    return problems


def test_the_check_names_a_missing_translation() -> None:
    assert untranslated(["Reporting completeness", "Повнота звітності"], "uk") == [
        "msgid 'Reporting completeness' is shown untranslated"
    ]
    assert untranslated(["Show one line per code"], "ro") == ["English text 'Show one line per code'"]
    assert untranslated(["tipshare", "SDMX-CSV", "2026-05", "Україна", "Holm"], "uk") == []
    # Codes inside a sentence are not English words; the words around them are.
    assert untranslated(["звузьте period_from..period_to: persons_corridor@tipshare-taxonomy/1 'the'"], "uk") == []
    assert untranslated(["narrow period_from..period_to to the months"], "ro") == [
        "English text 'narrow period_from..period_to to the months'"
    ]


@pytest.fixture(scope="module")
def served(dashboard_demo: HubUnderTest) -> Iterator[tuple[str, str]]:
    """(base URL, coordinator token) of the session's demo hub (``tests/conftest.py``), served on 127.0.0.1; the
    tests only read it."""
    with served_in_thread(dashboard_demo) as url:
        yield url, dashboard_demo.tokens["coordinator"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (`make browser`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield launched
        launched.close()


def get_page(browser: Browser, served: tuple[str, str], accept_language: str) -> Page:
    """A signed-in page of a browser whose language is ``accept_language``."""
    url, token = served
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=accept_language)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url + "/login")
    page.locator("#token").fill(token)
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/trends.*"))
    return page


@pytest.mark.parametrize("language", ["uk", "ro", "ru"])
def test_every_view_in_every_language_is_translated(browser: Browser, served: tuple[str, str], language: str) -> None:
    page = get_page(browser, served, language)
    url, _ = served
    try:
        problems: list[str] = []
        for name, path in [("login", "/login"), *VIEWS]:
            if name == "login":
                page.context.clear_cookies()
            page.goto(f"{url}{path}")
            expect(page.locator("html")).to_have_attribute("lang", language)
            for chart in page.locator("[data-chart]").all():
                expect(chart).to_have_attribute("data-rendered", "true")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{language}.png"), full_page=True)
            problems += [f"{name}: {problem}" for problem in _show_what_scripts_add(page, name, language)]
            problems += [f"{name}: {problem}" for problem in _hub_messages_and_numbers(page, name, language)]
            problems += [
                f"{name}: {problem}" for problem in untranslated(list(dict.fromkeys(page.evaluate(TEXTS))), language)
            ]
            if name == "login":
                page.locator("#token").fill(served[1])
                page.locator("button[type=submit]").click()
                page.wait_for_url(re.compile(r".*/trends.*"))
        assert problems == [], "\n".join(problems)
    finally:
        page.context.close()


def _show_what_scripts_add(page: Page, name: str, language: str) -> list[str]:
    """Bring up what only scripts or a question's answer show, so that the page's texts checked next include it:
    the chart's hover tip (its words come from the chart's data-text-* attributes), the searchable filter, the
    custom table's totals and refusal, the completeness legend. A tip still in English is named here."""
    if name == "trends":
        page.locator("[data-chart] .u-over").first.hover()
        tip = page.locator(".chart-tip").first
        expect(tip).to_be_visible()
        text = tip.inner_text()
        catalogue = _catalogue(language)
        words = [f"({catalogue['95% interval']} ", f" {catalogue['to']} "]
        return [f"the chart's hover tip {text!r} lacks {word!r}" for word in words if word not in text]
    if name == "pivot":
        expect(page.locator("#pivot-table tfoot th")).to_have_count(1)  # the column totals' row
        expect(page.locator("#pivot-table td.total")).to_have_count(1)  # the overall total
        expect(page.locator(".choice-chosen button")).to_have_count(2)  # the searchable filter holds both groups
    elif name == "pivot-refused":
        expect(page.locator(".error h2")).to_be_visible()
        expect(page.locator("#pivot-table")).to_have_count(0)
    elif name == "completeness":
        expect(page.locator(".status-legend li")).to_have_count(6)
        expect(page.locator("#completeness-grid tfoot th")).to_have_count(5)  # reported / expected, missing, on time...
    return []


def _translated(catalogue: dict[str, str], msgid: str) -> str:
    """The translation of ``msgid``, or a marker that cannot be on the page when the catalogue lacks it."""
    translation = catalogue.get(msgid, "")
    return translation if translation and translation != msgid else f"<no translation of {msgid!r}>"


def _hub_messages_and_numbers(page: Page, name: str, language: str) -> list[str]:
    """The texts the hub's services word (an answer's notes, a refusal's reason, a notice) shown in the page's
    language, as its catalogue has them; numbers with the language's decimal sign."""
    catalogue = _catalogue(language)
    problems: list[str] = []
    if name == "trends":
        notes = page.locator("ul.notes li").all_inner_texts()
        unbiased = _translated(
            catalogue,
            "Estimates are unbiased and never clipped at zero: a negative estimate or an interval reaching below zero "
            "is what the noise gives, and is kept so that sums stay unbiased.",
        )
        if unbiased not in notes:
            problems.append(f"the answer's notes {notes!r} lack {unbiased!r}")
        combined = _translated(catalogue, _COMBINED).split("%(unit)s")[0]
        if not any(note.startswith(combined) for note in notes):
            problems.append(f"no note of the answer starts with {combined!r}: {notes!r}")
        # Numbers: the language's decimal comma (uk, ro, ru alike), in the tables and for the charts' script.
        if page.locator("html").get_attribute("data-number-decimal") != ",":
            problems.append("the page does not give its script the decimal comma")
        values = page.locator(".value").all_inner_texts() + page.locator(".interval").all_inner_texts()
        if not any(re.search(r"\d,\d", value) for value in values):
            problems.append(f"no number is written with a decimal comma: {values[:6]!r}")
        problems += [f"number {value!r} has a decimal point" for value in values if re.search(r"\d\.\d", value)]
    elif name == "refused":
        reason = page.locator(".error p").inner_text()
        template = _translated(catalogue, "%(param)s must be a month written YYYY-MM, such as 2026-10; got %(text)r")
        expected = template.replace("%(param)s", "period_from").replace("%(text)r", "'2026-13'")
        if reason != expected:
            problems.append(f"the refusal's reason {reason!r} is not {expected!r}")
    elif name == "pivot-refused":
        # A refusal the protocol words (the releases of some months cannot answer), inside one the hub words.
        reason = page.locator(".error p").inner_text()
        for msgid in ("the question cannot be answered for %(detail)s", "%(question)s: %(refusal)s. Hotlines in "
                      "scope released %(releases)s.%(hint)s An answer never leaves months out silently."):  # fmt: skip
            start = _translated(catalogue, msgid).split("%(")[0 if msgid.startswith("the") else -1].split(")s")[-1]
            if start.strip() and start.strip() not in reason:
                problems.append(f"the refusal's reason {reason!r} lacks {start.strip()!r}")
    elif name == "trends-table-link":
        notice = page.locator("p.notice").first.inner_text()
        start = _translated(catalogue, _TABLE_LINK).split("%(table)s")[0]
        if not notice.startswith(start):
            problems.append(f"the trends notice {notice!r} does not start with {start!r}")
    return problems


_COMBINED = (
    "Each estimate combines every released %(unit)s table that can answer the question, by generalised least "
    "squares (weights proportional to the inverse of each table's noise variance, so the parts add up to the "
    "total); the weights used are listed under combination, per months whose releases look alike. Tables used: "
    "%(tables)s."
)
_TABLE_LINK = (
    "This link names the table %(table)s. The trends view now answers for a unit, %(unit)s, from every released "
    "table that can answer (least squares), so the numbers may differ from that table's own sums and have narrower "
    "intervals."
)


def test_accept_language_the_switcher_and_the_fallback(browser: Browser, served: tuple[str, str]) -> None:
    url, _ = served
    page = get_page(browser, served, "de-DE")
    try:
        page.goto(f"{url}/corridors?{MONTHS}")
        expect(page.locator("html")).to_have_attribute("lang", "en")  # German: not spoken, English
        expect(page.locator("h1")).to_have_text("Corridors: citizenship × country of exploitation")
        page.locator("nav.languages a[hreflang=ro]").click()
        expect(page.locator("html")).to_have_attribute("lang", "ro")
        expect(page.locator("h1")).to_have_text("Coridoare: cetățenie × țara exploatării")
        assert page.url.endswith(f"/corridors?{MONTHS}&lang=ro")  # bookmarkable
        page.locator("nav.views a[href$='/completeness']").click()  # the choice stays
        expect(page.locator("html")).to_have_attribute("lang", "ro")
        expect(page.locator("h1")).to_have_text("Completitudinea raportării")
    finally:
        page.context.close()
    page = get_page(browser, served, "ru-RU")
    try:
        page.goto(f"{url}/demography?{MONTHS}")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        expect(page.locator("h1")).to_have_text("Демография: пол × возраст")
    finally:
        page.context.close()
