# SPDX-License-Identifier: Apache-2.0
"""Least-squares answers: a coordinator's question answered from every released table that can answer it.

A question names a unit (person, case, contact), the dimensions to group by and filters. Several released tables
can answer it: "persons of citizenship UA this month" is the UA cell of ``persons_citizenship``, the sum of a row
of ``persons_corridor_2way``, a sum over the three-way corridor, and — through "the parts add up to the whole" —
the total of every person table. Each carries its own noise. This module finds the generalised least-squares
(GLS) combination of all of them: the unbiased linear estimate of smallest variance, and the same for every
question, so that the total equals the sum of its parts.

>>> from protocol.taxonomy import builtin_taxonomy
>>> tables = builtin_taxonomy(2).tables
>>> question = Question(unit="person", group_by=("citizenship",))
>>> noise = {name: (("discrete_gaussian", "10.0", 5),) for name in tables}
>>> plan = plan_month(question, tables, MonthRelease.of(noise, [frozenset(tables)]))
>>> sorted(plan.marginals)[:3]
['persons_citizenship', 'persons_corridor', 'persons_corridor_2way']
>>> round(plan.noise().interval().halfwidth, 1)      # ± for one citizenship, 5 hotlines, σ = 10 each
43.6

How it works (and why it is exact, cheap and the same everywhere)
------------------------------------------------------------------
Write the (unknown, noise-free) counts of the unit as one big contingency table over every dimension. A table
that is not multi-valued releases a *marginal* of it (the sums over its own dimensions) plus independent noise of
the same variance in every cell. The space of the big table splits into orthogonal components ``U_S``, one per set
``S`` of dimensions (the "pure interaction" of ``S``: for each dimension in ``S``, deviations from that dimension's
mean). Every marginal's information matrix is a multiple of the identity on each component, so the GLS problem
splits into one tiny problem per ``S``: combine, with inverse-variance weights, the ``S``-components of the tables
whose dimensions contain ``S``. Table ``t`` knows that component with variance ``V_t · Π_{i ∈ D_t∖S} n_i`` per
coordinate (``V_t`` its per-cell noise variance, ``n_i`` the codes of a dimension it sums over).

A question over the dimensions ``A`` (grouped, or filtered to some of their codes) needs the components
``S ⊆ A``. With ``f_i = |Q_i| / n_i`` the share of dimension ``i``'s codes a row keeps (``1/n_i`` for a grouped
dimension), the estimate of a row is

    Σ_t Σ_{T ⊆ A∩D_t} c_{t,T} · F_t(T),
    c_{t,T} = Σ_{T ⊆ S ⊆ A∩D_t} γ_{t,S} · Π_{i ∈ A∖S} f_i · Π_{i ∈ S∖T} (−f_i),

where ``F_t(T)`` is the sum of table ``t``'s noisy cells whose codes on the dimensions ``T`` are the row's (or in
the filter), and ``γ_{t,S}`` are the per-component weights. The coefficients do not depend on the row, only on the
noise variances, so one plan serves every row of an answer, and a row costs a few dozen multiplications.

**Several kinds of release in one month.** Hotlines of one month may follow different taxonomies (version 1 and
version 2 during a transition). Tables with the same name have the same cells in every taxonomy (the hub checks
this), so a month's pooled table sums every hotline that released it. Hotlines are grouped into *classes* by the
set of tables they released; per component the estimate is the minimum-variance ``Σ_t γ_t o_t`` with
``Σ_t γ_t [class g released t] = 1`` for every class ``g`` (unbiased for the sum over all classes): a
generalised least-squares problem with a handful of unknowns, solved exactly. A class that released no table
carrying a needed component makes the question unanswerable for that month (:class:`NotAnswerable`), never a
silently partial sum.

**Exact arithmetic.** Variances are taken at their exact float values, and weights and coefficients are exact
fractions; estimates are ``math.fsum`` of correctly rounded products. A single table answering alone gets the
coefficients 1 and 0 exactly, so its answer is the plain sum with an exact interval. Hub and auditor, given the
same sums, compute bit-identical numbers.

**Multi-valued tables** (a person counts once under every means of control) are not marginals of the person
table; a question over such a dimension is answered by the one table that carries it, alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from protocol.accuracy import NoiseGroup, noise_variance
from protocol.bounds import LinearNoise
from protocol.errors import N_, ProtocolError
from protocol.taxonomy import Table

__all__ = [
    "Coefficient",
    "MonthRelease",
    "NotAnswerable",
    "Plan",
    "Question",
    "ResolvedQuestion",
    "TableTerms",
    "candidate_tables",
    "cell_variance",
    "observation",
    "observed_table",
    "plan_month",
    "resolve",
]

#: One table's per-cell noise in one month: ``(mechanism, scale, hotlines)`` groups, canonical order.
TableTerms = tuple[tuple[str, str, int], ...]


def observation(table: str, taxonomy: str | None = None) -> str:
    """The name of one *observation* of a table: its cells summed over the hotlines of one taxonomy that released
    it (``persons_corridor@tipshare-taxonomy/1``), or over every hotline that released it (no taxonomy).

    >>> observation("persons_corridor", "tipshare-taxonomy/1")
    'persons_corridor@tipshare-taxonomy/1'
    >>> observed_table("persons_corridor@tipshare-taxonomy/1")
    'persons_corridor'
    """
    return f"{table}@{taxonomy}" if taxonomy else table


def observed_table(name: str) -> str:
    """The table an observation (:func:`observation`) sums."""
    return name.partition("@")[0]


class NotAnswerable(ProtocolError):
    """No combination of the released tables answers the question (the message names what is missing).

    The message is ``template % params``: the hub shows the template translated (it is marked with :func:`N_`,
    extracted into the hub's catalogue) and filled with the same parameters; ``causes`` are the refusals a
    refusal sums up (``(months, refusal)``), each shown the same way. The message itself is always English.
    """

    def __init__(self, template: str, causes: Sequence[tuple[str, NotAnswerable]] = (), **params: str) -> None:
        super().__init__(template % params)
        self.template = template
        self.params: Mapping[str, str] = MappingProxyType(params)
        self.causes = tuple(causes)


@dataclass(frozen=True, slots=True)
class Question:
    """What a coordinator asks: a unit, the dimensions to group by, and filters (dimension → codes kept)."""

    unit: str
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)


@dataclass(frozen=True, slots=True)
class ResolvedQuestion:
    """A question checked against the tables: the dimensions it needs and what a row keeps of each.

    ``dimensions`` (``A``) are the grouped dimensions and those filtered to part of their codes, in name order.
    ``kept[i]`` is ``|Q_i|``: 1 for a grouped dimension, the number of codes for a filter. ``filters`` holds the
    codes of every filtered dimension, in code-list order; ``group_by`` the grouped ones in the asker's order.
    """

    unit: str
    group_by: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]] = field(hash=False)
    dimensions: tuple[str, ...]
    sizes: Mapping[str, int] = field(hash=False)
    kept: Mapping[str, int] = field(hash=False)
    multi_valued: bool

    def row_keys(self, tables: Mapping[str, Table]) -> list[tuple[str, ...]]:
        """Every row's codes in ``group_by`` order (filters restrict a grouped dimension's codes)."""
        lists = [self.filters.get(name) or _codes(tables, name) for name in self.group_by]
        return list(itertools.product(*lists))


@dataclass(frozen=True, slots=True)
class MonthRelease:
    """What the releases of one month in scope look like, for planning: each *observation*'s pooled per-cell noise
    (:func:`observation`: a table summed over the hotlines of one taxonomy, or over all), and the distinct sets of
    observations one hotline's release falls in (its *class*).

    Hub and auditor observe every table per taxonomy. A table that hotlines of several taxonomies release (same
    name, same cells) is then several observations, one per taxonomy: the hotlines still on an old taxonomy are
    known from their own tables, and those on the new one from theirs, each with its own variance. Pooled over both,
    a shared table would be the only source for the old hotlines, and the new taxonomy's own tables would get no
    weight at all.
    """

    tables: tuple[tuple[str, TableTerms], ...]
    classes: frozenset[frozenset[str]]

    @classmethod
    def of(cls, tables: Mapping[str, Iterable[tuple[str, str, int]]], classes: Iterable[Iterable[str]]) -> MonthRelease:
        canonical = tuple(
            sorted(
                (name, tuple(sorted((str(m), str(s), int(n)) for m, s, n in terms))) for name, terms in tables.items()
            )
        )
        return cls(canonical, frozenset(frozenset(c) for c in classes))

    def restricted(self, names: Iterable[str]) -> MonthRelease:
        """Only the observations of the tables in ``names`` (and classes restricted to them, empty ones dropped)."""
        wanted = frozenset(names)
        keep = frozenset(n for n, _ in self.tables if observed_table(n) in wanted)
        classes = frozenset(c & keep for c in self.classes if c & keep)
        return MonthRelease(tuple((n, t) for n, t in self.tables if n in keep), classes)

    def terms(self, name: str) -> TableTerms | None:
        for table, terms in self.tables:
            if table == name:
                return terms
        return None


@dataclass(frozen=True, slots=True)
class Coefficient:
    """``coefficient × (sum of the observation's cells matching the row on dimensions)``: one term of an estimate.
    ``table`` names the observation (:func:`observation`)."""

    table: str
    dimensions: tuple[str, ...]
    coefficient: Fraction


@dataclass(frozen=True, slots=True)
class Plan:
    """How to answer one question from one month's (or several identical months') releases.

    ``marginals[o]`` are the dimensions of observation ``o`` whose sums the estimate needs (``()``: its total);
    ``terms`` the coefficients; ``noise_parts`` the noise of one month's estimate as ``(coefficient, noise group)``
    pairs (applied to the sums of ``k`` months alike, the noise is ``k`` times these terms).
    """

    question: ResolvedQuestion
    marginals: Mapping[str, tuple[str, ...]] = field(hash=False)
    terms: tuple[Coefficient, ...]
    noise_parts: tuple[tuple[Fraction, NoiseGroup], ...]

    def noise(self) -> LinearNoise:
        return LinearNoise(self.noise_parts)

    def estimates(
        self, sums: Mapping[str, Mapping[tuple[str, ...], int]], rows: Sequence[tuple[str, ...]]
    ) -> list[list[float]]:
        """The products ``coefficient × F`` of every row, in term order (``math.fsum`` of several plans' products
        gives a row's estimate). ``sums[t]`` maps codes of ``marginals[t]`` (in the table's dimension order) to the
        summed noisy cells; a missing key counts as zero."""
        return (
            [list(products) for products in zip(*self.columns(sums, rows), strict=True)]
            if self.terms
            else [[] for _ in rows]
        )

    def columns(
        self, sums: Mapping[str, Mapping[tuple[str, ...], int]], rows: Sequence[tuple[str, ...]]
    ) -> list[list[float]]:
        """:meth:`estimates` by term: one list per term, of every row's product (the cheaper shape to build)."""
        q = self.question
        positions = {name: i for i, name in enumerate(q.group_by)}
        columns: list[list[float]] = []
        for term in self.terms:
            marginal_dims = self.marginals[term.table]
            grouped = [d for d in term.dimensions if d in positions]
            filtered = [
                (marginal_dims.index(d), frozenset(q.filters[d])) for d in term.dimensions if d not in positions
            ]
            key_at = [marginal_dims.index(d) for d in grouped]
            given = sums.get(term.table, {})
            folded: Mapping[tuple[str, ...], int]
            if not filtered and key_at == list(range(len(marginal_dims))):
                folded = given  # the term is the marginal itself, keyed alike: nothing to fold
            else:
                folded = {}
                for codes, value in given.items():
                    if all(codes[i] in allowed for i, allowed in filtered):
                        key = tuple(codes[i] for i in key_at)
                        folded[key] = folded.get(key, 0) + value
            coefficient = float(term.coefficient)
            row_at = [positions[d] for d in grouped]
            if not row_at:
                columns.append([coefficient * folded.get((), 0)] * len(rows))
                continue
            # Rows share a term's value whenever they agree on its grouped dimensions: compute each value once.
            values = {key: coefficient * found for key, found in folded.items()}
            if len(row_at) == 1:
                single = {key[0]: value for key, value in values.items()}
                (at,) = row_at
                columns.append([single.get(row[at], 0.0) for row in rows])
            elif row_at == list(range(len(q.group_by))):
                columns.append([values.get(row, 0.0) for row in rows])
            else:
                columns.append([values.get(tuple(row[i] for i in row_at), 0.0) for row in rows])
        return columns


