"""The financial year (contract, "Time and the financial year"): 1 April to 31 March, labelled
`2021/22`, of an event's Europe/London local date. The dbt macro `financial_year` is the same
rule in SQL; tests/test_financial_year.py checks the two agree on every day of many years."""
from __future__ import annotations

import re
from datetime import date

LABEL = re.compile(r"(\d{4})[/-](\d{2})")


def start_year(d: date) -> int:
    """The calendar year the financial year of local date `d` starts in."""
    return d.year if d.month >= 4 else d.year - 1


def label(start: int) -> str:
    """2021 -> '2021/22'."""
    return f"{start}/{(start + 1) % 100:02d}"


def of(d: date) -> str:
    """The label of local date `d`'s financial year: 2022-03-31 -> '2021/22', 2022-04-01 -> '2022/23'."""
    return label(start_year(d))


def parse(text: str) -> str | None:
    """'2021/22' or '2021-22' -> '2021/22'; None when it is not a financial year."""
    m = LABEL.fullmatch(text.strip())
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        return None
    return label(int(m.group(1)))


def previous(year: str) -> str:
    """'2021/22' -> '2020/21'."""
    return label(int(year[:4]) - 1)


def slug(year: str) -> str:
    """'2021/22' -> '2021-22', for file and folder names."""
    return year.replace("/", "-")
