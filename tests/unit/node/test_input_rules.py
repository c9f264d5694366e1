# SPDX-License-Identifier: Apache-2.0
"""The taxonomy's input rules applied to records (:mod:`node.inputs.rules`): every HTCDS value of taxonomy v1's
fields maps, every ISO country reaches a listed country or a region, and what cannot be coded is an error."""

from __future__ import annotations

import pytest

from node.inputs.rules import code_for, code_for_age, codes_for
from protocol.errors import TaxonomyViolation
from protocol.taxonomy import Taxonomy, builtin_taxonomy
from tests.support.htcds import (
    COUNTRY_DIMENSIONS,
    HTCDS_GENDER,
    HTCDS_METHOD_OF_RECRUITMENT,
    HTCDS_METHODS_OF_CONTROL,
    HTCDS_TYPE_OF_EXPLOITATION,
    HTCDS_WEBSITES_AND_APPS,
    ISO_3166_ALPHA2,
)


@pytest.fixture(scope="module")
def v1() -> Taxonomy:
    return builtin_taxonomy()


def test_every_htcds_type_of_exploitation_maps(v1: Taxonomy) -> None:
    exploitation_type, group = v1.dimension("exploitation_type"), v1.dimension("exploitation_group")
    for value in HTCDS_TYPE_OF_EXPLOITATION:
        assert code_for(exploitation_type, {"vic_TypeOfExploitation": [value]}) == value
        assert code_for(group, {"vic_TypeOfExploitation": [value]}) in {"sexual", "labour", "other"}
    assert code_for(group, {"vic_TypeOfExploitation": "SexualExploitation"}) == "sexual"
    assert code_for(group, {"vic_TypeOfExploitation": ["ForcedBegging"]}) == "labour"


@pytest.mark.parametrize(
    ("recorded", "expected_type", "expected_group"),
    [
        ([], "NotSpecified", "unknown"),
        (["  "], "NotSpecified", "unknown"),
        (["ForcedLabour", "ForcedLabour"], "ForcedLabour", "labour"),
        (["ForcedLabour", "ForcedBegging"], "Multiple", "labour"),
        (["SexualExploitation", "ForcedLabour"], "Multiple", "multiple"),
        (["ForcedCriminalActivities"], "ForcedCriminalActivities", "other"),
        ([" Servitude "], "Servitude", "labour"),
    ],
)
def test_exploitation_several_rule(v1: Taxonomy, recorded: list[str], expected_type: str, expected_group: str) -> None:
    record = {"vic_TypeOfExploitation": recorded}
    assert code_for(v1.dimension("exploitation_type"), record) == expected_type
    assert code_for(v1.dimension("exploitation_group"), record) == expected_group


def test_every_htcds_gender_maps(v1: Taxonomy) -> None:
    gender = v1.dimension("gender")
    for value, code in HTCDS_GENDER.items():
        assert code_for(gender, {"prs_Gender": [value]}) == code
    assert code_for(gender, {}) == "U"
    assert code_for(gender, {"prs_Gender": None}) == "U"
    assert code_for(gender, {"prs_Gender": ["Woman"]}) == "F"


def test_every_htcds_method_of_control_maps(v1: Taxonomy) -> None:
    control = v1.dimension("control_flag")
    assert control.multi_valued
    for value, flag in HTCDS_METHODS_OF_CONTROL.items():
        expected = ("_any_info",) if flag is None else (flag, "_any_info")
        assert codes_for(control, {"vic_MethodsOfControl": [value]}) == expected
    everything = codes_for(control, {"vic_MethodsOfControl": list(HTCDS_METHODS_OF_CONTROL)})
    assert everything == control.code_names
    assert len(everything) == v1.table("persons_control").l1_bound
    assert codes_for(control, {}) == ()


def test_recruitment_mappings(v1: Taxonomy) -> None:
    channel, relation = v1.dimension("recruitment_channel"), v1.dimension("recruiter_relation")
    for value in HTCDS_METHOD_OF_RECRUITMENT:
        assert code_for(channel, {"vic_MethodOfRecruitment": [value]}) in {"online", "offline", "unknown"}
    for app in HTCDS_WEBSITES_AND_APPS:
        assert code_for(channel, {"vic_RecruitmentWebsitesAndApps": [app]}) == "online"
    assert code_for(channel, {"vic_MethodOfRecruitment": ["AtWork", "ThroughOnlineSocialNetworks"]}) == "online"
    assert code_for(channel, {"vic_MethodOfRecruitment": ["AtWork", "Other"]}) == "offline"
    assert code_for(channel, {"vic_MethodOfRecruitment": ["Other"]}) == "unknown"
    assert code_for(channel, {}) == "unknown"
    expected = {"Familial": "Family", "Acquainted": "Friend", "Unaquainted": "Other"}
    for value, code in expected.items():
        assert code_for(relation, {"vic_RelationshipToTrafficker": value}) == code
    both = {"ext_RecruiterRelation": ["IntimatePartner"], "vic_RelationshipToTrafficker": ["Acquainted"]}
    assert code_for(relation, both) == "IntimatePartner", "the CTDC-precise field comes first"
    assert code_for(relation, {}) == "Unknown"


def test_contact_mappings(v1: Taxonomy) -> None:
    contact_type = v1.dimension("contact_type")
    assert code_for(contact_type, {"ext_ContactType": ["Referral"]}) == "service_request"
    assert code_for(contact_type, {"ext_ContactType": ["safe_migration_consultation"]}) == "safe_migration_consultation"
    assert code_for(v1.dimension("channel"), {"ext_ContactChannel": ["chat"]}) == "chat"
    assert code_for(v1.dimension("channel"), {}) == "unknown"