def resolve(question: Question, tables: Mapping[str, Table]) -> ResolvedQuestion:
    """Check a question against the tables (of every taxonomy the hub knows, same name = same cells)."""
    unit_tables = [t for t in tables.values() if t.unit == question.unit]
    if not unit_tables:
        units = sorted({t.unit for t in tables.values()})
        raise NotAnswerable(
            N_("no table counts unit %(unit)r; units are: %(units)s"), unit=question.unit, units=", ".join(units)
        )
    known = {d.name: d for t in unit_tables for d in t.dimensions}
    for name in (*question.group_by, *question.filters):
        if name not in known:
            raise NotAnswerable(
                N_(
                    "no %(unit)s table carries dimension %(dimension)s; the %(unit)s tables and their dimensions "
                    "are: %(tables)s"
                ),
                unit=question.unit,
                dimension=repr(name),
                tables=_describe(unit_tables),
            )
    if len(set(question.group_by)) != len(question.group_by):
        raise NotAnswerable(N_("group_by names a dimension twice: %(group_by)s"), group_by=",".join(question.group_by))
    filters: dict[str, tuple[str, ...]] = {}
    for name, codes in question.filters.items():
        dimension = known[name]
        if not codes or not all(isinstance(code, str) for code in codes):
            raise NotAnswerable(N_("filter %(name)s needs a list of one or more codes"), name=name)
        unknown = [code for code in codes if code not in dimension.code_names]
        if unknown:
            raise NotAnswerable(
                N_("filter %(name)s: %(unknown)s is not a code of dimension %(dimension)s; its codes are: %(codes)s"),
                name=name,
                unknown=", ".join(repr(c) for c in unknown),
                dimension=repr(name),
                codes=", ".join(dimension.code_names),
            )
        chosen = set(codes)
        filters[name] = tuple(code for code in dimension.code_names if code in chosen)
    needed = set(question.group_by) | {n for n, codes in filters.items() if len(codes) < len(known[n])}
    dimensions = tuple(sorted(needed))
    kept = {name: 1 if name in question.group_by else len(filters[name]) for name in dimensions}
    multi = any(known[name].multi_valued for name in dimensions)
    resolved = ResolvedQuestion(
        unit=question.unit,
        group_by=tuple(question.group_by),
        filters=MappingProxyType(filters),
        dimensions=dimensions,
        sizes=MappingProxyType({name: len(known[name]) for name in dimensions}),
        kept=MappingProxyType(kept),
        multi_valued=multi,
    )
    candidates = candidate_tables(resolved, unit_tables)
    if not any(set(dimensions) <= set(t.dimension_names) for t in candidates):
        raise NotAnswerable(
            N_(
                "no %(unit)s table carries %(dimensions)s together, so no combination of tables answers this "
                "question; the %(unit)s tables are: %(tables)s"
            ),
            unit=question.unit,
            dimensions=", ".join(dimensions),
            tables=_describe(unit_tables),
        )
    return resolved


