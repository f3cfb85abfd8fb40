"""The synthetic demo landing zone (pipelines/demo): determinism, the contract's file
formats, and the designed KPI figures. The end-to-end check through the pipeline lives
with the pipeline's own tests."""
from __future__ import annotations

import csv
import hashlib
import re
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.demo import background
from pipelines.demo.generator import PUBLISHED_2021_22, expected_kpis, write_demo_landing
from pipelines.lib.errors import UsageError
from tests.support import outcomes

REPO = Path(__file__).resolve().parents[1]
SMALL = 0.05
ACTIVITY_SOURCES = ("visits", "zoom", "pathways", "wellbeing_calls")
SOURCES = ACTIVITY_SOURCES + ("members", "reference", "outcome_measures")
KPIS = (
    "visits", "visiting_members",
    "pathway_contacts", "social_prescriptions", "prescriptions_per_contact",
    "zoom_sessions", "zoom_members", "zoom_attendances", "sessions_per_member",
    "wellbeing_calls", "wellbeing_successful_contacts", "wellbeing_people_reached",
)

# Headers exactly as shared/export-formats.md gives them.
VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status"
CONTACTS_HEADER = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at"
PRESCRIPTIONS_HEADER = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at"
CALLS_HEADER = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds"
ZOOM_MEETING_HEADER = "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants"
ZOOM_PER_JOIN_HEADER = "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest"
ZOOM_UNIQUE_HEADER = "Name (Original Name),User Email,Total Duration (Minutes),Guest"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _ignored(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(".part") or name.startswith(".")


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8-sig").splitlines()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_small")
    summary = write_demo_landing(root, scale=SMALL)
    return root, summary, _tree(root)


def test_same_seed_is_byte_identical_and_another_seed_differs(small, tmp_path):
    root, summary, files = small
    again = write_demo_landing(tmp_path / "again", scale=SMALL)
    assert _tree(tmp_path / "again") == files
    assert json.dumps(again, sort_keys=True) == json.dumps(summary, sort_keys=True)

    other = write_demo_landing(tmp_path / "other", seed=7, scale=SMALL)
    other_files = _tree(tmp_path / "other")
    assert other_files != files
    common = set(other_files) & set(files)
    assert sum(other_files[p] != files[p] for p in common) > len(common) // 2
    # the designed figures depend on scale and years only, not on the seed
    assert other["expected"] == summary["expected"]


def test_cli_in_a_fresh_process_writes_the_same_bytes(small, tmp_path):
    """Also guards against str-hash randomisation leaking into the output."""
    root, summary, files = small
    out = tmp_path / "cli"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-m", "pipelines.demo", str(out), "--scale", str(SMALL)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=True)
    printed = json.loads(proc.stdout)
    assert printed["expected"] == json.loads(json.dumps(summary["expected"]))
    assert printed["files"] == summary["files"]
    assert _tree(out) == files


def test_landing_layout_and_file_counts(small):
    root, summary, files = small
    for src in SOURCES:
        mine = [p for p in files if p.startswith(src + "/")]
        assert mine, src
        assert any(p.count("/") >= 2 for p in mine), f"{src} has sub-folders"
        assert summary["files"][src]["written"] == len(mine)
        f = summary["files"][src]
        assert f["written"] == f["ignored"] + f["quarantined"] + f["duplicate"] + f["loadable"]
        assert summary["rows"][src]["read"] == summary["rows"][src]["loaded"] + summary["rows"][src]["rejected"]
    assert summary["files"]["total"]["written"] == len(files)
    assert set(summary["expected"]) == {"2020/21", "2021/22", "2022/23", "2023/24", "2024/25"}
    for year in summary["expected"].values():
        assert tuple(year) == KPIS


