# SPDX-License-Identifier: Apache-2.0
"""The whole of tipshare on one machine, with synthetic hotlines: what ``make demo`` runs.

1. ``tipshare-hub init`` in a temporary directory (a new hub publishes taxonomy v2 and accepts v1), then
   ``tipshare-hub serve`` (a real server process on 127.0.0.1).
2. Six synthetic hotlines from six countries of the region: ``tipshare-node init``; the operator enrolls each key
   with ``tipshare-hub hotline add``; ``tipshare-node synth`` writes twelve months of HTCDS-style exports (and the
   true counts, as taxonomy v2 tables). One hotline was set up before the hub published v2 and stays on
   taxonomy v1: the operator makes v1 current (``tipshare-hub taxonomy current``), that node is set up, then v2 is
   made current again and the hub restarted, as an operator moving a running network to v2 would. So every month
   holds v1 and v2 releases.
3. Every month, every hotline runs ``prepare``, ``approve`` and ``submit`` over real HTTP. One hotline misses a
   month and sends a correction of another, and all but the last month arrive after the reporting deadline (late).
   Half-way through, the other hotlines on v2 (four of six) form a **secure group** (``tipshare-hub group create``
   with threshold 3, scaled by 15; ``[secure_group]`` in each node's config.toml): from then on the operator opens
   each month's round (``tipshare-hub round open``) and the members' ``sync`` takes part in it, so the region's sum
   of those four carries one noise share each (σ²/t) where their local releases would each have carried full noise.
   The monthly table shows the two kinds of month side by side.
4. What a coordinator asks, from ``GET /v1/estimates/person`` over the twelve months: the largest corridors the
   hub ranks (citizenship → country of exploitation, only those distinguishable from zero) with their 95%
   intervals, and the monthly regional total with its interval, each beside the truth the synthetic generator
   knows (:mod:`demo.report`).
5. ``tipshare-audit verify`` checks every signature, the log, and the published statistics; its verdict is printed.
6. The hub keeps serving (API, dashboard) until Ctrl-C; with ``--once`` the demo exits with the auditor's status.

The commands run in this process (their ``main`` functions) except the hub server, which is its own process; every
byte between node, hub and auditor crosses real HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
from rich.console import Console

from demo.report import TRUTH_TAXONOMY, QuestionFailed, regional_tables
from protocol.taxonomy import TAXONOMY_V1_ID, TAXONOMY_V2_ID

__all__ = ["HOTLINES", "main"]

ORIGIN = "demo.tipshare.local/log"


@dataclass(frozen=True)
class DemoHotline:
    id: str
    name: str
    country: str
    profile: str


HOTLINES = (
    DemoHotline("demo-hotline-ua", "Demo hotline Ukraine", "UA", "ua"),
    DemoHotline("demo-hotline-md", "Demo hotline Moldova", "MD", "md"),
    DemoHotline("demo-hotline-ro", "Demo hotline Romania", "RO", "ro"),
    DemoHotline("demo-hotline-pl", "Demo hotline Poland", "PL", "pl"),
    DemoHotline("demo-hotline-bg", "Demo hotline Bulgaria", "BG", "bg"),
    DemoHotline("demo-hotline-ge", "Demo hotline Georgia", "GE", "ge"),
)

Main = Callable[[list[str]], int]


class DemoFailed(Exception):
    """A step of the demo failed; the message says which."""


def _last_months(count: int, today: datetime) -> list[str]:
    year, month = today.year, today.month
    periods = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        periods.append(f"{year:04d}-{month:02d}")
    return sorted(periods)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(main: Main, argv: Sequence[str], *, what: str) -> str:
    """Run a command's ``main`` in-process, capturing its output; raise :class:`DemoFailed` if it fails."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    if code != 0:
        raise DemoFailed(f"{what} failed (exit {code}):\n{err.getvalue().strip() or out.getvalue().strip()}")
    return out.getvalue()


def _hub_main(argv: list[str]) -> int:
    from hub.cli import main

    return main(argv)