def plan_month(question: Question | ResolvedQuestion, tables: Mapping[str, Table], release: MonthRelease) -> Plan:
    """The least-squares plan for one month's releases (raises :class:`NotAnswerable` naming what is missing)."""
    q = question if isinstance(question, ResolvedQuestion) else resolve(question, tables)
    released = {observed_table(n) for n, _ in release.tables} & set(tables)
    names = [t.name for t in candidate_tables(q, [tables[n] for n in sorted(released)])]
    present = release.restricted(names)
    if not present.tables:
        raise NotAnswerable(N_("no %(unit)s table was released"), unit=q.unit)
    if q.multi_valued:
        return _single_table_plan(q, tables, present)
    return _lattice_plan(q, tables, present)


def cell_variance(
    tables: Mapping[str, Table], variances: Mapping[str, Fraction | float], unit: str, dimensions: Sequence[str]
) -> float:
    """The variance of the least-squares estimate of one cell of ``dimensions`` when every hotline releases the
    tables in ``variances`` (per-cell noise variance of each, already summed over hotlines and months).

    The closed form behind the budget allocation (:mod:`protocol.allocation`): ``Σ_{S ⊆ A} (Π_{i∈A∖S} 1/n_i)² ·
    Π_{i∈S} (1 − 1/n_i) / g_S`` with ``g_S = Σ_{t ⊇ S} 1/(V_t Π_{i∈D_t∖S} n_i)``, or ``V_t`` times the cells summed
    when a multi-valued table answers alone.
    """
    q = resolve(Question(unit=unit, group_by=tuple(dimensions)), {n: tables[n] for n in variances})
    chosen = [tables[n] for n in variances]
    if q.multi_valued:
        table = _answering_table(q, candidate_tables(q, chosen))
        return float(variances[table.name]) * math.prod(len(d) for d in table.dimensions if d.name not in dimensions)
    lattice = candidate_tables(q, chosen)
    total = 0.0
    for subset in _subsets(q.dimensions):
        g = math.fsum(
            1.0 / (float(variances[t.name]) * math.prod(len(d) for d in t.dimensions if d.name not in subset))
            for t in lattice
            if set(subset) <= set(t.dimension_names)
        )
        if g == 0.0:
            return math.inf
        outside = math.prod(1.0 / q.sizes[i] for i in q.dimensions if i not in subset)
        inside = math.prod(1.0 - 1.0 / q.sizes[i] for i in subset)
        total += outside * outside * inside / g
    return total


