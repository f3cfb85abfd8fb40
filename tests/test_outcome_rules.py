"""The contract's three outcome sections (members/, reference/, outcome_measures/), end to end.

Hand-written landing zones, answers worked by hand in the comments. Three pipeline runs, each on
the home of the one before (so later deliveries are incremental, as in production):

- run 0: activity only (visits, pathways): the pipeline runs, the outcome figures say their data
  has not arrived;
- run 1: + the register (two exports), the lookups and the questionnaires: reach by IMD decile,
  the shares, by site; pairing (the 42-day boundary, earliest baseline / latest follow-up),
  SWEMWBS at every raw score, improved / worsened, ONS4 per item; rejected and quarantined files;
- run 2: + a newer postcode lookup, a newer register export and re-deliveries: the figures they
  touch are recomputed, the others unchanged.
"""
from __future__ import annotations

import csv
import json
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import contracts as c
from pipelines.lib.outcome_parsers import normalise_postcode
from tests.support import REPO, outcomes, write_export

pytestmark = pytest.mark.slow

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CONTACTS = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
MEMBERS = "member_id,registered_on,postcode,year_of_birth,referral_source\n"
RESPONSES = "response_id,member_id,measure,timepoint,completed_on,item_1,item_2,item_3,item_4,item_5,item_6,item_7\n"
POSTCODES = "pcd7,pcds,dointr,lsoa11cd,msoa11cd\n"
IMD = ("LSOA code (2011),LSOA name (2011),Local Authority District name (2019),"
       "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
       "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n")
FY = "2021/22"

# The contract's conversion table, raw 7..35 (restated here on purpose: the seed must equal it).
CONTRACT_SWEMWBS = [7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98,
                    18.59, 19.25, 19.98, 20.73, 21.54, 22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31,
                    30.70, 32.55, 35.00]


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def swemwbs(raw: int) -> str:
    """Seven items (1-5) summing to `raw`."""
    base, extra = divmod(raw, 7)
    items = [base + (1 if i < extra else 0) for i in range(7)]
    assert sum(items) == raw and all(1 <= x <= 5 for x in items)
    return ",".join(map(str, items))


