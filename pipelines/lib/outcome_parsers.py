"""Parsers of the three outcome inputs: members/, reference/ and outcome_measures/.

Same shape and rules as the activity parsers (pipelines.lib.parsers): each returns a `Parsed`
or raises `Quarantine`; a row that breaks a row rule is rejected with its line and reason.

Personal data: a member's postcode and year of birth are read here and never leave. The
postcode is normalised (`normalise_postcode`) and replaced by its keyed pseudonym
(`postcode_key`), which is not a raw column: ingestion drops it, and the members step
(pipelines.lib.members) re-reads it from the file to resolve the LSOA. The year of birth is
only validated. Reasons of members files never quote a value.

Registered in pipelines.lib.parsers.PARSERS at import (the bottom of that module).
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath

from pipelines.lib import contracts as c
from pipelines.lib import parsers as _p
from pipelines.lib.parsers import (LoadTime, Parsed, Quarantine, RowError, code, header_index, identifier, is_blank,
                                   iso_date, parse_table, records, strip_trailing_empty)
from pipelines.lib.pseudonym import Pseudonymiser

# --- postcodes ---------------------------------------------------------------------------------

# A UK postcode: outward code (area letters, district digit, optional letter/digit) and inward
# code (digit, two letters). Spacing and case are free in the register; `pcds` in the lookup.
OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
FULL_POSTCODE = re.compile(rf"({OUTWARD})([0-9][A-Z]{{2}})", re.ASCII)
OUTWARD_ONLY = re.compile(OUTWARD, re.ASCII)

# Pre-resolution status of a register postcode (raw.members.postcode_status before the LSOA step):
# 'unresolved' (a full postcode, to look up), 'partial' (outward code only), 'empty', 'unrecognised'.
# pipelines.lib.members turns 'unresolved' into 'resolved', 'not_in_lookup' or 'no_lookup'.
PRE_STATUSES = ("unresolved", "partial", "empty", "unrecognised")


def normalise_postcode(v: str) -> tuple[str | None, str]:
    """(`L4 0TH`, 'unresolved') for a full postcode in any case and spacing, else (None, status):
    'empty', 'partial' (an outward code only, e.g. `L4`) or 'unrecognised' (anything else)."""
    s = "".join(v.split()).upper()
    if not s:
        return None, "empty"
    m = FULL_POSTCODE.fullmatch(s)
    if m:
        return f"{m.group(1)} {m.group(2)}", "unresolved"
    if OUTWARD_ONLY.fullmatch(s):
        return None, "partial"
    return None, "unrecognised"


def postcode_key(p: Pseudonymiser, normalised: str | None) -> str | None:
    """The keyed pseudonym of a normalised postcode: the one form in which a postcode (of the
    public lookup) is kept, and the key members are resolved by."""
    return p.pseudonym("postcode", normalised)


LSOA_CODE = re.compile(r"[A-Z][0-9]{8}", re.ASCII)  # E01000001 (England), W01000001 (Wales)


def lsoa_code(v: str, name: str) -> str:
    if not v:
        raise RowError(f"missing {name}")
    u = v.upper()
    if not LSOA_CODE.fullmatch(u):
        raise RowError(f"{name} is not an LSOA code (a letter and 8 digits, e.g. E01006512)")
    return u


# --- members/ ----------------------------------------------------------------------------------

MEMBERS_FILE = re.compile(r"members_(\d{4})(\d{2})(\d{2})\.csv", re.ASCII | re.IGNORECASE)
MEMBER_ID = re.compile(r"M\d+", re.ASCII)
YEAR_OF_BIRTH = re.compile(r"\d{4}", re.ASCII)


def member_id(v: str) -> str:
    u = v.upper()
    if not u:
        raise RowError("missing member_id")
    if not MEMBER_ID.fullmatch(u):
        raise RowError("member_id is not M followed by digits")
    return u


def export_date_of(path: PurePosixPath, now: LoadTime) -> date:
    m = MEMBERS_FILE.fullmatch(path.name)
    if not m:
        raise Quarantine("members file name must be members_YYYYMMDD.csv (the export date)")
    try:
        d = date(*(int(g) for g in m.groups()))
        _p.in_range(d, "export date")
        now.check(d, "export date")
    except ValueError:
        raise Quarantine("members file name must be members_YYYYMMDD.csv with a real date") from None
    except RowError as exc:
        raise Quarantine(f"members file name: {exc}") from None
    return d


def parse_members(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    exported = export_date_of(path, now)

    def build(v: dict[str, str]) -> dict:
        registered = iso_date(v["registered_on"], "registered_on")
        now.check(registered, "registered_on")
        if registered > exported:
            raise RowError("registered_on is after the export date in the file name")
        yob = v["year_of_birth"]
        if yob and not (YEAR_OF_BIRTH.fullmatch(yob) and 1900 <= int(yob) <= exported.year):
            raise RowError(f"year_of_birth is not four digits between 1900 and {exported.year} (or empty)")
        normalised, status = normalise_postcode(v["postcode"])
        referral = v["referral_source"]
        return {
            "member_id": member_id(v["member_id"]),
            "export_date": exported,
            "registered_on": registered,
            "referral_source": code(referral, c.REFERRAL_SOURCES, "referral_source") if referral else None,
            "postcode_status": status,
            "lsoa11cd": None,
            "postcode_lookup_sha256": None,
            "postcode_key": postcode_key(p, normalised),  # not a raw column: dropped on insert
        }

    parsed = parse_table(text, c.MEMBERS_HEADER, "members", build, "members")
    # personal data: a shifted column could put a postcode where a code was expected
    parsed.rejects = [(line, _p.QUOTED.sub("(value withheld)", reason)) for line, reason in parsed.rejects]
    return parsed


# --- reference/ --------------------------------------------------------------------------------

def parse_reference(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    name = path.name.lower()
    it = records(text)
    first = next(it, None)
    if first is None or is_blank(first[1]):
        raise Quarantine("empty file: no header on line 1")
    if name.startswith("postcode_lsoa"):
        index = header_index(first[1], c.POSTCODE_LSOA_COLUMNS, extra_ok=True, what="postcode lookup")

        def postcode_row(v: dict[str, str]) -> dict:
            normalised, status = normalise_postcode(v["pcds"])
            if normalised is None:
                raise RowError("missing pcds" if status == "empty" else "pcds is not a full postcode")
            return {"postcode_key": postcode_key(p, normalised), "lsoa11cd": lsoa_code(v["lsoa11cd"], "lsoa11cd")}

        return _p.table_rows(it, index, len(c.POSTCODE_LSOA_COLUMNS), "postcode_lsoa", postcode_row, extra_ok=True)
    if name.startswith("imd2019"):
        names = strip_trailing_empty(first[1])
        deciles = [n for n in names if n.startswith(c.IMD_DECILE_PREFIX)]
        if len(deciles) != 1:
            raise Quarantine(f"IMD file header does not match the contract: {len(deciles)} column(s) named "
                             f"'{c.IMD_DECILE_PREFIX}...' (expected exactly 1)")
        expected = (c.IMD_LSOA_COLUMN, deciles[0])
        index = header_index(first[1], expected, extra_ok=True, what="IMD")

        def imd_row(v: dict[str, str]) -> dict:
            decile = v[deciles[0]]
            if not (decile.isascii() and decile.isdigit() and 1 <= int(decile) <= 10):
                raise RowError(f"IMD decile {_p.shown(decile)} is not a whole number 1..10" if decile
                               else "missing IMD decile")
            return {"lsoa11cd": lsoa_code(v[c.IMD_LSOA_COLUMN], c.IMD_LSOA_COLUMN), "imd_decile": int(decile)}

        return _p.table_rows(it, index, len(expected), "imd_deciles", imd_row, extra_ok=True)
    raise Quarantine("reference file name must start with 'postcode_lsoa' (ONS postcode to LSOA) or "
                     "'imd2019' (English Indices of Deprivation 2019)")


# --- outcome_measures/ -------------------------------------------------------------------------

ITEMS = tuple(f"item_{i}" for i in range(1, 8))


def outcome_row(v: dict[str, str], now: LoadTime = LoadTime()) -> dict:
    measure = code(v["measure"], c.MEASURES, "measure")
    row = {
        "response_id": identifier(v["response_id"], "response_id"),
        "member_id": member_id(v["member_id"]),
        "measure": measure,
        "timepoint": code(v["timepoint"], c.TIMEPOINTS, "timepoint"),
        "completed_on": iso_date(v["completed_on"], "completed_on"),
    }
    now.check(row["completed_on"], "completed_on")
    n, lo, hi = c.MEASURE_ITEMS[measure]
    for i, item in enumerate(ITEMS, start=1):
        value = v[item]
        if i > n:
            if value:
                raise RowError(f"{item} must be empty: {measure} has {n} items")
            row[item] = None
            continue
        if not value:
            raise RowError(f"missing {item} ({measure} needs items 1-{n})")
        if not (value.isascii() and value.isdigit() and lo <= int(value) <= hi):
            raise RowError(f"{item} out of range: {measure} items are whole numbers {lo}-{hi}")
        row[item] = int(value)
    return row


def parse_outcome_measures(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    return parse_table(text, c.OUTCOME_HEADER, "outcome_measures", lambda v: outcome_row(v, now),
                       "outcome_measures")


_p.PARSERS.update({
    "members": parse_members,
    "reference": parse_reference,
    "outcome_measures": parse_outcome_measures,
})
