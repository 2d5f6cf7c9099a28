"""The synthetic province: region hierarchy, township info base (seed 003 table 1) and radio cells.

A made-up province, 云梦省 (Yunmeng), with four cities; each city has one urban district and three
counties, each county a county town (城关镇) and rural townships. Cells are grouped in sites
(campus, compound, park, station…) so hot-area markets can be drawn over them. Everything is
drawn from one numpy generator, so a seed gives the same province.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tagcloud.data.codes import code_values

PROVINCE = ("YM", "云梦省", "Yunmeng")
# (name, pinyin, lat, lon) of the cities; the first is the capital.
CITIES = (
    ("梦州市", "Mengzhou", 28.20, 112.95),
    ("澧阳市", "Liyang", 29.60, 111.70),
    ("桃川市", "Taochuan", 27.10, 111.45),
    ("云溪市", "Yunxi", 26.20, 113.10),
)
_SYLLABLES = (
    ("石", "Shi"), ("桥", "Qiao"), ("青", "Qing"), ("山", "Shan"), ("河", "He"), ("白", "Bai"),
    ("沙", "Sha"), ("龙", "Long"), ("泉", "Quan"), ("东", "Dong"), ("西", "Xi"), ("南", "Nan"),
    ("北", "Bei"), ("林", "Lin"), ("松", "Song"), ("桃", "Tao"), ("花", "Hua"), ("平", "Ping"),
    ("安", "An"), ("新", "Xin"), ("塘", "Tang"), ("湾", "Wan"), ("马", "Ma"), ("田", "Tian"),
    ("金", "Jin"), ("水", "Shui"), ("梅", "Mei"), ("竹", "Zhu"), ("柳", "Liu"), ("江", "Jiang"),
    ("湖", "Hu"), ("岭", "Ling"), ("坪", "Ping"), ("溪", "Xi"), ("口", "Kou"), ("阳", "Yang"),
    ("洲", "Zhou"), ("黄", "Huang"), ("高", "Gao"), ("丰", "Feng"), ("福", "Fu"), ("兴", "Xing"),
)  # fmt: skip
_RURAL_INDUSTRIES = (
    "水稻种植",
    "柑橘种植",
    "茶叶",
    "生猪养殖",
    "油茶",
    "水产养殖",
    "烟叶",
    "蔬菜种植",
    "竹木加工",
)
_TOWN_INDUSTRIES = ("商贸物流", "建材", "农产品加工", "机械制造")
_URBAN_INDUSTRIES = ("电子信息", "商贸服务", "金融服务", "文化旅游", "汽车制造")
_RELIGIONS = (None, None, None, None, "佛教", "道教", "基督教")

AREA_TYPES: tuple[str, ...] = code_values("area_type")
AT = {name: i for i, name in enumerate(AREA_TYPES)}

# Township kinds: urban street (街道) of a city district, county town, rural township.
URBAN, COUNTY_TOWN, RURAL = 0, 1, 2


@dataclass
class Geography:
    """Regions, townships and cells as parallel arrays (index = position)."""

    # regions (province, cities, counties, townships in that order)
    region_id: list[str] = field(default_factory=list)
    region_name: list[str] = field(default_factory=list)
    region_name_en: list[str] = field(default_factory=list)
    region_level: list[str] = field(default_factory=list)
    region_parent: list[str | None] = field(default_factory=list)
    region_urban: list[bool | None] = field(default_factory=list)
    # counties
    county_id: list[str] = field(default_factory=list)
    county_name: list[str] = field(default_factory=list)
    county_city: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    county_is_district: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    city_id: list[str] = field(default_factory=list)
    # townships
    township_id: list[str] = field(default_factory=list)
    township_name: list[str] = field(default_factory=list)
    township_county: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    township_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    township_info: dict[str, list[object]] = field(default_factory=dict)
    township_migrant_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # cells
    cell_id: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    cell_township: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    cell_area: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    cell_site: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # -1: no site
    cell_is_5g: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    cell_lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cell_lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cell_opened: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    site_id: list[str] = field(default_factory=list)
    site_name: list[str] = field(default_factory=list)
    site_area: list[int] = field(default_factory=list)

    @property
    def cell_county(self) -> np.ndarray:
        return self.township_county[self.cell_township]

    @property
    def cell_city(self) -> np.ndarray:
        return self.county_city[self.cell_county]

    @property
    def n_cells(self) -> int:
        return len(self.cell_id)


class _Names:
    """Unique two-syllable place names with their pinyin."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def __call__(self) -> tuple[str, str]:
        # two syllables give ~1,700 names; big provinces fall back to three (~70,000)
        for tries in range(1_000_000):
            k = 2 if tries < 200 else 3
            idx = self.rng.integers(len(_SYLLABLES), size=k)
            zh = "".join(_SYLLABLES[i][0] for i in idx)
            if len(set(idx.tolist())) == k and zh not in self.used:
                self.used.add(zh)
                return zh, _SYLLABLES[idx[0]][1] + "".join(_SYLLABLES[i][1].lower() for i in idx[1:])
        raise RuntimeError("ran out of place names")


