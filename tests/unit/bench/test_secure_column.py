# SPDX-License-Identifier: Apache-2.0
"""The workload benchmark's ``secure`` column (scaled rounds): within 1.3 times the central optimum at t = 0.8 N."""

from __future__ import annotations

import doctest
import math

import pytest

import bench.secure
from bench.secure import QUESTIONS, RATIO_TARGET, SecureRow, secure_column
from protocol.distributed_noise import TOTALS_SHARE


@pytest.fixture(scope="module")
def rows() -> dict[int, list[SecureRow]]:
    found = secure_column((6, 20, 100))
    return {n: [r for r in found if r.hotlines == n] for n in (6, 20, 100)}


def test_module_examples() -> None:
    assert doctest.testmod(bench.secure, raise_on_error=True).attempted > 0


@pytest.mark.parametrize("hotlines", [6, 20, 100])
def test_secure_is_within_the_target_of_central(rows: dict[int, list[SecureRow]], hotlines: int) -> None:
    assert [(r.question, r.months) for r in rows[hotlines]] == list(QUESTIONS)
    assert [r.threshold for r in rows[hotlines]] == [-(-4 * hotlines // 5)] * len(QUESTIONS)
    assert max(r.ratio for r in rows[hotlines]) <= RATIO_TARGET


def test_secure_beats_local_and_no_round_beats_central(rows: dict[int, list[SecureRow]]) -> None:
    for hotlines, found in rows.items():
        for row in found:
            assert row.central <= row.secure_at_threshold <= row.secure < row.local
            # t survivors carry the central noise of the 98 % of the budget the shares spend (the one-cell totals
            # take 2 %: σ 1/√0.98 = 1.0102 times central); a scaled round's shares need no widening for the bound
            # at any N, and its rounding adds a variance of (γ² − 1)/(12γ²) < 1/12
            assert row.secure_at_threshold <= row.central * 1.01 / math.sqrt(1 - TOTALS_SHARE), (hotlines, row)
    # local noise grows as √N, the secure sum does not
    assert rows[100][0].local > 4 * rows[6][0].local / 1.01
    assert rows[100][0].secure < 1.1 * rows[6][0].secure


def test_the_regional_total_meets_the_issue_target_at_every_size(rows: dict[int, list[SecureRow]]) -> None:
    for found in rows.values():
        (total,) = [r for r in found if r.question == "total"]
        assert total.target == 18.0
        assert total.secure <= total.target
