"""From SEN2's placement categories to the library's default placements.

SEN2 counts plans by the type of setting attended. The default mapping groups them into
the eleven placements councils plan with; pass your own mapping (SEN2 column or
establishment type → placement name) to change it.

===============================  ============================================================
placement                        SEN2 categories
===============================  ============================================================
``mainstream``                   mainstream LA maintained, academy, free school, independent
``resourced``                    resourced provision and SEN units in mainstream schools
``special``                      state special: LA maintained, academy and free
``independent_special``          independent special schools
``non_maintained_special``       non-maintained special schools
``ap``                           alternative provision and pupil referral units
``further_education``            general FE, tertiary and sixth-form colleges, other FE (UKRLP)
``specialist_post16``            specialist post-16 institutions
``elsewhere``                    educated elsewhere (home education, other arrangements,
                                 awaiting provision, other), and placement not recorded
``neet``                         not in education, employment or training
``early_years``                  non-maintained early years settings
===============================  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class DefaultPlacement:
    """A default placement: name, tier, a description and the label reports show."""

    name: str
    tier: int
    description: str
    label: str = ""

    @property
    def shown(self) -> str:
        """Return the label, or the name in words."""
        return self.label or self.name.replace("_", " ").capitalize()


PLACEMENTS: Final = (
    DefaultPlacement(
        "mainstream", 1, "mainstream schools (maintained, academy, free, independent)"
    ),
    DefaultPlacement(
        "resourced", 2, "resourced provision and SEN units in mainstream schools",
        "Resourced provision",
    ),
    DefaultPlacement("special", 3, "state special schools (maintained, academy, free)"),
    DefaultPlacement("independent_special", 4, "independent special schools"),
    DefaultPlacement(
        "non_maintained_special", 4, "non-maintained special schools", "Non-maintained special"
    ),
    DefaultPlacement(
        "ap", 2, "alternative provision and pupil referral units", "Alternative provision"
    ),
    DefaultPlacement(
        "further_education", 1, "FE, tertiary and sixth-form colleges", "Further education"
    ),
    DefaultPlacement(
        "specialist_post16", 3, "specialist post-16 institutions", "Specialist post-16"
    ),
    DefaultPlacement(
        "elsewhere", 1, "educated elsewhere, awaiting provision, not recorded",
        "Elsewhere or not recorded",
    ),
    DefaultPlacement("neet", 1, "not in education, employment or training", "NEET"),
    DefaultPlacement("early_years", 1, "non-maintained early years settings"),
)  # fmt: skip
NAMES: Final = tuple(placement.name for placement in PLACEMENTS)

#: Person-level collection (2023 on; the 2025 release covers 2019 on): column → placement.
#: ``elsewhere`` is ``ed_elsewhere − neet + placement_unknown``: the release's
#: educated-elsewhere total includes NEET.
COLUMNS: Final[dict[str, str]] = {
    "mainstream_la_maintained": "mainstream",
    "mainstream_academy": "mainstream",
    "mainstream_free_school": "mainstream",
    "mainstream_independent": "mainstream",
    "mainstream_la_maintained_resourced_provision": "resourced",
    "mainstream_la_maintained_senunit": "resourced",
    "mainstream_academy_resourced_provision": "resourced",
    "mainstream_academy_senunit": "resourced",
    "mainstream_free_school_resourced_provision": "resourced",
    "mainstream_free_school_senunit": "resourced",
    "special_la_maintained": "special",
    "special_academy_free": "special",
    "special_independent": "independent_special",
    "special_non_maintained": "non_maintained_special",
    "ap_pru_total": "ap",
    "general_fe_tertiary_colleges": "further_education",
    "ukrlp_provider": "further_education",
    "specialist_post_16_institutions": "specialist_post16",
    "ed_elsewhere": "elsewhere",
    "placement_unknown": "elsewhere",
    "neet": "neet",
    "nm_early_years": "early_years",
}

#: Aggregate collection (to 2022): establishment type → placement (anything else: elsewhere).
ESTABLISHMENTS: Final[dict[str, str]] = {
    "Mainstream - LA maintained": "mainstream",
    "Mainstream - Academy": "mainstream",
    "Mainstream - Free school": "mainstream",
    "Mainstream - Independent": "mainstream",
    "Mainstream - LA maintained - Resourced provision": "resourced",
    "Mainstream - LA maintained - SEN unit": "resourced",
    "Mainstream - Academy - Resourced Provision": "resourced",
    "Mainstream - Academy - SEN unit": "resourced",
    "Mainstream - Free school - Resourced provision": "resourced",
    "Mainstream - Free school - SEN unit": "resourced",
    "Special - LA maintained": "special",
    "Special - Academy/free": "special",
    "Special - Independent": "independent_special",
    "Special - Non-maintained": "non_maintained_special",
    "AP/PRU - Academy": "ap",
    "AP/PRU - Free school": "ap",
    "AP/PRU - LA maintained": "ap",
    "General FE and tertiary colleges/HE": "further_education",
    "Sixth form college": "further_education",
    "Other FE": "further_education",
    "Specialist post-16 institutions": "specialist_post16",
    "NEET": "neet",
    "Non-maintained early years": "early_years",
}


def placement_of_establishment(establishment: str, mapping: dict[str, str] | None = None) -> str:
    """Return the placement of an aggregate-collection establishment type (or ``elsewhere``).

    Parameters
    ----------
    establishment
        The establishment type as the aggregate collection names it.
    mapping
        Establishment type → placement (default: the shipped mapping).

    Returns
    -------
    str
        The placement's name.
    """
    table = ESTABLISHMENTS if mapping is None else mapping
    return table.get(establishment.strip(), "elsewhere")