def build_geography(n_subscribers: int, rng: np.random.Generator) -> Geography:
    """Draw the province for a population of ``n_subscribers``: ~1 cell per 120 subscribers, ≥ 300."""
    g = Geography()
    names = _Names(rng)
    pid, pzh, pen = PROVINCE
    _region(g, pid, pzh, pen, "province", None, None)
    city_center: list[tuple[float, float]] = []
    county_city: list[int] = []
    county_is_district: list[bool] = []
    t_county: list[int] = []
    t_kind: list[int] = []
    t_center: list[tuple[float, float]] = []
    for ci, (czh, cen, lat, lon) in enumerate(CITIES):
        cid = f"{pid}{ci + 1:02d}"
        g.city_id.append(cid)
        city_center.append((lat, lon))
        _region(g, cid, czh, cen, "city", pid, True)
        for k in range(4):  # one urban district, then three counties
            nzh, nen = names()
            is_district = k == 0
            kid = f"{cid}{k + 1:02d}"
            kzh = nzh + ("区" if is_district else "县")
            _region(g, kid, kzh, nen + (" Qu" if is_district else " Xian"), "county", cid, is_district)
            g.county_id.append(kid)
            g.county_name.append(kzh)
            county_city.append(ci)
            county_is_district.append(is_district)
            kidx = len(g.county_id) - 1
            klat = lat + (0 if is_district else rng.uniform(-0.6, 0.6))
            klon = lon + (0 if is_district else rng.uniform(-0.6, 0.6))
            n_t = (10 if ci == 0 else 6) if is_district else int(rng.integers(6, 10))
            for j in range(n_t):
                if is_district:
                    kind, (tzh, ten) = URBAN, names()
                    tzh, ten = tzh + "街道", ten + " Jiedao"
                elif j == 0:
                    kind, tzh, ten = COUNTY_TOWN, kzh[:-1] + "城关镇", nen + " Chengguan Zhen"
                else:
                    kind, (tzh, ten) = RURAL, names()
                    suffix = ("镇", " Zhen") if rng.random() < 0.6 else ("乡", " Xiang")
                    tzh, ten = tzh + suffix[0], ten + suffix[1]
                tid = f"{kid}{j + 1:02d}"
                _region(g, tid, tzh, ten, "township", kid, kind != RURAL)
                g.township_id.append(tid)
                g.township_name.append(tzh)
                t_county.append(kidx)
                t_kind.append(kind)
                spread = 0.05 if kind == URBAN else 0.25
                t_center.append((klat + rng.uniform(-spread, spread), klon + rng.uniform(-spread, spread)))
    g.county_city = np.array(county_city, np.int32)
    g.county_is_district = np.array(county_is_district, bool)
    g.township_county = np.array(t_county, np.int32)
    g.township_kind = np.array(t_kind, np.int8)
    _township_info(g, rng)
    _cells(g, n_subscribers, rng, names, np.array(t_center))
    return g


def _region(
    g: Geography, rid: str, zh: str, en: str, level: str, parent: str | None, urban: bool | None
) -> None:
    g.region_id.append(rid)
    g.region_name.append(zh)
    g.region_name_en.append(en)
    g.region_level.append(level)
    g.region_parent.append(parent)
    g.region_urban.append(urban)