def query(home: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def reach(home: Path, year: str = FY, site: str = "ALL") -> dict[str, int]:
    return dict(query(home, "SELECT imd_decile, members FROM main.mart_reach_by_deprivation "
                            "WHERE financial_year = ? AND site_code = ?", [year, site]))


def summary(home: Path, year: str = FY, site: str = "ALL") -> dict:
    rows = query(home, "SELECT members_reached, members_known_decile, members_unknown_decile, members_decile_1_3, "
                       "members_decile_1, share_decile_1_3, share_decile_1 FROM main.mart_reach_summary "
                       "WHERE financial_year = ? AND site_code = ?", [year, site])
    keys = ["reached", "known", "unknown", "d1_3", "d1", "share_1_3", "share_1"]
    return dict(zip(keys, rows[0])) if rows else {}


def change(home: Path, year: str, item: str) -> dict:
    rows = query(home, "SELECT paired_members, mean_baseline, mean_follow_up, mean_change, mean_improvement, "
                       "improved, worsened, share_improved, share_worsened FROM main.mart_wellbeing_change "
                       "WHERE financial_year = ? AND item = ?", [year, item])
    keys = ["paired", "baseline", "follow_up", "change", "improvement", "improved", "worsened",
            "share_improved", "share_worsened"]
    return dict(zip(keys, rows[0])) if rows else {}


def page(home: Path, year: str = FY) -> str:
    return (home / "dashboards" / f"{year.replace('/', '-')}.html").read_text(encoding="utf-8")


# --- run 0: activity only -------------------------------------------------------------------

def write_activity(landing: Path) -> None:
    # 2021/22 counted visits: M1 at WAL and BOO; M2, M4..M9 at WAL; M3 at SOU.
    # Not counted: M10 (void), M13 (staff). Counted contacts: M11, M3. M12 did not attend.
    write_export(landing / "visits" / "kiosk_2021-06-08.csv", VISITS + d("""
        V1,WAL,2021-06-01 10:00,M1,member,course,ok
        V2,BOO,2021-06-02 10:00,M1,member,course,ok
        V3,WAL,2021-06-01 11:00,M2,member,cafe,ok
        V4,SOU,2021-06-01 11:00,M3,member,course,ok
        V5,WAL,2021-06-01 12:00,M4,member,course,ok
        V6,WAL,2021-06-01 12:10,M5,member,course,ok
        V7,WAL,2021-06-01 12:20,M6,member,course,ok
        V8,WAL,2021-06-01 12:30,M7,member,course,ok
        V9,WAL,2021-06-01 12:40,M8,member,course,ok
        V10,WAL,2021-06-01 12:50,m9,member,course,ok
        V11,WAL,2021-06-01 13:00,M10,member,course,void
        V12,WAL,2021-06-01 13:10,M13,staff,other,ok
        V13,WAL,2021-06-01 13:20,,guest,cafe,ok
    """))
    write_export(landing / "pathways" / "contacts_2021-09-08.csv", CONTACTS + d("""
        C1,M11,A1,WAL,2021-09-01,phone,attended,2021-09-01T10:00:00+01:00
        C2,M12,A1,WAL,2021-09-01,phone,did_not_attend,2021-09-01T10:00:00+01:00
        C3,M3,A1,SOU,2021-09-02,face_to_face,attended,2021-09-02T10:00:00+01:00
    """))


@pytest.fixture(scope="module")
def run0(tmp_path_factory):
    landing = tmp_path_factory.mktemp("outcomes_landing")
    write_activity(landing)
    home = tmp_path_factory.mktemp("outcomes_home0")
    proc = outcomes("run", "--landing", str(landing), "--home", str(home))
    return landing, home, proc


def test_a_landing_without_the_outcome_inputs_runs_and_counts_as_before(run0):
    _, home, proc = run0
    assert "visits" in proc.stdout
    assert query(home, "SELECT value FROM main.kpi_annual WHERE financial_year = ? AND kpi = 'visits'", [FY]) == [(11,)]
    assert query(home, "SELECT register_members, postcode_lookup_file, imd_lookup_file, outcome_responses "
                       "FROM main.mart_outcome_inputs") == [(0, None, None, 0)]
    # members are still reached (10: see run 1), every one at decile 'unknown', not in the register
    assert reach(home) == {**{str(k): 0 for k in range(1, 11)}, "unknown": 10}
    assert summary(home)["share_1_3"] is None
    assert {r for (r,) in query(home, "SELECT DISTINCT unknown_reason FROM main.int_members_reached")} \
        == {"not_in_register"}
    assert query(home, "SELECT count(*) FROM main.mart_wellbeing_change") == [(0,)]


def test_pages_say_the_outcome_data_has_not_arrived(run0):
    _, home, _ = run0
    text = page(home)
    assert 'id="reach-no-data"' in text and "the membership register (landing folder members/)" in text
    assert "the deprivation lookups" in text and "have not arrived" in text
    assert 'id="wellbeing-no-data"' in text and "no wellbeing questionnaires" in text
    assert 'id="fig-reach"' not in text and 'id="fig-swemwbs-change"' not in text


# --- run 1: the outcome inputs arrive ---------------------------------------------------------

def write_outcome_inputs(landing: Path) -> None:
    m = landing / "members"
    # The older export: M1 then lived in PR8 (decile 9); M2 appears in no newer export (keeps this row).
    write_export(m / "members_20210401.csv", MEMBERS + d("""
        M1,2020-01-10,PR8 1XY,1970,gp
        M2,2020-02-11,L51AB,1985,self
        M13,2020-03-01,L4 0TH,1990,
    """))
    # The newer export wins for M1 (now L4 0TH, decile 1). Postcodes in every spelling.
    write_export(m / "2022" / "members_20220301.csv", MEMBERS + d("""
        m1,2020-01-10,l4 0th,1970,gp
        M3,2021-01-05,L6  2cd,,mental_health_service
        M4,2021-01-06,L4,1960,voluntary_sector
        M5,2021-01-07,,1999,other
        M6,2021-01-08,L99 9ZZ,2001,self
        M7,2021-01-09,CH41 1AA,1950,gp
        M8,2021-01-10, pr8 1xy ,1951,gp
        M10,2021-01-11,L4 0TH,1952,gp
        M11,2021-01-12,l5 1ab,1953,self
        M13,2020-03-01,L4 0TH,1990,
        M14,2021-13-01,L4 0TH,1990,self
        X15,2021-01-01,L4 0TH,1990,self
        M16,2021-01-01,L4 0TH,19x0,self
    """))
    write_export(m / "register.csv", MEMBERS + "M1,2020-01-10,L4 0TH,1970,gp\n")  # no export date
    write_export(m / "members_20220302.csv", "member_id,registered_on,postcode_district,year_of_birth,"
                 "referral_source\nM1,2020-01-10,L4,1970,gp\n")  # wrong header
    r = landing / "reference"
    # ONS postcode directory extract: pcds plus columns we ignore. CH41 1AA's LSOA is not in the IMD file.
    write_export(r / "postcode_lsoa_2021.csv", POSTCODES + d("""
        L4  0TH,L4 0TH,199901,E01000001,E02000001
        L5  1AB,L5 1AB,199901,E01000002,E02000001
        L6  2CD,L6 2CD,199901,E01000003,E02000001
        PR8 1XY,PR8 1XY,199901,E01000009,E02000002
        CH411AA,CH41 1AA,199901,E01099999,E02000003
        XXXXXXX,not a postcode,199901,E01000001,E02000001
    """))
    write_export(r / "imd2019_file7.csv", IMD + d("""
        E01000001,Liverpool 001A,Liverpool,100,1
        E01000002,Liverpool 001B,Liverpool,4000,2
        E01000003,Liverpool 001C,Liverpool,7000,3
        E01000009,Sefton 001A,Sefton,30000,10
        E01000010,Sefton 001B,Sefton,3000,eleven
    """))
    write_export(r / "lookup.csv", "pcds,lsoa11cd\nL4 0TH,E01000001\n")  # neither name: quarantined

    o = landing / "outcome_measures"
    # 2021/22 SWEMWBS pairs (metric scores from the conversion table):
    #   M1 raw 14 (15.32) 2021-05-01 -> raw 21 (19.25) 2021-06-12: 42 days, paired, +3.93 improved
    #   M2 raw 21 (19.25) 2021-05-01 -> follow-up 2021-06-11: 41 days, NOT paired
    #   M3 earliest baseline raw 28 (25.03) 2021-04-10 (a later baseline 2021-05-01 is ignored);
    #      latest follow-up 42+ days after: raw 25 (22.35) 2021-08-01 (not 2021-06-01): -2.68, neither
    #   M4 raw 28 (25.03) -> raw 24 (21.54): -3.49 worsened
    #   M5 baseline only, M6 follow-up only: unpaired
    #   M7 raw 21 -> raw 21, the follow-up delivered twice (overlapping export): 0.00, one pair
    #   M8 raw 11 (13.33) -> raw 16 (16.36): +3.03 improved (just over the threshold)
    #   M9 raw 20 (18.59) -> raw 24 (21.54): +2.95 neither (just under)
    # paired 6; improved 2 (M1, M8); worsened 1 (M4)
    # mean baseline (15.32+25.03+25.03+19.25+13.33+18.59)/6 = 116.55/6; follow-up 120.29/6; change 3.74/6
    write_export(o / "2021" / "responses_2021-08.csv", RESPONSES + d(f"""
        S1B,M1,swemwbs,baseline,2021-05-01,{swemwbs(14)}
        S1F,M1,swemwbs,follow_up,2021-06-12,{swemwbs(21)}
        S2B,M2,swemwbs,baseline,2021-05-01,{swemwbs(21)}
        S2F,M2,swemwbs,follow_up,2021-06-11,{swemwbs(28)}
        S3B1,M3,swemwbs,baseline,2021-04-10,{swemwbs(28)}
        S3B2,M3,swemwbs,baseline,2021-05-01,{swemwbs(14)}
        S3F1,M3,swemwbs,follow_up,2021-06-01,{swemwbs(35)}
        S3F2,M3,swemwbs,follow_up,2021-08-01,{swemwbs(25)}
        S4B,M4,swemwbs,baseline,2021-05-01,{swemwbs(28)}
        S4F,M4,swemwbs,follow_up,2021-07-01,{swemwbs(24)}
        S5B,M5,swemwbs,baseline,2021-05-01,{swemwbs(20)}
        S6F,M6,swemwbs,follow_up,2021-07-01,{swemwbs(20)}
        S7B,M7,swemwbs,baseline,2021-05-01,{swemwbs(21)}
        S7F,M7,swemwbs,follow_up,2021-07-01,{swemwbs(21)}
        S8B,M8,swemwbs,baseline,2021-05-01,{swemwbs(11)}
        S8F,M8,swemwbs,follow_up,2021-07-01,{swemwbs(16)}
        S9B,M9,swemwbs,baseline,2021-05-01,{swemwbs(20)}
        S9F,M9,swemwbs,follow_up,2021-07-01,{swemwbs(24)}
        O1B,M1,ons4,baseline,2021-05-01,5,6,4,7,,,
        O1F,M1,ons4,follow_up,2021-07-01,7,7,6,3,,,
        O2B,M2,ons4,baseline,2021-05-01,3,4,5,2,,,
        O2F,M2,ons4,follow_up,2021-07-01,4,4,5,4,,,
        BAD1,M1,swemwbs,baseline,2021-05-01,3,3,3,3,3,3,
        BAD2,M1,swemwbs,baseline,2021-05-01,3,3,3,3,3,3,6
        BAD3,M1,ons4,baseline,2021-05-01,5,6,11,3,,,
        BAD4,M1,ons4,baseline,2021-05-01,5,6,7,3,1,,
        BAD5,M1,wemwbs,baseline,2021-05-01,3,3,3,3,3,3,3
        BAD6,M1,swemwbs,baseline,2021-02-30,3,3,3,3,3,3,3
    """))
    # the overlapping re-export: S7F again (one response)
    write_export(o / "2021" / "responses_2021-09.csv", RESPONSES + f"S7F,M7,swemwbs,follow_up,2021-07-01,{swemwbs(21)}\n")
    # A pair belongs to the year of its follow-up: M10 2022-02-01 -> 2022-04-05 is in 2022/23.
    write_export(o / "responses_2022-04.csv", RESPONSES + d(f"""
        S10B,M10,swemwbs,baseline,2022-02-01,{swemwbs(21)}
        S10F,M10,swemwbs,follow_up,2022-04-05,{swemwbs(28)}
    """))
    # The conversion at every raw score, 7..35, in 2019/20: member M20nn has a baseline of raw nn.
    rows = "".join(f"SC{r},M20{r:02d},swemwbs,baseline,2019-05-01,{swemwbs(r)}\n" for r in range(7, 36))
    write_export(o / "conversion_check.csv", RESPONSES + rows)


@pytest.fixture(scope="module")
def run1(run0, tmp_path_factory):
    landing, home0, _ = run0
    home = tmp_path_factory.mktemp("outcomes_home1") / "home"
    shutil.copytree(home0, home)
    write_outcome_inputs(landing)
    proc = outcomes("run", "--landing", str(landing), "--home", str(home))
    return landing, home, proc


def test_members_reached_by_decile_by_hand(run1):
    _, home, _ = run1
    # reached: M1..M9 (visits), M11 (contact), M3 also by contact (once) = 10; not M10 (void), M12 (did not
    # attend), M13 (staff). Decile 1: M1 (newest export L4 0TH); 2: M2 (older export only), M11; 3: M3;
    # 10: M8 (' pr8 1xy '); unknown: M4 (L4, partial), M5 (empty), M6 (not in the lookup), M7 (LSOA not in
    # the IMD file), M9 (not on the register).
    assert reach(home) == {"1": 1, "2": 2, "3": 1, "4": 0, "5": 0, "6": 0, "7": 0, "8": 0, "9": 0, "10": 1,
                           "unknown": 5}
    reasons = dict(query(home, "SELECT member_id, unknown_reason FROM main.int_members_reached WHERE financial_year = ? "
                               "AND unknown_reason IS NOT NULL", [FY]))
    assert reasons == {"M4": "partial", "M5": "empty", "M6": "not_in_lookup", "M7": "lsoa_not_in_imd",
                       "M9": "not_in_register"}


def test_shares_in_deciles_1_3_and_1_are_of_the_known_decile_members(run1):
    _, home, _ = run1
    # known = 10 - 5 unknown = 5; deciles 1-3: M1, M2, M11, M3 = 4 -> 4/5; decile 1: M1 -> 1/5
    s = summary(home)
    assert (s["reached"], s["known"], s["unknown"], s["d1_3"], s["d1"]) == (10, 5, 5, 4, 1)
    assert s["share_1_3"] == pytest.approx(0.8) and s["share_1"] == pytest.approx(0.2)


def test_by_site_counts_members_with_a_counted_visit_there(run1):
    _, home, _ = run1
    # WAL: M1, M2, M4..M9 = 8 (M1: 1; M2: 2; M8: 10; unknown M4..M7, M9); BOO: M1; SOU: M3 (the contact adds
    # no site); M11 (contact only) is in no site.
    wal = reach(home, site="WAL")
    assert (wal["1"], wal["2"], wal["10"], wal["unknown"], sum(wal.values())) == (1, 1, 1, 5, 8)
    assert summary(home, site="WAL")["share_1_3"] == pytest.approx(2 / 3)
    assert sum(reach(home, site="BOO").values()) == 1 and reach(home, site="BOO")["1"] == 1
    assert reach(home, site="SOU")["3"] == 1
    assert {s for (s,) in query(home, "SELECT DISTINCT site_code FROM main.mart_reach_summary")} == \
        {"ALL", "WAL", "BOO", "SOU"}


def test_register_rows_rejected_and_files_quarantined_with_reasons(run1):
    _, home, _ = run1
    files = {p: (st, reason, rr, rl, rj) for p, st, reason, rr, rl, rj in query(
        home, "SELECT file_path, status, reason, rows_read, rows_loaded, rows_rejected FROM ledger.files "
              "WHERE source IN ('members', 'reference', 'outcome_measures')")}
    assert files["members/register.csv"][:2] == ("quarantined", "members file name must be members_YYYYMMDD.csv "
                                                 "(the export date)")
    assert files["members/members_20220302.csv"][0] == "quarantined"
    assert "missing column(s) ['postcode']" in files["members/members_20220302.csv"][1]
    assert files["reference/lookup.csv"][0] == "quarantined"
    # rows read = loaded + rejected, file by file
    for path, (status, _, read, loaded, rejected) in files.items():
        if status == "loaded":
            assert read == loaded + rejected, path
    assert files["members/2022/members_20220301.csv"][2:] == (13, 10, 3)
    assert files["reference/postcode_lsoa_2021.csv"][2:] == (6, 5, 1)
    assert files["reference/imd2019_file7.csv"][2:] == (5, 4, 1)
    assert files["outcome_measures/2021/responses_2021-08.csv"][2:] == (28, 22, 6)
    rejected = dict(query(home, "SELECT line_number, reason FROM ledger.rejected_rows "
                                "WHERE file_path = 'members/2022/members_20220301.csv'"))
    assert rejected == {12: "unparseable registered_on (value withheld) (expected YYYY-MM-DD)",
                        13: "member_id is not M followed by digits",
                        14: "year_of_birth is not four digits between 1900 and 2022 (or empty)"}
    rejected = dict(query(home, "SELECT line_number, reason FROM ledger.rejected_rows "
                                "WHERE file_path = 'outcome_measures/2021/responses_2021-08.csv'"))
    assert rejected == {
        24: "missing item_7 (swemwbs needs items 1-7)",
        25: "item_7 out of range: swemwbs items are whole numbers 1-5",
        26: "item_3 out of range: ons4 items are whole numbers 0-10",
        27: "item_5 must be empty: ons4 has 4 items",
        28: "unknown measure 'wemwbs' (allowed: ons4, swemwbs)",
        29: "unparseable completed_on '2021-02-30' (expected YYYY-MM-DD)",
    }
    assert dict(query(home, "SELECT line_number, reason FROM ledger.rejected_rows "
                            "WHERE file_path = 'reference/imd2019_file7.csv'")) == \
        {6: "IMD decile 'eleven' is not a whole number 1..10"}


def test_postcodes_and_years_of_birth_never_reach_the_warehouse(run1):
    landing, home, _ = run1
    postcodes, years = set(), set()
    for path in (landing / "members").rglob("*.csv"):
        for row in csv.DictReader(path.read_text().splitlines()):
            if row.get("postcode", "").strip():
                postcodes.add(row["postcode"].strip())
            if row.get("year_of_birth", "").strip():
                years.add(row["year_of_birth"].strip())
    needles = {p.upper() for p in postcodes} | {"".join(p.split()).upper() for p in postcodes} | \
        {normalise_postcode(p)[0] for p in postcodes if normalise_postcode(p)[0]}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        relations = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                                "WHERE table_schema IN ('raw', 'ledger', 'main')").fetchall()
        for schema, table in relations:
            cols = con.execute(f'SELECT * FROM "{schema}"."{table}" LIMIT 0').description
            assert not {"postcode", "year_of_birth", "pcds"} & {c[0] for c in cols}, table
            for (name, *_) in cols:
                values = con.execute(f'SELECT DISTINCT CAST("{name}" AS VARCHAR) FROM "{schema}"."{table}"').fetchall()
                for (v,) in values:
                    if v is None:
                        continue
                    u = v.upper()
                    assert not any(n in u for n in needles if len(n) >= 4), (table, name)
                    assert v not in years, (table, name)


