# SPDX-License-Identifier: Apache-2.0
"""``/metrics``: what operators alert on, read from the database at scrape time (late and missing reports per
hotline, checkpoint and witness cosignature ages, secure rounds) and counted as requests are served (ingest
latency, rejections by reason); prometheus_client's exposition format."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from hub.db import write_session
from hub.models import LogCheckpoint, SecaggRound, Witness, WitnessCosignature
from hub.services.secure_rounds import SecureRounds
from tests.support.hubs import HubUnderTest
from tests.support.round_members import create_group, enroll_members, open_round


def _samples(hub: HubUnderTest) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = hub.client.get("/metrics", headers=hub.auth("admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_late_and_missing_reports_are_counted_per_hotline(hub: HubUnderTest) -> None:
    hub.clock.now = hub.clock.now.replace(year=2026, month=5, day=20)  # April's deadline (May 15) has passed
    hub.enroll("ua-one", "UA")
    hub.enroll("md-one", "MD")
    hub.log_loose_policy("ua-one")
    hub.clock.advance(days=30)  # June 19: May's deadline has passed too
    hub.submit(hub.release("ua-one", "2026-05"))  # late (deadline 2026-06-15)

    samples = _samples(hub)
    assert samples[("tipshare_reports_late", (("hotline", "ua-one"),))] == 1
    assert samples[("tipshare_reports_late", (("hotline", "md-one"),))] == 0
    assert samples[("tipshare_reports_missing", (("hotline", "ua-one"),))] == 0
    assert samples[("tipshare_reports_missing", (("hotline", "md-one"),))] == 1  # May, past its deadline


def test_checkpoint_and_witness_cosignature_ages(hub: HubUnderTest) -> None:
    hub.enroll("ua-one", "UA")  # logged: a checkpoint signed now
    with write_session(hub.context.sessions) as session:
        size = session.scalar(select(func.max(LogCheckpoint.size)))
        assert size is not None
        signed = hub.clock()
        session.add(Witness(name="w.example/a", vkey="w.example/a+0+a", url="https://w.example/a", added_at=signed))
        session.add(Witness(name="w.example/b", vkey="w.example/b+0+b", url="https://w.example/b", added_at=signed))
        session.add(
            WitnessCosignature(
                size=size,
                witness="w.example/a",
                line="— w.example/a AAAA\n",
                timestamp=int((signed + timedelta(minutes=1)).timestamp()),
                received_at=signed,
            )
        )
    hub.clock.advance(hours=2)

    samples = _samples(hub)
    assert samples[("tipshare_checkpoint_age_seconds", ())] == 7200
    assert samples[("tipshare_witness_cosignature_age_seconds", (("witness", "w.example/a"),))] == 7200 - 60
    # A witness that never cosigned: its age counts from when it was added, so it alerts too.
    assert samples[("tipshare_witness_cosignature_age_seconds", (("witness", "w.example/b"),))] == 7200


def test_ingest_latency_and_rejections_by_reason(hub: HubUnderTest) -> None:
    hub.enroll("ua-one", "UA")
    body = hub.envelope_bytes(hub.release("ua-one", "2026-10"))
    assert hub.post_envelope(body).status_code == 201
    assert hub.post_envelope(b"{}").status_code == 400

    samples = _samples(hub)
    assert samples[("tipshare_ingest_seconds_count", (("outcome", "accepted"),))] == 1
    assert samples[("tipshare_ingest_seconds_count", (("outcome", "rejected"),))] == 1
    assert samples[("tipshare_ingest_seconds_bucket", (("le", "+Inf"), ("outcome", "accepted")))] == 1
    rejected = [labels for (name, labels), value in samples.items() if name == "tipshare_submissions_rejected_total"]
    assert len(rejected) == 1
    assert samples[("tipshare_submissions_accepted_total", ())] == 1
    assert not [name for name, _ in samples if name.endswith("_created")], "no *_created series"


def test_secure_rounds_by_step_failures_and_the_next_deadline(hub: HubUnderTest) -> None:
    steps = (("step", "masked"), ("step", "reveal"), ("step", "shares"))
    samples = _samples(hub)
    assert [samples[("tipshare_secagg_rounds_open", (s,))] for s in steps] == [0, 0, 0]
    assert samples[("tipshare_secagg_rounds_failed", ())] == 0
    assert not [key for key in samples if key[0] == "tipshare_secagg_next_deadline_seconds"], "no round runs"

    members = enroll_members(hub, 3)
    create_group(hub, list(members), threshold=2)
    open_round(hub)
    with write_session(hub.context.sessions) as session:
        (row,) = session.scalars(select(SecaggRound))
        shares_due = row.shares_due
    samples = _samples(hub)
    assert [samples[("tipshare_secagg_rounds_open", (s,))] for s in steps] == [0, 0, 1]
    assert samples[("tipshare_secagg_next_deadline_seconds", ())] == (shares_due - hub.clock()).total_seconds()

    hub.clock.advance(days=3, seconds=61)  # past the shares deadline, and no tick yet: the round is late
    assert _samples(hub)[("tipshare_secagg_next_deadline_seconds", ())] < 0
    with write_session(hub.context.sessions) as session:
        SecureRounds(hub.context, session).advance_all(now=hub.clock())  # no member answered: below the threshold
    samples = _samples(hub)
    assert [samples[("tipshare_secagg_rounds_open", (s,))] for s in steps] == [0, 0, 0]
    assert samples[("tipshare_secagg_rounds_failed", ())] == 1
    assert not [key for key in samples if key[0] == "tipshare_secagg_next_deadline_seconds"]
