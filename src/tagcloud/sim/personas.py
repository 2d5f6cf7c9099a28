"""Personas: who the subscribers are, where they are over the day and week, how much they use.

A subscriber's primary persona decides their home and work (day) cells, the hours they are at
work, their volumes and the odds of each overlay trait (family, dual-SIM, car owner, …). The
numbers are per subscriber-day means; individuals vary around them (see ``population``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRAITS: tuple[str, ...] = (
    "family",  # lives with other subscribers: shared night cell, mutual calls, one plan holder
    "dual_sim",  # our number for calls only; data on another operator's card
    "car_owner",  # calls the traffic-radio line, highway cells, car apps
    "stock_trader",  # calls broker hotlines 95xxx, stock apps in trading hours
    "golfer",  # golf-course cells at weekends
    "ringtone_changer",  # changes the ring-back tone (彩铃) often
    "heavy_video",
    "gamer",
    "music_lover",
    "novel_reader",
    "complaint_prone",  # complains via 10086
    "shared_handset",  # confounder: two people use one number
    "hk_macau_traveller",  # roams to Hong Kong / Macau
)


@dataclass(frozen=True)
class Persona:
    name: str
    zh: str
    share: float  # of all subscribers
    home: tuple[str, ...]  # area types of the home (night) cell
    work: str  # campus | school | same_township | county | out_county | city | home | away
    work_areas: tuple[str, ...]  # area types of the work (day) cell
    work_hours: tuple[int, int]  # at work from..to (hour; to < from wraps past midnight)
    works_weekend: bool
    calls: float  # originated calls per day
    sms: float  # sent SMS per day
    xdr: float  # data sessions per day
    call_minutes: float  # mean call length
    age: dict[str, float]
    brand: tuple[float, float, float]  # gotone, mzone, easyown
    postpaid: float
    value: float  # spend multiplier
    categories: dict[str, float]  # app-category weights
    traits: dict[str, float] = field(default_factory=dict)  # overlay trait probabilities
    churn: float = 0.04  # base monthly churn probability
    five_g: float = 0.4  # chance the handset is 5G


_ADULT = {"25-34": 0.35, "35-44": 0.35, "45-54": 0.2, "18-24": 0.1}
_BASE_CAT = {"video": 3, "music": 1, "novel": 0.5, "game": 0.8, "news": 1.5, "maps": 0.5, "payment": 2,
             "shopping": 1.5, "social": 4, "stock": 0.05, "car": 0.1, "education": 0.2, "operator": 0.2,
             "other": 1}  # fmt: skip


def _cat(**over: float) -> dict[str, float]:
    return {**_BASE_CAT, **over}


PERSONAS: tuple[Persona, ...] = (
    Persona("university_student", "大学生", 0.08, ("university",), "campus", ("university",), (8, 17), False,
            1.3, 3.6, 16, 2.5, {"18-24": 1.0}, (0.05, 0.85, 0.10), 0.05, 0.7,
            _cat(video=5, game=3, music=2, novel=1.2, education=1.5, shopping=2),
            {"family": 0.0, "dual_sim": 0.08, "gamer": 0.35, "heavy_video": 0.35, "music_lover": 0.35,
             "novel_reader": 0.2, "ringtone_changer": 0.1, "complaint_prone": 0.02, "shared_handset": 0.01},
            0.05, 0.6),
    Persona("middle_school_student", "中学生", 0.05, ("urban_residential", "rural_township"), "school",
            ("middle_school",), (7, 17), False, 0.8, 2.0, 9, 2.0, {"<18": 1.0}, (0.0, 0.8, 0.2), 0.0, 0.4,
            _cat(game=3, video=4, education=2, news=0.2, shopping=0.5, payment=0.5),
            {"family": 0.85, "gamer": 0.4, "heavy_video": 0.3, "music_lover": 0.3, "novel_reader": 0.2,
             "shared_handset": 0.08}, 0.02, 0.3),
    Persona("white_collar_commuter", "白领通勤族", 0.18, ("urban_residential",), "city", ("business_district",),
            (9, 18), False, 2.6, 1.0, 16, 3.0, _ADULT, (0.35, 0.2, 0.45), 0.35, 1.2, _cat(news=2.5, shopping=2),
            {"family": 0.6, "dual_sim": 0.12, "car_owner": 0.35, "stock_trader": 0.12, "golfer": 0.02,
             "heavy_video": 0.15, "music_lover": 0.2, "novel_reader": 0.1, "complaint_prone": 0.05,
             "ringtone_changer": 0.05, "hk_macau_traveller": 0.02}, 0.04, 0.5),
    Persona("urban_service_worker", "城市服务业人员", 0.10, ("urban_residential",), "city",
            ("business_district", "tourist_site", "transport_hub"), (10, 21), True, 2.8, 1.2, 12, 2.5,
            _ADULT, (0.1, 0.2, 0.7), 0.1, 0.8, _cat(video=4, shopping=2),
            {"family": 0.5, "dual_sim": 0.15, "car_owner": 0.1, "heavy_video": 0.2, "gamer": 0.15,
             "complaint_prone": 0.06, "shared_handset": 0.03}, 0.06, 0.35),
    Persona("shift_worker", "倒班工人", 0.04, ("urban_residential",), "city", ("industrial_park",), (22, 6), True,
            2.0, 1.0, 12, 3.0, _ADULT, (0.1, 0.15, 0.75), 0.05, 0.8, _cat(video=4, game=1.5),
            {"family": 0.6, "dual_sim": 0.1, "car_owner": 0.15, "gamer": 0.2, "heavy_video": 0.25,
             "complaint_prone": 0.04}, 0.05, 0.35),
    Persona("retiree", "退休人员", 0.12, ("urban_residential",), "home", ("urban_residential",), (0, 0), False,
            2.0, 0.5, 5, 4.0, {"55-64": 0.5, "65+": 0.5}, (0.3, 0.0, 0.7), 0.3, 0.7,
            _cat(video=2, news=3, social=3, game=0.1, shopping=0.5, stock=0.3),
            {"family": 0.7, "stock_trader": 0.12, "golfer": 0.01, "complaint_prone": 0.08, "shared_handset": 0.05},
            0.02, 0.15),
    Persona("rural_stay_home", "农村留守", 0.12, ("rural_township",), "same_township", ("rural_township",),
            (7, 18), True, 1.6, 0.5, 5, 3.5, {"45-54": 0.3, "55-64": 0.35, "65+": 0.2, "<18": 0.05, "35-44": 0.1},
            (0.02, 0.03, 0.95), 0.02, 0.45, _cat(video=3, news=1, shopping=0.5, game=0.2),
            {"family": 0.8, "complaint_prone": 0.03, "shared_handset": 0.1}, 0.03, 0.1),
    Persona("county_worker", "县内务工", 0.08, ("rural_township",), "county",
            ("industrial_park", "urban_residential", "business_district"), (8, 18), False, 2.0, 0.8, 9, 3.0,
            _ADULT, (0.05, 0.1, 0.85), 0.05, 0.6, _cat(video=4, game=1),
            {"family": 0.7, "dual_sim": 0.1, "car_owner": 0.15, "heavy_video": 0.15, "gamer": 0.1}, 0.04, 0.25),
    Persona("out_county_worker", "县外务工", 0.06, ("rural_township",), "out_county",
            ("industrial_park", "business_district"), (8, 18), False, 2.0, 0.8, 10, 3.0, _ADULT,
            (0.05, 0.15, 0.8), 0.05, 0.65, _cat(video=4, game=1.2),
            {"family": 0.5, "dual_sim": 0.12, "car_owner": 0.15, "heavy_video": 0.2, "gamer": 0.15}, 0.05, 0.3),
    Persona("migrant_worker", "外出务工(本网)", 0.07, ("rural_township",), "away", ("rural_township",), (8, 19), False,
            2.2, 0.6, 10, 4.0, {"18-24": 0.2, "25-34": 0.4, "35-44": 0.3, "45-54": 0.1}, (0.02, 0.1, 0.88), 0.02,
            0.6, _cat(video=4, game=1.5, social=5),
            {"family": 0.3, "dual_sim": 0.25, "heavy_video": 0.2, "gamer": 0.15, "shared_handset": 0.02}, 0.08, 0.3),
    Persona("business_traveller", "商旅人士", 0.05, ("urban_residential",), "city", ("business_district",), (9, 19),
            False, 4.0, 1.0, 18, 3.5, {"25-34": 0.3, "35-44": 0.45, "45-54": 0.25}, (0.7, 0.05, 0.25), 0.6, 1.8,
            _cat(maps=2, news=2, shopping=1.5, payment=3),
            {"family": 0.5, "dual_sim": 0.15, "car_owner": 0.5, "stock_trader": 0.2, "golfer": 0.08,
             "hk_macau_traveller": 0.35, "complaint_prone": 0.05}, 0.03, 0.7),
    Persona("professional", "高端商务人士", 0.05, ("urban_residential",), "city", ("business_district",), (9, 18),
            False, 3.5, 1.0, 18, 3.5, {"35-44": 0.5, "45-54": 0.35, "25-34": 0.15}, (0.9, 0.0, 0.1), 0.9, 2.5,
            _cat(news=3, stock=1, shopping=2, car=0.5),
            {"family": 0.6, "car_owner": 0.8, "stock_trader": 0.35, "golfer": 0.35, "hk_macau_traveller": 0.15,
             "complaint_prone": 0.06, "heavy_video": 0.1, "music_lover": 0.15}, 0.02, 0.85),
)  # fmt: skip
PERSONA_NAMES: tuple[str, ...] = tuple(p.name for p in PERSONAS)
PERSONA_INDEX = {p.name: i for i, p in enumerate(PERSONAS)}
AGE_BANDS: tuple[str, ...] = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
CATEGORIES: tuple[str, ...] = tuple(_BASE_CAT)


def hour_profiles() -> np.ndarray:
    """Activity by hour: array [persona, 2 (workday, day off), 24] of probabilities summing to 1."""
    base = np.array([0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.0, 1.6, 2.0, 2.2, 2.2, 1.8, 1.6, 1.9, 2.0,
                     2.0, 2.1, 2.2, 2.3, 2.4, 2.2, 1.5, 0.7])  # fmt: skip
    out = np.empty((len(PERSONAS), 2, 24))
    for i, p in enumerate(PERSONAS):
        wk = base.copy()
        off = np.roll(base, 1) * np.r_[np.full(9, 0.7), np.full(15, 1.1)]  # later mornings on days off
        if p.name in ("university_student", "middle_school_student"):
            # class hours are quiet; breaks and evenings are busy
            wk[[8, 9, 10, 14, 15, 16]] *= 0.35
            wk[[12, 17, 21, 22, 23]] *= 1.8
            off[[22, 23]] *= 2.0
        elif p.name == "shift_worker":
            wk = np.roll(base, 9)  # awake at night, asleep in the morning
            off = np.roll(base, 6)
        elif p.name == "retiree":
            wk = base * np.r_[np.full(6, 0.5), np.full(6, 1.6), np.full(8, 1.0), np.full(4, 0.4)]
            off = wk
        elif p.name in ("rural_stay_home",):
            wk = base * np.r_[np.full(5, 0.3), np.full(4, 1.5), np.full(11, 1.0), np.full(4, 0.5)]
            off = wk
        out[i, 0] = wk / wk.sum()
        out[i, 1] = off / off.sum()
    return out


def at_work_matrix(start_shift: int = 0, end_shift: int = 0, at_work_p: float = 0.92) -> np.ndarray:
    """Chance of being at the work cell: array [persona, 2 (workday, day off), 24]. The test profile
    (``sim/profile.py``) shifts every work window and changes the at-work chance."""
    out = np.zeros((len(PERSONAS), 2, 24))
    for i, p in enumerate(PERSONAS):
        a, b = p.work_hours
        if p.work in ("home", "away") or a == b:
            continue
        a, b = (a + start_shift) % 24, (b + end_shift) % 24
        hours = np.zeros(24, bool)
        if a < b:
            hours[a:b] = True
        else:  # night shift wraps past midnight
            hours[a:] = True
            hours[:b] = True
        out[i, 0, hours] = at_work_p
        out[i, 1, hours] = 0.75 if p.works_weekend else 0.03
        if p.name == "university_student":
            out[i, 1, hours] = 0.5  # weekend on campus: library, canteen
    return out