def test_swemwbs_metric_score_at_every_raw_score(run1):
    _, home, _ = run1
    seed = list(csv.DictReader((REPO / "dbt_project" / "seeds" / "swemwbs_conversion.csv").read_text().splitlines()))
    assert [(int(r["raw_score"]), float(r["metric_score"])) for r in seed] == list(zip(range(7, 36), CONTRACT_SWEMWBS))
    got = dict(query(home, "SELECT swemwbs_raw_score, swemwbs_metric_score FROM main.int_outcome_responses "
                           "WHERE response_id LIKE 'SC%'"))
    assert got == dict(zip(range(7, 36), CONTRACT_SWEMWBS))


def test_pairing_42_day_boundary_earliest_baseline_latest_follow_up(run1):
    _, home, _ = run1
    pairs = {m: (b, f, days) for m, b, f, days in query(
        home, "SELECT member_id, baseline_response_id, follow_up_response_id, days_between "
              "FROM main.int_wellbeing_pairs WHERE measure = 'swemwbs' AND financial_year = ?", [FY])}
    assert pairs["M1"] == ("S1B", "S1F", 42)  # exactly 42 days: paired
    assert "M2" not in pairs  # 41 days: not paired
    assert pairs["M3"] == ("S3B1", "S3F2", 113)  # earliest baseline, latest follow-up 42+ days after
    assert "M5" not in pairs and "M6" not in pairs  # baseline only / follow-up only
    assert sorted(pairs) == ["M1", "M3", "M4", "M7", "M8", "M9"]
    # the pair belongs to the year of the follow-up
    assert query(home, "SELECT member_id, financial_year FROM main.int_wellbeing_pairs WHERE member_id = 'M10'") == \
        [("M10", "2022/23")]


