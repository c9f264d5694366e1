# SPDX-License-Identifier: Apache-2.0
"""The taxonomies a hub accepts, and which one is current.

>>> registry = TaxonomyRegistry(session)                                   # doctest: +SKIP
>>> registry.register_builtins(now=now)                                    # doctest: +SKIP
['tipshare-taxonomy/2']
>>> registry.make_current("tipshare-taxonomy/2")                           # doctest: +SKIP
TaxonomySwitch(previous='tipshare-taxonomy/1', current='tipshare-taxonomy/2')

A hub **accepts** every taxonomy it has registered (ingest checks a payload against the one it names) and
**publishes** one as *current*: the one ``GET /v1/hub`` names and new nodes follow. Nodes that set up earlier keep
the taxonomy they pinned, so during a transition months hold releases of several taxonomies side by side.

Why registration refuses some taxonomies
----------------------------------------
The rollups, the per-table statistics and the least-squares answers (:mod:`hub.services.estimates`) key tables
and dimensions by *name* across every registered taxonomy: a month's ``persons_corridor`` is the sum of every
hotline's ``persons_corridor``, whichever taxonomy it followed. That is only right if a name means the same cells
everywhere, so :meth:`TaxonomyRegistry.register` refuses a taxonomy whose table reuses a registered table name
with other cells (:func:`protocol.taxonomy.same_cells`), or whose dimension reuses a registered dimension name
with another code list (a question filtered on ``citizenship=UA`` must mean one thing in every release it
combines). A new taxonomy that changes a table gives it a new name.

When built-in taxonomies are registered
---------------------------------------
A new hub (:func:`hub.setup.initialise_hub`) registers every taxonomy this build ships and makes the newest
current. A hub created by an older build gets the taxonomies it lacks registered when it is opened
(:meth:`hub.context.HubContext.open`, so whichever way it is started, ``tipshare-hub serve``, the uvicorn
factory or any command), but **keeps its current taxonomy**: switching is the operator's decision
(``tipshare-hub taxonomy current <id>``), because it changes what newly set-up nodes release. Opening is the
one step every entry point shares; ``db upgrade`` is not (a build that adds no migration needs none), and a
data migration would tie the schema history to the protocol package's data files. Registering is idempotent and
runs under the writer lock, so several workers starting at once add each taxonomy once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from hub.errors import NotFound, TaxonomyConflict
from hub.models import HubMeta, Submission, TaxonomyDocument
from protocol.taxonomy import Table, Taxonomy, builtin_taxonomies, parse_taxonomy, same_cells

__all__ = ["META_TAXONOMY", "TaxonomyRegistry", "TaxonomySwitch", "union_tables"]

#: The ``hub_meta`` key naming the current taxonomy.
META_TAXONOMY = "current_taxonomy"


@dataclass(frozen=True, slots=True)
class TaxonomySwitch:
    """What :meth:`TaxonomyRegistry.make_current` changed (``previous == current``: nothing)."""

    previous: str | None
    current: str


class TaxonomyRegistry:
    """The ``taxonomies`` table and the current-taxonomy entry of ``hub_meta``, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def registered(self) -> list[Taxonomy]:
        """Every registered taxonomy, oldest first (by registration time, then id)."""
        documents = self._session.scalars(
            select(TaxonomyDocument).order_by(TaxonomyDocument.added_at, TaxonomyDocument.id)
        )
        return [parse_taxonomy(document.document) for document in documents]

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per taxonomy id: the current submissions that follow it, and the hotlines that sent them."""
        found = self._session.execute(
            select(Submission.taxonomy_id, func.count(), func.count(distinct(Submission.hotline_id)))
            .where(Submission.is_current.is_(True))
            .group_by(Submission.taxonomy_id)
        ).all()
        return {taxonomy_id: (int(submissions), int(hotlines)) for taxonomy_id, submissions, hotlines in found}

    def current_id(self) -> str | None:
        return self._session.scalar(select(HubMeta.value).where(HubMeta.key == META_TAXONOMY))

    def register(self, taxonomy: Taxonomy, *, now: datetime) -> bool:
        """Register ``taxonomy``; ``False`` if it already is. Raises :class:`~hub.errors.TaxonomyConflict` when
        it reuses a registered table or dimension name for other cells or codes, or a registered id for another
        document."""
        registered = self.registered()
        for other in registered:
            if other.id == taxonomy.id:
                if other.content_hash != taxonomy.content_hash:
                    raise TaxonomyConflict(
                        f"taxonomy {taxonomy.id} is already registered with content hash {other.content_hash}, not "
                        f"{taxonomy.content_hash}: a taxonomy id names one document forever; give the new one a new id"
                    )
                return False
        _check_compatible(taxonomy, registered)
        self._session.add(
            TaxonomyDocument(
                id=taxonomy.id, content_hash=taxonomy.content_hash, document=taxonomy.canonical_bytes(), added_at=now
            )
        )
        self._session.flush()
        return True

    def register_builtins(self, *, now: datetime) -> list[str]:
        """Register every taxonomy this build ships that is missing (oldest first); the ids added."""
        return [taxonomy.id for taxonomy in builtin_taxonomies() if self.register(taxonomy, now=now)]

    def make_current(self, taxonomy_id: str) -> TaxonomySwitch:
        """Make a registered taxonomy the one the hub publishes; :class:`~hub.errors.NotFound` for an unknown id."""
        known = self._session.get(TaxonomyDocument, taxonomy_id)
        if known is None:
            ids = self._session.scalars(select(TaxonomyDocument.id).order_by(TaxonomyDocument.id)).all()
            raise NotFound(
                f"this hub has no taxonomy {taxonomy_id!r}; its taxonomies are: {', '.join(ids) or '(none)'}"
            )
        previous = self.current_id()
        if previous != taxonomy_id:
            self._session.merge(HubMeta(key=META_TAXONOMY, value=taxonomy_id))
            self._session.flush()
        return TaxonomySwitch(previous=previous, current=taxonomy_id)


def union_tables(taxonomies: Iterable[Taxonomy]) -> dict[str, Table]:
    """Every table of ``taxonomies`` by name (the first taxonomy given that has a name describes it).

    Registration guarantees that a name means the same cells in every taxonomy, so any of them would do.
    """
    found: dict[str, Table] = {}
    for taxonomy in taxonomies:
        for name, table in taxonomy.tables.items():
            found.setdefault(name, table)
    return found


def _check_compatible(taxonomy: Taxonomy, registered: Iterable[Taxonomy]) -> None:
    problems: list[str] = []
    for other in registered:
        for name, table in taxonomy.tables.items():
            known = other.tables.get(name)
            if known is not None and not same_cells(table, known):
                problems.append(
                    f"table {name!r} ({', '.join(table.dimension_names) or 'one cell'}; unit {table.unit}) is not "
                    f"the {name!r} of {other.id} ({', '.join(known.dimension_names) or 'one cell'}; unit "
                    f"{known.unit}; or other codes or contribution bounds)"
                )
        for name, dimension in taxonomy.dimensions.items():
            known_dimension = other.dimensions.get(name)
            if known_dimension is not None and known_dimension.code_names != dimension.code_names:
                problems.append(f"dimension {name!r} has other codes than the {name!r} of {other.id}")
    if problems:
        raise TaxonomyConflict(
            f"taxonomy {taxonomy.id} cannot be registered: "
            + "; ".join(dict.fromkeys(problems))
            + ". Tables and dimensions of one name are summed together across taxonomies, so they must mean the "
            "same cells: give a changed table or dimension a new name"
        )
