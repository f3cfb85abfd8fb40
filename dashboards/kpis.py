"""What the dashboards know about KPIs and sites: labels, definitions, palette.

KPI labels and plain-words definitions come from the KPI registry
(pipelines/lib/kpi_registry.py); they are printed as footnotes on every page.
"""

from __future__ import annotations

from pipelines.lib import financial_year, kpi_registry

# Okabe & Ito (2008) colour-blind-safe palette. Yellow (#F0E442) is left out of
# SITE_COLOURS: it is too pale for a line on white.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GREY = "#767676"  # for "site not recorded"; 4.5:1 on white

SITES = {  # site_code -> (label, colour); order is the legend order
    "WAL": ("Walton", OKABE_ITO["blue"]),
    "SOU": ("Southport", OKABE_ITO["orange"]),
    "BOO": ("Bootle", OKABE_ITO["bluish_green"]),
    "PCL": ("Peripatetic Central Liverpool", OKABE_ITO["reddish_purple"]),
    "PSL": ("Peripatetic South Liverpool", OKABE_ITO["sky_blue"]),
    "ZOOM": ("Zoom", OKABE_ITO["vermillion"]),
    "PHONE": ("Phone", OKABE_ITO["black"]),
    "UNKNOWN": ("Site not recorded", GREY),
}

PHYSICAL_SITES = ["WAL", "SOU", "BOO", "PCL", "PSL"]  # where visits happen: open or closed month by month

def sources() -> dict[str, str]:
    """Monthly "by source": one additive KPI per raw export, summed over sites: kpi -> series label."""
    return {k.name: k.series_label for k in kpi_registry.load().values() if k.series_label}


def kpi_definitions() -> dict[str, tuple[str, str]]:
    """kpi -> (label, plain definition), in the registry's order (tables and footnotes)."""
    return {k.name: (k.label, k.plain_definition) for k in kpi_registry.load().values()}


def ratios() -> dict[str, tuple[str, str]]:
    """Ratio KPIs are recomputed from their (controlled) parts, never rounded as counts."""
    return kpi_registry.ratios()


def headline_counts() -> tuple[str, ...]:
    return kpi_registry.counts()


# Further terms the pages use, footnoted after the KPIs: (label, definition).
TERMS = {
    "wellbeing_success_rate": ("Wellbeing success rate", "Wellbeing successful contacts divided by wellbeing calls, from the published (rounded) counts."),
    "contacts_booked": ("Contacts booked", "Pathways advice contacts recorded in the year whatever their outcome (booked, attended, did not attend, cancelled), excluding contacts whose latest version is deleted."),
    "prescriptions_accepted_or_completed": ("Prescriptions accepted or completed", "Social prescriptions (as counted above) whose latest status is accepted or completed."),
    "sites_open": ("Sites open", "A site is open in a month with at least one visit; 'open since' is the first month of its current run of months with visits. Derived from the kiosk sign-ins, not from a site calendar."),
}

# mart_pathway_funnel stage -> (label, the KPI or term that defines it)
FUNNEL_STAGES = {
    "contacts_recorded": ("Contacts booked", "contacts_booked"),
    "contacts_attended": ("Contacts attended", "pathway_contacts"),
    "prescriptions_made": ("Social prescriptions", "social_prescriptions"),
    "prescriptions_accepted_or_completed": ("Accepted or completed", "prescriptions_accepted_or_completed"),
}

def kpi_label(kpi: str) -> str:
    return {**kpi_definitions(), **TERMS}.get(kpi, (kpi.replace("_", " ").capitalize(), ""))[0]


def site_label(code: str) -> str:
    return SITES.get(code, (code, GREY))[0]


def site_colour(code: str) -> str:
    return SITES.get(code, (code, GREY))[1]


previous_year = financial_year.previous  # '2021/22' -> '2020/21'
year_slug = financial_year.slug  # '2021/22' -> '2021-22', for file names