def test_swemwbs_change_by_hand(run1):
    _, home, _ = run1
    s = change(home, FY, "swemwbs")
    assert (s["paired"], s["improved"], s["worsened"]) == (6, 2, 1)
    assert s["baseline"] == pytest.approx(116.55 / 6) and s["follow_up"] == pytest.approx(120.29 / 6)
    assert s["change"] == pytest.approx(3.74 / 6) and s["improvement"] == pytest.approx(3.74 / 6)
    assert s["share_improved"] == pytest.approx(2 / 6) and s["share_worsened"] == pytest.approx(1 / 6)
    bands = dict(query(home, "SELECT band, paired_members FROM main.mart_wellbeing_change_distribution "
                             "WHERE financial_year = ?", [FY]))
    # M4 -3.49: down 3 to 6; M3 -2.68: down less than 3; M7 0.00, M9 +2.95: same or up less than 3;
    # M1 +3.93, M8 +3.03: up 3 to 6
    assert bands == {"down 9 or more": 0, "down 6 to 9": 0, "down 3 to 6": 1, "down less than 3": 1,
                     "same or up less than 3": 2, "up 3 to 6": 2, "up 6 to 9": 0, "up 9 or more": 0}
    assert change(home, "2022/23", "swemwbs")["paired"] == 1


