# SPDX-License-Identifier: Apache-2.0
"""The node home: one directory holding everything a hotline's node keeps.

=====================  ======  ==================================================================================
path                   mode    what
=====================  ======  ==================================================================================
``config.toml``        0600    hotline id, hub URL, the hub's pinned keys and taxonomy, the privacy budget
``signing-key``        0600    the hotline's Ed25519 signing key (:mod:`node.keystore`); never leaves this machine
``node.sqlite3``       0600    ledger, outbox and receipts (:mod:`node.store`), plus SQLite's ``-wal``/``-shm``
``taxonomy.json``      0600    only if the pinned taxonomy is not one built into this version (v1, v2)
``taxonomies/``        0700    taxonomies this node followed before (not built in), ``<sha256 hex>.json``, so that
                               releases made under them stay readable
``receipts/``          0700    a copy of every verified receipt, ``<period>-r<revision>.json``, to keep or forward
``witnesses.json``     0600    only if the hotline requires witness cosignatures (``tipshare-node witnesses``):
                               the witnesses' vkeys and how many must cosign (:mod:`node.watch`)
=====================  ======  ==================================================================================

The directory itself is 0700. True counts and case records are never written here. Back the directory up
(the ledger is the record of the privacy budget spent; the key is the hotline's identity at the hub).

``config.toml`` is written once by ``init`` (atomically, :func:`node.keystore.write_private_file`). The
``[hub]`` section is what the node pinned on first contact (trust on first use): the log key that every receipt
must verify against, and the key releases are sealed to, and the taxonomy releases follow. The taxonomy changes
only through ``tipshare-node taxonomy --update`` (:meth:`NodeHome.adopt_taxonomy`), which pins the hub's current
one and gives the budget its weights; the keys never change. The ``[budget]`` section may be edited (see
:mod:`node.budget`); the rest should not be.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from node.budget import BudgetConfig
from node.client import HubIdentity, pinned_identity
from node.errors import ConfigError, HubExchangeError, KeyFileError, NotInitialised
from node.i18n import N_, Text
from node.keystore import load_signing_key, write_private_file
from node.secure_group import SecureGroupConfig
from node.store import open_database
from protocol.api import PublishedTaxonomy
from protocol.crypto import SigningKey, fingerprint
from protocol.errors import ProtocolError
from protocol.messages import IDENTIFIER_PATTERN
from protocol.note import NoteVerifier
from protocol.taxonomy import Taxonomy, builtin_taxonomies, parse_taxonomy

__all__ = [
    "CONFIG_VERSION",
    "HomeLayout",
    "NodeConfig",
    "NodeHome",
    "PinnedHub",
    "builtin_by_hash",
    "load_home_taxonomy",
    "read_config",
    "render_config",
]

CONFIG_VERSION: Final = 1
_HOTLINE_ID = re.compile(IDENTIFIER_PATTERN)


@dataclass(frozen=True, slots=True)
class HomeLayout:
    """Where each file of a node home lives."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def key(self) -> Path:
        return self.root / "signing-key"

    @property
    def database(self) -> Path:
        return self.root / "node.sqlite3"

    @property
    def taxonomy(self) -> Path:
        return self.root / "taxonomy.json"

    @property
    def taxonomies(self) -> Path:
        return self.root / "taxonomies"

    def retired_taxonomy(self, content_hash: str) -> Path:
        """Where a taxonomy this node followed before is kept (only one that is not built in)."""
        return self.taxonomies / f"{content_hash.removeprefix('sha256:')}.json"

    @property
    def receipts(self) -> Path:
        return self.root / "receipts"

    def receipt_file(self, period: str, revision: int) -> Path:
        return self.receipts / f"{period}-r{revision}.json"


