# SPDX-License-Identifier: Apache-2.0
"""The node's workflow called directly (:mod:`node.workflow`): the branches the CLI tests do not reach."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from node import workflow
from node.aggregate import TrueTables
from node.budget import BudgetConfig
from node.client import HubClient
from node.errors import (
    AlreadyInitialised,
    BudgetExceeded,
    HubUnreachable,
    KeyFileError,
    NoSuchRelease,
    NotApproved,
    PeriodNotOver,
    SubmissionRejected,
)
from node.home import HomeLayout, NodeHome
from node.ledger import Ledger
from node.outbox import DeliveryReport, Outbox, Outcome
from node.settings import NodeSettings
from tests.unit.node.fakehub import HUB_URL, FakeHub
from tests.unit.node.nodekit import HOTLINE, NOW, budget, make_home, planted_counts

SMALL = ("cases_opened", "persons_recruitment")


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def home(tmp_path: Path, hub: FakeHub) -> NodeHome:
    return make_home(tmp_path / "node", hub)


def _tables(home: NodeHome, period: str = "2025-03") -> TrueTables:
    counts = planted_counts(home.taxonomy)
    return TrueTables(period=period, counts={name: counts[name] for name in SMALL})


def _reader(calls: list[str]) -> workflow.TableReader:
    def read(reading_home: NodeHome, export: workflow.Export, period: str) -> TrueTables:
        calls.append(period)
        return _tables(reading_home, period)

    return read


def _connector(hub: FakeHub) -> workflow.HubConnector:
    @contextmanager
    def connect(url: str) -> Iterator[HubClient]:
        with httpx.Client(transport=hub.transport()) as http:
            yield HubClient(http, url)

    return connect


EXPORT = workflow.Export(cases=Path("cases.csv"))


def test_a_month_is_over_only_once_it_has_ended() -> None:
    workflow.check_period_over("2026-02", now=NOW)
    with pytest.raises(PeriodNotOver, match="2026-03 is not over yet"):
        workflow.check_period_over("2026-03", now=NOW)


def test_prepare_makes_a_release_once_and_then_returns_it_without_reading(home: NodeHome) -> None:
    calls: list[str] = []
    with home.database() as db:
        first = workflow.prepare_release(home, db, EXPORT, period="2025-03", clock=lambda: NOW, read=_reader(calls))
        again = workflow.prepare_release(home, db, EXPORT, period="2025-03", clock=lambda: NOW, read=_reader(calls))
        shown = workflow.preview_release(home, Ledger(db), again, top=2)
    assert (first.new, again.new, calls) == (True, False, ["2025-03"])
    assert again.release == first.release
    assert (first.release.status, first.release.revision) == ("prepared", 1)
    assert [p.table for p in shown.previews] == list(SMALL)
    assert all(len(p.top) == 2 for p in shown.previews)
    assert shown.standing.period == "2025-03"
    assert not shown.new


def test_prepare_checks_the_caps_before_reading_the_export(tmp_path: Path, hub: FakeHub) -> None:
    home = make_home(tmp_path / "node", hub, config_budget=budget(release="0.1", period_cap="0.1", year_cap="0.1"))
    calls: list[str] = []
    with home.database() as db:
        workflow.make_release(home, Ledger(db), _tables(home, "2025-01"), now=NOW)
        with pytest.raises(BudgetExceeded):
            workflow.prepare_release(home, db, EXPORT, period="2025-02", clock=lambda: NOW, read=_reader(calls))
    assert calls == []


def test_a_correction_of_a_release_never_sent_replaces_it(home: NodeHome) -> None:
    with home.database() as db:
        ledger = Ledger(db)
        with pytest.raises(NoSuchRelease, match="2025-03 has no release to correct"):
            workflow.quote_correction(home, ledger, "2025-03")
        first = workflow.make_release(home, ledger, _tables(home), now=NOW).release
        quote = workflow.quote_correction(home, ledger, "2025-03")
        assert (quote.replaces, quote.revision, quote.latest) == (True, 1, first)
        calls: list[str] = []
        corrected = workflow.correct_release(
            home, ledger, EXPORT, period="2025-03", clock=lambda: NOW, read=_reader(calls)
        )
    assert calls == ["2025-03"]
    assert corrected.new
    assert corrected.release.revision == 1
    assert corrected.release.payload_hash != first.payload_hash  # fresh noise


def test_a_correction_of_a_sent_release_is_a_new_revision_within_the_caps(tmp_path: Path, hub: FakeHub) -> None:
    home = make_home(tmp_path / "node", hub, config_budget=budget(release="0.1", period_cap="0.1", year_cap="1"))
    with home.database() as db:
        ledger = Ledger(db)
        workflow.make_release(home, ledger, _tables(home), now=NOW)
        ledger.approve("2025-03")
        outbox = Outbox(db)
        workflow.queue_releases(home, ledger, outbox, ledger.releases(status="approved"), clock=lambda: NOW)
        with pytest.raises(BudgetExceeded):  # a second revision would pass the period's cap
            workflow.quote_correction(home, ledger, "2025-03")


def test_the_quote_of_a_new_revision_names_it(home: NodeHome) -> None:
    with home.database() as db:
        ledger = Ledger(db)
        workflow.make_release(home, ledger, _tables(home), now=NOW)
        ledger.approve("2025-03")
        workflow.queue_releases(home, ledger, Outbox(db), ledger.releases(status="approved"), clock=lambda: NOW)
        quote = workflow.quote_correction(home, ledger, "2025-03")
    assert (quote.replaces, quote.revision) == (False, 2)


def test_what_submit_chooses(home: NodeHome) -> None:
    with home.database() as db:
        ledger, outbox = Ledger(db), Outbox(db)
        assert workflow.choose_releases(ledger, outbox, period=None).nothing == "none-prepared"
        with pytest.raises(NoSuchRelease, match="nothing was prepared for 2025-03"):
            workflow.choose_releases(ledger, outbox, period="2025-03")
        workflow.make_release(home, ledger, _tables(home), now=NOW)
        assert workflow.choose_releases(ledger, outbox, period=None).nothing == "none-approved"
        with pytest.raises(NotApproved, match="prepared but not approved"):
            workflow.choose_releases(ledger, outbox, period="2025-03")
        release, _ = ledger.approve("2025-03")
        assert workflow.choose_releases(ledger, outbox, period="2025-03").releases == (release,)
        workflow.queue_releases(home, ledger, outbox, [release], clock=lambda: NOW)
        # Queued: nothing new to choose, but the outbox still holds it, so this is no "nothing to submit".
        assert workflow.choose_releases(ledger, outbox, period=None) == workflow.SubmitChoice(())
        assert workflow.choose_releases(ledger, outbox, period="2025-03") == workflow.SubmitChoice(())


def test_a_delivered_month_has_nothing_to_submit_and_its_receipt_is_kept(home: NodeHome, hub: FakeHub) -> None:
    with home.database() as db:
        ledger, outbox = Ledger(db), Outbox(db)
        workflow.make_release(home, ledger, _tables(home), now=NOW)
        ledger.approve("2025-03")
        workflow.queue_releases(home, ledger, outbox, ledger.releases(status="approved"), clock=lambda: NOW)
        delivery = workflow.deliver_outbox(
            home,
            outbox,
            _connector(hub),
            policy=workflow.retry_policy(NodeSettings(home=home.layout.root)),
            clock=lambda: NOW,
            sleep=lambda s: None,
        )
        delivery.raise_for_undelivered()
        choice = workflow.choose_releases(ledger, outbox, period="2025-03")
    assert [o.result for o in delivery.report.outcomes] == ["delivered"]
    assert delivery.notice is None
    assert home.layout.receipt_file("2025-03", 1).exists()
    assert choice.nothing == "already-delivered"
    assert choice.latest is not None
    assert choice.latest.status == "delivered"


def test_a_release_of_another_key_is_never_queued(tmp_path: Path, hub: FakeHub, home: NodeHome) -> None:
    other = make_home(tmp_path / "other", hub)
    with home.database() as db:
        ledger = Ledger(db)
        release = workflow.make_release(home, ledger, _tables(home), now=NOW, key_id=other.config.key_id).release
        with pytest.raises(KeyFileError, match="was prepared for hotline la-strada-md with key"):
            workflow.queue_releases(home, ledger, Outbox(db), [release], clock=lambda: NOW)


def _delivery(home: NodeHome, *outcomes: Outcome) -> workflow.Delivery:
    return workflow.Delivery(report=DeliveryReport(outcomes), notice=None, home=home)


def test_an_undelivered_release_raises_the_right_error(home: NodeHome) -> None:
    _delivery(home, Outcome("2025-03", 1, "delivered")).raise_for_undelivered()
    refused = Outcome("2025-03", 1, "failed", "over the cap", hint="Ask your hub operator.")
    with pytest.raises(SubmissionRejected, match="the first, 2025-03 revision 1: over the cap") as raised:
        _delivery(home, refused, Outcome("2025-04", 1, "pending", "timeout")).raise_for_undelivered()
    assert raised.value.next_step == "Ask your hub operator."
    with pytest.raises(HubUnreachable, match="1 release"):
        _delivery(home, Outcome("2025-04", 1, "pending", "timeout")).raise_for_undelivered()


def test_an_unreachable_hub_changes_no_pinned_key(home: NodeHome) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    seen: list[object] = []
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as http:
        after = workflow.follow_handover(home, HubClient(http, HUB_URL), now=NOW, on_repin=seen.append)
    assert after is home
    assert seen == []


def test_no_receipt_and_no_witness_policy_means_no_call_to_the_hub(home: NodeHome) -> None:
    def refuse(url: str) -> Iterator[HubClient]:  # pragma: no cover - must not be called
        raise AssertionError(url)

    with home.database() as db:
        assert workflow.follow_handover_for_receipts(home, Outbox(db), contextmanager(refuse), now=NOW) is home
        assert workflow.take_part(home, db, contextmanager(refuse), now=NOW) is None


def test_year_budgets(home: NodeHome) -> None:
    config: BudgetConfig = home.config.budget
    with home.database() as db:
        ledger = Ledger(db)
        assert [y.year for y in workflow.year_budgets(ledger, config, year=None, today=NOW)] == ["2026"]
        workflow.make_release(home, ledger, _tables(home, "2024-12"), now=NOW)
        workflow.make_release(home, ledger, _tables(home, "2025-03"), now=NOW)
        every = workflow.year_budgets(ledger, config, year=None, today=NOW)
        (empty,) = workflow.year_budgets(ledger, config, year="2023", today=datetime(2026, 1, 1, tzinfo=UTC))
    assert [y.year for y in every] == ["2024", "2025"]
    assert every[1].periods == (("2025-03", 1, config.release),)
    assert every[1].spent == config.release
    assert (empty.year, empty.spent, empty.periods, empty.cap) == ("2023", 0, (), config.year_cap)


def test_set_up_again_changes_nothing_and_another_hotline_is_refused(tmp_path: Path, hub: FakeHub) -> None:
    layout = HomeLayout(tmp_path / "node")
    setup = workflow.set_up_node(
        layout, hotline_id=HOTLINE, hub_url=HUB_URL, mechanism="discrete_laplace", hub=_connector(hub), now=NOW
    )
    assert not setup.existing
    assert (setup.config.budget.mechanism, setup.config.created_at) == ("discrete_laplace", "2026-03-01T12:00:00Z")

    def refuse(url: str) -> Iterator[HubClient]:  # pragma: no cover - must not be called
        raise AssertionError(url)

    again = workflow.set_up_node(
        layout,
        hotline_id=HOTLINE,
        hub_url=HUB_URL + "/",
        mechanism="discrete_gaussian",
        hub=contextmanager(refuse),
        now=NOW,
    )
    assert again == workflow.NodeSetup(setup.config, existing=True)
    with pytest.raises(AlreadyInitialised, match=re.escape(f"already set up for hotline {HOTLINE} at {HUB_URL}")):
        workflow.set_up_node(
            layout, hotline_id="another", hub_url=HUB_URL, mechanism="discrete_gaussian", hub=_connector(hub), now=NOW
        )


def test_set_up_refuses_a_home_another_process_set_up_meanwhile(tmp_path: Path, hub: FakeHub) -> None:
    layout = HomeLayout(tmp_path / "node")
    connect = _connector(hub)

    @contextmanager
    def racing(url: str) -> Iterator[HubClient]:
        with connect(url) as client:
            yield client
        workflow.set_up_node(
            layout, hotline_id=HOTLINE, hub_url=HUB_URL, mechanism="discrete_gaussian", hub=connect, now=NOW
        )

    with pytest.raises(AlreadyInitialised, match="was set up by another process at the same time"):
        workflow.set_up_node(
            layout, hotline_id=HOTLINE, hub_url=HUB_URL, mechanism="discrete_gaussian", hub=racing, now=NOW
        )
