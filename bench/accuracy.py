# SPDX-License-Identifier: Apache-2.0
"""Accuracy: the regional estimate of corridor totals against the synthetic truth, and its 95 % interval against
the theoretical optimum.

What is measured
----------------
* **Truth.** Synthetic exports of ``N_max`` hotlines (:func:`node.synth.generate_export`, the six profiles in
  turn, one seed each), twelve months, and their true ``persons_corridor`` tables (the generator's own truth).
* **Noise: the node's code path.** The release plan of a node with the default budget
  (:meth:`node.budget.BudgetConfig.default`, discrete Gaussian, ρ = 0.1 per monthly release split by the default
  weights) comes from :func:`node.noise.calibrate`, and every noisy count from :func:`node.noise.add_noise`
  (OpenDP ``make_gaussian``). OpenDP samples from its CSPRNG and takes **no seed**: the synthetic data are seeded,
  the noise is not (and must not be). To fit the time budget, a *realisation* noises a slice of ``B`` corridors
  (their ``5 B`` cells: citizenship × country of exploitation, all five exploitation groups) of every hotline's
  every month, one ``add_noise`` call per hotline-month; the sampler draws each cell independently, so a slice
  is statistically the same as the whole table.
* **Corridor totals.** The regional estimate of a corridor for a month (or a year) is the sum of the noisy cells
  of ``N`` hotlines, five exploitation groups, one (or twelve) months: ``m = 5 N`` (or ``60 N``) noise terms.
  Its published 95 % interval is what the hub publishes: :func:`protocol.accuracy.sum_interval` of the row's
  noise terms, grouped as :class:`hub.services.stats.StatsService` groups them (``(mechanism, scale, N·5)`` per
  month, from the scale the payload declares).
* **Coverage.** Within one realisation the ``N_max`` hotlines are split into disjoint groups of ``N`` and the
  months into disjoint groups of one (or twelve): every (group, corridor) is an independent interval, and each
  configuration's coverage is the share of them that contain the truth (Wilson 95 % interval alongside). Its
  baseline is the exact probability that the published interval covers (below): intervals are integers, so
  for few noise terms the smallest interval with at least 95 % covers more (96.0 % for one hotline-month, whose
  half-width 17 would cover only 94.8 %). The target 95 ± 1 % is judged on the coverage rounded to 0.1 %.
* **Optimum (the baseline).** For the same mechanism and budget: every hotline's cell carries one discrete
  Gaussian with σ* = √(L2² / 2ρ_t), ρ_t the table's exact share of the release; the best possible interval for a
  sum of ``m`` of them is the smallest ``h*`` with ``P(|S| ≤ h*) ≥ 95 %``. It is computed here, independently of
  :mod:`protocol.accuracy`: for σ* ≥ 1 the sum of ``m`` discrete Gaussians differs from one discrete Gaussian of
  σ*√m by less than ``m·e^(-π²σ*²/2)`` in characteristic function (below 1e-30 here), whose mass on ``[-h, h]`` is
  a direct sum. Ratio 1.00 = the implementation wastes no accuracy beyond the mechanism. The **central** optimum
  (one noise draw per cell of the *regional* total, as a trusted aggregator would add) is reported too: the
  ``√N`` gap to it is the price of local noise (phase 2 of the design closes it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

from bench.common import BenchResult, Metric, RunContext, stopwatch, wilson_interval
from node.budget import BudgetConfig
from node.noise import NoisePlan, add_noise, calibrate
from node.synth import generate_export
from protocol.accuracy import sum_interval
from protocol.taxonomy import builtin_taxonomy

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "accuracy"
TITLE: Final = "corridor totals: error, 95% interval vs the optimum, coverage (N = 1..100 hotlines)"

TABLE: Final = "persons_corridor"
GROUPS: Final = 5  # exploitation groups: the cells of one corridor
MONTHS: Final = 12
PROFILES: Final = ("ua", "md", "ro", "pl", "bg", "ge")
CONFIDENCE: Final = 0.95
_Z95: Final = 1.959963984540054


@dataclass(frozen=True, slots=True)
class _Sizes:
    hotline_counts: tuple[int, ...]
    #: Intervals wanted for the largest configuration (N_max hotlines, a year); the others get more.
    intervals: int
    #: Corridors per realisation slice.
    slice_corridors: int


_FULL: Final = _Sizes(hotline_counts=(1, 5, 20, 100), intervals=2000, slice_corridors=200)
_QUICK: Final = _Sizes(hotline_counts=(1, 5, 20), intervals=200, slice_corridors=100)


# ---------------------------------------------------------------------------------------------- workers


def _truth_of(args: tuple[int, str]) -> list[list[int]]:
    """The true corridor table of every month of synthetic hotline ``index`` (run in a worker process)."""
    index, directory = args
    profile = PROFILES[index % len(PROFILES)]
    export = generate_export(
        out_dir=Path(directory) / f"hotline-{index:03d}",
        profile=profile,
        months=MONTHS,
        seed=1000 + index,
        hotline_id=f"bench-{profile}-{index:03d}",
        contacts_per_month=1,
        dirty=False,
    )
    truth = export.truth()
    return [list(truth[period][TABLE]) for period in export.periods]


def _noise_sums(args: tuple[NoisePlan, list[list[int]]]) -> tuple[list[list[int]], float, int]:
    """Noise every truth slice with :func:`node.noise.add_noise`; per slice, the noise summed per corridor."""
    plan, slices = args
    sums: list[list[int]] = []
    cells = 0
    with stopwatch() as elapsed:
        for truth in slices:
            noisy = add_noise(plan, {TABLE: truth})[TABLE]
            noise = [n - t for n, t in zip(noisy, truth, strict=True)]
            sums.append([sum(noise[i : i + GROUPS]) for i in range(0, len(noise), GROUPS)])
            cells += len(truth)
    return sums, elapsed[0], cells


# ---------------------------------------------------------------------------------------------- theory


def _mass(sigma: float, terms: int) -> tuple[list[float], float]:
    """Unnormalised masses ``e^(-k²/2v)`` for ``k = 0, 1, ...`` and their total over all integers (``v = mσ²``)."""
    variance = sigma * sigma * terms
    radius = math.ceil(40.0 * math.sqrt(variance))
    weights = [math.exp(-(k * k) / (2.0 * variance)) for k in range(radius + 1)]
    return weights, weights[0] + 2.0 * math.fsum(weights[1:])


def optimum_halfwidth(sigma: float, terms: int, confidence: float = CONFIDENCE) -> int:
    """Smallest ``h`` with ``P(|S| ≤ h) ≥ confidence``, ``S`` the sum of ``terms`` discrete Gaussians of ``sigma``.

    Uses the discrete Gaussian of σ√terms (see the module docstring for why that is exact here, σ ≥ 1).
    """
    if sigma < 1.0:
        raise ValueError("the single-Gaussian reduction needs sigma >= 1")
    weights, total = _mass(sigma, terms)
    covered = weights[0]
    h = 0
    while covered / total < confidence:
        h += 1
        covered += 2.0 * weights[h]
    return h


def exact_coverage(sigma: float, terms: int, halfwidth: int) -> float:
    """``P(|S| ≤ halfwidth)`` for the same sum (the coverage an interval of that half-width must show)."""
    weights, total = _mass(sigma, terms)
    return (weights[0] + 2.0 * math.fsum(weights[1 : halfwidth + 1])) / total


# ---------------------------------------------------------------------------------------------- the run


@dataclass(slots=True)
class _Tally:
    """Intervals of one configuration (N hotlines, one horizon)."""

    hotlines: int
    months: int
    halfwidth: int
    std: float
    intervals: int = 0
    covered: int = 0
    squared_error: float = 0.0

    def add(self, error: int) -> None:
        self.intervals += 1
        self.covered += abs(error) <= self.halfwidth
        self.squared_error += error * error


def run(ctx: RunContext) -> BenchResult:
    sizes = _QUICK if ctx.quick else _FULL
    result = BenchResult(name=NAME, title=TITLE)
    taxonomy = builtin_taxonomy()
    table = taxonomy.table(TABLE)
    budget = BudgetConfig.default(tables=taxonomy.tables)
    release = calibrate(taxonomy, list(taxonomy.tables), budget)
    calibration = release.table(TABLE)
    plan = NoisePlan(release.mechanism, (calibration,))
    share = Fraction(budget.shares(list(taxonomy.tables))[TABLE])
    sigma_star = math.sqrt(table.l2_sensitivity_squared / (2 * share))
    n_max = max(sizes.hotline_counts)
    corridors = table.cell_count // GROUPS

    with ProcessPoolExecutor(max_workers=2) as pool:
        ctx.log(f"synthetic exports of {n_max} hotlines x {MONTHS} months")
        with stopwatch() as synth_time:
            truth = list(pool.map(_truth_of, [(i, str(ctx.workdir)) for i in range(n_max)]))
        volume = [0] * corridors
        for hotline in truth:
            for month in hotline:
                for corridor in range(corridors):
                    volume[corridor] += sum(month[corridor * GROUPS : (corridor + 1) * GROUPS])
        ranked = sorted(range(corridors), key=lambda c: (-volume[c], c))
        width = sizes.slice_corridors
        realisations = math.ceil(sizes.intervals / width)
        tasks = []
        for r in range(realisations):
            chosen = [ranked[(r * width + b) % corridors] for b in range(width)]
            slices = [
                [truth[i][t][c * GROUPS + g] for c in chosen for g in range(GROUPS)]
                for i in range(n_max)
                for t in range(MONTHS)
            ]
            tasks.append((plan, slices))
        ctx.log(
            f"noise: {realisations} realisations x {n_max * MONTHS} hotline-months x {width * GROUPS} cells "
            f"(sigma {calibration.scale_text}), 2 processes"
        )
        with stopwatch() as noise_time:
            drawn = list(pool.map(_noise_sums, tasks))

    tallies = _tallies(sizes.hotline_counts, calibration.scale_text, release.mechanism)
    example: dict[str, object] = {}
    for r, (sums, _, _) in enumerate(drawn):
        chosen = [ranked[(r * width + b) % corridors] for b in range(width)]
        # sums[i * MONTHS + t][b]: noise of corridor chosen[b], hotline i, month t
        for tally in tallies:
            for first in range(0, n_max - tally.hotlines + 1, tally.hotlines):
                for start in range(0, MONTHS - tally.months + 1, tally.months):
                    keys = [
                        i * MONTHS + t
                        for i in range(first, first + tally.hotlines)
                        for t in range(start, start + tally.months)
                    ]
                    for b in range(width):
                        tally.add(sum(sums[k][b] for k in keys))
        if r == 0:
            example = _example(truth, sums, chosen[0], table.cell_codes(chosen[0] * GROUPS), tallies)

    sampled = sum(cells for _, _, cells in drawn)
    sampling_seconds = sum(seconds for _, seconds, _ in drawn)
    for tally in tallies:
        _report(result, tally, sigma_star)
    result.details = {
        "mechanism": release.mechanism,
        "budget": {"release_rho": str(budget.release), "table_share_rho": str(share), "weights": dict(budget.weights)},
        "sigma_declared": calibration.scale_text,
        "sigma_star": sigma_star,
        "hotlines_max": n_max,
        "realisations": realisations,
        "slice_corridors": width,
        "cells_sampled": sampled,
        "sampler_us_per_cell": round(sampling_seconds / sampled * 1e6, 2),
        "synth_seconds": round(synth_time[0], 1),
        "noise_seconds": round(noise_time[0], 1),
        "largest_corridor_example": example,
        "configurations": [_detail(t, sigma_star) for t in tallies],
    }
    result.notes.append(
        f"discrete Gaussian, default budget (rho {budget.release}/month, corridor share {float(share):.6f}, "
        f"sigma {float(calibration.scale):.4f}); OpenDP noise is unseeded (CSPRNG), synthetic data seeded; "
        f"{sampled:,} cells sampled at {sampling_seconds / sampled * 1e6:.1f} us/cell"
    )
    return result


def _tallies(hotline_counts: Sequence[int], scale: str, mechanism: str) -> list[_Tally]:
    tallies = []
    for months in (1, MONTHS):
        for hotlines in hotline_counts:
            # The hub's grouping: per month, (mechanism, scale, hotlines x cells summed per month).
            interval = sum_interval([(mechanism, scale, hotlines * GROUPS)] * months, CONFIDENCE)
            tallies.append(_Tally(hotlines, months, interval.halfwidth, interval.std))
    return tallies


def _label(tally: _Tally) -> str:
    return f"N={tally.hotlines:<3d} {'month' if tally.months == 1 else 'year '}"


def _report(result: BenchResult, tally: _Tally, sigma_star: float) -> None:
    terms = tally.hotlines * GROUPS * tally.months
    local = optimum_halfwidth(sigma_star, terms)
    central = optimum_halfwidth(sigma_star, GROUPS * tally.months)
    coverage = 100.0 * tally.covered / tally.intervals
    low, high = wilson_interval(tally.covered, tally.intervals)
    rmse = math.sqrt(tally.squared_error / tally.intervals)
    label = _label(tally)
    result.add(
        Metric(
            f"{label} error (RMSE)",
            rmse,
            "",
            baseline=tally.std,
            baseline_name="published std",
            ratio=rmse / tally.std,
            note=f"{tally.intervals} corridor totals",
        )
    )
    result.add(
        Metric(
            f"{label} 95% half-width",
            tally.halfwidth,
            "",
            baseline=local,
            baseline_name="local optimum",
            ratio=tally.halfwidth / local,
            target="1.00x",
            met=tally.halfwidth == local,
        )
    )
    result.add(
        Metric(
            f"{label} half-width vs central",
            tally.halfwidth,
            "",
            baseline=central,
            baseline_name="central optimum",
            ratio=tally.halfwidth / central,
            note=f"sqrt(N) = {math.sqrt(tally.hotlines):.2f}: the price of local noise",
        )
    )
    exact = 100.0 * exact_coverage(sigma_star, terms, tally.halfwidth)
    result.add(
        Metric(
            f"{label} coverage",
            coverage,
            "%",
            baseline=exact,
            baseline_name="exact P(|noise| <= h)",
            ratio=coverage / exact,
            target="95 +- 1 %",
            met=94.0 <= round(coverage, 1) <= 96.0,
            note=f"{tally.covered}/{tally.intervals}, Wilson 95% CI {100 * low:.2f}..{100 * high:.2f} %",
        )
    )


def _detail(tally: _Tally, sigma_star: float) -> dict[str, object]:
    terms = tally.hotlines * GROUPS * tally.months
    low, high = wilson_interval(tally.covered, tally.intervals)
    return {
        "hotlines": tally.hotlines,
        "months": tally.months,
        "noise_terms": terms,
        "intervals": tally.intervals,
        "covered": tally.covered,
        "coverage": tally.covered / tally.intervals,
        "coverage_wilson95": [low, high],
        "coverage_exact": exact_coverage(sigma_star, terms, tally.halfwidth),
        "rmse": math.sqrt(tally.squared_error / tally.intervals),
        "published_std": tally.std,
        "published_halfwidth": tally.halfwidth,
        "optimum_local_halfwidth": optimum_halfwidth(sigma_star, terms),
        "optimum_central_halfwidth": optimum_halfwidth(sigma_star, GROUPS * tally.months),
        "optimum_local_std": sigma_star * math.sqrt(terms),
    }


def _example(
    truth: list[list[list[int]]],
    sums: list[list[int]],
    corridor: int,
    codes: tuple[str, ...],
    tallies: Sequence[_Tally],
) -> dict[str, object]:
    """The largest corridor in the first realisation: truth, estimate and interval per configuration."""
    rows = []
    for tally in tallies:
        keys = [(i, t) for i in range(tally.hotlines) for t in range(tally.months)]
        true_total = sum(truth[i][t][corridor * GROUPS + g] for i, t in keys for g in range(GROUPS))
        estimate = true_total + sum(sums[i * MONTHS + t][0] for i, t in keys)
        rows.append(
            {
                "hotlines": tally.hotlines,
                "months": tally.months,
                "truth": true_total,
                "estimate": estimate,
                "ci95": [estimate - tally.halfwidth, estimate + tally.halfwidth],
                "relative_halfwidth": tally.halfwidth / true_total if true_total else None,
            }
        )
    return {"corridor": f"{codes[0]} -> {codes[1]}", "rows": rows}
