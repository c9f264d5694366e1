# SPDX-License-Identifier: Apache-2.0
"""Auditor: ``tipshare-audit verify`` of a 50,000-submission log, against the bare cost of its crypto and hashing.

What is measured
----------------
* **Log.** A hub with 500 hotlines in 10 countries, each reporting 100 months (2018-06..2026-09): 500 key events
  and 50,000 submissions, each signed by its hotline's key. Payloads are small on purpose: one table
  (``cases_opened``, 42 cells, a real node release under the default budget; about 1.5 kB of payload and 2.3 kB
  of log entry), because the issue is about entries per second, not payload size. The hub is built by
  :mod:`bench.auditlog` (the rows 50,000 ingests would leave, log included); the same builder is checked first on
  a small instance with the hub's own log self-check and rollup rebuild.
* **verify.** ``auditor.cli.main(["verify", "--hub", URL, "--token", T, "--state", DIR, "--log-key", VKEY,
  "--json"])`` with the production HTTP client, against the hub served by uvicorn (1 worker) on this machine:
  fetch and check the checkpoint, download every entry (pages of 100, the default), rebuild the Merkle root,
  check every key event and every submission (signature, hash, payload against the taxonomy), and recompute and
  compare every published statistic (8 tables × every grouping, the region and each country). A full run starts
  from an empty state DIR; the incremental run verifies again after 100 new submissions (through the real
  ``POST /v1/submissions``) with the state DIR of a full run: it downloads and checks only the new entries
  (resuming the entry checks the full run saved), rebuilds the root of all, and recomputes every statistic.
* **Baseline (the limit).** What verification cannot avoid, in process, on the same entries: SHA-256 of every
  leaf (RFC 6962) and of every payload, the Ed25519 check of every submission signature, the Merkle root of all
  leaves, and the checkpoint signature. Ratio = limit rate ÷ verify rate.
* **Where the time goes.** Wall time of the verify run split (exclusive time) into waiting for the hub's HTTP
  answers, the log phase (checkpoints, entries, Merkle root), entry checks, statistics recomputation and
  comparison, and state DIR writes, by timers around those functions of the auditor; plus the CPU time of the
  auditor process and of the hub's worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select

from bench.auditlog import BuiltLog, build_hub, check_built_hub
from bench.common import Attribution, BenchResult, Metric, RunContext, median
from bench.fixtures import NodeRelease, node_release, payload_for, seal_payload_bytes
from bench.serve import HUB_APP, closed_loop, served
from tools.served_hub import ServedHub

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "auditor"
TITLE: Final = "tipshare-audit verify of a 50,000-submission log (full and incremental) vs its crypto+hashing"

TABLE: Final = "cases_opened"
#: The month of the submissions added before the incremental run: over (the hub accepts no month before its end),
#: and after the built log's last month.
NEW_PERIOD: Final = "2026-10"
PHASES: Final = (
    "waiting for the hub (HTTP)",
    "log: checkpoints, Merkle root",
    "entries: signatures, payload checks",
    "statistics: recompute, compare",
    "state DIR: save, resume",
    "other",
)


@dataclass(frozen=True, slots=True)
class _Sizes:
    hotlines: int
    months: int
    new: int
    runs: int


_FULL: Final = _Sizes(hotlines=500, months=100, new=100, runs=2)
_QUICK: Final = _Sizes(hotlines=50, months=20, new=20, runs=1)


def _limit(built: BuiltLog) -> float:
    """Seconds for the hashing and signature checks every verification must do, over the whole log."""
    from hub.db import make_engine, make_sessionmaker, read_session
    from hub.models import LogCheckpoint, LogLeaf
    from protocol.checkpoint import open_checkpoint
    from protocol.crypto import SUBMISSION_CONTEXT
    from protocol.merkle import leaf_hash, root_hash
    from protocol.note import NoteVerifier

    engine = make_engine(built.hub.settings.resolved_database_url)
    try:
        with read_session(make_sessionmaker(engine)) as session:
            key_events = list(
                session.scalars(select(LogLeaf.data).where(LogLeaf.index < built.key_events).order_by(LogLeaf.index))
            )
            note = session.scalars(select(LogCheckpoint.note).order_by(LogCheckpoint.size.desc()).limit(1)).first()
    finally:
        engine.dispose()
    if note is None:
        raise RuntimeError("the built hub has no checkpoint")
    verifier = NoteVerifier.from_vkey(built.log_vkey)
    keys = {id(entry.key): entry.key.verify_key for entry in built.entries}
    started = time.perf_counter()
    hashes = [leaf_hash(data) for data in key_events]
    for entry in built.entries:
        hashes.append(leaf_hash(entry.leaf))
        hashlib.sha256(entry.payload).digest()
        keys[id(entry.key)].verify_message(SUBMISSION_CONTEXT, entry.payload, entry.signature)
    checkpoint = open_checkpoint(note, verifier, origin=verifier.name)
    if root_hash(hashes) != checkpoint.root_hash:
        raise RuntimeError("the built log's root is not its checkpoint's")
    return time.perf_counter() - started


@contextlib.contextmanager
def _attributed(attribution: Attribution) -> Iterator[None]:
    """Timers around the auditor's phases (skipped, not failed, if a name moved while the auditor evolves)."""
    import auditor.client
    import auditor.monitor
    import auditor.state
    import auditor.verify

    targets = [
        (auditor.client.AuditClient, "_request", PHASES[0]),
        (auditor.monitor.LogMonitor, "advance", PHASES[1]),
        (auditor.verify.Verification, "_check_entries", PHASES[2]),
        (auditor.verify.Verification, "_statistics", PHASES[3]),
        (auditor.state.StateStore, "commit", PHASES[4]),
        (auditor.state.StateStore, "save_conclusions", PHASES[4]),
        (auditor.verify.Verification, "_resume", PHASES[4]),
    ]
    saved = []
    try:
        for owner, name, phase in targets:
            original = owner.__dict__.get(name)
            if original is None:
                continue
            saved.append((owner, name, original))
            setattr(owner, name, attribution.wrap(original, phase))
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _verify(server: ServedHub, built: BuiltLog, state: Path) -> dict[str, Any]:
    from auditor.cli import main

    attribution = Attribution(PHASES)
    argv = ["verify", "--hub", server.url, "--token", built.hub.tokens["auditor"], "--state", str(state)]
    argv += ["--log-key", built.log_vkey, "--json"]
    out, err = io.StringIO(), io.StringIO()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    server_before = server.cpu_seconds()
    with _attributed(attribution), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        attribution.reset()
        started = time.perf_counter()
        code = main(argv)
        seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    if code != 0:
        raise RuntimeError(
            f"tipshare-audit verify exited with {code}: {err.getvalue()[-2000:]} {out.getvalue()[-2000:]}"
        )
    report = json.loads(out.getvalue())
    return {
        "seconds": seconds,
        "auditor_cpu_s": (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
        "hub_cpu_s": server.cpu_seconds() - server_before,
        "phases_s": dict(attribution.seconds),
        "verdict": report.get("verdict"),
        "entries": report.get("entries"),
        "entry_checks": report.get("entry_checks"),
        "statistics_answers": (report.get("statistics") or {}).get("answers"),
        "requests": report.get("requests"),
    }


def _add_submissions(server: ServedHub, built: BuiltLog, release: NodeRelease, count: int, taxonomy: Any) -> None:
    """``count`` new submissions (a new month) through the real ``POST /v1/submissions``."""
    from hub.keys import load_keys

    hub_key = load_keys(built.hub.settings.keys_dir).envelope.public_key
    bodies = []
    for hotline_id in sorted(built.hub.keys)[:count]:
        key = built.hub.keys[hotline_id]
        payload = payload_for(release, taxonomy, key, hotline_id=hotline_id, period=NEW_PERIOD)
        bodies.append(seal_payload_bytes(payload.canonical_bytes(), hotline_id=hotline_id, key=key, hub_key=hub_key))
    load = closed_loop(f"{server.url}/v1/submissions", bodies, connections=1)
    if load.statuses != {201: count}:
        raise RuntimeError(f"new submissions were not all accepted: {load.statuses}")


def run(ctx: RunContext) -> BenchResult:
    from protocol.taxonomy import builtin_taxonomy

    sizes = _QUICK if ctx.quick else _FULL
    result = BenchResult(name=NAME, title=TITLE)
    taxonomy = builtin_taxonomy()
    bank = [node_release(taxonomy, ctx.workdir, tables=[TABLE], seed=seed) for seed in range(1, 5)]
    ctx.log("checking the log builder on a small hub (log self-check, rollup rebuild)")
    small = build_hub(ctx.workdir / "hub-check", taxonomy, bank, hotlines=12, months=6, first_period=(2026, 1))
    problems = check_built_hub(small, {taxonomy.id: taxonomy})
    if problems:
        raise RuntimeError(f"the built log does not pass the hub's own checks: {problems[:5]}")
    submissions = sizes.hotlines * sizes.months
    ctx.log(f"building a log of {sizes.hotlines} key events + {submissions:,} submissions")
    started = time.perf_counter()
    built = build_hub(
        ctx.workdir / "hub",
        taxonomy,
        bank,
        hotlines=sizes.hotlines,
        months=sizes.months,
        first_period=_first_period(sizes.months),
    )
    build_seconds = time.perf_counter() - started
    limits = [_limit(built) for _ in range(3)]
    limit_rate = built.size / median(limits)
    full: list[dict[str, Any]] = []
    incremental: list[dict[str, Any]] = []
    with served(HUB_APP, built.hub.settings.data_dir, database_url=None, workers=1) as server:
        for attempt in range(sizes.runs):
            ctx.log(f"full verify {attempt + 1}/{sizes.runs}")
            full.append(_verify(server, built, ctx.workdir / f"state-{attempt}"))
            ctx.log(f"  {full[-1]['seconds']:.1f} s, {full[-1]['verdict']}")
        ctx.log(f"{sizes.new} new submissions through POST /v1/submissions")
        _add_submissions(server, built, bank[0], sizes.new, taxonomy)
        for attempt in range(sizes.runs):
            ctx.log(f"incremental verify {attempt + 1}/{sizes.runs}")
            incremental.append(_verify(server, built, ctx.workdir / f"state-{attempt}"))
    for found, total, new in [(r, built.size, built.size) for r in full] + [
        (r, built.size + sizes.new, sizes.new) for r in incremental
    ]:
        checks = {"this_run": new, "resumed": total - new}
        if (
            found["verdict"] != "VERIFIED"
            or found["entries"] != {"total": total, "new": new}
            or found["entry_checks"] != checks
        ):
            raise RuntimeError(f"unexpected verify report: {found}")
    _report(result, built, sizes, full, incremental, limit_rate)
    result.details = {
        "hotlines": sizes.hotlines,
        "months": sizes.months,
        "log_size": built.size,
        "key_events": built.key_events,
        "payload": f"one table ({TABLE}, 42 cells)",
        "payload_bytes": len(built.entries[0].payload),
        "entry_bytes": len(built.entries[0].leaf),
        "build_seconds": round(build_seconds, 1),
        "limit_seconds": limits,
        "full": full,
        "incremental": incremental,
    }
    return result


def _first_period(months: int) -> tuple[int, int]:
    """The (year, month) that makes ``months`` months end with the month before :data:`NEW_PERIOD` (2026-09)."""
    index = 2026 * 12 + 8 - (months - 1)
    return index // 12, index % 12 + 1


def _report(
    result: BenchResult,
    built: BuiltLog,
    sizes: _Sizes,
    full: list[dict[str, Any]],
    incremental: list[dict[str, Any]],
    limit_rate: float,
) -> None:
    seconds = median([r["seconds"] for r in full])
    rate = built.size / seconds
    result.add(
        Metric(
            f"full verify, {built.size:,} entries",
            rate,
            "entries/s",
            baseline=limit_rate,
            baseline_name="hashes+signatures",
            ratio=limit_rate / rate,
            runs=tuple(round(built.size / r["seconds"]) for r in full),
            note=(
                f"{seconds:.1f} s; auditor CPU {median([r['auditor_cpu_s'] for r in full]):.1f} s, hub CPU "
                f"{median([r['hub_cpu_s'] for r in full]):.1f} s; {full[0]['statistics_answers']} statistics answers"
            ),
        )
    )
    for phase in PHASES:
        spent = median([r["phases_s"][phase] for r in full])
        result.add(Metric(f"full verify: {phase}", spent, "s", note=f"{100 * spent / seconds:.0f} % of the run"))
    new_seconds = median([r["seconds"] for r in incremental])
    new_rate = sizes.new / new_seconds
    result.add(
        Metric(
            f"incremental verify, {sizes.new} new entries",
            new_seconds,
            "s",
            baseline=sizes.new / limit_rate,
            baseline_name="hashes+signatures of the new",
            ratio=new_seconds / (sizes.new / limit_rate),
            runs=tuple(round(r["seconds"], 2) for r in incremental),
            note=(
                f"{new_rate:.0f} new entries/s; statistics "
                f"{median([r['phases_s'][PHASES[3]] for r in incremental]):.1f} s, log "
                f"{median([r['phases_s'][PHASES[1]] for r in incremental]):.2f} s, entries "
                f"{median([r['phases_s'][PHASES[2]] for r in incremental]):.2f} s, HTTP "
                f"{median([r['phases_s'][PHASES[0]] for r in incremental]):.1f} s"
            ),
        )
    )
    result.notes.append(
        f"log of {built.key_events} key events + {built.size - built.key_events:,} submissions "
        f"({len(built.entries[0].payload):,}-byte payloads, one table); hub on SQLite, 1 uvicorn worker, "
        "auditor with its defaults (pages of 100 entries, region and country statistics)"
    )
