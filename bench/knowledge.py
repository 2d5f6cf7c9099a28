"""Knowledge wiki benchmark (issue 17): search p95 over 10,000 quick points through the FTS5 trigram
index against a plain LIKE scan of the same text, side by side in one run; and a point's live count
(the audience builder's count endpoint, and its published knowledge tag) against the audience
engine's count of the same condition.

    uv run python bench/knowledge.py            # 10,000 points, 200k synthetic subscribers
    uv run python bench/knowledge.py --quick    # 2,000 points, 20k subscribers (run by the test suite)

Figures are printed with ratios, never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Words marketers write, Chinese and English: titles and reasons are drawn from them.
ZH = [
    "车主",
    "交通台",
    "高尔夫",
    "白领",
    "股民",
    "证券",
    "音乐",
    "彩铃",
    "追剧",
    "视频",
    "阅读",
    "小说",
    "学生",
    "校园",
    "家庭",
    "宽带",
    "户主",
    "农村",
    "务工",
    "商务",
    "漫游",
    "港澳",
    "夜班",
    "游戏",
    "新闻",
    "流量",
    "套餐",
    "升级",
    "老客户",
    "关怀",
]
EN = [
    "car",
    "owner",
    "traffic",
    "radio",
    "golf",
    "white",
    "collar",
    "stock",
    "trader",
    "music",
    "ringtone",
    "video",
    "binge",
    "reader",
    "novel",
    "student",
    "campus",
    "family",
    "broadband",
    "rural",
    "migrant",
    "business",
    "roaming",
    "night",
    "gamer",
    "news",
    "data",
    "plan",
    "upgrade",
    "loyal",
]
QUERIES = [
    "车主",
    "高尔夫",
    "证券",
    "音乐会员",
    "流量包",
    "校",
    "golf",
    "stock trader",
    "Video",
    "campus family",
    "港澳漫游",
    "老客户关怀",
    "nothing-here",
    "彩铃 music",
]


@dataclass
class Result:
    points: int
    subscribers: int
    queries: int
    hits: dict[str, int] = field(default_factory=dict)
    fts_p50_ms: float = 0.0
    fts_p95_ms: float = 0.0
    like_p50_ms: float = 0.0
    like_p95_ms: float = 0.0
    page_p95_ms: float = 0.0
    live_count_ms: float = 0.0  # POST /audience/count/ with the point's condition (page round trip)
    engine_count_ms: float = 0.0  # AudienceEngine.count of the same condition, in process
    tag_count_ms: float = 0.0  # count of the published knowledge tag kp_<id>
    counts_agree: bool = False


def _pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else xs[0]


def _bench_web() -> Any:
    spec = importlib.util.spec_from_file_location("bench_web_helpers", Path(__file__).with_name("web.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _fill(n: int, author: Any) -> None:
    """``n`` quick points with generated titles, knowledge and reasons, indexed for search."""
    from django.db import transaction

    from tagcloud.web.knowledge import service
    from tagcloud.web.knowledge.models import PointVersion, QuickPoint
    from tagcloud.web.reference.models import Product

    for pid, name in (
        ("P_CAR", "车主服务"),
        ("P_SEC", "秘书台"),
        ("P_STOCK", "移动证券"),
        ("P_MUSIC", "音乐会员"),
    ):
        Product.objects.get_or_create(product_id=pid, defaults={"name": name, "kind": "vas"})
    rng = random.Random(17)
    with transaction.atomic():
        for i in range(n):
            words = rng.sample(ZH, 3) + rng.sample(EN, 2)
            fields = {
                "title": f"{words[0]}{words[1]} {words[3]} #{i}",
                "condition": f"arpu >= {rng.randint(10, 200)} AND tag_000{rng.randint(1, 9)}",
                "knowledge": words[2],
                "knowledge_en": words[4],
                "dimension": "interest",
                "description": " ".join(rng.sample(ZH, 4) + rng.sample(EN, 3)),
                "products": [
                    {
                        "product_id": rng.choice(["P_CAR", "P_SEC", "P_STOCK", "P_MUSIC"]),
                        "reason": words[1],
                        "strategy": "cross_sell",
                    }
                ],
                "region_id": None,
            }
            p = QuickPoint(author=author, **fields)
            p.search_text = service._search_text(fields)
            p.save()
            PointVersion.objects.create(point=p, version=1, edited_by="bench", **fields)
            service.index_search(p)


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 points, 20k subscribers")
    ap.add_argument("--points", type=int, default=None)
    ap.add_argument("--subscribers", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    n_points = args.points or (2_000 if args.quick else 10_000)
    rows = args.subscribers or (20_000 if args.quick else 200_000)
    reps = 5 if args.quick else 20
    helpers = _bench_web()
    cache = Path("var/bench/knowledge")
    cache.mkdir(parents=True, exist_ok=True)
    wh = helpers._warehouse(rows, cache)
    out = Result(n_points, rows, len(QUERIES) * reps)
    with tempfile.TemporaryDirectory() as tmp:
        client, county = helpers._django(wh, Path(tmp))
        from django.contrib.auth.models import User

        from tagcloud.audience.query import AudienceEngine
        from tagcloud.web.accounts.scope import EVERYTHING
        from tagcloud.web.knowledge import service

        author = User.objects.get(username="demo_county_marketer")
        t0 = time.perf_counter()
        _fill(n_points, author)
        print(f"{n_points:,} points written and indexed in {time.perf_counter() - t0:.1f} s")
        qs = service.visible(EVERYTHING)
        fts: list[float] = []
        like: list[float] = []
        for _ in range(reps):
            for q in QUERIES:
                t = time.perf_counter()
                a = list(service.search(qs, q).values_list("pk", flat=True)[:100])
                fts.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                b = list(service.search(qs, q, use_index=False).values_list("pk", flat=True)[:100])
                like.append((time.perf_counter() - t) * 1000)
                # substring search is case-insensitive for ASCII in both; the two must find the same
                if sorted(a) != sorted(b):
                    raise AssertionError(f"search {q!r}: FTS found {len(a)}, LIKE {len(b)}")
                out.hits[q] = len(a)
        out.fts_p50_ms, out.fts_p95_ms = _pct(fts, 50), _pct(fts, 95)
        out.like_p50_ms, out.like_p95_ms = _pct(like, 50), _pct(like, 95)
        page: list[float] = []
        for q in QUERIES:
            t = time.perf_counter()
            r = client.get("/knowledge/", {"q": q})
            page.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        out.page_p95_ms = _pct(page, 95)

        # A point's live count vs the engine; then published as a tag, the tag's count.
        cond = "arpu >= 60 AND tag_0002 AND NOT tag_0003"
        eng = AudienceEngine.open(wh, scope=f"county_id = '{county}'")
        eng.count(cond)  # warm both paths alike
        client.post("/audience/count/", {"cond": cond})
        live, direct = [], []
        for _ in range(reps):
            t = time.perf_counter()
            r = client.post("/audience/count/", {"cond": cond})
            live.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            n = eng.count(cond)
            direct.append((time.perf_counter() - t) * 1000)
        page_count = int(r.content.decode().split('data-count="')[1].split('"')[0])
        out.live_count_ms, out.engine_count_ms = statistics.median(live), statistics.median(direct)
        from tagcloud.knowledge.wiki import published_tag
        from tagcloud.tags.published import write_published

        write_published(
            wh,
            [
                published_tag(
                    1,
                    {"title": "b", "condition": cond, "knowledge": "k", "products": []},
                    owner="bench",
                    version=1,
                    reads=[],
                    region_level=None,
                )
            ],
        )
        from tagcloud.audience.indexer import build_index

        build_index(wh, quiet=True)
        eng2 = AudienceEngine.open(wh, scope=f"county_id = '{county}'")
        eng2.count("kp_1")
        tags = []
        for _ in range(reps):
            t = time.perf_counter()
            m = eng2.count("kp_1")
            tags.append((time.perf_counter() - t) * 1000)
        out.tag_count_ms = statistics.median(tags)
        out.counts_agree = page_count == n == m == eng2.count(cond)
        write_published(wh, [])  # the cached warehouse goes back to no knowledge tags
        build_index(wh, quiet=True)
    print(f"search over {n_points:,} points, {out.queries} queries (Chinese and English):")
    print(f"  FTS5 trigram  p50 {out.fts_p50_ms:7.2f} ms  p95 {out.fts_p95_ms:7.2f} ms")
    print(
        f"  LIKE scan     p50 {out.like_p50_ms:7.2f} ms  p95 {out.like_p95_ms:7.2f} ms  (p95 ratio {out.like_p95_ms / max(out.fts_p95_ms, 1e-9):.1f}× the index)"
    )
    print(f"  wiki page with results  p95 {out.page_p95_ms:7.2f} ms")
    print(
        f"live count over {rows:,} subscribers: page {out.live_count_ms:.2f} ms, engine {out.engine_count_ms:.2f} ms, knowledge tag {out.tag_count_ms:.2f} ms; counts agree: {out.counts_agree}"
    )
    if args.json:
        print(json.dumps(asdict(out), ensure_ascii=False))
    return out


if __name__ == "__main__":
    main()
