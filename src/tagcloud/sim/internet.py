"""The mobile-internet universe the simulator draws xDR sessions from — exposed as data.

Each app has several endpoints: plain HTTP hosts whose URI path carries a content id
(``/song/12345.mp3``, ``/book/987/chapter/3``), encrypted hosts seen only by their TLS SNI, CDN
hosts, and for some apps traffic identifiable only by server IP range and port. Look-alike hosts
(``notqq.com`` next to ``qq.com``) are there so a naive substring rule mis-matches. The
URL-translation rules (seed 004: which song, book, game) are built and tested against this.

Read it with :func:`apps`, :func:`endpoints` (one row per host or IP range) and
:func:`content_patterns`; nothing here draws random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES: tuple[str, ...] = (
    "video", "music", "novel", "game", "news", "maps", "payment", "shopping", "social", "stock",
    "car", "education", "operator", "other",
)  # fmt: skip

# Content kinds a URI path can identify, with the id range the simulator draws from.
CONTENT_KINDS: dict[str, tuple[int, int]] = {
    "video": (100_000, 999_999),
    "song": (10_000, 99_999),
    "artist": (100, 4_999),
    "book": (1_000, 49_999),
    "game": (100, 2_999),
    "article": (1_000_000, 9_999_999),
    "item": (10_000_000, 99_999_999),
    "stock": (600_000, 603_999),
    "car_series": (100, 5_999),
    "course": (10_000, 99_999),
    "ring": (100_000, 899_999),
    "page": (1, 999),
}


@dataclass(frozen=True)
class Endpoint:
    """One way an app shows up in xDR."""

    host: str | None  # HTTP host or TLS SNI; None when only the IP is visible
    path: str | None  # URI path template with {id} (content id) and {n} (chapter, page); None if encrypted
    content: str | None  # content kind of {id}
    ip_prefix: str  # first three octets of the server addresses
    port: int
    weight: float = 1.0  # share of the app's sessions through this endpoint
    kind: str = "http"  # http (host + path), sni (host only), cdn (content host), ip (address only)


@dataclass(frozen=True)
class App:
    app_id: str
    name: str  # Chinese name as marketers know it
    name_en: str
    category: str
    endpoints: tuple[Endpoint, ...]
    mb_per_session: float  # mean downlink volume of a session
    seconds_per_session: float


def _h(host: str, path: str | None, content: str | None, ip: str, w: float = 1.0, port: int = 80) -> Endpoint:
    return Endpoint(host, path, content, ip, port, w, "http" if path else "sni")


def _s(host: str, ip: str, w: float = 1.0) -> Endpoint:
    return Endpoint(host, None, None, ip, 443, w, "sni")


def _c(host: str, path: str, content: str, ip: str, w: float = 1.0) -> Endpoint:
    return Endpoint(host, path, content, ip, 80, w, "cdn")


def _ip(ip: str, port: int, w: float = 1.0) -> Endpoint:
    return Endpoint(None, None, None, ip, port, w, "ip")


APPS: tuple[App, ...] = (
    # video
    App(
        "tencent_video",
        "腾讯视频",
        "Tencent Video",
        "video",
        (
            _h("v.qq.com", "/x/cover/{id}.html", "video", "183.3.226", 1),
            _s("vd.l.qq.com", "183.3.227", 2),
            _c("apd-vlive.apdcdn.tc.qq.com", "/vhot2.qqvideo.tc.qq.com/{id}.mp4", "video", "121.51.8", 3),
        ),
        60,
        900,
    ),
    App(
        "iqiyi",
        "爱奇艺",
        "iQIYI",
        "video",
        (
            _h("www.iqiyi.com", "/v_{id}.html", "video", "101.227.12", 1),
            _c("data.video.iqiyi.com", "/videos/v0/{id}.f4v", "video", "111.206.13", 3),
            _s("iface2.iqiyi.com", "101.227.14", 1),
        ),
        70,
        1000,
    ),
    App(
        "youku",
        "优酷",
        "Youku",
        "video",
        (
            _h("v.youku.com", "/v_show/id_{id}.html", "video", "106.11.208", 1),
            _c("vali.cp31.ott.cibntv.net", "/youku/{id}/playlist.m3u8", "video", "106.11.209", 2),
        ),
        55,
        800,
    ),
    App(
        "mgtv",
        "芒果TV",
        "Mango TV",
        "video",
        (
            _h("www.mgtv.com", "/b/{id}.html", "video", "175.6.10", 1),
            _c("pcvideows.titan.mgtv.com", "/c1/{id}/index.m3u8", "video", "175.6.11", 2),
        ),
        60,
        900,
    ),
    App(
        "migu_video",
        "咪咕视频",
        "Migu Video",
        "video",
        (
            _h("www.miguvideo.com", "/p/detail/{id}", "video", "120.196.212", 1),
            _s("app-sc.miguvideo.com", "120.196.213", 2),
        ),
        65,
        1000,
    ),
    App(
        "douyin",
        "抖音",
        "Douyin",
        "video",
        (
            _s("aweme.snssdk.com", "220.181.40", 2),
            _c("v3-dy-o.zjcdn.com", "/video/tos/cn/{id}/", "video", "220.181.41", 3),
        ),
        40,
        600,
    ),
    App(
        "kuaishou",
        "快手",
        "Kuaishou",
        "video",
        (
            _s("api.gifshow.com", "103.107.217", 2),
            _c("txmov2.a.kwimgs.com", "/upic/{id}.mp4", "video", "103.107.218", 2),
        ),
        35,
        500,
    ),
    App(
        "bilibili",
        "哔哩哔哩",
        "Bilibili",
        "video",
        (
            _h("www.bilibili.com", "/video/av{id}", "video", "110.43.34", 1),
            _c("upos-sz-mirrorcos.bilivideo.com", "/upgcxcode/{id}.m4s", "video", "110.43.35", 2),
        ),
        50,
        700,
    ),
    # music
    App(
        "qq_music",
        "QQ音乐",
        "QQ Music",
        "music",
        (
            _s("c.y.qq.com", "180.163.26", 1),
            _c("dl.stream.qqmusic.qq.com", "/song/{id}.mp3", "song", "180.163.27", 3),
            _h("y.qq.com", "/n/ryqq/singer/{id}", "artist", "180.163.28", 1),
        ),
        4,
        240,
    ),
    App(
        "kugou",
        "酷狗音乐",
        "Kugou",
        "music",
        (
            _c("trackercdn.kugou.com", "/song/{id}.mp3", "song", "124.225.63", 3),
            _h("www.kugou.com", "/singer/{id}.html", "artist", "124.225.64", 1),
        ),
        4,
        240,
    ),
    App(
        "netease_music",
        "网易云音乐",
        "NetEase Cloud Music",
        "music",
        (
            _s("interface.music.163.com", "59.111.181", 1),
            _c("m701.music.126.net", "/song/{id}.mp3", "song", "59.111.182", 3),
        ),
        4,
        240,
    ),
    App(
        "migu_music",
        "咪咕音乐",
        "Migu Music",
        "music",
        (
            _c("freetyst.nf.migu.cn", "/song/{id}.mp3", "song", "112.13.96", 3),
            _h("music.migu.cn", "/v3/music/artist/{id}", "artist", "112.13.97", 1),
        ),
        4,
        240,
    ),
    # novels
    App(
        "qidian",
        "起点读书",
        "Qidian",
        "novel",
        (
            _h("book.qidian.com", "/book/{id}/chapter/{n}", "book", "101.226.10", 3),
            _s("druid.if.qidian.com", "101.226.11", 1),
        ),
        0.3,
        600,
    ),
    App(
        "migu_read",
        "咪咕阅读",
        "Migu Reading",
        "novel",
        (_h("wap.cmread.com", "/book/{id}/chapter/{n}", "book", "117.136.10", 3),),
        0.3,
        600,
    ),
    App(
        "fanqie",
        "番茄小说",
        "Fanqie Novel",
        "novel",
        (_s("api5-normal-lf.fqnovel.com", "220.181.50"),),
        0.3,
        700,
    ),
    # games
    App(
        "honor_of_kings",
        "王者荣耀",
        "Honor of Kings",
        "game",
        (
            _ip("182.254.116", 10012, 4),
            _h("dlied.qq.com", "/game/{id}/download", "game", "182.254.117", 1),
        ),
        15,
        1200,
    ),
    App("peace_elite", "和平精英", "Peace Elite", "game", (_ip("101.227.169", 17500, 4),), 20, 1500),
    App(
        "game_4399",
        "4399小游戏",
        "4399 games",
        "game",
        (_h("www.4399.com", "/flash/{id}.htm", "game", "121.9.213", 2),),
        5,
        600,
    ),
    App(
        "migu_game",
        "咪咕快游",
        "Migu Games",
        "game",
        (
            _h("g.migu.cn", "/game/{id}/download", "game", "112.13.99", 1),
            _s("cloudgame.migu.cn", "112.13.100", 2),
        ),
        25,
        900,
    ),
    # news
    App(
        "toutiao",
        "今日头条",
        "Toutiao",
        "news",
        (
            _s("is.snssdk.com", "220.181.60", 2),
            _h("www.toutiao.com", "/article/{id}/", "article", "220.181.61", 1),
        ),
        3,
        300,
    ),
    App(
        "sina_news",
        "新浪新闻",
        "Sina News",
        "news",
        (_h("news.sina.com.cn", "/c/{id}.shtml", "article", "121.14.32", 2),),
        2,
        200,
    ),
    App(
        "netease_news",
        "网易新闻",
        "NetEase News",
        "news",
        (_h("www.163.com", "/news/article/{id}.html", "article", "59.111.160", 1),),
        2,
        200,
    ),
    # maps and navigation
    App(
        "amap",
        "高德地图",
        "Amap",
        "maps",
        (
            _s("restapi.amap.com", "106.11.43", 2),
            _h("m.amap.com", "/navigation/route/{id}", "page", "106.11.44", 1),
        ),
        2,
        600,
    ),
    App(
        "baidu_maps", "百度地图", "Baidu Maps", "maps", (_s("newclient.map.baidu.com", "180.101.49"),), 2, 500
    ),
    # payments
    App("alipay", "支付宝", "Alipay", "payment", (_s("mobilegw.alipay.com", "110.75.139"),), 0.2, 60),
    App(
        "wechat_pay",
        "微信支付",
        "WeChat Pay",
        "payment",
        (_s("payapp.weixin.qq.com", "121.51.130"),),
        0.1,
        30,
    ),
    # shopping
    App(
        "taobao",
        "淘宝",
        "Taobao",
        "shopping",
        (
            _h("item.taobao.com", "/item/{id}.htm", "item", "140.205.94", 1),
            _s("acs.m.taobao.com", "140.205.95", 2),
        ),
        6,
        400,
    ),
    App("jd", "京东", "JD", "shopping", (_h("item.jd.com", "/{id}.html", "item", "111.13.28", 1),), 5, 300),
    App("pinduoduo", "拼多多", "Pinduoduo", "shopping", (_s("api.pinduoduo.com", "49.7.36"),), 5, 400),
    # social
    App(
        "wechat",
        "微信",
        "WeChat",
        "social",
        (
            _s("szextshort.weixin.qq.com", "183.192.196", 2),
            _ip("183.192.197", 8080, 1),
        ),
        3,
        600,
    ),
    App("qq", "QQ", "QQ", "social", (_s("msfwifi.3g.qq.com", "183.3.235"),), 2, 400),
    App(
        "weibo",
        "微博",
        "Weibo",
        "social",
        (
            _h("m.weibo.cn", "/status/{id}", "article", "180.149.134", 1),
            _s("api.weibo.cn", "180.149.135", 2),
        ),
        5,
        400,
    ),
    # stock trading
    App(
        "tonghuashun",
        "同花顺",
        "Tonghuashun",
        "stock",
        (
            _h("stockpage.10jqka.com.cn", "/{id}/", "stock", "115.238.57", 2),
            _ip("115.238.58", 8601, 1),
        ),
        1,
        300,
    ),
    App(
        "eastmoney",
        "东方财富",
        "East Money",
        "stock",
        (_h("quote.eastmoney.com", "/sh{id}.html", "stock", "101.226.22", 2),),
        1,
        300,
    ),
    App("zhangle", "涨乐财富通", "Zhangle (broker app)", "stock", (_ip("114.141.160", 8443, 1),), 0.5, 300),
    # car services
    App(
        "chewutong",
        "车务通",
        "Chewutong car service",
        "car",
        (_h("cwt.10086.cn", "/violation/query/{id}", "page", "120.197.230", 1),),
        0.2,
        60,
    ),
    App(
        "autohome",
        "汽车之家",
        "Autohome",
        "car",
        (_h("www.autohome.com.cn", "/{id}/", "car_series", "124.238.250", 2),),
        3,
        300,
    ),
    App("didi", "滴滴出行", "DiDi", "car", (_s("common.diditaxi.com.cn", "116.85.1"),), 0.5, 200),
    # education
    App("zuoyebang", "作业帮", "Zuoyebang", "education", (_s("www.zybang.com", "180.76.76"),), 3, 900),
    App(
        "chaoxing",
        "学习通",
        "Chaoxing",
        "education",
        (_h("mooc1.chaoxing.com", "/course/{id}.html", "course", "180.76.77", 2),),
        10,
        1200,
    ),
    # the operator's own services
    App(
        "cmcc_app",
        "中国移动APP",
        "China Mobile app",
        "operator",
        (_s("app.10086.cn", "120.197.231"),),
        0.5,
        120,
    ),
    App(
        "mail_139",
        "139邮箱",
        "139 mail",
        "operator",
        (_h("mail.10086.cn", "/read/{id}", "page", "120.197.232", 1),),
        0.3,
        120,
    ),
    App(
        "crbt",
        "彩铃",
        "ring-back tone",
        "operator",
        (_h("crbt.migu.cn", "/ring/{id}", "ring", "112.13.101", 1),),
        1,
        60,
    ),
    # the long tail and the look-alikes a naive substring rule mis-reads
    App(
        "lookalike",
        "仿冒/近似域名",
        "look-alike hosts",
        "other",
        (
            _h("notqq.com", "/index.html", None, "47.92.10", 1),
            _h("qqmusic.cc", "/song/{id}.mp3", "song", "47.92.11", 1),
            _h("kugou.com.mirror-cdn.top", "/song/{id}.mp3", "song", "47.92.12", 1),
            _h("iqiyi-download.net", "/v_{id}.html", "video", "47.92.13", 1),
            _h("taobao-coupon.shop", "/item/{id}.htm", "item", "47.92.14", 1),
        ),
        1,
        120,
    ),
    App(
        "other_web",
        "其他网站",
        "other web",
        "other",
        (
            _h("www.hao123.com", "/page/{id}", "page", "180.76.80", 2),
            _h("m.baidu.com", "/s/{id}", "page", "180.76.81", 3),
            _s("update.googleapis.com", "142.250.66", 1),
            _h("www.ymgov.cn", "/news/{id}.html", "article", "58.20.10", 1),
        ),
        1,
        120,
    ),
)
APP_INDEX = {a.app_id: i for i, a in enumerate(APPS)}


def apps() -> dict[str, list[object]]:
    """One row per app: app_id, name, name_en, category."""
    return {
        "app_id": [a.app_id for a in APPS],
        "name": [a.name for a in APPS],
        "name_en": [a.name_en for a in APPS],
        "category": [a.category for a in APPS],
    }


def endpoints() -> dict[str, list[object]]:
    """One row per endpoint: app_id, kind, host, path template, content kind, IP range, port.

    ``ip_range`` is a /24 in CIDR form; the simulator draws server addresses inside it.
    """
    cols: dict[str, list[object]] = {
        k: [] for k in ("app_id", "kind", "host", "path", "content", "ip_range", "port")
    }
    for a in APPS:
        for e in a.endpoints:
            cols["app_id"].append(a.app_id)
            cols["kind"].append(e.kind)
            cols["host"].append(e.host)
            cols["path"].append(e.path)
            cols["content"].append(e.content)
            cols["ip_range"].append(e.ip_prefix + ".0/24")
            cols["port"].append(e.port)
    return cols


def content_patterns() -> dict[str, list[object]]:
    """URI path templates that carry a content id: app_id, host, path template, content kind."""
    e = endpoints()
    keep = [i for i, p in enumerate(e["path"]) if p and "{id}" in str(p)]
    return {k: [e[k][i] for i in keep] for k in ("app_id", "host", "path", "content")}


def lookalike_hosts() -> list[str]:
    """Hosts that resemble a real app's host but belong to none (rule libraries must not match them)."""
    return [e.host for e in APPS[APP_INDEX["lookalike"]].endpoints if e.host]
