"""The operator's catalogue: products, the handset (TAC) library, number ranges and service numbers.

Products are today's (4G/5G plans, data packs, 5G packages, home broadband, memberships) plus the
value-added services the seeds market (彩铃, 139邮箱, 车务通, 手机证券, 农信通, 家庭V网, 校园V网).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    name_en: str
    kind: str  # product_kind code
    monthly_fee: float
    data_mb: int
    voice_min: int
    requires_5g: bool
    launched: dt.date
    marketable: bool = True  # has a latent acceptance probability in the ground truth


def _p(
    pid: str, zh: str, en: str, kind: str, fee: float, mb: int, mins: int, g5: bool, year: int, m: bool = True
) -> Product:
    return Product(pid, zh, en, kind, fee, mb, mins, g5, dt.date(year, 3, 1), m)


PRODUCTS: tuple[Product, ...] = (
    _p("PL_SZX8", "神州行8元保号套餐", "Easy Own 8 keep-number plan", "plan", 8, 100, 0, False, 2018, False),
    _p("PL_SZX19", "神州行19元畅聊套餐", "Easy Own 19 talk plan", "plan", 19, 3072, 200, False, 2019, False),
    _p(
        "PL_MZ28", "动感地带校园套餐28元", "M-Zone campus plan 28", "plan", 28, 20480, 100, False, 2020, False
    ),
    _p("PL_4G38", "4G飞享套餐38元", "4G Feixiang 38", "plan", 38, 10240, 200, False, 2017, False),
    _p("PL_4G58", "4G全球通套餐58元", "4G GoTone 58", "plan", 58, 20480, 300, False, 2017, False),
    _p("PL_5G128", "5G智享套餐128元", "5G Zhixiang 128", "plan", 128, 40960, 500, True, 2019),
    _p("PL_5G198", "5G智享套餐198元", "5G Zhixiang 198", "plan", 198, 81920, 1000, True, 2019),
    _p(
        "PL_5G398",
        "5G全球通尊享套餐398元",
        "5G GoTone premier 398",
        "plan",
        398,
        163840,
        3000,
        True,
        2020,
        False,
    ),
    _p("DP_10G", "10GB流量包", "10 GB data pack", "data_pack", 20, 10240, 0, False, 2018),
    _p("DP_NIGHT", "夜间流量包", "night data pack", "data_pack", 10, 20480, 0, False, 2019),
    _p("DP_VIDEO", "视频定向流量包", "video-targeted data pack", "data_pack", 15, 30720, 0, False, 2020),
    _p("G5_UP", "5G升级包", "5G upgrade package", "5g_package", 30, 10240, 0, True, 2020),
    _p("G5_SPEED", "5G加速包", "5G speed-up package", "5g_package", 10, 0, 0, True, 2021),
    _p("BB_300M", "家庭宽带300M", "home broadband 300M", "broadband", 50, 0, 0, False, 2018),
    _p("BB_1000M", "千兆宽带", "gigabit broadband", "broadband", 100, 0, 0, False, 2021),
    _p("MB_MIGUV", "咪咕视频会员", "Migu Video membership", "membership", 15, 0, 0, False, 2019),
    _p("MB_TXV", "腾讯视频会员", "Tencent Video membership", "membership", 25, 0, 0, False, 2019),
    _p("MB_MGTV", "芒果TV会员", "Mango TV membership", "membership", 20, 0, 0, False, 2020),
    _p("MB_MUSIC", "咪咕音乐会员", "Migu Music membership", "membership", 10, 0, 0, False, 2019),
    _p("MB_READ", "咪咕阅读会员", "Migu Reading membership", "membership", 10, 0, 0, False, 2019),
    _p("VAS_CRBT", "彩铃", "ring-back tone", "vas", 5, 0, 0, False, 2010),
    _p("VAS_139", "139邮箱", "139 mail", "vas", 5, 0, 0, False, 2010),
    _p("VAS_CWT", "车务通", "car service (车务通)", "vas", 5, 0, 0, False, 2012),
    _p("VAS_STOCK", "手机证券", "mobile securities", "vas", 10, 0, 0, False, 2011),
    _p("VAS_NXT", "农信通", "farmer information service (农信通)", "vas", 3, 0, 0, False, 2011),
    _p("VAS_NEWS", "手机报", "mobile newspaper", "vas", 3, 0, 0, False, 2010),
    _p("FM_VNET", "家庭V网", "family V-net", "family", 10, 0, 0, False, 2012),
    _p("FM_CAMPUS", "校园V网", "campus V-net", "family", 5, 0, 0, False, 2012),
)
PRODUCT_INDEX = {p.product_id: i for i, p in enumerate(PRODUCTS)}
PLANS = tuple(p.product_id for p in PRODUCTS if p.kind == "plan")
MARKETABLE = tuple(p.product_id for p in PRODUCTS if p.marketable)

# Number prefixes (号段) of the four mobile operators. Our province's own subscribers use
# OWN_PREFIXES; VISITOR_PREFIXES are ours too but belong to other provinces (roaming-in visitors).
NUMBER_RANGES: dict[str, tuple[str, ...]] = {
    "CMCC": ("134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159",
             "172", "178", "182", "183", "184", "187", "188", "195", "197", "198"),
    "CU": ("130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186", "196"),
    "CT": ("133", "149", "153", "173", "177", "180", "181", "189", "190", "191", "193", "199"),
    "CBN": ("192",),
}  # fmt: skip
OWN_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
                "182", "183", "184", "187", "188", "195", "198")  # fmt: skip
VISITOR_PREFIXES = ("147", "172", "178", "197")
COMPETITORS = ("CU", "CT", "CBN")

# Service numbers our subscribers call (peer_operator SERVICE).
HOTLINE = "10086"
TRAFFIC_RADIO = "96106"  # the provincial traffic-radio call-in line (交通广播热线); car owners call it
BROKER_HOTLINES = ("95551", "95553", "95548", "95521", "95565", "95536")  # securities firms (证券)
OTHER_SERVICE = ("95588", "95555", "95533", "12345", "95311", "96520")  # banks, 12345, express, taxi
CITY_AREA_CODES = ("0731", "0736", "0744", "0735")  # the four cities' fixed-line area codes


@dataclass(frozen=True)
class Handsets:
    """The TAC library as parallel arrays."""

    tac: np.ndarray
    brand: np.ndarray
    model: np.ndarray
    supports_4g: np.ndarray
    supports_5g: np.ndarray
    os: np.ndarray
    price_tier: np.ndarray
    release_year: np.ndarray
    weight: np.ndarray  # market share of each model among handsets in use

    def __len__(self) -> int:
        return len(self.tac)


_BRANDS = (
    # brand, model stem, os before 2021, os from 2021, weight
    ("华为", "HUAWEI nova", "android", "harmonyos", 0.16),
    ("华为", "HUAWEI Mate", "android", "harmonyos", 0.05),
    ("荣耀", "HONOR", "android", "android", 0.10),
    ("小米", "Xiaomi", "android", "android", 0.12),
    ("小米", "Redmi", "android", "android", 0.10),
    ("OPPO", "OPPO Reno", "android", "android", 0.12),
    ("vivo", "vivo S", "android", "android", 0.11),
    ("苹果", "iPhone", "ios", "ios", 0.16),
    ("三星", "Galaxy S", "android", "android", 0.02),
    ("天语", "K-Touch 老人机", "feature", "feature", 0.04),
    ("诺基亚", "Nokia 105", "feature", "feature", 0.02),
)


def build_handsets(rng: np.random.Generator) -> Handsets:
    """About 200 handset models, 2016-2026; 5G from 2019 on (never on feature phones)."""
    rows = []
    for bi, (brand, stem, os_old, os_new, _w) in enumerate(_BRANDS):
        for year in range(2016, 2027):
            for v in range(2):
                feature = os_old == "feature"
                g5 = (not feature) and year >= 2019 + v  # the cheaper model of 2019 is still 4G
                if brand == "苹果":
                    tier = "flagship" if v == 0 else "high"
                    name = f"iPhone {year - 2008}{'' if v == 0 else ' mini'}"
                elif feature:
                    tier, name = "low", f"{stem}-{year % 100:02d}{v}"
                else:
                    tier = ("high", "mid", "low", "flagship")[
                        (bi + v + year) % 4 if "Mate" not in stem else 3
                    ]
                    name = f"{stem} {year - 2010 + v}"
                rows.append((_w, brand, name, not feature or year >= 2020, g5,
                             os_new if year >= 2021 else os_old, tier, year))  # fmt: skip
    n = len(rows)
    tac = 86_000_000 + rng.choice(999_999, size=n, replace=False)
    return Handsets(
        tac=np.array([f"{t:08d}" for t in tac.tolist()], object),
        brand=np.array([r[1] for r in rows], object),
        model=np.array([r[2] for r in rows], object),
        supports_4g=np.array([r[3] for r in rows]),
        supports_5g=np.array([r[4] for r in rows]),
        os=np.array([r[5] for r in rows], object),
        price_tier=np.array([r[6] for r in rows], object),
        release_year=np.array([r[7] for r in rows], np.int16),
        weight=np.array([r[0] for r in rows]) / sum(r[0] for r in rows),
    )


def competitor_ranges_table() -> dict[str, list[str]]:
    """Columns of the ``competitor_ranges`` table: every mobile prefix and its owner."""
    prefixes: list[str] = []
    ops: list[str] = []
    for op, ps in NUMBER_RANGES.items():
        prefixes.extend(ps)
        ops.extend([op] * len(ps))
    return {"prefix": prefixes, "operator": ops}


def products_table() -> dict[str, list[object]]:
    """Columns of the ``products`` table."""
    return {
        "product_id": [p.product_id for p in PRODUCTS],
        "name": [p.name for p in PRODUCTS],
        "name_en": [p.name_en for p in PRODUCTS],
        "kind": [p.kind for p in PRODUCTS],
        "monthly_fee": [p.monthly_fee for p in PRODUCTS],
        "data_mb": [p.data_mb for p in PRODUCTS],
        "voice_min": [p.voice_min for p in PRODUCTS],
        "requires_5g": [p.requires_5g for p in PRODUCTS],
        "launched": [p.launched for p in PRODUCTS],
    }