def test_headers_match_the_contract_exactly(small):
    root, summary, files = small
    quarantined = set(summary["mess"]["quarantined"])
    seen_forms = set()
    for rel, data in files.items():
        if _ignored(rel) or rel in quarantined:
            continue
        lines = _lines(data)
        src = rel.split("/", 1)[0]
        name = rel.rsplit("/", 1)[-1]
        if src == "visits":
            assert lines[0] == VISITS_HEADER, rel
        elif src == "wellbeing_calls":
            assert lines[0] == CALLS_HEADER, rel
        elif src == "members":
            assert re.fullmatch(r"members_\d{8}\.csv", name), rel
            assert lines[0] == "member_id,registered_on,postcode,year_of_birth,referral_source", rel
        elif src == "outcome_measures":
            assert lines[0] == ("response_id,member_id,measure,timepoint,completed_on,"
                                "item_1,item_2,item_3,item_4,item_5,item_6,item_7"), rel
        elif src == "reference":
            assert name.startswith(("postcode_lsoa", "imd2019")), rel
            want = "pcds" if name.startswith("postcode_lsoa") else "Index of Multiple Deprivation (IMD) Decile"
            assert want in lines[0] and ("lsoa11cd" in lines[0] or "LSOA code (2011)" in lines[0]), rel
        elif src == "pathways":
            assert name.startswith(("contacts", "prescriptions")), rel
            want = CONTACTS_HEADER if name.startswith("contacts") else PRESCRIPTIONS_HEADER
            assert lines[0] == want, rel
        else:
            assert lines[0].rstrip(",") == ZOOM_MEETING_HEADER, rel
            assert lines[2].strip(",") == "", rel  # separator: empty or only commas
            part = lines[3].rstrip(",")
            if part.startswith(ZOOM_PER_JOIN_HEADER):
                seen_forms.add("per_join")
                extra = part[len(ZOOM_PER_JOIN_HEADER):]
            else:
                assert part.startswith(ZOOM_UNIQUE_HEADER), rel
                seen_forms.add("unique_users")
                extra = part[len(ZOOM_UNIQUE_HEADER):]
            assert extra in ("", ",In Waiting Room", ",In Waiting Room,Recording Consent"), rel
    assert seen_forms == {"per_join", "unique_users"}
    # the one quarantined file really breaks its contract
    assert len(quarantined) == 1
    (q,) = quarantined
    assert _lines(files[q])[0] != VISITS_HEADER


def test_the_named_mess_is_present(small):
    root, summary, files = small
    loaded = {p: d for p, d in files.items() if not _ignored(p)}
    assert any(p.endswith(".part") for p in files)
    assert any(p.rsplit("/", 1)[-1].startswith(".") for p in files)
    assert any(d.startswith(b"\xef\xbb\xbf") for d in loaded.values())
    assert any(not d.startswith(b"\xef\xbb\xbf") for d in loaded.values())
    assert any(b"\r\n" in d for d in loaded.values())
    assert any(b"\r\n" not in d for d in loaded.values())
    # byte-identical re-deliveries under another name
    digests = [hashlib.sha256(d).digest() for d in loaded.values()]
    assert len(digests) - len(set(digests)) == summary["files"]["total"]["duplicate"] > 0
    for dup in summary["mess"]["duplicate_copies"]:
        assert files[dup["path"]] == files[dup["same_bytes_as"]]
    zoom = b"".join(d for p, d in loaded.items() if p.startswith("zoom/"))
    assert b"Jo B (Joanne Bloggs)" in zoom                 # the contract's rename form
    assert b"@merseycare.nhs.uk" in zoom and b"Yes" in zoom
    assert any(line[:3].isdigit() and line[3] == " " for line in zoom.decode("utf-8").splitlines())
    assert summary["mess"]["zoom_reexports"]
    visits = b"".join(d for p, d in loaded.items() if p.startswith("visits/"))
    assert b",staff," in visits and b",void" in visits and b",guest," in visits and b",carer," in visits
    calls = b"".join(d for p, d in loaded.items() if p.startswith("wellbeing_calls/"))
    assert b"2022-03-31T23:30:00Z" in calls
    p = summary["mess"]["pathways"]
    assert p["orphan_prescription_ids"] and p["late_prescription_ids"] and p["corrected_contact_ids"]
    assert "mess_not_placed" not in p
    for src in SOURCES:
        if src != "zoom":
            assert summary["rows"][src]["rejected"] > 0, src


