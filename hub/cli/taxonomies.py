# SPDX-License-Identifier: Apache-2.0
"""``tipshare-hub taxonomy``: the taxonomies the hub accepts, and the current one (which new nodes follow)."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli import views
from hub.cli.common import DatabaseURLOption, DataDirOption, JsonOption, emit, hub_session
from hub.services.taxonomies import TaxonomyRegistry

__all__ = ["taxonomy_app"]

taxonomy_app = typer.Typer(
    help="The taxonomies the hub accepts, and the current one (which new nodes follow).", no_args_is_help=True
)


@taxonomy_app.command("list")
def taxonomy_list(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the taxonomies the hub accepts, which one is current, and how many current submissions follow each."""
    with hub_session(ctx, data_dir, database_url) as (_, session):
        registry = TaxonomyRegistry(session)
        document = views.taxonomies_document(registry.registered(), registry.current_id(), registry.usage())
    emit(document, as_json, views.show_taxonomies)


@taxonomy_app.command("current")
def taxonomy_current(
    ctx: typer.Context,
    taxonomy_id: Annotated[
        str, typer.Argument(metavar="ID", help="A registered taxonomy's id (see `tipshare-hub taxonomy list`).")
    ],
    data_dir: DataDirOption = None,
    database_url: DatabaseURLOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a registered taxonomy the current one: the one GET /v1/hub names and newly set-up nodes follow."""
    with hub_session(ctx, data_dir, database_url, write=True) as (_, session):
        switch = TaxonomyRegistry(session).make_current(taxonomy_id.strip())
    document = {"previous": switch.previous, "current": switch.current, "changed": switch.previous != switch.current}
    emit(document, as_json, views.show_taxonomy_switch)