def _township_info(g: Geography, rng: np.random.Generator) -> None:
    """Seed 003 table 1: population, economy and market figures of each township."""
    n = len(g.township_id)
    kind = g.township_kind
    pop = np.where(kind == URBAN, rng.integers(40_000, 120_000, n), rng.integers(12_000, 60_000, n))
    pop = np.where(kind == COUNTY_TOWN, rng.integers(50_000, 90_000, n), pop)
    agri_share = np.where(kind == RURAL, rng.uniform(0.6, 0.9, n), np.where(kind == URBAN, 0.02, 0.3))
    # Poorer rural townships send more people out to work: the migrant persona follows this share.
    income = np.where(kind == RURAL, rng.uniform(9_000, 22_000, n), rng.uniform(25_000, 60_000, n))
    migrant_share = np.where(
        kind == RURAL, np.clip(0.45 - income / 60_000 + rng.normal(0, 0.04, n), 0.05, 0.4), 0.01
    )
    industry = np.where(
        kind == RURAL,
        np.array(_RURAL_INDUSTRIES, object)[rng.integers(len(_RURAL_INDUSTRIES), size=n)],
        np.where(
            kind == COUNTY_TOWN,
            np.array(_TOWN_INDUSTRIES, object)[rng.integers(len(_TOWN_INDUSTRIES), size=n)],
            np.array(_URBAN_INDUSTRIES, object)[rng.integers(len(_URBAN_INDUSTRIES), size=n)],
        ),
    )
    religion = np.array(_RELIGIONS, object)[rng.integers(len(_RELIGIONS), size=n)]
    working = (pop * rng.uniform(0.5, 0.65, n)).astype(int)
    g.township_migrant_share = migrant_share
    g.township_info = {
        "township_id": list(g.township_id),
        "name": list(g.township_name),
        "is_administrative": list(kind != URBAN),
        "population": pop.astype(int).tolist(),
        "agricultural_population": (pop * agri_share).astype(int).tolist(),
        "working_population": working.tolist(),
        "migrant_out_population": (working * migrant_share).astype(int).tolist(),
        "male_population": (pop * rng.uniform(0.49, 0.53, n)).astype(int).tolist(),
        "households": (pop / rng.uniform(2.6, 3.4, n)).astype(int).tolist(),
        "gdp": np.round(pop * income * rng.uniform(1.5, 2.5, n) / 10_000, 2).tolist(),
        "religion": religion.tolist(),
        "pillar_industry": industry.tolist(),
        "income_per_capita": np.round(income, 2).tolist(),
        "competitor_channels": rng.integers(2, 25, n).tolist(),
        "own_channels": rng.integers(3, 30, n).tolist(),
        "mobile_penetration": np.round(
            np.where(kind == RURAL, rng.uniform(0.7, 1.0, n), rng.uniform(1.0, 1.4, n)), 3
        ).tolist(),
        "market_share": np.round(rng.uniform(0.5, 0.8, n), 3).tolist(),
    }