def test_published_2021_22_figures_are_the_expected_values_at_scale_1():
    exp = expected_kpis(1.0)["2021/22"]
    assert {k: exp[k] for k in PUBLISHED_2021_22} == PUBLISHED_2021_22 == {
        "visits": 11022, "pathway_contacts": 4820, "social_prescriptions": 8507,
        "zoom_sessions": 644, "zoom_members": 2870, "wellbeing_successful_contacts": 2210,
    }
    assert exp["prescriptions_per_contact"] == 8507 / 4820
    assert exp["sessions_per_member"] == exp["zoom_attendances"] / 2870


@pytest.mark.parametrize("scale", [0.1, 0.5, 2.0])
def test_expected_figures_scale_proportionally(scale):
    exp = expected_kpis(scale)["2021/22"]
    assert {k: exp[k] for k in PUBLISHED_2021_22} == {k: round(v * scale) for k, v in PUBLISHED_2021_22.items()}


def test_years_and_site_closure():
    exp = expected_kpis(1.0, years=2)
    assert list(exp) == ["2020/21", "2021/22"]
    assert exp["2020/21"]["visits"] == exp["2020/21"]["visiting_members"] == 0
    assert exp["2020/21"]["zoom_sessions"] > 0 and exp["2020/21"]["pathway_contacts"] > 0
    assert list(expected_kpis(0.1, years=7))[-1] == "2026/27"


def test_full_scale_summary_and_cheap_counts(tmp_path):
    root = tmp_path / "landing"
    summary = write_demo_landing(root)
    exp = summary["expected"]["2021/22"]
    assert {k: exp[k] for k in PUBLISHED_2021_22} == PUBLISHED_2021_22
    on_disk = {src: [p for p in (root / src).rglob("*") if p.is_file()] for src in SOURCES}
    for src, paths in on_disk.items():
        assert summary["files"][src]["written"] == len(paths)
    # visits rows read = data lines of the loadable, distinct visits files
    seen, rows = set(), 0
    quarantined = set(summary["mess"]["quarantined"])
    for p in on_disk["visits"]:
        rel = p.relative_to(root).as_posix()
        if _ignored(rel) or rel in quarantined:
            continue
        data = p.read_bytes()
        h = hashlib.sha256(data).digest()
        if h not in seen:
            seen.add(h)
            rows += data.count(b"\n") - 1
    assert rows == summary["rows"]["visits"]["read"]
    # sites were closed until October 2021: no kiosk export before then
    assert not list((root / "visits").glob("2020-21/**/*.csv"))
    assert min(p.name for p in (root / "visits" / "2021-22" / "WAL").glob("kiosk_*.csv")) >= "kiosk_WAL1_2021-10"


def test_refuses_a_non_empty_landing_and_bad_arguments(tmp_path):
    (tmp_path / "visits").mkdir()
    (tmp_path / "visits" / "old.csv").write_text(VISITS_HEADER + "\n")
    with pytest.raises(FileExistsError):
        write_demo_landing(tmp_path, scale=SMALL)
    with pytest.raises(ValueError):
        write_demo_landing(tmp_path / "x", scale=0)
    with pytest.raises(ValueError):
        write_demo_landing(tmp_path / "y", years=0)


