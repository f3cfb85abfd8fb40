"""The KPI registry is the one list of KPIs: adding a thirteenth KPI is one registry row plus the
SQL of its units (an arm of int_kpi_units), shown on a temporary copy of the dbt project."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import kpi_registry, kpi_table
from pipelines.lib.dbt_project import DBT_PROJECT_DIR
from tests.support import outcomes, write_export

CONTACTS = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
CALLS = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"

NEW_KPI = "pathway_contacts_by_phone"
NEW_ROW = {
    "kpi": NEW_KPI, "display_order": "13", "label": "Pathway contacts by phone", "kind": "count",
    "additive": "true", "unit_kind": "contact", "unit_label": "contact", "own_role": "contact",
    "source": "pathways", "file_prefix": "contacts", "rule_models": "int_pathway_contacts",
    "definition": "Attended pathway contacts (as pathway_contacts) whose latest version's mode is phone.",
    "plain_definition": "Pathways advice contacts attended by phone.",
}
# Its units: attended contacts whose latest version was by phone (no exclusion rule of its own).
NEW_ARM = """phone_contact_units as (

    select
        'pathway_contacts_by_phone'                as kpi,
        financial_year,
        month,
        coalesce(site_code, 'UNKNOWN')             as site_code,
        'contact'                                  as unit_kind,
        contact_id                                 as unit_key,
        true                                       as is_counted,
        cast(null as varchar)                      as rule,
        cast(null as varchar)                      as detail,
        cast(null as varchar)                      as decided_by,
        versions_loaded                            as records_loaded,
        'contact'                                  as record_kind,
        contact_id                                 as record_key,
        1                                          as record_order
    from contacts
    where is_attended
        and mode = 'phone'

),

"""


def add_kpi(project: Path) -> None:
    registry = project / "seeds" / "kpi_registry.csv"
    with registry.open(newline="") as f:
        fields = csv.DictReader(f).fieldnames
    with registry.open("a", newline="") as f:
        csv.DictWriter(f, fields, lineterminator="\n").writerow({k: NEW_ROW.get(k, "") for k in fields})
    units = project / "models" / "intermediate" / "int_kpi_units.sql"
    sql = units.read_text()
    last_arm = "    select * from calls_without_service_user\n"
    assert sql.count("unioned as (") == 1 and sql.count(last_arm) == 1
    units.write_text(sql.replace("unioned as (", NEW_ARM + "unioned as (")
                        .replace(last_arm, last_arm + "    union all\n    select * from phone_contact_units\n"))


@pytest.fixture(scope="module")
def thirteen(tmp_path_factory):
    """A hand-made landing zone run by the pipeline, then the copied project with the new KPI
    built over the same warehouse."""
    tmp = tmp_path_factory.mktemp("thirteen")
    landing, home = tmp / "landing", tmp / "home"
    write_export(landing / "pathways" / "contacts_2021-06-30.csv", CONTACTS + (
        "K1,M1,A1,WAL,2021-06-01,phone,attended,2021-06-01T10:00:00Z\n"
        "K2,M2,A1,BOO,2021-06-02,face_to_face,attended,2021-06-02T10:00:00Z\n"
        "K3,M3,A1,BOO,2021-06-03,phone,did_not_attend,2021-06-03T10:00:00Z\n"
        "K4,M4,A2,SOU,2022-05-04,phone,attended,2022-05-04T10:00:00Z\n"))
    # K2 corrected later: the latest version was by phone after all
    write_export(landing / "pathways" / "contacts_2022-06-30.csv", CONTACTS + (
        "K2,M2,A1,BOO,2021-06-02,phone,attended,2022-06-30T10:00:00Z\n"))
    write_export(landing / "wellbeing_calls" / "calls_2021-07-01.csv", CALLS + (
        "W1,SU1,2021-07-01T10:00:00Z,S1,outbound,successful,300\n"))
    outcomes("run", "--landing", str(landing), "--home", str(home))
    project = tmp / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    add_kpi(project)
    env = {**os.environ, "OUTCOMES_WAREHOUSE": str(home / "warehouse.duckdb"), "DO_NOT_TRACK": "1"}
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run([str(dbt), "build", "--project-dir", str(project), "--profiles-dir", str(project),
                           "--full-refresh", "--exclude", "tag:audit_trail"],
                          env=env, capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        annual = con.execute("SELECT financial_year, kpi, value FROM main.kpi_annual").fetchall()
        monthly = con.execute("SELECT month::VARCHAR, site_code, value FROM main.mart_monthly_by_site "
                              "WHERE kpi = ? ORDER BY 1, 2", [NEW_KPI]).fetchall()
        unmatched = con.execute("SELECT count(*) FROM main.audit_kpi_reconciliation WHERE NOT matches").fetchone()[0]
        traced = con.execute("SELECT financial_year, unit_key FROM main.audit_kpi_units WHERE kpi = ? ORDER BY 1, 2",
                             [NEW_KPI]).fetchall()
    return {"annual": annual, "monthly": monthly, "unmatched": unmatched, "traced": traced, "project": project}


def test_a_thirteenth_kpi_is_one_registry_row_plus_its_units(thirteen):
    values = {(fy, k): v for fy, k, v in thirteen["annual"]}
    # 2021/22: K1 (phone, attended) and K2 (corrected to phone); K3 not attended. 2022/23: K4.
    assert values[("2021/22", NEW_KPI)] == 2 and values[("2022/23", NEW_KPI)] == 1
    assert values[("2021/22", "pathway_contacts")] == 2  # the existing KPIs are unchanged
    # every year has the 13 KPIs (dbt's kpi_annual_has_every_registry_kpi_once_per_year passed too)
    for year in ("2021/22", "2022/23"):
        assert sorted(k for fy, k, _ in thirteen["annual"] if fy == year) == sorted([*kpi_registry.names(), NEW_KPI])
    # additive: in the monthly mart by the contact's month and site
    assert thirteen["monthly"] == [("2021-06-01", "BOO", 1), ("2021-06-01", "WAL", 1), ("2022-05-01", "SOU", 1)]
    # traced to its units, and every published figure still equals its traced units
    assert thirteen["traced"] == [("2021/22", "K1"), ("2021/22", "K2"), ("2022/23", "K4")]
    assert thirteen["unmatched"] == 0


def test_python_reads_the_new_kpi_from_the_registry(thirteen):
    registry = kpi_registry.registry_path(thirteen["project"])
    loaded = kpi_registry.load(registry)
    assert list(loaded)[-1] == NEW_KPI and loaded[NEW_KPI].additive and not loaded[NEW_KPI].is_ratio
    assert NEW_KPI in kpi_registry.additive(registry) and NEW_KPI not in kpi_registry.names()
    assert kpi_table.format_value(NEW_KPI, 2.0) == "2"


def test_registry_matches_the_model_files():
    """Every count KPI of the registry has units in int_kpi_units, and the units model names no
    KPI the registry does not have."""
    import re

    sql = (DBT_PROJECT_DIR / "models" / "intermediate" / "int_kpi_units.sql").read_text()
    named = set(re.findall(r"'([a-z_]+)'\s+as kpi\b", sql)) | set(re.findall(r"select '([a-z_]+)'(?: as kpi)?\n", sql))
    assert named == set(kpi_registry.counts())
