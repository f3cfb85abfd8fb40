"""What the dashboards know about KPIs and sites: labels, definitions, palette.

Definitions restate the customer's KPI contract (/work/shared/export-formats.md)
in plain words; they are printed as footnotes on every page.
"""

from __future__ import annotations

from pipelines.lib import financial_year

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

# Monthly "by source": one additive KPI per raw export, summed over sites.
SOURCES = {  # kpi -> series label
    "visits": "Visits (kiosk sign-ins)",
    "pathway_contacts": "Pathway contacts",
    "zoom_attendances": "Zoom attendances",
    "wellbeing_calls": "Wellbeing calls",
}

# kpi -> (label, definition). Order is the order of tables and footnotes.
KPIS = {
    "visits": ("Visits", "Distinct site sign-ins in the year, excluding any sign-in voided in any kiosk delivery and staff sign-ins."),
    "visiting_members": ("Visiting members", "Distinct membership numbers among those visits; visits with no membership number are not counted."),
    "pathway_contacts": ("Pathway contacts", "Pathways advice contacts whose latest version is 'attended', in the year of the contact date."),
    "social_prescriptions": ("Social prescriptions", "Prescriptions whose latest status is not withdrawn or deleted, on a contact whose latest version is 'attended', in the year of that contact's date. A prescription whose contact has not arrived yet is not counted."),
    "prescriptions_per_contact": ("Prescriptions per contact", "Social prescriptions divided by pathway contacts."),
    "zoom_sessions": ("Zoom sessions", "Zoom meeting occurrences (meeting ID and start time) with at least one non-staff attendee, by the local date of the start time."),
    "zoom_members": ("Zoom members", "Distinct non-staff people who attended a Zoom session in the year (by email, or by display name where Zoom hides the email). Hosts and staff-domain emails are staff."),
    "zoom_attendances": ("Zoom attendances", "One per non-staff person per session; dropping out and rejoining counts once."),
    "sessions_per_member": ("Sessions per member", "Zoom attendances divided by Zoom members."),
    "wellbeing_calls": ("Wellbeing calls", "Distinct calls logged by the wellbeing support team, by the UK local date of the call (logged in UTC, converted)."),
    "wellbeing_successful_contacts": ("Wellbeing successful contacts", "Wellbeing calls with outcome 'successful'."),
    "wellbeing_people_reached": ("Wellbeing people reached", "Distinct people with at least one successful wellbeing call."),
}

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

# Ratio KPIs are recomputed from their (controlled) parts, never rounded as counts.
RATIOS = {
    "prescriptions_per_contact": ("social_prescriptions", "pathway_contacts"),
    "sessions_per_member": ("zoom_attendances", "zoom_members"),
}


def kpi_label(kpi: str) -> str:
    return {**KPIS, **TERMS}.get(kpi, (kpi.replace("_", " ").capitalize(), ""))[0]


def site_label(code: str) -> str:
    return SITES.get(code, (code, GREY))[0]


def site_colour(code: str) -> str:
    return SITES.get(code, (code, GREY))[1]


previous_year = financial_year.previous  # '2021/22' -> '2020/21'
year_slug = financial_year.slug  # '2021/22' -> '2021-22', for file names