def test_volumes_grow_in_proportion_to_scale(tmp_path):
    """4x the scale: 4x the rows of every source and 4x the Zoom files (one per session); kiosk
    files grow with the number of kiosks per site (sqrt of the scale), so 16x adds kiosks."""
    small, big = (write_demo_landing(tmp_path / f"s{s}", scale=s, years=2) for s in (0.05, 0.2))
    for src in ACTIVITY_SOURCES:  # the lookups are fixed stand-ins; the register and questionnaires grow less
        assert 3.6 <= big["rows"][src]["read"] / small["rows"][src]["read"] <= 4.4, src
    assert 3.6 <= big["files"]["zoom"]["written"] / small["files"]["zoom"]["written"] <= 4.4
    more_kiosks = write_demo_landing(tmp_path / "s3.2", scale=3.2, years=2)
    assert more_kiosks["files"]["visits"]["written"] > 1.5 * big["files"]["visits"]["written"] > 0


def test_the_outcome_inputs_have_realistic_shapes(small):
    """Most members in IMD deciles 1-3, postcodes in every spelling, some not in the lookup,
    unpaired and incomplete questionnaires, a re-delivered register."""
    root, summary, files = small
    text = lambda src: b"".join(d for p, d in files.items() if p.startswith(src + "/")).decode("utf-8-sig")  # noqa: E731
    lookup = {}
    for p, data in files.items():
        if p.startswith("reference/") and p.rsplit("/", 1)[-1].startswith("postcode_lsoa"):
            for row in csv.DictReader(data.decode("utf-8-sig").splitlines()):
                if row["pcds"] and row["lsoa11cd"]:
                    lookup["".join(row["pcds"].split())] = row["lsoa11cd"]
    imd_rows = [r for r in csv.reader(text("reference").splitlines()) if r and r[0].startswith("E0199")]
    decile = {r[0]: int(r[-1]) for r in imd_rows}
    members = [r for r in csv.reader(text("members").splitlines()) if r and r[0].startswith("M")]
    spellings = {"lower": 0, "compact": 0, "outward": 0, "empty": 0, "missing": 0}
    known = []
    for r in members:
        pc = r[2]
        compact = "".join(pc.split()).upper()
        spellings["lower"] += pc.strip() != "" and pc == pc.lower() and any(ch.isalpha() for ch in pc)
        spellings["compact"] += " " not in pc.strip() and len(compact) >= 5
        spellings["outward"] += 2 <= len(compact) <= 4
        spellings["empty"] += pc == ""
        spellings["missing"] += len(compact) >= 5 and compact[-3:-2].isdigit() and compact not in lookup
        if compact in lookup and lookup[compact] in decile:
            known.append(decile[lookup[compact]])
    assert all(v > 20 for v in spellings.values()), spellings
    assert sum(d <= 3 for d in known) / len(known) > 0.6
    assert summary["rows"]["outcome_measures"]["rejected"] > 0  # incomplete questionnaires
    assert any(p["path"].startswith("members/") for p in summary["mess"]["duplicate_copies"])


def test_outcomes_demo_refuses_bad_settings_before_writing(tmp_path):
    proc = outcomes("demo", "--home", str(tmp_path / "home"), "--scale", "0", check=False)
    assert proc.returncode == 2 and "scale must be a positive number" in proc.stderr
    assert not any((tmp_path / "home" / "landing").glob("*/*"))


def test_the_background_writer_reports_its_error_and_is_stopped(tmp_path):
    """`outcomes demo` writes the demo in another process while it prepares its run
    (pipelines/demo/background.py): the writer's error reaches the user as a usage error, and a
    writer still running when the command stops is killed, not left writing."""
    failing = subprocess.Popen([sys.executable, "-c", "import sys; print('error: no room', file=sys.stderr); sys.exit(2)"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with pytest.raises(UsageError, match="^no room$"):
        background.finish(failing)
    busy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    background.stop(busy)
    assert busy.returncode is not None
    writer = background.start(tmp_path / "landing", seed=1, scale=SMALL, years=1)
    assert background.finish(writer)["files"]["total"]["written"] == len(_tree(tmp_path / "landing"))