@pytest.mark.parametrize(
    ("age", "band", "group"),
    [(None, "unknown", "unknown"), (-1, "unknown", "unknown"), (0, "0-8", "child"), (8, "0-8", "child"),
     (9, "9-17", "child"), (17, "9-17", "child"), (18, "18-20", "adult"), (29, "27-29", "adult"),
     (47, "39-47", "adult"), (48, "48+", "adult"), (120, "48+", "adult")],
)  # fmt: skip
def test_age_rules(v1: Taxonomy, age: int | None, band: str, group: str) -> None:
    assert code_for_age(v1.dimension("age_band"), age) == band
    assert code_for_age(v1.dimension("age_group"), age) == group


def test_age_bands_nest_in_age_groups(v1: Taxonomy) -> None:
    for age in range(130):
        band = code_for_age(v1.dimension("age_band"), age)
        group = code_for_age(v1.dimension("age_group"), age)
        assert group == ("child" if band in {"0-8", "9-17"} else "adult")


@pytest.mark.parametrize("name", COUNTRY_DIMENSIONS)
def test_every_iso_country_maps_to_a_listed_country_or_a_region(v1: Taxonomy, name: str) -> None:
    assert len(ISO_3166_ALPHA2) == len(set(ISO_3166_ALPHA2)) == 249
    dimension = v1.dimension(name)
    field = dimension.input.fields[0].name
    kinds = {code.code: code.kind for code in dimension.codes}
    for iso in ISO_3166_ALPHA2:
        if iso == "AQ":  # Antarctica: no UN M49 region and no population; a data error, said so
            with pytest.raises(TaxonomyViolation, match=f"'AQ' of field {field} is not an ISO 3166-1 alpha-2 code"):
                code_for(dimension, {field: [iso]})
            continue
        code = code_for(dimension, {field: [iso]})
        assert kinds[code] in {"country", "region"}, iso
        assert code == iso if kinds[code] == "country" else v1.country_regions[iso] == code
        assert code_for(dimension, {field: [iso.lower()]}) == code
    listed = {code for code, kind in kinds.items() if kind == "country"}
    assert listed - set(ISO_3166_ALPHA2) == {"XK"}
    assert set(v1.country_regions) == set(ISO_3166_ALPHA2) - listed - {"AQ"}


def test_country_special_values(v1: Taxonomy) -> None:
    citizenship, exploitation = (v1.dimension(name) for name in COUNTRY_DIMENSIONS)
    assert code_for(citizenship, {"prs_Citizenship": ["XX"]}) == "XX"
    assert code_for(citizenship, {"prs_Citizenship": ["XXA"]}) == "XX"
    assert code_for(citizenship, {"prs_Citizenship": ["XXX"]}) == "ZZ"
    assert code_for(citizenship, {"prs_Citizenship": []}) == "ZZ"
    assert code_for(citizenship, {"prs_Citizenship": ["MD", "RO"]}) == "MD", "the first recorded citizenship counts"
    assert code_for(citizenship, {"prs_Citizenship": ["XK"]}) == "XK"
    assert code_for(citizenship, {"prs_Citizenship": ["el"]}) == "GR"
    assert code_for(citizenship, {"prs_Citizenship": ["VN"]}) == "035"
    with pytest.raises(TaxonomyViolation, match="'UK' of field prs_Citizenship"):
        code_for(citizenship, {"prs_Citizenship": ["UK"]})  # the Ukrainian-language code: never guessed
    assert code_for(exploitation, {"hte_Country": ["XN"]}) == "XN"
    assert code_for(exploitation, {"vic_LocationOfExploitation": ["it"]}) == "IT"
    assert code_for(exploitation, {"hte_Country": ["DE"], "vic_LocationOfExploitation": ["IT"]}) == "DE"
    assert code_for(exploitation, {}) == "ZZ"
    with pytest.raises(TaxonomyViolation, match="dimension 'country_of_exploitation'"):
        code_for(exploitation, {"hte_Country": ["XX"]})


def test_unlisted_values_and_wrong_methods_are_errors(v1: Taxonomy) -> None:
    with pytest.raises(TaxonomyViolation, match="value 'Femme' of field prs_Gender has no code in dimension 'gender'"):
        code_for(v1.dimension("gender"), {"prs_Gender": ["Femme"]})
    with pytest.raises(TaxonomyViolation, match=r"'SexualExploitaton'.*accepts: .*SexualExploitation"):
        code_for(v1.dimension("exploitation_type"), {"vic_TypeOfExploitation": ["SexualExploitaton"]})
    with pytest.raises(TaxonomyViolation, match="recorded values are strings"):
        code_for(v1.dimension("gender"), {"prs_Gender": [3]})  # type: ignore[list-item]
    with pytest.raises(TaxonomyViolation, match="rule 'each': code_for does not apply, use codes_for"):
        code_for(v1.dimension("control_flag"), {})
    with pytest.raises(TaxonomyViolation, match="rule 'age': code_for does not apply, use code_for_age"):
        code_for(v1.dimension("age_band"), {})
    with pytest.raises(TaxonomyViolation, match="rule 'derived'"):
        codes_for(v1.dimension("cross_border"), {})
    with pytest.raises(TaxonomyViolation, match="rule 'first': code_for_age does not apply"):
        code_for_age(v1.dimension("gender"), 30)
    assert codes_for(v1.dimension("gender"), {"prs_Gender": "Masculine"}) == ("M",)
    assert v1.dimension("cross_border").input.derived_from == COUNTRY_DIMENSIONS
