"""The export contracts (shared/export-formats.md) as data: headers and code sets.

Parsers validate against these; nothing else in the code base restates them.
"""
from __future__ import annotations

# Landing folders, one ingestion asset each. The last three (the membership register, the
# deprivation lookups and the wellbeing questionnaires) are optional: a landing zone without
# them still runs, and the figures that need them say their data has not arrived.
ACTIVITY_SOURCES = ("visits", "zoom", "pathways", "wellbeing_calls")
OUTCOME_SOURCES = ("members", "reference", "outcome_measures")
SOURCES = ACTIVITY_SOURCES + OUTCOME_SOURCES
# The raw tables each source's ingestion writes (pipelines/lib/ingest.py).
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "visits": ("visits",),
    "zoom": ("zoom_meetings", "zoom_participants"),
    "pathways": ("pathway_contacts", "pathway_prescriptions"),
    "wellbeing_calls": ("wellbeing_calls",),
    "members": ("members",),
    "reference": ("postcode_lsoa", "imd_deciles"),
    "outcome_measures": ("outcome_measures",),
}

VISITS_HEADER = ("visit_id", "site_code", "signed_in_at", "member_id", "visitor_type", "purpose", "status")
CONTACTS_HEADER = ("contact_id", "member_id", "advisor_id", "site_code", "contact_date", "mode", "outcome", "updated_at")
PRESCRIPTIONS_HEADER = ("prescription_id", "contact_id", "category", "referred_to", "created_date", "status", "updated_at")
WELLBEING_HEADER = ("call_id", "service_user_ref", "call_started_at", "staff_id", "direction", "outcome", "duration_seconds")

ZOOM_MEETING_HEADER = ("Meeting ID", "Topic", "Start Time", "End Time", "User Email", "Duration (Minutes)", "Participants")
ZOOM_PER_JOIN_HEADER = ("Name (Original Name)", "User Email", "Join Time", "Leave Time", "Duration (Minutes)", "Guest")
ZOOM_UNIQUE_USERS_HEADER = ("Name (Original Name)", "User Email", "Total Duration (Minutes)", "Guest")

MEMBERS_HEADER = ("member_id", "registered_on", "postcode", "year_of_birth", "referral_source")
OUTCOME_HEADER = ("response_id", "member_id", "measure", "timepoint", "completed_on",
                  "item_1", "item_2", "item_3", "item_4", "item_5", "item_6", "item_7")
# reference/: the columns we need; the published files carry many more (ignored).
POSTCODE_LSOA_COLUMNS = ("pcds", "lsoa11cd")
IMD_LSOA_COLUMN = "LSOA code (2011)"
IMD_DECILE_PREFIX = "Index of Multiple Deprivation (IMD) Decile"

SITE_CODES = frozenset({"WAL", "SOU", "BOO", "PCL", "PSL"})
SITE_NAMES = {
    "WAL": "Walton",
    "SOU": "Southport",
    "BOO": "Bootle",
    "PCL": "Peripatetic Central Liverpool",
    "PSL": "Peripatetic South Liverpool",
}
VISITOR_TYPES = frozenset({"member", "guest", "carer", "volunteer", "staff"})
PURPOSES = frozenset({"course", "pathways", "drop_in", "cafe", "library", "computers", "volunteering", "other"})
VISIT_STATUSES = frozenset({"ok", "void"})

CONTACT_MODES = frozenset({"face_to_face", "phone", "video"})
CONTACT_OUTCOMES = frozenset({"booked", "attended", "did_not_attend", "cancelled", "deleted"})
PRESCRIPTION_CATEGORIES = frozenset({
    "housing", "debt", "benefits", "employment", "wellbeing", "learning",
    "volunteering", "community", "physical_activity", "other",
})
PRESCRIPTION_STATUSES = frozenset({"made", "accepted", "completed", "declined", "withdrawn", "deleted"})

CALL_DIRECTIONS = frozenset({"outbound", "inbound"})
CALL_OUTCOMES = frozenset({"successful", "no_answer", "voicemail", "wrong_number", "declined", "callback_requested"})

REFERRAL_SOURCES = frozenset({"self", "gp", "mental_health_service", "voluntary_sector", "other"})
MEASURES = frozenset({"swemwbs", "ons4"})
TIMEPOINTS = frozenset({"baseline", "follow_up"})
# Items each measure uses and their range; the other items must be empty.
MEASURE_ITEMS = {"swemwbs": (7, 1, 5), "ons4": (4, 0, 10)}  # (items, lowest, highest)
ONS4_ITEMS = ("life_satisfaction", "worthwhile", "happiness", "anxiety")  # item_1..item_4
PAIRING_MIN_DAYS = 42  # a follow-up pairs with the baseline when completed at least this long after
SWEMWBS_MEANINGFUL_CHANGE = 3  # metric points: improved / worsened

DEFAULT_STAFF_DOMAINS = ("merseycare.nhs.uk",)