# ----------------------------------------------------------------------------------------------- planning


def candidate_tables(q: ResolvedQuestion, tables: Iterable[Table]) -> list[Table]:
    """The tables that can take part in answering ``q``, by name: multi-valued tables carrying every needed
    dimension (a question over a multi-valued dimension), or else every table of the unit without one."""
    unit = [t for t in tables if t.unit == q.unit]
    if q.multi_valued:
        return sorted(
            (t for t in unit if t.multi_valued and set(q.dimensions) <= set(t.dimension_names)), key=lambda t: t.name
        )
    return sorted((t for t in unit if not t.multi_valued), key=lambda t: t.name)


def _answering_table(q: ResolvedQuestion, candidates: Sequence[Table]) -> Table:
    if not candidates:  # pragma: no cover - resolve() found a table carrying them, plan_month() a released one
        raise NotAnswerable(
            N_("no released %(unit)s table carries %(dimensions)s together"),
            unit=q.unit,
            dimensions=", ".join(q.dimensions),
        )
    return min(candidates, key=lambda t: (t.cell_count, t.name))


def _single_table_plan(q: ResolvedQuestion, tables: Mapping[str, Table], release: MonthRelease) -> Plan:
    table = _answering_table(q, [tables[name] for name in sorted({observed_table(n) for n, _ in release.tables})])
    observations = [n for n, _ in release.tables if observed_table(n) == table.name]
    if missing := ["; ".join(sorted(c)) for c in release.classes if not set(observations) & c]:
        raise NotAnswerable(
            N_(
                "some hotlines did not release %(table)s, the one table that carries %(dimensions)s (their tables: "
                "%(missing)s), so the question cannot include them"
            ),
            table=table.name,
            dimensions=", ".join(q.dimensions),
            missing=" | ".join(missing),
        )
    dims = tuple(d for d in table.dimension_names if d in q.dimensions)
    size = math.prod(q.kept[d] for d in dims) * math.prod(len(d) for d in table.dimensions if d.name not in dims)
    return Plan(
        question=q,
        marginals=MappingProxyType(dict.fromkeys(observations, dims)),
        terms=tuple(Coefficient(name, dims, Fraction(1)) for name in observations),
        noise_parts=tuple(
            (Fraction(1), (m, s, n * size)) for name in observations for m, s, n in release.terms(name) or ()
        ),
    )


