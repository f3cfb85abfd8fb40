"""The demo's calendar: financial years, the Covid closure and reopening, local and UTC time."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
FIRST_FY = 2020  # 2020/21: sites closed (Covid), Zoom, calls and remote pathways only
REOPEN = date(2021, 10, 4)  # sites reopen for face-to-face in October 2021
MESS_FY = 2021  # the year the named one-off mess is placed in (the published year)

def fy_of(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def fy_label(fy: int) -> str:
    return f"{fy}/{(fy + 1) % 100:02d}"


def fy_folder(fy: int) -> str:
    return f"{fy}-{(fy + 1) % 100:02d}"


def fy_start(fy: int) -> date:
    return date(fy, 4, 1)


def fy_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


def closed_day(d: date) -> bool:
    return (d.month, d.day) in ((12, 25), (12, 26), (1, 1))


def at_minute(d: date, minute_of_day: int, second: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day) + timedelta(minutes=minute_of_day, seconds=second)


def zoom_time(t: datetime) -> str:
    h12 = t.hour % 12 or 12
    return f"{t.month:02d}/{t.day:02d}/{t.year:04d} {h12:02d}:{t.minute:02d}:{t.second:02d} " + (
        "AM" if t.hour < 12 else "PM")


def local_to_utc(t: datetime) -> datetime:
    return t.replace(tzinfo=LONDON).astimezone(UTC).replace(tzinfo=None)