def test_ons4_change_per_item_a_fall_in_anxiety_is_an_improvement(run1):
    _, home, _ = run1
    # M1 (5,6,4,7) -> (7,7,6,3); M2 (3,4,5,2) -> (4,4,5,4)
    ls, wo, ha, an = (change(home, FY, i) for i in ("life_satisfaction", "worthwhile", "happiness", "anxiety"))
    assert (ls["paired"], ls["baseline"], ls["follow_up"], ls["change"]) == (2, 4.0, 5.5, 1.5)
    assert (wo["baseline"], wo["follow_up"], wo["change"]) == (5.0, 5.5, 0.5)
    assert (ha["baseline"], ha["follow_up"], ha["change"]) == (4.5, 5.5, 1.0)
    # anxiety: 7 -> 3 (-4) and 2 -> 4 (+2): mean change -1.0, an improvement of +1.0
    assert (an["baseline"], an["follow_up"], an["change"], an["improvement"]) == (4.5, 3.5, -1.0, 1.0)
    assert an["improved"] is None and an["share_improved"] is None  # improved / worsened: SWEMWBS only


def test_trace_members_reached_by_decile_with_file_line_evidence(run1):
    _, home, _ = run1
    out = outcomes("trace", "members_reached", "--year", FY, "--decile", "2", "--home", str(home)).stdout
    assert "published 2 (mart_reach_by_deprivation); traced 2 units" in out
    assert "member M11" in out and "member M2" in out
    assert "member members/members_20210401.csv:3" in out  # M2: the older export, line 3
    assert "imd reference/imd2019_file7.csv:3" in out  # E01000002 is on line 3
    assert "contact pathways/contacts_2021-09-08.csv:2" in out  # M11's counted contact
    doc = json.loads(outcomes("trace", "members_reached", "--year", FY, "--decile", "unknown", "--format", "json",
                              "--home", str(home)).stdout)
    [t] = doc["traces"]
    assert t["published"] == t["units_count"] == 5
    m9 = next(u for u in t["units"] if u["unit_key"] == "M9")
    assert m9["decided_by"]["unknown_reason"] == "not_in_register"
    assert [(e["role"], e["file_path"], e["line_number"]) for e in m9["evidence"]] == \
        [("visit", "visits/kiosk_2021-06-08.csv", 11)]
    bad = outcomes("trace", "members_reached", "--decile", "11", "--home", str(home), check=False)
    assert bad.returncode == 2 and "use 1..10 or unknown" in bad.stderr