def _lattice_plan(q: ResolvedQuestion, tables: Mapping[str, Table], release: MonthRelease) -> Plan:
    lattice = [(name, tables[observed_table(name)]) for name, _ in release.tables]
    variance = {name: _pooled_variance(terms) for name, terms in release.tables}
    classes = sorted(release.classes, key=sorted)
    f = {i: Fraction(q.kept[i], q.sizes[i]) for i in q.dimensions}
    gamma: dict[tuple[str, tuple[str, ...]], Fraction] = {}
    for subset in _subsets(q.dimensions):
        covering = [(name, t) for name, t in lattice if set(subset) <= set(t.dimension_names)]
        if not covering:
            raise NotAnswerable(
                N_("no released %(unit)s table carries %(dimensions)s together; released: %(tables)s"),
                unit=q.unit,
                dimensions=", ".join(subset),
                tables=_describe(t for _, t in lattice),
            )
        weights = [
            (name, variance[name] * math.prod(len(d) for d in t.dimensions if d.name not in subset))
            for name, t in covering
        ]
        solved = _blue(weights, classes)
        if solved is None:
            missing = ["; ".join(sorted(c)) for c in classes if not any(name in c for name, _ in covering)]
            template = (
                N_(
                    "some hotlines released none of the %(unit)s tables that carry %(dimensions)s together (their "
                    "tables: %(missing)s), so the question cannot include them"
                )
                if subset
                else N_(
                    "some hotlines released none of the %(unit)s tables that carry the total together (their "
                    "tables: %(missing)s), so the question cannot include them"
                )
            )
            raise NotAnswerable(template, unit=q.unit, dimensions=", ".join(subset), missing=" | ".join(missing))
        for name, value in solved.items():
            gamma[(name, subset)] = value

    terms: list[Coefficient] = []
    marginals: dict[str, tuple[str, ...]] = {}
    noise_parts: list[tuple[Fraction, NoiseGroup]] = []
    for name, table in lattice:
        own = tuple(d for d in q.dimensions if d in table.dimension_names)  # name order
        coefficients: dict[tuple[str, ...], Fraction] = {}
        for t_subset in _subsets(own):
            total = Fraction(0)
            for s_subset in _subsets(own):
                if not set(t_subset) <= set(s_subset):
                    continue
                weight = gamma.get((name, s_subset))
                if weight is None or weight == 0:
                    continue
                outside = math.prod((f[i] for i in q.dimensions if i not in s_subset), start=Fraction(1))
                between = math.prod((-f[i] for i in s_subset if i not in t_subset), start=Fraction(1))
                total += weight * outside * between
            coefficients[t_subset] = total
        used = {subset: c for subset, c in coefficients.items() if c != 0}
        if not used:
            continue
        order = table.dimension_names
        marginals[name] = tuple(d for d in order if d in own)
        for subset, c in sorted(used.items(), key=lambda item: (len(item[0]), item[0])):
            terms.append(Coefficient(name, tuple(d for d in order if d in subset), c))
        # The noise: cells of the table grouped by the set M of needed dimensions on which they match a row.
        others = math.prod(len(d) for d in table.dimensions if d.name not in own)
        for match in _subsets(own):
            lam = sum((c for subset, c in coefficients.items() if set(subset) <= set(match)), start=Fraction(0))
            if lam == 0:
                continue
            cells = others
            for i in own:
                cells *= q.kept[i] if i in match else q.sizes[i] - q.kept[i]
            if cells == 0:
                continue
            for mechanism, scale, hotlines in release.terms(name) or ():
                noise_parts.append((lam, (mechanism, scale, hotlines * cells)))
    return Plan(
        question=q,
        marginals=MappingProxyType(marginals),
        terms=tuple(terms),
        noise_parts=tuple(noise_parts),
    )


