"""The working calendar of mainland China: weekends, public holidays, adjusted workdays (调休),
festivals and busy farming seasons (农忙).

2025 and 2026 follow the State Council's published schedules; 2027 is an estimate built the same
way (the schedule is published each November). The simulator and the ``calendar`` table share it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# (first day, last day, festival) of each public-holiday block, and its adjusted workdays.
_HOLIDAYS: tuple[tuple[str, str, str], ...] = (
    ("2025-01-01", "2025-01-01", "元旦"),
    ("2025-01-28", "2025-02-04", "春节"),
    ("2025-04-04", "2025-04-06", "清明节"),
    ("2025-05-01", "2025-05-05", "劳动节"),
    ("2025-05-31", "2025-06-02", "端午节"),
    ("2025-10-01", "2025-10-08", "国庆节"),
    ("2026-01-01", "2026-01-03", "元旦"),
    ("2026-02-15", "2026-02-23", "春节"),
    ("2026-04-04", "2026-04-06", "清明节"),
    ("2026-05-01", "2026-05-05", "劳动节"),
    ("2026-06-19", "2026-06-21", "端午节"),
    ("2026-09-25", "2026-09-27", "中秋节"),
    ("2026-10-01", "2026-10-07", "国庆节"),
    ("2027-01-01", "2027-01-03", "元旦"),
    ("2027-02-05", "2027-02-11", "春节"),
    ("2027-04-03", "2027-04-05", "清明节"),
    ("2027-05-01", "2027-05-05", "劳动节"),
    ("2027-06-09", "2027-06-11", "端午节"),
    ("2027-09-15", "2027-09-17", "中秋节"),
    ("2027-10-01", "2027-10-07", "国庆节"),
)
_ADJUSTED_WORKDAYS: tuple[str, ...] = (
    "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
    "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
    "2027-02-14", "2027-04-25", "2027-05-08", "2027-09-26", "2027-10-09",
)  # fmt: skip
# Mid-Autumn day itself when it falls inside the National Day block (2025) still names the day.
_FESTIVAL_DAYS: tuple[tuple[str, str], ...] = (
    ("2025-10-06", "中秋节"),
    ("2025-01-29", "春节"),
    ("2026-02-17", "春节"),
    ("2027-02-06", "春节"),
)
# Busy farming seasons: spring sowing, summer harvest (三夏) and autumn harvest (秋收).
_FARMING: tuple[tuple[str, str], ...] = (("04-01", "04-20"), ("05-25", "06-15"), ("10-08", "10-25"))

FIRST_DAY = dt.date(2025, 1, 1)
LAST_DAY = dt.date(2027, 12, 31)


@dataclass(frozen=True)
class Day:
    date: dt.date
    day_type: str  # a code of the day_type table
    festival: str | None

    @property
    def is_off(self) -> bool:
        """Not a working day (weekend or public holiday)."""
        return self.day_type in ("weekend", "holiday")


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def _build() -> dict[dt.date, Day]:
    holiday: dict[dt.date, str] = {}
    for a, b, name in _HOLIDAYS:
        d = _d(a)
        while d <= _d(b):
            holiday[d] = name
            d += dt.timedelta(days=1)
    adjusted = {_d(s) for s in _ADJUSTED_WORKDAYS}
    named = {_d(s): n for s, n in _FESTIVAL_DAYS}
    days: dict[dt.date, Day] = {}
    d = FIRST_DAY
    while d <= LAST_DAY:
        if d in holiday:
            kind, fest = "holiday", holiday[d]
        elif d in adjusted:
            kind, fest = "adjusted_workday", None
        elif d.weekday() >= 5:
            kind, fest = "weekend", None
        else:
            kind, fest = "workday", None
        fest = named.get(d, fest)
        if fest is None:
            md = d.strftime("%m-%d")
            if any(a <= md <= b for a, b in _FARMING):
                fest = "农忙"
        days[d] = Day(d, kind, fest)
        d += dt.timedelta(days=1)
    return days


_DAYS = _build()


def day(d: dt.date) -> Day:
    """The calendar entry of one date (2025-01-01..2027-12-31), or a ValueError outside that range."""
    try:
        return _DAYS[d]
    except KeyError:
        raise ValueError(f"date {d} is outside the calendar ({FIRST_DAY}..{LAST_DAY})") from None


def all_days() -> list[Day]:
    """Every day of the calendar in order."""
    return list(_DAYS.values())


def is_home_festival(d: Day) -> bool:
    """Days migrant workers come home for: Spring Festival, Mid-Autumn, National Day, busy farming."""
    return d.festival in ("春节", "中秋节", "国庆节", "农忙")
