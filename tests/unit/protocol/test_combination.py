# SPDX-License-Identifier: Apache-2.0
"""Least-squares answers: against a brute-force best linear unbiased estimator, on known structures and random ones.

The reference builds the whole design matrix over every cell of a small contingency table (one unknown vector per
class of hotlines), and solves ``min Σ λ² V`` subject to unbiasedness with numpy's least squares. The module under
test never builds that matrix; agreement to 1e-9 on estimates and variances, including mixed classes and filters,
is the evidence that the per-component algebra is right.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.accuracy import noise_variance
from protocol.combination import (
    MonthRelease,
    NotAnswerable,
    Question,
    cell_variance,
    observation,
    plan_month,
    resolve,
)
from protocol.taxonomy import Table, Taxonomy, builtin_taxonomy, load_taxonomy

SIZES = {"a": 2, "b": 3, "c": 4}
CODES = {name: tuple(f"{name}{i}" for i in range(n)) for name, n in SIZES.items()}
LATTICE = {"total": (), "a": ("a",), "b": ("b",), "ab": ("a", "b"), "bc": ("b", "c"), "abc": ("a", "b", "c")}
SCALES = ("1.5", "2.0", "3.5", "5.0")


def small_taxonomy(tables: Mapping[str, Sequence[str]] = LATTICE, *, multi: bool = False) -> Taxonomy:
    """Three plain dimensions (2, 3, 4 codes), optionally a multi-valued one, and the given person tables."""

    def dimension(name: str) -> dict[str, Any]:
        codes = CODES[name]
        values = {f"v{i}": code for i, code in enumerate(codes)}
        return {
            "description": name,
            "codes": [{"code": c, "label": c} for c in codes],
            "input": {"rule": "first", "fields": [{"field": f"f{name}", "values": values}], "missing": codes[-1]},
        }

    dimensions = {name: dimension(name) for name in SIZES}
    body: dict[str, Any] = {
        name: {
            "description": name,
            "unit": "person",
            "dimensions": list(dims),
            "contribution": {"l1": 1, "per_cell": 1},
        }
        for name, dims in tables.items()
    }
    rules = {"first": "first value"}
    if multi:
        dimensions["m"] = {
            "description": "flags",
            "codes": [{"code": c, "label": c} for c in ("m0", "m1", "any")],
            "input": {"rule": "each", "fields": [{"field": "fm", "values": {"x": "m0", "y": "m1"}}], "any": "any"},
        }
        rules["each"] = "every value"
        body["am"] = {
            "description": "am",
            "unit": "person",
            "dimensions": ["a", "m"],
            "contribution": {"l1": 3, "per_cell": 1},
        }
    document = {
        "type": "taxonomy",
        "id": "test/1",
        "version": 1,
        "title": "test",
        "description": "test",
        "units": {"person": "a person"},
        "input_rules": rules,
        "dimensions": dimensions,
        "tables": body,
    }
    return load_taxonomy(document)


FULL = list(itertools.product(*(range(n) for n in SIZES.values())))
POSITION = {name: i for i, name in enumerate(SIZES)}


def marginal_matrix(dims: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    cells = list(itertools.product(*(range(SIZES[d]) for d in dims)))
    index = {cell: i for i, cell in enumerate(cells)}
    matrix = np.zeros((len(cells), len(FULL)))
    for j, x in enumerate(FULL):
        matrix[index[tuple(x[POSITION[d]] for d in dims)], j] = 1
    return matrix, cells


class World:
    """Hotline classes (each releasing some tables, with some hotlines), true counts, one noisy realisation."""

    def __init__(self, taxonomy: Taxonomy, classes: Sequence[frozenset[str]], seed: int) -> None:
        rng = random.Random(seed)
        self.taxonomy = taxonomy
        self.classes = list(classes)
        self.scale = {name: rng.choice(SCALES) for name in taxonomy.tables}
        self.hotlines = [rng.randint(1, 3) for _ in classes]
        self.terms: dict[str, tuple[tuple[str, str, int], ...]] = {}
        for name in taxonomy.tables:
            count = sum(h for h, c in zip(self.hotlines, classes, strict=True) if name in c)
            if count:
                self.terms[name] = (("discrete_gaussian", self.scale[name], count),)
        truths = [np.array([rng.randint(0, 9) for _ in FULL]) for _ in classes]
        self.observed: dict[str, tuple[np.ndarray, list[tuple[int, ...]], np.ndarray]] = {}
        for name in self.terms:
            matrix, cells = marginal_matrix(taxonomy.tables[name].dimension_names)
            truth = sum(matrix @ x for x, c in zip(truths, classes, strict=True) if name in c)
            noisy = truth + np.array([rng.randint(-6, 6) for _ in cells])
            self.observed[name] = (matrix, cells, noisy)

    @property
    def release(self) -> MonthRelease:
        return MonthRelease.of(self.terms, self.classes)

    def sums(self, marginals: Mapping[str, tuple[str, ...]]) -> dict[str, dict[tuple[str, ...], int]]:
        result: dict[str, dict[tuple[str, ...], int]] = {}
        for name, dims in marginals.items():
            _, cells, noisy = self.observed[name]
            table_dims = self.taxonomy.tables[name].dimension_names
            folded: dict[tuple[str, ...], int] = {}
            for cell, value in zip(cells, noisy, strict=True):
                key = tuple(CODES[d][cell[table_dims.index(d)]] for d in dims)
                folded[key] = folded.get(key, 0) + int(value)
            result[name] = folded
        return result

    def reference(self, group_by: Sequence[str], filters: Mapping[str, Sequence[str]], keys: Sequence[tuple[str, ...]]):
        """Brute-force BLUE per row: ``(estimate, variance)``, or ``None`` if the row is not estimable."""
        blocks, variances, values = [], [], []
        for name, (matrix, cells, noisy) in self.observed.items():
            blocks.append(np.hstack([matrix if name in c else np.zeros_like(matrix) for c in self.classes]))
            per_cell = noise_variance("discrete_gaussian", self.scale[name]) * self.terms[name][0][2]
            variances += [per_cell] * len(cells)
            values.append(noisy)
        return blue(
            np.vstack(blocks), np.array(variances), np.concatenate(values), len(self.classes), group_by, filters, keys
        )


def blue(design, v, y, classes: int, group_by, filters, keys):
    """Per row, ``(estimate, variance)`` of the best linear unbiased estimator ``λᵀy`` of the row's count summed
    over every class (``min Σ λ² v`` subject to ``designᵀλ = target``), or ``None`` if the row is not estimable."""
    y = y.astype(float)
    results = []
    for key in keys:
        query = np.array(
            [
                float(
                    all(CODES[d][x[POSITION[d]]] == code for d, code in zip(group_by, key, strict=True))
                    and all(CODES[d][x[POSITION[d]]] in codes for d, codes in filters.items())
                )
                for x in FULL
            ]
        )
        target = np.concatenate([query] * classes)
        weighted = design.T @ np.diag(1 / v)
        mu = np.linalg.lstsq(weighted @ design, target, rcond=None)[0]
        lam = np.diag(1 / v) @ design @ mu
        estimable = np.allclose(design.T @ lam, target, atol=1e-8)
        results.append((float(lam @ y), float(lam @ (v * lam))) if estimable else None)
    return results


def answer(world: World, group_by: Sequence[str], filters: Mapping[str, Sequence[str]]):
    question = Question(unit="person", group_by=tuple(group_by), filters={k: tuple(v) for k, v in filters.items()})
    plan = plan_month(question, world.taxonomy.tables, world.release)
    keys = plan.question.row_keys(world.taxonomy.tables)
    products = plan.estimates(world.sums(plan.marginals), keys)
    return plan, keys, [math.fsum(p) for p in products]


QUESTIONS = [
    ((), {}),
    (("a",), {}),
    (("a", "b"), {}),
    (("b",), {"c": ("c1", "c2")}),
    (("a", "c"), {}),
    (("c",), {"a": ("a1",)}),
    (("b", "a", "c"), {}),
    ((), {"a": ("a0",), "b": ("b0", "b2")}),
    (("a",), {"a": ("a1",)}),
]
CLASSES = {
    "one class": [frozenset(LATTICE)],
    "v1 and v2": [frozenset(LATTICE), frozenset({"abc", "b", "total"})],
    "disjoint": [frozenset({"abc"}), frozenset({"ab", "bc", "a"})],
}


@pytest.mark.parametrize(("group_by", "filters"), QUESTIONS)
@pytest.mark.parametrize("classes", CLASSES.values(), ids=CLASSES.keys())
def test_estimates_and_variances_equal_the_brute_force_blue(group_by, filters, classes) -> None:
    world = World(small_taxonomy(), classes, seed=7)
    keys_probe = resolve(
        Question("person", tuple(group_by), {k: tuple(v) for k, v in filters.items()}), world.taxonomy.tables
    )
    reference = world.reference(group_by, filters, keys_probe.row_keys(world.taxonomy.tables))
    if any(r is None for r in reference):
        with pytest.raises(NotAnswerable, match="released none of the person tables"):
            answer(world, group_by, filters)
        return
    plan, _, estimates = answer(world, group_by, filters)
    variance = plan.noise().variance
    for estimate, (expected, expected_variance) in zip(estimates, reference, strict=True):
        assert estimate == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert variance == pytest.approx(expected_variance, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    tables=st.sets(st.sampled_from(sorted(LATTICE)), min_size=1),
    split=st.lists(st.sets(st.sampled_from(sorted(LATTICE)), min_size=1), min_size=1, max_size=3),
    group_by=st.lists(st.sampled_from(sorted(SIZES)), unique=True, max_size=2),
    filtered=st.sampled_from(["", "a", "b", "c"]),
    seed=st.integers(0, 10**6),
)
def test_random_structures_agree_with_the_brute_force(tables, split, group_by, filtered, seed) -> None:
    """Any tables, any classes (each releasing any of them), any question: same answer, or both unanswerable."""
    taxonomy = small_taxonomy({name: LATTICE[name] for name in tables})
    classes = [frozenset(c & tables) for c in split if c & tables] or [frozenset(tables)]
    world = World(taxonomy, classes, seed)
    filters = {filtered: CODES[filtered][:1]} if filtered and filtered not in group_by else {}
    question = Question("person", tuple(group_by), filters)
    try:
        keys = resolve(question, taxonomy.tables).row_keys(taxonomy.tables)
    except NotAnswerable:
        needed = set(group_by) | set(filters)
        assert not any(needed <= set(t.dimension_names) for t in taxonomy.tables.values())
        return
    reference = world.reference(group_by, filters, keys)
    if any(r is None for r in reference):
        with pytest.raises(NotAnswerable):
            answer(world, group_by, filters)
        return
    plan, _, estimates = answer(world, group_by, filters)
    for estimate, (expected, expected_variance) in zip(estimates, reference, strict=True):
        assert estimate == pytest.approx(expected, rel=1e-8, abs=1e-8)
        assert plan.noise().variance == pytest.approx(expected_variance, rel=1e-8)


def test_a_table_answering_alone_gives_the_plain_sum_exactly() -> None:
    taxonomy = small_taxonomy({"abc": ("a", "b", "c")})
    world = World(taxonomy, [frozenset({"abc"})], seed=3)
    plan, keys, estimates = answer(world, ("a",), {"c": ("c0", "c3")})
    assert [(t.dimensions, t.coefficient) for t in plan.terms] == [(("a", "c"), Fraction(1))]
    assert plan.noise().lattice
    _, cells, noisy = world.observed["abc"]
    for key, estimate in zip(keys, estimates, strict=True):
        plain = sum(
            int(v) for cell, v in zip(cells, noisy, strict=True) if CODES["a"][cell[0]] == key[0] and cell[2] in (0, 3)
        )
        assert estimate == plain
    assert plan.noise().interval().method == "exact"


def test_the_total_equals_the_sum_of_its_parts() -> None:
    world = World(small_taxonomy(), [frozenset(LATTICE), frozenset({"abc", "total"})], seed=11)
    _, _, (total,) = answer(world, (), {})
    _, _, by_b = answer(world, ("b",), {})
    _, _, by_bc = answer(world, ("b", "c"), {})
    _, _, filtered = answer(world, ("b",), {"c": ("c0", "c1")})
    _, _, other = answer(world, ("b",), {"c": ("c2", "c3")})
    assert math.fsum(by_b) == pytest.approx(total, abs=1e-9)
    assert math.fsum(by_bc) == pytest.approx(total, abs=1e-9)
    for whole, first, second in zip(by_b, filtered, other, strict=True):
        assert first + second == pytest.approx(whole, abs=1e-9)


def test_a_multi_valued_dimension_is_answered_by_its_table_alone() -> None:
    taxonomy = small_taxonomy(multi=True)
    terms = dict.fromkeys(taxonomy.tables, (("discrete_gaussian", "3.0", 2),))
    plan = plan_month(Question("person", ("m",)), taxonomy.tables, MonthRelease.of(terms, [frozenset(terms)]))
    assert [(t.table, t.dimensions, t.coefficient) for t in plan.terms] == [("am", ("m",), Fraction(1))]
    assert plan.noise().lattice
    # A question without the multi-valued dimension never uses that table: it is not a marginal of the persons.
    plan = plan_month(Question("person", ("a",)), taxonomy.tables, MonthRelease.of(terms, [frozenset(terms)]))
    assert "am" not in plan.marginals


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (Question("case"), "no table counts unit 'case'"),
        (Question("person", ("d",)), "no person table carries dimension 'd'"),
        (Question("person", (), {"a": ("zz",)}), "'zz' is not a code of dimension 'a'"),
        (Question("person", ("a", "a")), "names a dimension twice"),
        (Question("person", (), {"a": ()}), "needs a list of one or more codes"),
    ],
)
def test_questions_no_table_can_answer_are_refused_naming_what_is_missing(question, message) -> None:
    with pytest.raises(NotAnswerable, match=message):
        resolve(question, small_taxonomy().tables)


def test_a_combination_no_table_carries_is_refused_with_the_tables_that_exist() -> None:
    taxonomy = small_taxonomy({"total": (), "ab": ("a", "b"), "bc": ("b", "c")})
    with pytest.raises(NotAnswerable, match=r"no person table carries a, c together.*ab \(a, b\); bc \(b, c\)"):
        resolve(Question("person", ("a", "c")), taxonomy.tables)


def test_a_filter_on_every_code_is_no_filter() -> None:
    resolved = resolve(Question("person", ("a",), {"c": CODES["c"]}), small_taxonomy().tables)
    assert resolved.dimensions == ("a",)


def test_cell_variance_is_the_plan_variance_for_identical_hotlines() -> None:
    taxonomy = builtin_taxonomy(2)
    per_table = {name: Fraction(noise_variance("discrete_gaussian", "7.0")) for name in taxonomy.tables}
    terms = dict.fromkeys(taxonomy.tables, (("discrete_gaussian", "7.0", 5),))
    release = MonthRelease.of(terms, [frozenset(terms)])
    for unit, dims in [
        ("person", ()),
        ("person", ("citizenship", "country_of_exploitation")),
        ("case", ("cross_border",)),
    ]:
        plan = plan_month(Question(unit, dims), taxonomy.tables, release)
        closed = cell_variance(taxonomy.tables, {n: 5 * v for n, v in per_table.items()}, unit, dims)
        assert plan.noise().variance == pytest.approx(closed, rel=1e-12)


def table_scales(taxonomy: Taxonomy, rho: Fraction = Fraction(1, 10)) -> dict[str, str]:
    """σ of every table under the recorded Gaussian weights (the node's calibration, to its float precision)."""
    weights = taxonomy.budget_weights["discrete_gaussian"]
    total = sum(weights.values())
    return {
        name: repr(math.sqrt(table.l2_sensitivity_squared / (2 * float(rho) * weights[name] / total)))
        for name, table in taxonomy.tables.items()
    }


def test_taxonomy_v2_meets_the_issue_targets_at_five_hotlines() -> None:
    """Monthly total and citizenship margin ±45, monthly corridor ±20, six-month corridor ±50 (N = 5)."""
    taxonomy = builtin_taxonomy(2)
    scales = table_scales(taxonomy)
    release = MonthRelease.of({n: (("discrete_gaussian", s, 5),) for n, s in scales.items()}, [frozenset(scales)])
    corridor = ("citizenship", "country_of_exploitation")

    def halfwidth(dims: tuple[str, ...], months: int) -> float:
        plan = plan_month(Question("person", dims), taxonomy.tables, release)
        parts = [part for _ in range(months) for part in plan.noise_parts]
        from protocol.bounds import LinearNoise

        return LinearNoise(parts).interval().halfwidth

    assert halfwidth((), 1) <= 45
    assert halfwidth(("citizenship",), 1) <= 45
    assert halfwidth(corridor, 1) <= 20
    assert halfwidth(corridor, 6) <= 50


def test_version_one_and_two_tables_of_one_name_have_the_same_cells() -> None:
    from protocol.taxonomy import same_cells

    v1, v2 = builtin_taxonomy(1), builtin_taxonomy(2)
    shared = set(v1.tables) & set(v2.tables)
    assert shared == {"persons_corridor", "persons_recruitment", "persons_control", "cases_opened", "contacts"}
    assert all(same_cells(v1.table(name), v2.table(name)) for name in shared)
    assert not same_cells(v1.table("persons_corridor"), v2.table("persons_corridor_2way"))


def test_two_taxonomies_in_one_month_each_contribute_what_it_released() -> None:
    """v1 hotlines answer a corridor through their three-way table only; v2 hotlines through the two-way too."""
    v1, v2 = builtin_taxonomy(1), builtin_taxonomy(2)
    tables: dict[str, Table] = {**v1.tables, **v2.tables}
    terms: dict[str, tuple[tuple[str, str, int], ...]] = {}
    for name in tables:
        count = (2 if name in v1.tables else 0) + (3 if name in v2.tables else 0)
        terms[name] = (("discrete_gaussian", "5.0", count),)
    release = MonthRelease.of(terms, [frozenset(v1.tables), frozenset(v2.tables)])
    plan = plan_month(Question("person", ("citizenship", "country_of_exploitation")), tables, release)
    assert {"persons_corridor", "persons_corridor_2way"} <= set(plan.marginals)
    with pytest.raises(
        NotAnswerable, match="released none of the person tables that carry age_group, exploitation_group together"
    ):
        plan_month(Question("person", ("gender", "age_group", "exploitation_group")), tables, release)


class SplitWorld(World):
    """The same hotlines, but every table observed per class (``table@g0``, ``table@g1``), as hub and auditor
    observe tables per taxonomy."""

    def __init__(self, taxonomy: Taxonomy, classes: Sequence[frozenset[str]], seed: int) -> None:
        super().__init__(taxonomy, classes, seed)
        rng = random.Random(seed + 1)
        truths = [np.array([rng.randint(0, 9) for _ in FULL]) for _ in classes]
        self.split: dict[str, tuple[str, np.ndarray, list[tuple[int, ...]], np.ndarray, float]] = {}
        for g, (c, truth, hotlines) in enumerate(zip(classes, truths, self.hotlines, strict=True)):
            for name in sorted(c):
                matrix, cells = marginal_matrix(taxonomy.tables[name].dimension_names)
                noisy = matrix @ truth + np.array([rng.randint(-6, 6) for _ in cells])
                variance = noise_variance("discrete_gaussian", self.scale[name]) * hotlines
                self.split[observation(name, f"g{g}")] = (name, matrix, cells, noisy, variance)

    @property
    def release(self) -> MonthRelease:
        terms = {
            key: (("discrete_gaussian", self.scale[name], self.hotlines[int(key.rpartition("g")[2])]),)
            for key, (name, *_rest) in self.split.items()
        }
        classes = [frozenset(observation(n, f"g{g}") for n in c) for g, c in enumerate(self.classes)]
        return MonthRelease.of(terms, classes)

    def sums(self, marginals: Mapping[str, tuple[str, ...]]) -> dict[str, dict[tuple[str, ...], int]]:
        result: dict[str, dict[tuple[str, ...], int]] = {}
        for key, dims in marginals.items():
            name, _, cells, noisy, _ = self.split[key]
            table_dims = self.taxonomy.tables[name].dimension_names
            folded: dict[tuple[str, ...], int] = {}
            for cell, value in zip(cells, noisy, strict=True):
                code = tuple(CODES[d][cell[table_dims.index(d)]] for d in dims)
                folded[code] = folded.get(code, 0) + int(value)
            result[key] = folded
        return result

    def reference(self, group_by, filters, keys):
        blocks, variances, values = [], [], []
        for key, (_name, matrix, cells, noisy, variance) in self.split.items():
            g = int(key.rpartition("g")[2])
            blocks.append(np.hstack([matrix if h == g else np.zeros_like(matrix) for h in range(len(self.classes))]))
            variances += [variance] * len(cells)
            values.append(noisy)
        return blue(
            np.vstack(blocks), np.array(variances), np.concatenate(values), len(self.classes), group_by, filters, keys
        )


@pytest.mark.parametrize(("group_by", "filters"), QUESTIONS[:7])
def test_tables_observed_per_class_equal_the_brute_force_and_beat_pooling(group_by, filters) -> None:
    classes = CLASSES["v1 and v2"]
    split, pooled = SplitWorld(small_taxonomy(), classes, seed=5), World(small_taxonomy(), classes, seed=5)
    question = Question("person", tuple(group_by), {k: tuple(v) for k, v in filters.items()})
    keys = resolve(question, split.taxonomy.tables).row_keys(split.taxonomy.tables)
    plan = plan_month(question, split.taxonomy.tables, split.release)
    estimates = [math.fsum(p) for p in plan.estimates(split.sums(plan.marginals), keys)]
    for estimate, (expected, expected_variance) in zip(
        estimates, split.reference(group_by, filters, keys), strict=True
    ):
        assert estimate == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert plan.noise().variance == pytest.approx(expected_variance, rel=1e-9)
    pooled_plan = plan_month(question, pooled.taxonomy.tables, pooled.release)
    assert plan.noise().variance <= pooled_plan.noise().variance * (1 + 1e-12)


def test_a_new_taxonomys_own_tables_count_in_a_mixed_month() -> None:
    """Pooled, the shared 3-way corridor is the only source for v1 hotlines and the 2-way gets weight 0; observed
    per taxonomy, the v2 hotlines' 2-way corridor carries their part."""
    v1, v2 = builtin_taxonomy(1), builtin_taxonomy(2)
    tables: dict[str, Table] = {**v1.tables, **v2.tables}
    terms = {observation(n, v1.id): (("discrete_gaussian", "5.0", 1),) for n in v1.tables}
    terms |= {observation(n, v2.id): (("discrete_gaussian", "5.0", 5),) for n in v2.tables}
    classes = [frozenset(observation(n, v1.id) for n in v1.tables), frozenset(observation(n, v2.id) for n in v2.tables)]
    split = plan_month(
        Question("person", ("citizenship", "country_of_exploitation")), tables, MonthRelease.of(terms, classes)
    )
    weights = {
        t.table: t.coefficient for t in split.terms if t.dimensions == ("citizenship", "country_of_exploitation")
    }
    assert weights[observation("persons_corridor", v1.id)] == 1
    assert 0 < weights[observation("persons_corridor_2way", v2.id)] < 1
    pooled_terms = {n: (("discrete_gaussian", "5.0", (n in v1.tables) + 5 * (n in v2.tables)),) for n in tables}
    pooled = plan_month(
        Question("person", ("citizenship", "country_of_exploitation")),
        tables,
        MonthRelease.of(pooled_terms, [frozenset(v1.tables), frozenset(v2.tables)]),
    )
    assert split.noise().variance < 0.5 * pooled.noise().variance


GAUSS_TERMS = (("discrete_gaussian", "3.0", 2),)


def test_a_release_gives_the_terms_of_the_tables_it_holds() -> None:
    release = MonthRelease.of({"ab": GAUSS_TERMS}, [frozenset({"ab"})])
    assert release.terms("ab") == GAUSS_TERMS
    assert release.terms("bc") is None


def test_a_month_without_a_table_of_the_unit_is_refused() -> None:
    release = MonthRelease.of({"elsewhere": GAUSS_TERMS}, [frozenset({"elsewhere"})])
    with pytest.raises(NotAnswerable, match="no person table was released"):
        plan_month(Question("person", ("a",)), small_taxonomy().tables, release)


def test_a_table_with_infinite_noise_leaves_a_cell_it_alone_carries_with_infinite_variance() -> None:
    tables = small_taxonomy().tables
    assert cell_variance(tables, {"abc": math.inf}, "person", ("a",)) == math.inf
    assert cell_variance(tables, {"abc": math.inf, "a": 2.0}, "person", ("a",)) == 2.0


def test_hotlines_without_the_smallest_multi_valued_table_are_named() -> None:
    taxonomy = small_taxonomy({**LATTICE, "abm": ("a", "b", "m")}, multi=True)
    terms = dict.fromkeys(taxonomy.tables, GAUSS_TERMS)
    everything = frozenset(terms)
    assert plan_month(Question("person", ("m",)), taxonomy.tables, MonthRelease.of(terms, [everything])).marginals
    release = MonthRelease.of(terms, [everything, everything - {"am"}])
    with pytest.raises(NotAnswerable, match=r"some hotlines did not release am, the one table that carries m \("):
        plan_month(Question("person", ("m",)), taxonomy.tables, release)


def test_grouping_by_a_dimension_of_one_code_changes_nothing() -> None:
    document = small_taxonomy().document
    one_code = document["dimensions"]["a"]
    one_code["codes"] = one_code["codes"][:1]
    one_code["input"]["fields"][0]["values"] = {"v0": "a0"}
    one_code["input"]["missing"] = "a0"
    tables = load_taxonomy(document).tables
    terms = dict.fromkeys(tables, GAUSS_TERMS)
    release = MonthRelease.of(terms, [frozenset(terms)])
    grouped = plan_month(Question("person", ("a", "b")), tables, release)
    plain = plan_month(Question("person", ("b",)), tables, release)
    assert grouped.noise().variance == pytest.approx(plain.noise().variance, rel=1e-12)
    assert grouped.noise().terms == plain.noise().terms


def test_row_keys_need_a_table_that_carries_each_grouped_dimension() -> None:
    tables = small_taxonomy().tables
    question = resolve(Question("person", ("a", "b")), tables)
    assert question.row_keys(tables) == [(a, b) for a in CODES["a"] for b in CODES["b"]]
    with pytest.raises(NotAnswerable, match="no table carries dimension 'a'"):
        question.row_keys({"bc": tables["bc"]})