def test_trace_swemwbs_paired_members(run1):
    _, home, _ = run1
    out = outcomes("trace", "swemwbs_paired_members", "--year", FY, "--home", str(home)).stdout
    assert "published 6 (mart_wellbeing_change); traced 6 units" in out
    assert "baseline outcome_measures/2021/responses_2021-08.csv:2" in out  # M1's baseline S1B
    assert "follow_up outcome_measures/2021/responses_2021-08.csv:3" in out  # M1's follow-up S1F
    # S7F was delivered twice: both rows are evidence of the one response
    doc = json.loads(outcomes("trace", "swemwbs_paired_members", "--year", FY, "--format", "json",
                              "--home", str(home)).stdout)
    m7 = next(u for u in doc["traces"][0]["units"] if u["unit_key"] == "M7")
    follow = [(e["file_path"], e["line_number"]) for e in m7["evidence"] if e["role"] == "follow_up"]
    assert sorted(follow) == [("outcome_measures/2021/responses_2021-08.csv", 15),
                              ("outcome_measures/2021/responses_2021-09.csv", 2)]
    assert m7["decided_by"]["days_between"] == 61 and m7["decided_by"]["change"] == 0


def test_pages_show_who_we_reach_and_do_people_feel_better(run1):
    _, home, _ = run1
    text = page(home)
    assert 'id="fig-reach"' in text and 'id="reach-table"' in text and "England" in text
    assert 'id="reach-no-data"' not in text
    # disclosure control on: 4 of 5 known-decile members are counts of 1..7, suppressed: no share is shown
    assert 'data-kpi="share_decile_1_3">n/a<' in text
    # 6 paired members: suppressed, so no share improved and no means; the chart shows suppressed cells
    assert 'id="fig-swemwbs-change"' in text and 'data-kpi="swemwbs_share_improved">n/a<' in text
    assert "Mean score n/a at baseline and n/a at follow-up" in text
    assert 'id="ons4-table"' in text and "Anxiety yesterday" in text
    assert "15.32" not in text and "19.43" not in text  # no unrounded score of a suppressed group


