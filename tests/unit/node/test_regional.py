# SPDX-License-Identifier: Apache-2.0
"""What a release means regionally: expected half-widths of a monthly corridor and total, from the real scales."""

from __future__ import annotations

import doctest
import math

import pytest

import node.regional
from node.budget import BudgetConfig
from node.noise import calibrate
from node.regional import REGIONAL_HOTLINES, regional_accuracy
from protocol.accuracy import noise_variance
from protocol.taxonomy import builtin_taxonomy

Z95 = 1.959964


def _scales(version: int, *, contacts: bool = True) -> dict[str, tuple[str, str]]:
    taxonomy = builtin_taxonomy(version)
    names = [n for n in taxonomy.tables if contacts or n != "contacts"]
    plan = calibrate(taxonomy, names, BudgetConfig.default(taxonomy=taxonomy))
    return {t.table: (plan.mechanism, t.scale_text) for t in plan.tables}


def test_module_examples_run() -> None:
    result = doctest.testmod(node.regional, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("version", [1, 2])
def test_the_corridor_is_never_worse_than_the_tables_that_carry_it_alone(version: int) -> None:
    """Least squares over every table is at least as good as the inverse-variance combination of the tables that
    carry the corridor (each summed over the dimensions it has beyond it), and those alone are computed here by hand.
    """
    taxonomy = builtin_taxonomy(version)
    scales = _scales(version)
    corridor, total = regional_accuracy(taxonomy, scales)
    assert corridor.question == "corridor"
    expected = ("persons_corridor",) if version == 1 else ("persons_corridor", "persons_corridor_2way")
    assert corridor.carried_by == expected
    for hotlines, halfwidth in corridor.halfwidths:
        precision = 0.0
        for name in expected:
            table = taxonomy.table(name)
            summed = math.prod(len(d) for d in table.dimensions)
            summed //= len(taxonomy.dimension("citizenship")) * len(taxonomy.dimension("country_of_exploitation"))
            precision += 1 / (noise_variance(*scales[name]) * hotlines * summed)
        alone = Z95 * math.sqrt(1 / precision)
        assert halfwidth <= alone + 1e-9
        assert halfwidth >= 0.8 * alone  # the margins help a little, not a lot
    assert [n for n, _ in total.halfwidths] == list(REGIONAL_HOTLINES)


def test_half_widths_grow_with_the_square_root_of_the_hotlines() -> None:
    (corridor, total) = regional_accuracy(builtin_taxonomy(2), _scales(2), hotlines=(1, 4, 100))
    for answer in (corridor, total):
        one, four, hundred = (h for _, h in answer.halfwidths)
        assert four == pytest.approx(2 * one, rel=1e-12)
        assert hundred == pytest.approx(10 * one, rel=1e-12)


def test_v2_answers_the_coordinators_questions_far_better_than_v1() -> None:
    v1 = {r.question: dict(r.halfwidths) for r in regional_accuracy(builtin_taxonomy(1), _scales(1))}
    v2 = {r.question: dict(r.halfwidths) for r in regional_accuracy(builtin_taxonomy(2), _scales(2))}
    assert v2["corridor"][5] < 20 < 35 < v1["corridor"][5]  # the target: ±20 or better at 5 hotlines
    assert v2["total"][5] < 45 < 200 < v1["total"][5]  # and ±45 or better for the monthly total
    assert v2["total"][5] == pytest.approx(
        Z95 * math.sqrt(1 / sum(1 / (_var(2, n) * 5 * _cells_beyond(2, n)) for n in _person_lattice(2))), rel=1e-5
    )


def test_a_release_without_person_tables_states_nothing() -> None:
    scales = {name: s for name, s in _scales(2).items() if name in ("cases_opened", "contacts")}
    assert regional_accuracy(builtin_taxonomy(2), scales) == ()


def _person_lattice(version: int) -> list[str]:
    taxonomy = builtin_taxonomy(version)
    return [n for n, t in taxonomy.tables.items() if t.unit == "person" and not t.multi_valued]


def _var(version: int, name: str) -> float:
    return noise_variance(*_scales(version)[name])


def _cells_beyond(version: int, name: str) -> int:
    return builtin_taxonomy(version).table(name).cell_count
