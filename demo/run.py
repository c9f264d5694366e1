# SPDX-License-Identifier: Apache-2.0
"""The whole of tipshare on one machine, with synthetic hotlines: what ``make demo`` runs.

1. ``tipshare-hub init`` in a temporary directory, then ``tipshare-hub serve`` (a real server process on 127.0.0.1).
2. Six synthetic hotlines from six countries of the region: ``tipshare-node init``; the operator enrolls each key
   with ``tipshare-hub hotline add``; ``tipshare-node synth`` writes twelve months of HTCDS-style exports.
3. Every month, every hotline runs ``prepare`` and ``submit`` over real HTTP. One hotline misses a month, one
   sends a correction, and all but the last month arrive after the reporting deadline (late).
4. The regional corridor table (citizenship → country of exploitation, twelve months) with its 95% intervals,
   beside the true totals the synthetic generator knows.
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

import httpx
from rich.console import Console
from rich.table import Table

from protocol.taxonomy import builtin_taxonomy

__all__ = ["HOTLINES", "main"]

ORIGIN = "demo.tipshare.local/log"
CORRIDOR = "persons_corridor"


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


def _corridor_table(
    hub_url: str, token: str, periods: list[str], truths: dict[str, dict[str, dict[str, list[int]]]]
) -> Table:
    response = httpx.get(
        f"{hub_url}/v1/stats/{CORRIDOR}",
        params={"group_by": "citizenship,country_of_exploitation", "period_from": periods[0], "period_to": periods[-1]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if response.status_code != 200:
        raise DemoFailed(f"GET /v1/stats/{CORRIDOR} failed: {response.status_code} {response.text[:300]}")
    body = response.json()
    table = builtin_taxonomy().table(CORRIDOR)
    true_totals: dict[tuple[str, str], int] = {}
    for hotline_truth in truths.values():
        for period in periods:
            for index, count in enumerate(hotline_truth.get(period, {}).get(CORRIDOR, [])):
                if count:
                    citizenship, country, _group = table.cell_codes(index)
                    key = (citizenship, country)
                    true_totals[key] = true_totals.get(key, 0) + count
    # Rank by the synthetic truth, which only a demo knows: ranking thousands of noisy cells by their estimates would
    # put cells whose true count is 0 near the top (the largest of many noise draws).
    estimates = {(row["keys"]["citizenship"], row["keys"]["country_of_exploitation"]): row for row in body["rows"]}
    largest = sorted(true_totals, key=lambda key: true_totals[key], reverse=True)[:12]
    view = Table(
        title=f"Potential victims reported to hotlines, {periods[0]} to {periods[-1]}: the largest true corridors",
        caption=f"hub checkpoint {body['checkpoint']['size']} · estimate = unbiased sum of the hotlines' noisy counts",
    )
    for column in ("citizenship", "country of exploitation", "estimate", "95% interval", "true total", "hotlines"):
        view.add_column(column, justify="left" if column in ("citizenship", "country of exploitation") else "right")
    covered = 0
    for key in largest:
        row = estimates[key]
        truth = true_totals[key]
        inside = row["ci95_low"] <= truth <= row["ci95_high"]
        covered += inside
        view.add_row(
            key[0],
            key[1],
            str(row["estimate"]),
            f"[{row['ci95_low']}, {row['ci95_high']}]",
            f"{truth}" if inside else f"[yellow]{truth}[/]",
            f"{row['hotlines_reporting']}/{row['hotlines_expected']}",
        )
    view.caption = f"{view.caption} · {covered} of {len(largest)} intervals cover the true total"
    return view


def run(args: argparse.Namespace, console: Console) -> int:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tipshare-demo-"))
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
    with _serving(hub_dir, port, console) as server:
        truths: dict[str, dict[str, dict[str, list[int]]]] = {}
        for number, hotline in enumerate(hotlines):
            home = nodes_dir / hotline.id
            identity = json.loads(
                _run(
                    _node_main,
                    ["--home", str(home), "init", "--hotline-id", hotline.id, "--hub", hub_url, "--json"],
                    what=f"tipshare-node init ({hotline.id})",
                )
            )
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
                ],
                what=f"tipshare-node synth ({hotline.id})",
            )
            truths[hotline.id] = json.loads((export / "truth.json").read_text(encoding="utf-8"))["periods"]
        console.print(f"{len(hotlines)} hotlines enrolled; synthetic exports for {periods[0]} to {periods[-1]}")

        missing = (hotlines[-1].id, periods[len(periods) // 2]) if len(hotlines) > 1 else None
        for period in periods:
            for hotline in hotlines:
                if (hotline.id, period) == missing:
                    continue
                home, export = nodes_dir / hotline.id, exports_dir / hotline.id
                inputs = [str(export / "cases.csv"), "--contacts", str(export / "contacts.csv")]
                _run(_node_main, ["--home", str(home), "prepare", "--period", period, *inputs], what="prepare")
                _run(_node_main, ["--home", str(home), "submit", "--period", period], what="submit")
            console.print(f"  {period}: releases prepared, noised once, signed, sealed and delivered")
        corrected = hotlines[0]
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
        _run(_node_main, ["--home", str(home), "submit"], what="submit (correction)")
        console.print(
            f"  {corrected.id} sent a correction of {periods[-2]}"
            + (f"; {missing[0]} missed {missing[1]}" if missing else "")
        )

        console.print(_corridor_table(hub_url, tokens["coordinator"], periods, truths))

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
    parser.add_argument("--workdir", help="where to keep the hub, nodes and exports (default: a new temp dir)")
    args = parser.parse_args(argv)
    console = Console()
    try:
        return run(args, console)
    except DemoFailed as e:
        console.print(f"[red]demo failed:[/] {e}")
        return 1