# --- run 2: a newer lookup and register; re-deliveries ----------------------------------------

@pytest.fixture(scope="module")
def run2(run1, tmp_path_factory):
    landing, home1, _ = run1
    before = {"reach": reach(home1), "swemwbs": change(home1, FY, "swemwbs"),
              "kpis": query(home1, "SELECT * FROM main.kpi_annual ORDER BY ALL")}
    home = tmp_path_factory.mktemp("outcomes_home2") / "home"
    shutil.copytree(home1, home)
    # A newer postcode lookup now holds L99 9ZZ (E01000003, decile 3): M6 is resolved again.
    text = (landing / "reference" / "postcode_lsoa_2021.csv").read_text()
    write_export(landing / "reference" / "postcode_lsoa_2023.csv", text + "L99 9ZZ,L99 9ZZ,202301,E01000003,E02000001\n")
    # A newer register export: M4 now gives a full postcode (L6 2CD, decile 3).
    write_export(landing / "members" / "members_20220401.csv", MEMBERS + "M4,2021-01-06,L6 2CD,1960,voluntary_sector\n")
    # Byte-identical re-deliveries under other names, and an overlapping questionnaire re-export.
    shutil.copyfile(landing / "members" / "members_20210401.csv", landing / "members" / "copy of members_20210401.csv")
    shutil.copyfile(landing / "reference" / "imd2019_file7.csv", landing / "reference" / "imd2019_again.csv")
    write_export(landing / "outcome_measures" / "responses_2021-10.csv",
                 RESPONSES + f"S1F,M1,swemwbs,follow_up,2021-06-12,{swemwbs(21)}\n")
    proc = outcomes("run", "--landing", str(landing), "--home", str(home))
    return landing, home, proc, before