@dataclass(frozen=True, slots=True)
class PinnedHub:
    """The hub as first seen by ``init``: its URL and identity (keys and taxonomy)."""

    url: str
    identity: HubIdentity
    pinned_at: str
    #: Log keys pinned before this one (oldest first), left by followed handovers: receipts they signed still verify.
    previous_log_vkeys: tuple[str, ...] = ()

    @property
    def log_verifiers(self) -> tuple[NoteVerifier, ...]:
        """The pinned log key, then every earlier one (newest first)."""
        earlier = tuple(NoteVerifier.from_vkey(vkey) for vkey in reversed(self.previous_log_vkeys))
        return (self.identity.log_verifier, *earlier)

    @property
    def log_key_fingerprint(self) -> str:
        return fingerprint(bytes(self.identity.log_verifier.key))

    @property
    def encryption_key_fingerprint(self) -> str:
        return fingerprint(bytes(self.identity.sealing_key))


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The content of ``config.toml``."""

    hotline_id: str
    public_key: str
    key_id: str
    created_at: str
    hub: PinnedHub
    budget: BudgetConfig
    #: The ``[secure_group]`` section: the group this node takes part in (None: local releases only).
    secure_group: SecureGroupConfig | None = None

    def __post_init__(self) -> None:
        if not _HOTLINE_ID.fullmatch(self.hotline_id):
            raise ConfigError(
                Text(N_("hotline id %(id)s is not valid"), id=repr(self.hotline_id)),
                hint=Text(N_("Use the id your hub operator gave you: 3 to 64 lowercase letters, digits and hyphens.")),
            )


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def render_config(config: NodeConfig) -> str:
    """``config.toml`` text, with comments for the person who opens it."""
    hub, identity, budget = config.hub, config.hub.identity, config.budget.to_mapping()
    lines = [
        "# tipshare node configuration, written by `tipshare-node init`.",
        f"config_version = {CONFIG_VERSION}",
        "",
        "[node]",
        f"hotline_id = {_toml_string(config.hotline_id)}",
        f"public_key = {_toml_string(config.public_key)}",
        f"key_id = {_toml_string(config.key_id)}",
        f"created_at = {_toml_string(config.created_at)}",
        "",
        "# The hub as first seen (trust on first use). Compare the fingerprints with your hub operator by phone.",
        "# Do not edit: receipts must verify against log_vkey, and releases are sealed to encryption_key.",
        "# taxonomy_id and taxonomy_hash name the taxonomy releases follow: `tipshare-node taxonomy --update`",
        "# changes them to the hub's current one.",
        "[hub]",
        f"url = {_toml_string(hub.url)}",
        f"protocol_version = {_toml_string(identity.protocol_version)}",
        f"log_origin = {_toml_string(identity.log_origin)}",
        f"log_vkey = {_toml_string(identity.log_vkey)}",
        f"log_key_fingerprint = {_toml_string(hub.log_key_fingerprint)}",
        f"encryption_key = {_toml_string(identity.encryption_key)}",
        f"encryption_key_fingerprint = {_toml_string(hub.encryption_key_fingerprint)}",
        f"taxonomy_id = {_toml_string(identity.taxonomy_id)}",
        f"taxonomy_hash = {_toml_string(identity.taxonomy_hash)}",
        f"pinned_at = {_toml_string(hub.pinned_at)}",
        *(
            [f"previous_log_vkeys = [{', '.join(_toml_string(v) for v in hub.previous_log_vkeys)}]"]
            if hub.previous_log_vkeys
            else []
        ),
        "",
        "# The privacy budget (see `tipshare-node budget`). Amounts are rho (discrete_gaussian) or epsilon",
        '# (discrete_laplace), as decimals ("0.1") or fractions ("1/24"). release: what one release spends;',
        "# period_cap: all revisions of one month together; year_cap: all months of a calendar year together.",
        "# Keep the mechanism the year started with.",
        "[budget]",
        f"mechanism = {_toml_string(budget['mechanism'])}",
        f"release = {_toml_string(budget['release'])}",
        f"period_cap = {_toml_string(budget['period_cap'])}",
        f"year_cap = {_toml_string(budget['year_cap'])}",
        "",
        "# How one release's budget is split across tables (relative, whole numbers).",
        "[budget.weights]",
        *(f"{name} = {weight}" for name, weight in budget["weights"].items()),
        "",
        *_render_secure_group(config.secure_group),
    ]
    return "\n".join(lines)


def _render_secure_group(group: SecureGroupConfig | None) -> list[str]:
    if group is None:
        return []
    section = group.to_mapping()
    return [
        "# The secure group this hotline's releases are summed in (see docs/secure-aggregation-privacy.md).",
        "# collusion_cap: the most rho per person-month accepted against the hub colluding with all other members.",
        "[secure_group]",
        *(f"{k} = {_toml_string(v) if isinstance(v, str) else v}" for k, v in section.items()),
        "",
    ]


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise ConfigError(Text(N_("config.toml has no [%(name)s] section"), name=name))
    return value


def _string(section: Mapping[str, Any], key: str, where: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(
            Text(N_("config.toml: [%(section)s] %(key)s is missing or not a text value"), section=where, key=key)
        )
    return value


def read_config(path: Path) -> NodeConfig:
    """Read and check ``config.toml``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotInitialised(Text(N_("no tipshare node is set up in %(home)s"), home=str(path.parent))) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(Text(N_("cannot read %(path)s: %(error)s"), path=str(path), error=str(e))) from e
    if data.get("config_version") != CONFIG_VERSION:
        raise ConfigError(
            Text(
                N_("%(path)s has config_version %(found)s; expected %(expected)s"),
                path=str(path),
                found=repr(data.get("config_version")),
                expected=CONFIG_VERSION,
            )
        )
    node, hub = _section(data, "node"), _section(data, "hub")
    try:
        identity = pinned_identity(
            protocol_version=_string(hub, "protocol_version", "hub"),
            log_origin=_string(hub, "log_origin", "hub"),
            log_vkey=_string(hub, "log_vkey", "hub"),
            encryption_key=_string(hub, "encryption_key", "hub"),
            taxonomy_id=_string(hub, "taxonomy_id", "hub"),
            taxonomy_hash=_string(hub, "taxonomy_hash", "hub"),
        )
    except HubExchangeError as e:
        raise ConfigError(Text(N_("config.toml: the pinned hub identity is invalid: %(error)s"), error=str(e))) from e
    previous = hub.get("previous_log_vkeys", [])
    if not isinstance(previous, list) or not all(isinstance(v, str) and v for v in previous):
        raise ConfigError(Text(N_("config.toml: [hub] previous_log_vkeys is not a list of log keys")))
    try:
        for vkey in previous:
            NoteVerifier.from_vkey(vkey)
    except ProtocolError as e:
        raise ConfigError(
            Text(N_("config.toml: [hub] previous_log_vkeys holds an invalid key: %(error)s"), error=str(e))
        ) from e
    pinned = PinnedHub(
        url=_string(hub, "url", "hub"),
        identity=identity,
        pinned_at=_string(hub, "pinned_at", "hub"),
        previous_log_vkeys=tuple(previous),
    )
    budget = BudgetConfig.from_mapping(_section(data, "budget"))
    secure_group = None
    if "secure_group" in data:
        secure_group = SecureGroupConfig.from_mapping(_section(data, "secure_group"))
        secure_group.check(budget)
    return NodeConfig(
        hotline_id=_string(node, "hotline_id", "node"),
        public_key=_string(node, "public_key", "node"),
        key_id=_string(node, "key_id", "node"),
        created_at=_string(node, "created_at", "node"),
        hub=pinned,
        budget=budget,
        secure_group=secure_group,
    )