def _cells(g: Geography, n_sub: int, rng: np.random.Generator, names: _Names, t_center: np.ndarray) -> None:
    """Lay out sites and cells. Site-level loops only: a few hundred to a few thousand sites."""
    total = max(300, n_sub // 120)
    kind = g.township_kind
    urban_t = np.flatnonzero(kind == URBAN)
    town_t = np.flatnonzero(kind == COUNTY_TOWN)
    rural_t = np.flatnonzero(kind == RURAL)
    capital_t = urban_t[g.county_city[g.township_county[urban_t]] == 0]
    rows: list[tuple[int, int, int]] = []  # (township, area type, site index or -1)

    def site(name: str, area: str) -> int:
        g.site_id.append(f"S{len(g.site_id) + 1:05d}")
        g.site_name.append(name)
        g.site_area.append(AT[area])
        return len(g.site_id) - 1

    def add(t: Any, area: str, s: int, n: int) -> None:
        rows.extend((int(t), AT[area], s) for _ in range(max(1, n)))

    def city_of(t: int) -> int:
        return int(g.county_city[g.township_county[t]])

    city_zh = [c[0][:-1] for c in CITIES]
    # University campuses: the capital has three, every other city one.
    campus_cells = int(np.clip(total * 0.07 / 6, 3, 80))
    unis = ["大学", "理工学院", "师范学院"]
    for i, t in enumerate(rng.choice(capital_t, 3, replace=False)):
        add(t, "university", site(city_zh[0] + unis[i], "university"), campus_cells)
    for c in range(1, len(CITIES)):
        t = rng.choice(urban_t[g.county_city[g.township_county[urban_t]] == c])
        add(t, "university", site(city_zh[c] + "学院", "university"), campus_cells)
    # Middle schools: every urban street every other, every county town, a third of rural townships.
    for t in np.concatenate([urban_t[::2], town_t, rural_t[rng.random(len(rural_t)) < 0.35]]):
        add(
            t,
            "middle_school",
            site(g.township_name[t][:2] + "中学", "middle_school"),
            int(rng.integers(1, 3)),
        )
    # Transport hubs: railway station per city, airport at the capital, bus station per county town.
    for c in range(len(CITIES)):
        t = rng.choice(urban_t[g.county_city[g.township_county[urban_t]] == c])
        add(t, "transport_hub", site(city_zh[c] + "火车站", "transport_hub"), 2)
    add(rng.choice(capital_t), "transport_hub", site(city_zh[0] + "黄花机场", "transport_hub"), 3)
    for t in town_t:
        add(t, "transport_hub", site(g.county_name[g.township_county[t]][:-1] + "汽车站", "transport_hub"), 1)
    # Golf courses near two cities; tourist sites in the hills.
    for c in (0, 1):
        t = rng.choice(urban_t[g.county_city[g.township_county[urban_t]] == c])
        add(t, "golf_course", site(city_zh[c] + "国际高尔夫俱乐部", "golf_course"), 2)
    for t in rng.choice(np.concatenate([rural_t, urban_t]), 8, replace=False):
        add(t, "tourist_site", site(names()[0] + "山风景区", "tourist_site"), int(rng.integers(1, 4)))
    # Industrial parks: one per city district and one per county town.
    park_cells = max(1, int(total * 0.06 / 16))
    for t in np.concatenate([rng.choice(urban_t, 4, replace=False), town_t]):
        add(t, "industrial_park", site(g.township_name[t][:2] + "工业园", "industrial_park"), park_cells)
    # Highways: a few cells along each county.
    hw_cells = max(2, int(total * 0.04 / 16))
    for k in range(len(g.county_id)):
        ts = np.flatnonzero(g.township_county == k)
        s = site(f"G{60 + city_of(int(ts[0])) * 10}高速{g.county_name[k][:-1]}段", "highway")
        for t in rng.choice(ts, hw_cells):
            add(t, "highway", s, 1)
    # Business districts: a CBD per city district street (every third) and per county town.
    special = len(rows)
    remaining = max(total - special, 60)
    biz = int(remaining * 0.18)
    biz_t = np.concatenate([urban_t[::3], town_t])
    per = np.maximum(1, rng.multinomial(biz, np.full(len(biz_t), 1 / len(biz_t))))
    for t, m in zip(biz_t, per, strict=True):
        add(t, "business_district", site(g.township_name[t][:2] + "商务区", "business_district"), int(m))
    # Residential compounds fill urban streets and county towns; rural townships get their own cells.
    res = int(remaining * 0.47)
    res_t = np.concatenate([urban_t, urban_t, town_t])  # streets are denser than county towns
    per = rng.multinomial(res, np.full(len(res_t), 1 / len(res_t)))
    suffixes = ("花园", "小区", "苑", "家园", "新村")
    for t, m in zip(res_t, per, strict=True):
        left = int(m)
        while left > 0:
            k = min(left, int(rng.integers(1, 4)))
            nm = names()[0] + suffixes[int(rng.integers(len(suffixes)))]
            add(t, "urban_residential", site(nm, "urban_residential"), k)
            left -= k
    rur = max(len(rural_t), remaining - biz - res)
    per = 1 + rng.multinomial(rur - len(rural_t), np.full(len(rural_t), 1 / len(rural_t)))
    for t, m in zip(rural_t, per, strict=True):
        add(t, "rural_township", -1, int(m))
    arr = np.array(rows, np.int64)
    n = len(arr)
    g.cell_township = arr[:, 0].astype(np.int32)
    g.cell_area = arr[:, 1].astype(np.int8)
    g.cell_site = arr[:, 2].astype(np.int32)
    urbanish = np.isin(
        g.cell_area, [AT["urban_residential"], AT["business_district"], AT["university"], AT["transport_hub"]]
    )
    g.cell_is_5g = rng.random(n) < np.where(urbanish, 0.7, 0.35)
    center = t_center[g.cell_township]
    g.cell_lat = np.round(center[:, 0] + rng.normal(0, 0.01, n), 6)
    g.cell_lon = np.round(center[:, 1] + rng.normal(0, 0.01, n), 6)
    enb = 500_000 + np.arange(n) // 3
    ci = np.arange(n) % 3 + 1
    g.cell_id = np.array([f"460-00-{e}-{c}" for e, c in zip(enb.tolist(), ci.tolist(), strict=True)], object)
    opened = np.datetime64("2014-01-01") + rng.integers(0, 365 * 12, n).astype("timedelta64[D]")
    g.cell_opened = opened


def regions_table(g: Geography) -> dict[str, list[Any]]:
    """Columns of the ``regions`` table."""
    return {
        "region_id": g.region_id,
        "name": g.region_name,
        "name_en": g.region_name_en,
        "level": g.region_level,
        "parent_id": g.region_parent,
        "is_urban": g.region_urban,
    }


def cells_table(g: Geography) -> dict[str, object]:
    """Columns of the ``cells`` table."""
    county = g.cell_county
    site = g.cell_site
    site_ids = np.array([*g.site_id, None], object)
    site_names = np.array([*g.site_name, None], object)
    return {
        "cell_id": g.cell_id,
        "lat": g.cell_lat,
        "lon": g.cell_lon,
        "rat": np.where(g.cell_is_5g, "5G", "4G").astype(object),
        "city_id": np.array(g.city_id, object)[g.county_city[county]],
        "county_id": np.array(g.county_id, object)[county],
        "township_id": np.array(g.township_id, object)[g.cell_township],
        "area_type": np.array(AREA_TYPES, object)[g.cell_area],
        "site_id": site_ids[site],  # -1 picks the trailing None
        "site_name": site_names[site],
        "opened": g.cell_opened,
    }