def _pooled_variance(terms: TableTerms) -> Fraction:
    """Exact per-cell variance of a pooled table (each term's variance taken at its exact float value)."""
    return sum((Fraction(noise_variance(m, s)) * n for m, s, n in terms), start=Fraction(0))


def _blue(weights: Sequence[tuple[str, Fraction]], classes: Sequence[frozenset[str]]) -> dict[str, Fraction] | None:
    """Minimum-variance ``γ`` with ``Σ_t γ_t [t ∈ class g] = 1`` for every class: ``γ = W⁻¹Bμ``,
    ``(BᵀW⁻¹B) μ = 1``. ``None`` if no such ``γ`` exists (a class released none of the tables)."""
    inverse = [(name, 1 / w) for name, w in weights]
    if len(classes) <= 1:
        total = sum((v for _, v in inverse), start=Fraction(0))
        return {name: v / total for name, v in inverse}
    member = [[name in c for c in classes] for name, _ in weights]
    size = len(classes)
    matrix = [
        [
            sum((v for (_, v), row in zip(inverse, member, strict=True) if row[g] and row[h]), start=Fraction(0))
            for h in range(size)
        ]
        + [Fraction(1)]
        for g in range(size)
    ]
    mu = _solve(matrix)
    if mu is None:
        return None
    gamma = {
        name: v * sum((mu[g] for g in range(size) if row[g]), start=Fraction(0))
        for (name, v), row in zip(inverse, member, strict=True)
    }
    if any(
        sum((gamma[name] for (name, _), row in zip(inverse, member, strict=True) if row[g]), start=Fraction(0)) != 1
        for g in range(size)
    ):  # pragma: no cover - exact: any solution μ of (BᵀW⁻¹B)μ = 1 gives Bᵀγ = 1; a guard should _solve change
        return None
    return gamma