class NodeHome:
    """An initialised node home: its configuration, taxonomy, key and database."""

    def __init__(self, layout: HomeLayout, config: NodeConfig, taxonomy: Taxonomy) -> None:
        self.layout = layout
        self.config = config
        self.taxonomy = taxonomy

    @classmethod
    def open(cls, root: Path) -> NodeHome:
        """Open the home at ``root``; :class:`~node.errors.NotInitialised` if ``init`` never completed there."""
        layout = HomeLayout(root)
        if not layout.config.exists():
            raise NotInitialised(Text(N_("no tipshare node is set up in %(home)s"), home=str(root)))
        config = read_config(layout.config)
        return cls(layout, config, load_home_taxonomy(layout, config.hub.identity))

    def signing_key(self) -> SigningKey:
        """The hotline's key, checked against the key id in config.toml."""
        key = load_signing_key(self.layout.key)
        if key.verify_key.key_id != self.config.key_id:
            raise KeyFileError(
                Text(
                    N_(
                        "the signing key in %(path)s (key id %(key_id)s) is not the key this node was set up with "
                        "(key id %(expected)s)"
                    ),
                    path=str(self.layout.key),
                    key_id=key.verify_key.key_id,
                    expected=self.config.key_id,
                ),
                hint=Text(N_("Restore the original key file from your backup.")),
            )
        return key

    def database(self) -> sqlite3.Connection:
        return open_database(self.layout.database)

    def save_receipt(self, period: str, revision: int, receipt_json: bytes) -> Path:
        path = self.layout.receipt_file(period, revision)
        write_private_file(path, receipt_json)
        return path

    def taxonomy_of(self, taxonomy_id: str, content_hash: str) -> Taxonomy:
        """The taxonomy a stored release names: the pinned one, a built-in one, or one this node followed before."""
        if content_hash == self.taxonomy.content_hash:
            return self.taxonomy
        known = builtin_by_hash(content_hash) or _stored(self.layout.retired_taxonomy(content_hash), content_hash)
        if known is None:
            raise ConfigError(
                Text(
                    N_(
                        "a release in the ledger follows taxonomy %(id)s (%(hash)s), which this node no longer has "
                        "(it is not built in, and not in %(folder)s)"
                    ),
                    id=taxonomy_id,
                    hash=content_hash,
                    folder=str(self.layout.taxonomies),
                ),
                hint=Text(
                    N_("Restore the node home from its backup, or ask your hub operator for that taxonomy document.")
                ),
            )
        return known

    def adopt_taxonomy(self, taxonomy: Taxonomy, *, budget: BudgetConfig) -> NodeHome:
        """Follow ``taxonomy`` from now on, with ``budget`` (its weights); returns the home as it is afterwards.

        The steps are ordered so that a crash half-way leaves a home that opens as before or as after: the taxonomy
        followed until now is kept in ``taxonomies/`` (unless built in), the new one is stored as ``taxonomy.json``
        (unless built in), and config.toml, which names the taxonomy, is replaced atomically last. The hub's keys
        and the rest of the configuration do not change.
        """
        layout, old = self.layout, self.taxonomy
        if builtin_by_hash(old.content_hash) is None:
            write_private_file(layout.retired_taxonomy(old.content_hash), old.canonical_bytes())
        builtin = builtin_by_hash(taxonomy.content_hash) is not None
        if not builtin:
            write_private_file(layout.taxonomy, taxonomy.canonical_bytes())
        pinned = self.config.hub
        identity = pinned.identity.model_copy(
            update={"taxonomy": PublishedTaxonomy(id=taxonomy.id, hash=taxonomy.content_hash)}
        )
        config = dataclasses.replace(self.config, hub=dataclasses.replace(pinned, identity=identity), budget=budget)
        write_private_file(layout.config, render_config(config).encode("utf-8"))
        if builtin:
            layout.taxonomy.unlink(missing_ok=True)  # a custom taxonomy followed before (kept in taxonomies/)
        return NodeHome(layout, config, taxonomy)


