# SPDX-License-Identifier: Apache-2.0
"""The SDMX-ML 2.1 structure messages that describe the hub's SDMX-CSV data (:mod:`hub.services.exports`).

>>> catalogue = SdmxCatalogue(context.taxonomies.values())                                 # doctest: +SKIP
>>> xml = catalogue.message(catalogue.select("dataflow", "TIPSHARE", "PERSONS_CORRIDOR", "1.0.0"),
...     references="descendants", prepared=now)                                             # doctest: +SKIP

What is described (agency ``TIPSHARE``; every artefact final):

Dataflows
    ``<TABLE>(<taxonomy version>.0.0)`` for each table of each taxonomy the hub accepts (the ``STRUCTURE_ID`` of
    ``/v1/exports/stats/…``), ``<UNIT>_ESTIMATES(1.0.0)`` per unit (``/v1/exports/estimates/…``) and
    ``REPORTING_COMPLETENESS(1.0.0)``; each uses the data structure definition ``DSD_<dataflow id>`` of the same
    version.
Data structure definitions
    the dimensions ``REF_AREA``, the table's (or unit's) dimensions upper-cased and the time dimension
    ``TIME_PERIOD``; the measure ``OBS_VALUE`` (a double); the attributes of the data messages, coded where their
    values are codes (``OBS_STATUS``, ``CONF_STATUS``, ``UNIT_MEASURE``, ``INTERVAL_METHOD``,
    ``REPORTING_STATUS``), typed otherwise (``CI95_LOWER`` double, ``HOTLINES_REPORTING`` integer, ``QUESTION``
    string, …). The checkpoint and the question in words (``GROUP_BY``, ``FILTERS``, ``PERIOD_FROM``,
    ``PERIOD_TO``, ``QUESTION``) are attached to the data set: one value per message.
Codelists
    ``CL_<DIMENSION>(<taxonomy version>.0.0)`` for each dimension of each taxonomy, and ``CL_<DIMENSION>_ANY(1.0.0)``
    (the codes of every taxonomy, for the estimates): the SDMX codes of :mod:`protocol.sdmx_codes` with the
    taxonomy's English labels, and ``_T`` (total); ``CL_AREA(1.0.0)``: ``_T`` and the ISO 3166-1 alpha-2 countries of
    the taxonomies; the subsets of the SDMX cross-domain ``CL_OBS_STATUS`` and ``CL_CONF_STATUS`` the hub writes;
    ``CL_UNIT_MEASURE(1.0.0)``: ``PER`` and ``NR`` as Eurostat's ``CL_UNIT`` defines them; ``CL_INTERVAL_METHOD``
    and ``CL_REPORTING_STATUS``.
Concept scheme
    ``CS_TIPSHARE(1.0.0)``: one concept per component.

Not enumerated: ``REF_AREA`` of a message for one hotline (its id) or for a country-limited token's region of
several countries (``MD+UA``: ``+`` is no SDMX id character), and the completeness dimension ``HOTLINE``: their
values are not in ``CL_AREA`` (the hub's hotlines are not part of its published structure).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from hub.errors import InvalidQuery, NotFound
from hub.services.exports import AGENCY, ESTIMATES_ATTRIBUTES, STATS_ATTRIBUTES, TOTAL
from protocol.api import UNIT_LABELS
from protocol.messages import format_timestamp
from protocol.sdmx_codes import sdmx_code
from protocol.taxonomy import Dimension, Taxonomy

__all__ = ["STRUCTURE_MEDIA_TYPE", "Artefact", "References", "SdmxCatalogue"]

#: What ``Content-Type`` a structure message is sent with.
STRUCTURE_MEDIA_TYPE: Final = "application/vnd.sdmx.structure+xml; version=2.1; charset=utf-8"

_MES: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
_STR: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
_COM: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("mes", _MES)
ET.register_namespace("str", _STR)
ET.register_namespace("com", _COM)

Kind = Literal["dataflow", "datastructure", "codelist", "conceptscheme"]
References = Literal["none", "children", "descendants", "all"]
#: The version of the hub's own artefacts (dataflows of statistics follow their taxonomy's version instead).
_VERSION: Final = "1.0.0"
_SCHEME: Final = "CS_TIPSHARE"
_ESTIMATES_VERSION: Final = 1

#: Codes the hub writes, with their SDMX names (cross-domain code lists for the statuses).
_FIXED_CODELISTS: Final[Mapping[str, tuple[str, Mapping[str, str]]]] = {
    "CL_OBS_STATUS": (
        "Observation status (subset of the SDMX cross-domain CL_OBS_STATUS)",
        {"A": "Normal value", "U": "Low reliability", "O": "Missing value"},
    ),
    "CL_CONF_STATUS": (
        "Confidentiality status (subset of the SDMX cross-domain CL_CONF_STATUS)",
        {"F": "Free (differential privacy, not suppression, protects the numbers)"},
    ),
    "CL_UNIT_MEASURE": (
        "Unit of measure (codes of Eurostat's CL_UNIT)",
        {"PER": "Person", "NR": "Number"},
    ),
    "CL_INTERVAL_METHOD": (
        "How a 95 % interval was computed",
        {
            "exact": "Exact, from the noise distribution",
            "normal": "Normal approximation",
            "conservative": "Conservative: a proven lower bound on its coverage",
        },
    ),
    "CL_REPORTING_STATUS": (
        "Reporting status of a hotline for a month",
        {
            "on_time": "Reported on time",
            "late": "Reported late",
            "not_due": "Not due yet",
            "missing": "Missing",
            "not_enrolled": "Not enrolled",
        },
    ),
}

_DOUBLE: Final = "Double"
_INTEGER: Final = "Integer"
_STRING: Final = "String"
_BOOLEAN: Final = "Boolean"

#: Attribute id -> (name, codelist id or text type, attached to the data set rather than each observation).
_ATTRIBUTES: Final[Mapping[str, tuple[str, str, bool]]] = {
    "CI95_LOWER": ("Lower bound of the 95 % interval", _DOUBLE, False),
    "CI95_UPPER": ("Upper bound of the 95 % interval", _DOUBLE, False),
    "INTERVAL_METHOD": ("Interval method", "CL_INTERVAL_METHOD", False),
    "OBS_STATUS": ("Observation status", "CL_OBS_STATUS", False),
    "CONF_STATUS": ("Confidentiality status", "CL_CONF_STATUS", False),
    "DISTINGUISHABLE": ("Distinguishable from zero (Holm, 5 % family-wise)", _BOOLEAN, False),
    "RANK": ("Rank among the distinguishable observations", _INTEGER, False),
    "P_ZERO": ("p-value of 'the true count is zero'", _DOUBLE, False),
    "HOTLINES_REPORTING": ("Hotlines reporting", _INTEGER, False),
    "HOTLINES_EXPECTED": ("Hotlines expected to report", _INTEGER, False),
    "UNIT_MEASURE": ("Unit of measure", "CL_UNIT_MEASURE", False),
    "REPORTING_STATUS": ("Reporting status", "CL_REPORTING_STATUS", False),
    "EXPECTED_REPORTS": ("Reports expected", _INTEGER, False),
    "CORRECTED": ("Corrected after its first release", _BOOLEAN, False),
    "REVISIONS": ("Revisions received", _INTEGER, False),
    "FIRST_RECEIVED": ("First received (UTC)", _STRING, False),
    "DEADLINE": ("Reporting deadline (UTC)", _STRING, False),
    "CHECKPOINT_ORIGIN": ("Origin of the signed log checkpoint", _STRING, True),
    "CHECKPOINT_SIZE": ("Tree size of the checkpoint the data were computed from", _INTEGER, True),
    "CHECKPOINT_ROOT": ("Root hash of that checkpoint (base64)", _STRING, True),
    "GROUP_BY": ("Group keys of the question", _STRING, True),
    "FILTERS": ("Filters of the question (API codes)", _STRING, True),
    "PERIOD_FROM": ("First month asked", _STRING, True),
    "PERIOD_TO": ("Last month asked", _STRING, True),
    "QUESTION": ("The API request that asks the question again", _STRING, True),
}
_CHECKPOINT: Final = ("CHECKPOINT_ORIGIN", "CHECKPOINT_SIZE", "CHECKPOINT_ROOT")
_STATS: Final = STATS_ATTRIBUTES
_ESTIMATES: Final = ESTIMATES_ATTRIBUTES
_COMPLETENESS: Final = (
    "REPORTING_STATUS",
    "EXPECTED_REPORTS",
    "CORRECTED",
    "REVISIONS",
    "FIRST_RECEIVED",
    "DEADLINE",
    *_CHECKPOINT,
    "PERIOD_FROM",
    "PERIOD_TO",
)


@dataclass(frozen=True, slots=True)
class Artefact:
    """One maintainable artefact: its kind, id and version, a name, what it refers to, and its XML builder."""

    kind: Kind
    id: str
    version: str
    name: str
    refers_to: tuple[tuple[Kind, str, str], ...]

    @property
    def key(self) -> tuple[Kind, str, str]:
        return (self.kind, self.id, self.version)


@dataclass(frozen=True, slots=True)
class _Component:
    id: str
    role: Literal["dimension", "time", "measure", "attribute"]
    representation: str  # a codelist key "ID(version)" or a text type
    dataset_level: bool = False


class SdmxCatalogue:
    """Every structure artefact of the hub's SDMX data, for the taxonomies it accepts."""

    def __init__(self, taxonomies: Iterable[Taxonomy]) -> None:
        self._taxonomies = sorted(taxonomies, key=lambda t: t.version)
        self._artefacts: dict[tuple[Kind, str, str], Artefact] = {}
        self._components: dict[tuple[str, str], tuple[_Component, ...]] = {}
        self._codes: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self._concepts: dict[str, str] = {"REF_AREA": "Reference area", "TIME_PERIOD": "Time period"}
        self._concepts["OBS_VALUE"] = "Observation value"
        self._concepts["HOTLINE"] = "Hotline"
        self._build()

    # ------------------------------------------------------------------ selection

    def artefacts(self) -> list[Artefact]:
        return list(self._artefacts.values())

    def dataflow_dimensions(self, dataflow_id: str, version: str) -> list[str]:
        """The dimension ids of a dataflow, in order (``TIME_PERIOD`` last)."""
        return [c.id for c in self._components[(f"DSD_{dataflow_id}", version)] if c.role in ("dimension", "time")]

    def codes(self, codelist_id: str, version: str) -> list[str]:
        return [code for code, _ in self._codes[(codelist_id, version)]]

    def select(self, kind: Kind, agency: str, resource: str, version: str) -> list[Artefact]:
        """The artefacts an SDMX REST structure query names (``all`` or ``*`` for any agency, id or version;
        ``latest`` or ``~`` for the latest version of each id); :class:`NotFound` if none."""
        if agency not in ("all", "*", AGENCY):
            raise NotFound(f"this hub maintains the agency {AGENCY} only, not {agency!r}")
        found = [a for a in self._artefacts.values() if a.kind == kind and resource in ("all", "*", a.id)]
        if version in ("latest", "~"):
            latest: dict[str, Artefact] = {}
            for artefact in found:
                if artefact.id not in latest or _semver(artefact.version) > _semver(latest[artefact.id].version):
                    latest[artefact.id] = artefact
            found = list(latest.values())
        elif version not in ("all", "*"):
            found = [a for a in found if a.version == version]
        if not found:
            raise NotFound(
                f"no {kind} {agency}:{resource}({version}) here: GET /v1/sdmx/{kind} lists every {kind} of the hub"
            )
        return found

    def with_references(self, selected: Sequence[Artefact], references: str) -> list[Artefact]:
        """``selected`` and, unless ``references`` is ``none``, every artefact they refer to, recursively (the hub's
        structures have no parents worth returning: ``all`` is ``descendants``)."""
        if references not in ("none", "children", "descendants", "all"):
            raise InvalidQuery(f"references must be none, children, descendants or all; got {references!r}")
        result = {a.key: a for a in selected}
        if references == "none":
            return list(result.values())
        pending = [key for a in selected for key in a.refers_to]
        while pending:
            key = pending.pop()
            if key in result:
                continue
            artefact = self._artefacts[key]
            result[key] = artefact
            if references != "children":
                pending += artefact.refers_to
        return list(result.values())

    # ------------------------------------------------------------------ the message

    def message(self, artefacts: Sequence[Artefact], *, prepared: datetime) -> bytes:
        """An SDMX-ML 2.1 structure message holding ``artefacts``."""
        root = ET.Element(f"{{{_MES}}}Structure")
        header = ET.SubElement(root, f"{{{_MES}}}Header")
        ET.SubElement(header, f"{{{_MES}}}ID").text = "TIPSHARE_STRUCTURE"
        ET.SubElement(header, f"{{{_MES}}}Test").text = "false"
        ET.SubElement(header, f"{{{_MES}}}Prepared").text = format_timestamp(prepared)
        ET.SubElement(header, f"{{{_MES}}}Sender", id=AGENCY)
        structures = ET.SubElement(root, f"{{{_MES}}}Structures")
        # The order of SDMX-ML 2.1's StructuresType.
        for kind, container in (
            ("dataflow", "Dataflows"),
            ("codelist", "Codelists"),
            ("conceptscheme", "Concepts"),
            ("datastructure", "DataStructures"),
        ):
            chosen = sorted((a for a in artefacts if a.kind == kind), key=lambda a: (a.id, _semver(a.version)))
            if chosen:
                parent = ET.SubElement(structures, f"{{{_STR}}}{container}")
                for artefact in chosen:
                    self._write(parent, artefact)
        ET.indent(root)
        text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return text

    def _write(self, parent: ET.Element, artefact: Artefact) -> None:
        tag = {
            "dataflow": "Dataflow",
            "codelist": "Codelist",
            "conceptscheme": "ConceptScheme",
            "datastructure": "DataStructure",
        }[artefact.kind]
        element = ET.SubElement(
            parent,
            f"{{{_STR}}}{tag}",
            id=artefact.id,
            agencyID=AGENCY,
            version=artefact.version,
            isFinal="true",
        )
        _name(element, artefact.name)
        if artefact.kind == "codelist":
            for code, label in self._codes[(artefact.id, artefact.version)]:
                _name(ET.SubElement(element, f"{{{_STR}}}Code", id=code), label)
        elif artefact.kind == "conceptscheme":
            for concept, label in sorted(self._concepts.items()):
                _name(ET.SubElement(element, f"{{{_STR}}}Concept", id=concept), label)
        elif artefact.kind == "dataflow":
            structure = ET.SubElement(element, f"{{{_STR}}}Structure")
            _ref(structure, f"DSD_{artefact.id}", artefact.version, "datastructure", "DataStructure")
        else:
            self._write_dsd(element, self._components[(artefact.id, artefact.version)])

    def _write_dsd(self, element: ET.Element, components: Sequence[_Component]) -> None:
        body = ET.SubElement(element, f"{{{_STR}}}DataStructureComponents")
        dimensions = ET.SubElement(body, f"{{{_STR}}}DimensionList", id="DimensionDescriptor")
        attributes = ET.SubElement(body, f"{{{_STR}}}AttributeList", id="AttributeDescriptor")
        measures = ET.SubElement(body, f"{{{_STR}}}MeasureList", id="MeasureDescriptor")
        position = 0
        for component in components:
            if component.role == "dimension":
                position += 1
                item = ET.SubElement(dimensions, f"{{{_STR}}}Dimension", id=component.id, position=str(position))
            elif component.role == "time":
                position += 1
                item = ET.SubElement(dimensions, f"{{{_STR}}}TimeDimension", id=component.id, position=str(position))
            elif component.role == "measure":
                item = ET.SubElement(measures, f"{{{_STR}}}PrimaryMeasure", id=component.id)
            else:
                item = ET.SubElement(
                    attributes, f"{{{_STR}}}Attribute", id=component.id, assignmentStatus="Conditional"
                )
            concept = ET.SubElement(item, f"{{{_STR}}}ConceptIdentity")
            ET.SubElement(
                concept,
                "Ref",
                {
                    "id": component.id,
                    "maintainableParentID": _SCHEME,
                    "maintainableParentVersion": _VERSION,
                    "agencyID": AGENCY,
                    "package": "conceptscheme",
                    "class": "Concept",
                },
            )
            representation = ET.SubElement(item, f"{{{_STR}}}LocalRepresentation")
            if "(" in component.representation:
                codelist, _, version = component.representation.partition("(")
                enumeration = ET.SubElement(representation, f"{{{_STR}}}Enumeration")
                _ref(enumeration, codelist, version.rstrip(")"), "codelist", "Codelist")
            else:
                ET.SubElement(representation, f"{{{_STR}}}TextFormat", textType=component.representation)
            if component.role == "attribute":
                relationship = ET.SubElement(item, f"{{{_STR}}}AttributeRelationship")
                if component.dataset_level:
                    ET.SubElement(relationship, f"{{{_STR}}}None")
                else:
                    measure = ET.SubElement(relationship, f"{{{_STR}}}PrimaryMeasure")
                    ET.SubElement(measure, "Ref", id="OBS_VALUE")

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        for codelist_id, (name, codes) in _FIXED_CODELISTS.items():
            self._codelist(codelist_id, _VERSION, name, list(codes.items()))
        areas: dict[str, str] = {TOTAL: "Total (every country in scope)"}
        for taxonomy in self._taxonomies:
            for dimension in taxonomy.dimensions.values():
                for code in dimension.codes:
                    if code.kind == "country" and len(code.code) == 2:
                        areas.setdefault(code.code, code.label)
        self._codelist("CL_AREA", _VERSION, "Reference areas: the region or one country", list(areas.items()))
        any_codes: dict[str, dict[str, str]] = {}
        for taxonomy in self._taxonomies:
            version = f"{taxonomy.version}.0.0"
            for dimension in taxonomy.dimensions.values():
                codes = _dimension_codes(dimension)
                any_codes.setdefault(dimension.name, {}).update(codes)
                self._codelist(
                    f"CL_{dimension.name.upper()}", version, f"{dimension.description} ({taxonomy.id})", codes.items()
                )
                self._concepts.setdefault(dimension.name.upper(), dimension.description)
        for name, codes in any_codes.items():
            self._codelist(f"CL_{name.upper()}_ANY", _VERSION, f"{name}: the codes of every taxonomy", codes.items())
        for attribute, (label, _, _) in _ATTRIBUTES.items():
            self._concepts[attribute] = label
        scheme = Artefact("conceptscheme", _SCHEME, _VERSION, "The concepts of tipshare's SDMX data", ())
        self._artefacts[scheme.key] = scheme

        for taxonomy in self._taxonomies:
            version = f"{taxonomy.version}.0.0"
            for table in taxonomy.tables.values():
                dims = [(d.name, f"CL_{d.name.upper()}({version})") for d in table.dimensions]
                self._flow(table.name.upper(), version, table.description, dims, _STATS)
        units = sorted({t.unit for taxonomy in self._taxonomies for t in taxonomy.tables.values()})
        for unit in units:
            names = sorted(
                {
                    d.name
                    for taxonomy in self._taxonomies
                    for t in taxonomy.tables.values()
                    if t.unit == unit
                    for d in t.dimensions
                }
            )
            dims = [(name, f"CL_{name.upper()}_ANY({_VERSION})") for name in names]
            label = UNIT_LABELS.get(unit, unit)
            flow = f"{unit.upper()}_ESTIMATES"
            self._flow(flow, f"{_ESTIMATES_VERSION}.0.0", f"Best estimates: {label}", dims, _ESTIMATES)
        self._flow(
            "REPORTING_COMPLETENESS",
            _VERSION,
            "Reporting completeness: reports received per hotline and month",
            [("hotline", _STRING)],
            _COMPLETENESS,
        )

    def _codelist(self, codelist_id: str, version: str, name: str, codes: Iterable[tuple[str, str]]) -> None:
        self._codes[(codelist_id, version)] = tuple(codes)
        artefact = Artefact("codelist", codelist_id, version, name, ())
        self._artefacts[artefact.key] = artefact

    def _flow(
        self,
        flow_id: str,
        version: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        attributes: Sequence[str],
    ) -> None:
        components = [
            _Component("REF_AREA", "dimension", f"CL_AREA({_VERSION})"),
            *(_Component(dim.upper(), "dimension", representation) for dim, representation in dimensions),
            _Component("TIME_PERIOD", "time", "ObservationalTimePeriod"),
            _Component("OBS_VALUE", "measure", _DOUBLE),
        ]
        for attribute in attributes:
            _, representation, dataset_level = _ATTRIBUTES[attribute]
            if representation.startswith("CL_"):
                representation = f"{representation}({_VERSION})"
            components.append(_Component(attribute, "attribute", representation, dataset_level))
        dsd_id = f"DSD_{flow_id}"
        self._components[(dsd_id, version)] = tuple(components)
        codelists = {c.representation for c in components if "(" in c.representation}
        dsd_refs: list[tuple[Kind, str, str]] = [("conceptscheme", _SCHEME, _VERSION)]
        for key in sorted(codelists):
            codelist, _, codelist_version = key.partition("(")
            dsd_refs.append(("codelist", codelist, codelist_version.rstrip(")")))
        dsd = Artefact("datastructure", dsd_id, version, f"Structure of {name}", tuple(dsd_refs))
        flow = Artefact("dataflow", flow_id, version, name, (dsd.key,))
        self._artefacts[dsd.key] = dsd
        self._artefacts[flow.key] = flow


def _dimension_codes(dimension: Dimension) -> dict[str, str]:
    codes = {sdmx_code(code.code): code.label for code in dimension.codes}
    codes[TOTAL] = "Total (every code)"
    return codes


def _name(element: ET.Element, text: str) -> None:
    ET.SubElement(element, f"{{{_COM}}}Name", {_XML_LANG: "en"}).text = text


def _ref(parent: ET.Element, artefact_id: str, version: str, package: str, cls: str) -> None:
    attributes = {"id": artefact_id, "version": version, "agencyID": AGENCY, "package": package, "class": cls}
    ET.SubElement(parent, "Ref", attributes)


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