def _solve(augmented: list[list[Fraction]]) -> list[Fraction] | None:
    """Gaussian elimination on an exact augmented matrix; free variables are 0; ``None`` if inconsistent."""
    rows = [list(r) for r in augmented]
    n = len(rows)
    pivots: list[int] = []
    r = 0
    for col in range(n):
        pivot = next((i for i in range(r, n) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        for i in range(n):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col] / rows[r][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(col)
        r += 1
    if any(all(v == 0 for v in row[:-1]) and row[-1] != 0 for row in rows):
        return None
    solution = [Fraction(0)] * n
    for i, col in enumerate(pivots):
        solution[col] = rows[i][-1] / rows[i][col]
    return solution


def _subsets(items: Sequence[str]) -> list[tuple[str, ...]]:
    return [combo for size in range(len(items) + 1) for combo in itertools.combinations(items, size)]


def _codes(tables: Mapping[str, Table], dimension: str) -> tuple[str, ...]:
    for table in tables.values():
        for d in table.dimensions:
            if d.name == dimension:
                return d.code_names
    raise NotAnswerable(N_("no table carries dimension %(dimension)s"), dimension=repr(dimension))


def _describe(tables: Iterable[Table]) -> str:
    return "; ".join(
        f"{t.name} ({', '.join(t.dimension_names) or 'one cell'})" for t in sorted(tables, key=lambda t: t.name)
    )
