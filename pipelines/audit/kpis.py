"""What each KPI counts, in the contract's words, and where its evidence lives.

The rules themselves live in the dbt intermediate models; this catalogue only names them, so
that `outcomes explain` can say what a KPI is and `outcomes trace` knows which files a KPI's
exclusions come from. Every KPI of pipelines.lib.contracts.KPIS has an entry (tested).
"""
from __future__ import annotations

from dataclasses import dataclass

from pipelines.lib.contracts import KPIS, RATIO_KPIS


@dataclass(frozen=True)
class KpiInfo:
    name: str
    definition: str
    unit: str                      # what one traced line is
    source: str                    # ledger source of the files behind it
    file_prefix: str | None        # pathways: contacts / prescriptions files only
    rule_models: tuple[str, ...]   # the intermediate models holding its rules
    person: bool = False           # a distinct-person KPI: annual only, no month/site split
    monthly: bool = True           # in mart_monthly_by_site


CATALOGUE: dict[str, KpiInfo] = {k.name: k for k in (
    KpiInfo("visits",
            "Distinct visit_ids signed in at the kiosks in the financial year (of the Europe/London local "
            "date of signed_in_at), never void in any delivery, with visitor_type not staff. Overlapping "
            "kiosk exports deliver a visit several times; its fields come from the newest export.",
            "visit", "visits", None, ("int_visits",)),
    KpiInfo("visiting_members",
            "Distinct non-empty member_ids among the counted visits of the year.",
            "member (member_id)", "visits", None, ("int_visits",), person=True, monthly=False),
    KpiInfo("pathway_contacts",
            "Pathway-advisor contacts whose latest version (by updated_at) has outcome attended, in the "
            "financial year of contact_date.",
            "contact", "pathways", "contacts", ("int_pathway_contacts",)),
    KpiInfo("social_prescriptions",
            "Social prescriptions whose latest status is not withdrawn or deleted and whose contact's latest "
            "version is attended, in the financial year of the contact's contact_date. A prescription whose "
            "contact has not arrived is an orphan: not counted until it does.",
            "prescription", "pathways", "prescriptions",
            ("int_pathway_prescriptions", "int_pathway_contacts", "int_social_prescriptions")),
    KpiInfo("prescriptions_per_contact",
            "social_prescriptions / pathway_contacts for the year (unrounded; empty when there are no contacts).",
            "ratio", "pathways", None, ()),
    KpiInfo("zoom_sessions",
            "Delivered Zoom sessions in the year of the local date of Start Time. A session is one meeting "
            "occurrence (Meeting ID without spaces, Start Time); it is delivered when at least one non-staff "
            "person attended. Staff are the host (of any session) and staff e-mail domains.",
            "session", "zoom", None, ("int_zoom_attendances", "int_zoom_sessions")),
    KpiInfo("zoom_members",
            "Distinct non-staff persons who attended a Zoom session in the year; a person is the lower-cased "
            "e-mail, else the normalised display name (held as keyed pseudonyms).",
            "person (pseudonym)", "zoom", None, ("int_zoom_attendances",), person=True, monthly=False),
    KpiInfo("zoom_attendances",
            "Non-staff (session, person) pairs in the year: someone who drops and rejoins attends once.",
            "attendance (session|person pseudonym)", "zoom", None, ("int_zoom_attendances",)),
    KpiInfo("sessions_per_member",
            "zoom_attendances / zoom_members for the year (unrounded; empty when there are no members).",
            "ratio", "zoom", None, ()),
    KpiInfo("wellbeing_calls",
            "Distinct wellbeing call_ids in the financial year of the call's Europe/London local date "
            "(call_started_at is UTC and converted first). A call delivered in several exports is one call.",
            "call", "wellbeing_calls", None, ("int_wellbeing_calls",)),
    KpiInfo("wellbeing_successful_contacts",
            "Wellbeing calls of the year whose outcome is successful.",
            "call", "wellbeing_calls", None, ("int_wellbeing_calls",)),
    KpiInfo("wellbeing_people_reached",
            "Distinct service users (keyed pseudonyms of service_user_ref) with a successful call in the year.",
            "service user (pseudonym)", "wellbeing_calls", None, ("int_wellbeing_calls",), person=True,
            monthly=False),
)}

COUNT_KPIS = tuple(k for k in KPIS if k not in RATIO_KPIS)

# Evidence role of each count KPI's own records (the other roles are supporting rows).
OWN_ROLE = {
    "visits": "visit", "visiting_members": "visit", "pathway_contacts": "contact",
    "social_prescriptions": "prescription", "zoom_sessions": "session", "zoom_attendances": "attendance",
    "zoom_members": "attendance", "wellbeing_calls": "call", "wellbeing_successful_contacts": "call",
    "wellbeing_people_reached": "call",
}


def info(kpi: str) -> KpiInfo:
    return CATALOGUE[kpi]


def components(kpi: str) -> tuple[str, ...]:
    """The count KPIs a KPI traces to: itself, or a ratio's numerator and denominator."""
    return RATIO_KPIS.get(kpi, (kpi,))


def file_in_scope(kpi: str, source: str, file_path: str) -> bool:
    """Does a ledger file (source, landing-relative path) belong to the KPI's source files?"""
    k = CATALOGUE[kpi]
    if source != k.source:
        return False
    if k.file_prefix is None:
        return True
    name = file_path.rsplit("/", 1)[-1].lower()
    # A pathways file named neither contacts* nor prescriptions* is quarantined: it concerns both.
    return name.startswith(k.file_prefix) or not name.startswith(("contacts", "prescriptions"))
