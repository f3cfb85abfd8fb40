"""CSV cells no spreadsheet will run (CSV injection, OWASP).

A spreadsheet opening a CSV runs a cell that starts with = + - @ (and TAB or CR, which some
strip first) as a formula. Every CSV a person may open in a spreadsheet (the dashboards'
download, `outcomes trace --format csv`) writes its cells through `csv_safe`.
"""
from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?")


def csv_safe(cell) -> str:
    """A cell no spreadsheet will run: text starting with = + - @ TAB or CR gets a leading single
    quote. Numbers ("-0.5", "+53%") are not formulas and are left as they are."""
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text
