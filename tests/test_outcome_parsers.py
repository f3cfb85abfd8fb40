"""The outcome inputs' parsers and the members step, without a pipeline run (fast): postcode
normalisation, row rules, and that members resolve the same whichever order the register and
the lookup arrive in."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import duckdb
import pytest

from pipelines.lib.ingest import ingest_source
from pipelines.lib.members import resolve_members
from pipelines.lib.outcome_parsers import normalise_postcode
from pipelines.lib.parsers import Quarantine, parse_file
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import create_schema
from tests.support import write_export

P = Pseudonymiser(b"k" * 32)
MEMBERS = "member_id,registered_on,postcode,year_of_birth,referral_source\n"


@pytest.mark.parametrize("given,expected", [
    ("L4 0TH", ("L4 0TH", "unresolved")),
    ("l4 0th", ("L4 0TH", "unresolved")),
    ("L40TH", ("L4 0TH", "unresolved")),
    ("  L4   0TH ", ("L4 0TH", "unresolved")),
    ("l40th", ("L4 0TH", "unresolved")),
    ("CH41 1AA", ("CH41 1AA", "unresolved")),
    ("ch411aa", ("CH41 1AA", "unresolved")),
    ("SW1A1AA", ("SW1A 1AA", "unresolved")),  # outward code with a letter
    ("PR8\t1XY", ("PR8 1XY", "unresolved")),
    ("L4", (None, "partial")),
    ("ch41", (None, "partial")),
    ("", (None, "empty")),
    ("   ", (None, "empty")),
    ("NFA", (None, "unrecognised")),
    ("n/a", (None, "unrecognised")),
    ("L4-0TH", (None, "unrecognised")),
    ("L4 0T", (None, "unrecognised")),
    ("４ 0TH", (None, "unrecognised")),  # not ASCII digits
])
def test_postcode_normalisation(given, expected):
    assert normalise_postcode(given) == expected


def parse(source: str, name: str, text: str):
    return parse_file(source, text.encode(), PurePosixPath(f"{source}/{name}"), P)


def test_register_rows_keep_no_postcode_and_no_year_of_birth():
    parsed = parse("members", "members_20220301.csv", MEMBERS + "m7,2021-01-01,l4 0th,1970,GP\n")
    [row] = parsed.tables["members"]
    assert row["member_id"] == "M7" and row["referral_source"] == "gp" and row["postcode_status"] == "unresolved"
    assert row["postcode_key"] == P.pseudonym("postcode", "L4 0TH")
    assert "L4 0TH" not in repr(row).upper() and "1970" not in repr(row)


@pytest.mark.parametrize("name", ["members.csv", "members_2022-03-01.csv", "members_20221301.csv", "register_20220301.csv"])
def test_a_register_file_without_its_export_date_is_quarantined(name):
    with pytest.raises(Quarantine, match="members_YYYYMMDD.csv"):
        parse("members", name, MEMBERS)


def test_a_reference_file_is_known_by_its_name_and_imd_needs_one_decile_column():
    with pytest.raises(Quarantine, match="must start with 'postcode_lsoa'"):
        parse("reference", "lookup.csv", "pcds,lsoa11cd\n")
    with pytest.raises(Quarantine, match="0 column"):
        parse("reference", "imd2019.csv", "LSOA code (2011),IMD Decile\nE01000001,1\n")
    two = ("LSOA code (2011),Index of Multiple Deprivation (IMD) Decile,Index of Multiple Deprivation (IMD) Decile "
           "(where 1 is most deprived 10% of LSOAs)\nE01000001,1,1\n")
    with pytest.raises(Quarantine, match="2 column"):
        parse("reference", "imd2019.csv", two)
    parsed = parse("reference", "imd2019_file1.csv",
                   "LSOA code (2011),Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
                   "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"
                   "e01000001,15,1\nE01000002,,10\nE01000003,9,0\n")
    assert [(r["lsoa11cd"], r["imd_decile"]) for r in parsed.tables["imd_deciles"]] == \
        [("E01000001", 1), ("E01000002", 10)]
    assert parsed.rejects == [(4, "IMD decile '0' is not a whole number 1..10")]


def test_questionnaire_items_by_measure():
    header = "response_id,member_id,measure,timepoint,completed_on,item_1,item_2,item_3,item_4,item_5,item_6,item_7\n"
    parsed = parse("outcome_measures", "r.csv", header +
                   "A,M1,SWEMWBS,Baseline,2021-05-01,1,2,3,4,5,5,5\n"   # codes case-folded
                   "B,M1,ons4,follow_up,2021-05-01,0,10,5,0,,,\n"
                   "C,M1,ons4,follow_up,2021-05-01,0,10,5,,,,\n"
                   "D,M1,swemwbs,baseline,2021-05-01,0,2,3,4,5,5,5\n"
                   "E,M1,swemwbs,baseline,2021-05-01,1,2,3,4,5,5,2.5\n"
                   "F,,swemwbs,baseline,2021-05-01,1,2,3,4,5,5,5\n"
                   "G,M1,swemwbs,midpoint,2021-05-01,1,2,3,4,5,5,5\n")
    rows = {r["response_id"]: r for r in parsed.tables["outcome_measures"]}
    assert rows["A"]["measure"] == "swemwbs" and rows["A"]["timepoint"] == "baseline" and rows["A"]["item_7"] == 5
    assert rows["B"]["item_2"] == 10 and rows["B"]["item_5"] is None
    assert dict(parsed.rejects) == {
        4: "missing item_4 (ons4 needs items 1-4)",
        5: "item_1 out of range: swemwbs items are whole numbers 1-5",
        6: "item_7 out of range: swemwbs items are whole numbers 1-5",
        7: "missing member_id",
        8: "unknown timepoint 'midpoint' (allowed: baseline, follow_up)",
    }
    assert parsed.rows_read == 7 == len(rows) + len(parsed.rejects)


def _members_state(order: list[str], tmp_path: Path) -> list[tuple]:
    landing = tmp_path / "landing"
    write_export(landing / "members" / "members_20220301.csv",
                 MEMBERS + "M1,2021-01-01,l4 0th,,\nM2,2021-01-01,L99 9ZZ,,\nM3,2021-01-01,L4,,\n")
    write_export(landing / "reference" / "postcode_lsoa.csv", "pcds,lsoa11cd\nL4 0TH,E01000001\n")
    con = duckdb.connect()
    create_schema(con)
    statuses = []
    for source in order:
        ingest_source(con, landing, source, P)
        resolve_members(con, landing, P)
        statuses.append(con.execute("SELECT member_id, postcode_status, lsoa11cd FROM raw.members ORDER BY 1").fetchall())
    return statuses


def test_members_resolve_the_same_whichever_arrives_first(tmp_path):
    register_first = _members_state(["members", "reference"], tmp_path / "a")
    lookup_first = _members_state(["reference", "members"], tmp_path / "b")
    assert register_first[0] == [("M1", "no_lookup", None), ("M2", "no_lookup", None), ("M3", "partial", None)]
    final = [("M1", "resolved", "E01000001"), ("M2", "not_in_lookup", None), ("M3", "partial", None)]
    assert register_first[-1] == lookup_first[-1] == final


def test_a_register_file_gone_from_the_landing_keeps_its_resolution(tmp_path):
    landing = tmp_path / "landing"
    write_export(landing / "members" / "members_20220301.csv", MEMBERS + "M1,2021-01-01,L4 0TH,,\n")
    con = duckdb.connect()
    create_schema(con)
    ingest_source(con, landing, "members", P)
    resolve_members(con, landing, P)
    (landing / "members" / "members_20220301.csv").unlink()
    write_export(landing / "reference" / "postcode_lsoa.csv", "pcds,lsoa11cd\nL4 0TH,E01000001\n")
    ingest_source(con, landing, "reference", P)
    summary = resolve_members(con, landing, P)
    assert summary.files_unreadable == ["members/members_20220301.csv"]
    assert con.execute("SELECT postcode_status FROM raw.members").fetchall() == [("no_lookup",)]


def test_bad_bytes_and_encodings_as_for_the_activity_exports():
    header = "response_id,member_id,measure,timepoint,completed_on,item_1,item_2,item_3,item_4,item_5,item_6,item_7\n"
    row = "R1,M1,ons4,baseline,2021-05-01,5,6,7,3,,,\n"
    path = PurePosixPath("outcome_measures/r.csv")
    with pytest.raises(Quarantine, match="UTF-16"):
        parse_file("outcome_measures", (header + row).encode("utf-16"), path, P)
    with pytest.raises(Quarantine, match="not valid UTF-8"):
        parse_file("members", (MEMBERS + "M1,2021-01-01,L4 0TH,,\n").encode() + b"\xe9\n",
                   PurePosixPath("members/members_20220301.csv"), P)
    with pytest.raises(Quarantine, match="ZIP"):
        parse_file("reference", b"PK\x03\x04 an xlsx", PurePosixPath("reference/imd2019.xlsx"), P)
    ok = parse_file("outcome_measures", b"\xef\xbb\xbf" + (header + row).replace("\n", "\r\n").encode(), path, P)
    assert len(ok.tables["outcome_measures"]) == 1 and not ok.rejects
    formula = parse_file("outcome_measures", (header + row.replace("R1", "=HYPERLINK(1)")).encode(), path, P)
    assert formula.rejects == [(2, "response_id starts with a spreadsheet formula character (= + - @): not an identifier")]
    short = parse_file("members", (MEMBERS + "M1,2021-01-01,L4 0TH\n").encode(),
                       PurePosixPath("members/members_20220301.csv"), P)
    assert short.rejects == [(2, "expected 5 fields, found 3 (a truncated or shifted line?)")]
    # a shifted register row never quotes a value (it could be a postcode)
    shifted = parse_file("members", (MEMBERS + "M1,L4 0TH,2021-01-01,,\n").encode(),
                         PurePosixPath("members/members_20220301.csv"), P)
    assert shifted.rejects and "L4" not in shifted.rejects[0][1]