def builtin_by_hash(content_hash: str) -> Taxonomy | None:
    """The taxonomy built into this version (v1 or v2) with this content hash, or ``None``."""
    return next((t for t in builtin_taxonomies() if t.content_hash == content_hash), None)


def load_home_taxonomy(layout: HomeLayout, identity: HubIdentity) -> Taxonomy:
    """The pinned taxonomy: a built-in one if its hash matches, else ``taxonomy.json`` from the home (or, after an
    update stopped half-way, the copy kept in ``taxonomies/``)."""
    builtin = builtin_by_hash(identity.taxonomy_hash)
    if builtin is not None:
        return builtin
    try:
        taxonomy = parse_taxonomy(layout.taxonomy.read_bytes())
    except FileNotFoundError:
        taxonomy = None
    except (OSError, ProtocolError) as e:
        raise ConfigError(
            Text(N_("cannot read the taxonomy in %(path)s: %(error)s"), path=str(layout.taxonomy), error=str(e))
        ) from e
    if taxonomy is not None and taxonomy.content_hash == identity.taxonomy_hash:
        return taxonomy
    kept = _stored(layout.retired_taxonomy(identity.taxonomy_hash), identity.taxonomy_hash)
    if kept is not None:
        return kept
    if taxonomy is None:
        raise ConfigError(
            Text(
                N_("the hub's taxonomy %(id)s is not built in and %(path)s is missing"),
                id=identity.taxonomy_id,
                path=str(layout.taxonomy),
            )
        )
    raise ConfigError(
        Text(N_("%(path)s is not the taxonomy pinned in config.toml (its hash differs)"), path=str(layout.taxonomy))
    )


def _stored(path: Path, content_hash: str) -> Taxonomy | None:
    """The taxonomy document at ``path`` if it is there and has ``content_hash``."""
    try:
        taxonomy = parse_taxonomy(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ProtocolError) as e:
        raise ConfigError(
            Text(N_("cannot read the taxonomy in %(path)s: %(error)s"), path=str(path), error=str(e))
        ) from e
    return taxonomy if taxonomy.content_hash == content_hash else None
