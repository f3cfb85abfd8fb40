"""Pseudonyms computed in DuckDB SQL (pseudonym.sql_pseudonym) equal the Python HMAC
(Pseudonymiser.pseudonym) for every value: unicode, empty, long, and keys of any length."""
from __future__ import annotations

import hashlib
import hmac

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.lib.pseudonym import Pseudonymiser, sql_pseudonym

CON = duckdb.connect()


def in_sql(p: Pseudonymiser, kind: str, values: list[str | None]) -> list[str | None]:
    ipad, opad = p.hmac_pads()
    CON.execute("CREATE OR REPLACE TEMP TABLE v AS SELECT unnest(?::VARCHAR[]) AS x, generate_subscripts(?::VARCHAR[], 1) AS i",
                [values, values])
    rows = CON.execute(f"SELECT {sql_pseudonym(kind, 'x')} FROM v, (SELECT ?::BLOB AS ipad, ?::BLOB AS opad) ORDER BY i",
                       [ipad, opad]).fetchall()
    return [r[0] for r in rows]


FIXED = ["", None, "a", "DEMO0012001", "jo b", "x" * 10_000, "é", "日本語の名前", "emoji 🙂 and ZWJ 👩‍👩‍👧", "\x00nul",
         "tab\tand\nnewline", "quote ' and \\x41 backslash", "'; DROP TABLE v; --", "ﬁ ligature", "\ud7ff", "\U0010ffff"]


def test_fixed_values_and_kinds():
    p = Pseudonymiser(b"k" * 32)
    for kind in ("service_user", "email", "name"):
        assert in_sql(p, kind, FIXED) == [p.pseudonym(kind, v) for v in FIXED]
    assert in_sql(p, "email", ["a"]) == [hmac.new(b"k" * 32, b"email:a", hashlib.sha256).hexdigest()[:16]]
    assert in_sql(p, "email", ["a"]) != in_sql(Pseudonymiser(b"j" * 32), "email", ["a"])  # the key matters


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=1, max_size=100),
       values=st.lists(st.one_of(st.text(max_size=300), st.none()), min_size=1, max_size=40),
       kind=st.sampled_from(["service_user", "email", "name"]))
def test_any_key_and_values(key, values, kind):
    """Keys shorter and longer than the 64-byte block (hashed first), any text (surrogates aside:
    text decoded from UTF-8 never holds them)."""
    values = [v.encode("utf-8", "ignore").decode() if v is not None else None for v in values]
    p = Pseudonymiser(key)
    assert in_sql(p, kind, values) == [p.pseudonym(kind, v) for v in values]