def _node_main(argv: list[str]) -> int:
    from node.cli import main

    return main(argv)


def _audit_main(argv: list[str]) -> int:
    from auditor.cli import main

    return main(argv)


@contextlib.contextmanager
def _serving(hub_dir: Path, port: int, console: Console) -> Iterator[subprocess.Popen[bytes]]:
    environment = {**os.environ, "TIPSHARE_HUB_DATA_DIR": str(hub_dir), "TIPSHARE_HUB_DEADLINE_DAYS": "30"}
    log = (hub_dir / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "hub.cli", "serve", "--data-dir", str(hub_dir), "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise DemoFailed(f"the hub server exited: see {hub_dir / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise DemoFailed("the hub server did not answer within 60 s")
            time.sleep(0.2)
        console.print(f"[green]hub serving[/] on http://127.0.0.1:{port} (log in {hub_dir / 'server.log'})")
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _legacy(hotlines: Sequence[DemoHotline]) -> DemoHotline | None:
    """The hotline that stays on taxonomy v1: not the one that misses a month and corrects another (the last), so
    each shows one thing; none with fewer than three hotlines."""
    return hotlines[-2] if len(hotlines) >= 3 else None


def _init_node(home: Path, hotline: DemoHotline, hub_url: str) -> dict[str, Any]:
    """``tipshare-node init --json``: the node's identity (its enrollment line, the hub and taxonomy it pinned)."""
    identity: dict[str, Any] = json.loads(
        _run(
            _node_main,
            ["--home", str(home), "init", "--hotline-id", hotline.id, "--hub", hub_url, "--json"],
            what=f"tipshare-node init ({hotline.id})",
        )
    )
    return identity


#: The demo's aggregation group, and the share of the range it runs rounds for (the later half).
GROUP: Final = "demo-region"
#: Its rounds' scaling factor (docs/secure-aggregation-privacy.md §7), as the hub's group and every member name it.
SCALING: Final = 15


def _group(hotlines: Sequence[DemoHotline], legacy: DemoHotline | None) -> list[DemoHotline]:
    """The hotlines of the secure group: those on v2 that neither miss a month nor correct one (the last hotline does
    both), when at least three are left (a round needs a threshold above half of them, and at least 2)."""
    members = [h for h in hotlines[:-1] if h != legacy]
    return members if len(members) >= 3 else []


def _threshold(members: int) -> int:
    """``t = ⌊0.8 n⌋``, at least one more than half (what the hub accepts)."""
    return max(members // 2 + 1, 4 * members // 5)


def _join_group(home: Path, members: int) -> None:
    """Add ``[secure_group]`` to a node's config.toml, as its officer would."""
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[secure_group]\ngroup_id = "{GROUP}"\nmembers = {members}\nthreshold = {_threshold(members)}\n'
            f'collusion_cap = "100"\nscaling = {SCALING}\n'
        )


def _round(hub_dir: Path, nodes_dir: Path, members: Sequence[DemoHotline], period: str) -> None:
    """The operator opens the month's round; each member's ``sync`` (its timer) takes part until the round is done.
    Every member answers each step, so the hub moves on without waiting for a deadline."""
    _run(
        _hub_main,
        ["round", "open", GROUP, period, "--data-dir", str(hub_dir)],
        what=f"tipshare-hub round open {GROUP} {period}",
    )
    for _step in range(5):
        statuses = set()
        for hotline in members:
            report = json.loads(
                _run(_node_main, ["--home", str(nodes_dir / hotline.id), "sync", "--json"], what="sync (round)")
            )
            statuses |= {r["status"] for r in report.get("rounds", []) if r["period"] == period}
        if statuses == {"done"}:
            return
    raise DemoFailed(f"the round of {period} did not finish: the members' last statuses were {sorted(statuses)}")


def _make_current(hub_dir: Path, taxonomy_id: str) -> None:
    _run(
        _hub_main,
        ["taxonomy", "current", taxonomy_id, "--data-dir", str(hub_dir)],
        what=f"tipshare-hub taxonomy current {taxonomy_id}",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    hub_dir, nodes_dir, exports_dir = workdir / "hub", workdir / "nodes", workdir / "exports"
    periods = _last_months(args.months, datetime.now(UTC))
    hotlines = HOTLINES[: args.hotlines]
    console.rule("tipshare demo")
    console.print(f"working directory: {workdir}")

    _run(_hub_main, ["init", "--origin", ORIGIN, "--data-dir", str(hub_dir)], what="tipshare-hub init")
    tokens = {
        role: json.loads(
            _run(
                _hub_main,
                ["token", "create", "--role", role, "--label", f"demo {role}", "--data-dir", str(hub_dir), "--json"],
                what=f"tipshare-hub token create --role {role}",
            )
        )["token"]
        for role in ("coordinator", "auditor")
    }
    port = args.port or _free_port()
    hub_url = f"http://127.0.0.1:{port}"
    identities: dict[str, dict[str, Any]] = {}
    legacy = _legacy(hotlines)
    if legacy is not None:
        # A hotline set up while the hub still published v1: it pinned v1 and keeps it.
        _make_current(hub_dir, TAXONOMY_V1_ID)
        with _serving(hub_dir, port, console):
            identities[legacy.id] = _init_node(nodes_dir / legacy.id, legacy, hub_url)
        _make_current(hub_dir, TAXONOMY_V2_ID)
        console.print(f"{legacy.id} was set up while the hub published {TAXONOMY_V1_ID}; the hub now publishes v2")
    with _serving(hub_dir, port, console) as server:
        truths: dict[str, dict[str, dict[str, list[int]]]] = {}
        for number, hotline in enumerate(hotlines):
            home = nodes_dir / hotline.id
            identity = identities.get(hotline.id) or _init_node(home, hotline, hub_url)
            identities[hotline.id] = identity
            _run(
                _hub_main,
                [
                    "hotline",
                    "add",
                    "--line",
                    identity["enrollment_line"],
                    "--name",
                    hotline.name,
                    "--country",
                    hotline.country,
                    "--sealing-key",
                    identity["sealing_key"],
                    "--data-dir",
                    str(hub_dir),
                ],
                what=f"tipshare-hub hotline add ({hotline.id})",
            )
            export = exports_dir / hotline.id
            _run(
                _node_main,
                [
                    "--home",
                    str(home),
                    "synth",
                    "--out",
                    str(export),
                    "--profile",
                    hotline.profile,
                    "--seed",
                    str(args.seed + number),
                    "--months",
                    str(len(periods)),
                    "--start",
                    periods[0],
                    "--hotline-id",
                    hotline.id,
                    "--taxonomy",
                    str(TRUTH_TAXONOMY),
                ],
                what=f"tipshare-node synth ({hotline.id})",
            )
            truths[hotline.id] = json.loads((export / "truth.json").read_text(encoding="utf-8"))["periods"]
        console.print(f"{len(hotlines)} hotlines enrolled; synthetic exports for {periods[0]} to {periods[-1]}")
        followed: dict[str, list[str]] = {}
        for hotline in hotlines:
            followed.setdefault(str(identities[hotline.id]["hub"]["taxonomy_id"]), []).append(hotline.id)
        console.print(
            "taxonomies followed: "
            + "; ".join(f"{taxonomy} by {', '.join(ids)}" for taxonomy, ids in sorted(followed.items()))
        )

        missing = (hotlines[-1].id, periods[len(periods) // 2]) if len(hotlines) > 1 else None
        group = _group(hotlines, legacy)
        secure_from = len(periods) // 2 if group else len(periods)
        secure: dict[str, int] = {}
        for number, period in enumerate(periods):
            if number == secure_from:
                ids = ",".join(h.id for h in group)
                _run(
                    _hub_main,
                    [
                        "group",
                        "create",
                        GROUP,
                        "--members",
                        ids,
                        "--threshold",
                        str(_threshold(len(group))),
                        "--scaling",
                        str(SCALING),
                        "--data-dir",
                        str(hub_dir),
                    ],
                    what=f"tipshare-hub group create {GROUP}",
                )
                for hotline in group:
                    _join_group(nodes_dir / hotline.id, len(group))
                console.print(
                    f"  from {period} on, {', '.join(h.id for h in group)} release through secure rounds of group "
                    f"{GROUP} (threshold "
                    f"{_threshold(len(group))} of {len(group)}, scaled by {SCALING})"
                )
            in_round = group if number >= secure_from else []
            for hotline in hotlines:
                if (hotline.id, period) == missing:
                    continue
                home, export = nodes_dir / hotline.id, exports_dir / hotline.id
                inputs = [str(export / "cases.csv"), "--contacts", str(export / "contacts.csv")]
                _run(_node_main, ["--home", str(home), "prepare", "--period", period, *inputs], what="prepare")
                _run(_node_main, ["--home", str(home), "approve", "--period", period], what="approve")
                if hotline not in in_round:  # a member's release waits for the round (sync sends it if it fails)
                    _run(_node_main, ["--home", str(home), "submit", "--period", period], what="submit")
            if in_round:
                _round(hub_dir, nodes_dir, in_round, period)
                secure[period] = len(in_round)
                console.print(
                    f"  {period}: {len(in_round)} hotlines' tables summed in a secure round, the others' releases "
                    "noised, signed, sealed and delivered"
                )
            else:
                console.print(f"  {period}: releases prepared, noised once, signed, sealed and delivered")
        corrected = hotlines[-1]
        home, export = nodes_dir / corrected.id, exports_dir / corrected.id
        _run(
            _node_main,
            [
                "--home",
                str(home),
                "correct",
                "--period",
                periods[-2],
                str(export / "cases.csv"),
                "--contacts",
                str(export / "contacts.csv"),
                "--yes",
            ],
            what="tipshare-node correct",
        )
        _run(_node_main, ["--home", str(home), "approve", "--period", periods[-2]], what="approve (correction)")
        _run(_node_main, ["--home", str(home), "submit"], what="submit (correction)")
        console.print(
            f"  {corrected.id} sent a correction of {periods[-2]}"
            + (f"; {missing[0]} missed {missing[1]}" if missing else "")
        )

        released = {(hotline.id, period) for hotline in hotlines for period in periods} - {missing}
        try:
            for table in regional_tables(hub_url, tokens["coordinator"], periods, truths, released, secure):
                console.print(table)
        except QuestionFailed as e:
            raise DemoFailed(str(e)) from e

        console.rule("independent audit")
        audit_state = workdir / "audit"
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            verdict = _audit_main(
                ["verify", "--hub", hub_url, "--token", tokens["auditor"], "--state", str(audit_state)]
            )
        console.print(out.getvalue().rstrip())
        if err.getvalue().strip():
            console.print(err.getvalue().rstrip())
        console.print(f"auditor exit status: {verdict}")

        if args.once:
            return verdict
        console.rule("the hub keeps serving")
        console.print(f"API docs:         {hub_url}/docs")
        console.print(f"dashboard:        {hub_url}/")
        console.print(f"coordinator token: {tokens['coordinator']}")
        console.print(f"auditor token:     {tokens['auditor']}")
        console.print("Press Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            server.wait()
        return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--once", action="store_true", help="exit with the auditor's status instead of serving")
    parser.add_argument("--hotlines", type=int, default=6, choices=range(1, len(HOTLINES) + 1), metavar="N")
    parser.add_argument("--months", type=int, default=12, choices=range(2, 37), metavar="M")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--port", type=int, default=0, help="port of the hub (default: a free one)")
    parser.add_argument(
        "--workdir",
        help="where to keep the hub, nodes and exports (default: a new temporary directory, removed when the demo "
        "ends: it holds keys and tokens)",
    )
    args = parser.parse_args(argv)
    console = Console()
    with contextlib.ExitStack() as cleanup:
        if args.workdir is None:
            args.workdir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="tipshare-demo-"))
        try:
            return run(args, console)
        except DemoFailed as e:
            console.print(f"[red]demo failed:[/] {e}")
            return 1
