# SPDX-License-Identifier: Apache-2.0
"""Value lists the taxonomy tests check every code against: ISO 3166-1 and HTCDS v2.0 (shared/notes/domain.md)."""

from __future__ import annotations

#: ISO 3166-1 alpha-2, all 249 officially assigned codes.
ISO_3166_ALPHA2 = (
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA",
    "ZM", "ZW",
)  # fmt: skip

# HTCDS v2.0 value names (shared/notes/domain.md §1.2).
HTCDS_TYPE_OF_EXPLOITATION = [
    "ForcedLabour", "SexualExploitation", "ChildLabour", "ForcedMarriage", "Servitude",
    "ForcedMilitaryByNonStateActors", "OrganRemoval", "ForcedBegging", "ForcedAdoption", "Surrogacy", "Other",
]  # fmt: skip
HTCDS_GENDER = {
    "Feminine": "F", "Masculine": "M", "TransgenderFeminine": "X", "TransgenderMasculine": "X",
    "NonConforming": "X", "NonSpecifiedUnknown": "U",
}  # fmt: skip
HTCDS_METHODS_OF_CONTROL = {
    "PhysicalThreats": "meansThreats", "ThreatsLawEnforcement": "meansThreats",
    "ThreatensChildrenFamily": "meansThreats", "DebtBondage": "meansDebtBondageEarnings",
    "FalsePromises": "meansFalsePromises", "PhysicalAbuse": "meansAbusePsyPhySex",
    "SexualAbuse": "meansAbusePsyPhySex", "TakesEarnings": "meansDebtBondageEarnings",
    "RestrictsFinancialAccess": "meansDenyBasicNeeds", "RestrictsMedicalCare": "meansDenyBasicNeeds",
    "WithholdsNecessities": "meansDenyBasicNeeds", "PsychologicalAbuse": "meansAbusePsyPhySex",
    "PsychoactiveSubstance": "meansDrugsAlcohol", "ExcessiveWorkingHours": "meansExcessiveWorkHours",
    "WithholdsDocuments": "meansWithholdDocs", "Other": None,
}  # fmt: skip
HTCDS_METHOD_OF_RECRUITMENT = [
    "AtAPlaceOfBusiness", "AtAnEducationalInstitution", "AtWork", "ThroughOnlineSocialNetworks",
    "ThroughAnOnlineAdvertisement", "ThroughATelevisionAdvert", "ThroughANewspaperAdvert",
    "ThroughFamilyOrFamilyEvents", "ThroughFriendsOrSocialEvents", "Other",
]  # fmt: skip
HTCDS_WEBSITES_AND_APPS = [
    "Facebook", "Instagram", "WhatsApp", "Telegram", "FacebookMessenger", "Viber", "SnapChat", "Line", "4Sale",
    "WeChat", "QQ", "QZone", "TikTok", "Twitter", "Other",
]  # fmt: skip

COUNTRY_DIMENSIONS = ("citizenship", "country_of_exploitation")