def test_a_newer_lookup_and_register_recompute_the_deciles(run2):
    _, home, _, before = run2
    # 3: M3, M6 (newer lookup), M4 (newer register) = 3; unknown: M5, M7, M9 = 3; known 7; 1-3: 1+2+3 = 6
    assert reach(home) == {**before["reach"], "3": 3, "unknown": 3}
    s = summary(home)
    assert (s["reached"], s["known"], s["d1_3"], s["d1"]) == (10, 7, 6, 1)
    assert s["share_1_3"] == pytest.approx(6 / 7) and s["share_1"] == pytest.approx(1 / 7)
    newer = query(home, "SELECT file_sha256 FROM ledger.files WHERE file_path = 'reference/postcode_lsoa_2023.csv'")[0][0]
    assert query(home, "SELECT DISTINCT postcode_lookup_sha256 FROM raw.members WHERE postcode_status "
                       "IN ('resolved', 'not_in_lookup')") == [(newer,)]


def test_redeliveries_change_nothing_else(run2):
    _, home, _, before = run2
    assert change(home, FY, "swemwbs") == before["swemwbs"]
    assert query(home, "SELECT * FROM main.kpi_annual ORDER BY ALL") == before["kpis"]
    statuses = dict(query(home, "SELECT file_path, status FROM ledger.files WHERE file_path IN "
                                "('members/copy of members_20210401.csv', 'reference/imd2019_again.csv')"))
    assert set(statuses.values()) == {"duplicate"}


def test_contract_constants():
    assert c.PAIRING_MIN_DAYS == 42 and c.SWEMWBS_MEANINGFUL_CHANGE == 3
    assert c.MEASURE_ITEMS == {"swemwbs": (7, 1, 5), "ons4": (4, 0, 10)}
