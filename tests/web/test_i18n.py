"""Every page has English: no template shows Chinese outside {% translate %} / {% blocktranslate %},
every translatable string has an English translation in the compiled catalogue, and the English page
of each page family shows no CJK characters outside data values."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "tagcloud" / "web"
TEMPLATES = WEB / "templates"
PO = WEB / "locale" / "en" / "LC_MESSAGES" / "django.po"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")

# What a template may hold in Chinese: the source strings of its translation tags, and comments.
_MARKED = re.compile(
    r"{%\s*(?:blocktranslate|blocktrans)\b.*?%}.*?{%\s*(?:endblocktranslate|endblocktrans)\s*%}"
    r"|{%\s*(?:translate|trans)\s.*?%}"
    r"|{#.*?#}"
    r"|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}",
    re.S,
)


def unmarked_chinese(text: str) -> list[str]:
    """Template source in → the lines that still show Chinese outside translation tags and comments."""
    stripped = _MARKED.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return [line.strip() for line in stripped.splitlines() if CJK.search(line)]


def test_unmarked_chinese_is_found() -> None:
    # The checker itself must catch a bare string and let marked ones through.
    assert unmarked_chinese("<h1>营销活动</h1>") == ["<h1>营销活动</h1>"]
    assert unmarked_chinese('<h1>{% translate "营销活动" %}</h1>{# 注释 #}') == []
    assert unmarked_chinese("{% blocktranslate with n=x %}第{{ n }}天{% endblocktranslate %}") == []
    assert unmarked_chinese("<input placeholder=\"{% translate '意见' %}\"> 意见") != []


def test_chinese_shown_reads_what_a_user_sees() -> None:
    html = (
        '<p>营销 <code>名称</code><span lang="zh-hans">数据<b>粗</b></span>'
        '<input placeholder="意见"><script>"脚本"</script> 甲市</p>'
        '<div data-charts=\'[{"title": "覆盖率", "labels": ["乙"]}]\'></div>'
    )
    assert chinese_shown(html, {"甲市"}) == ["意见", "营销", "覆盖率"]


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_template_has_no_unmarked_chinese(template: Path) -> None:
    bad = unmarked_chinese(template.read_text(encoding="utf-8"))
    assert not bad, f"{template.relative_to(WEB)}: Chinese outside {{% translate %}}: {bad}"


def _po_entries(text: str) -> list[tuple[str, str, bool]]:
    """django.po text in → (msgid, msgstr, fuzzy) for each entry but the header."""
    out = []
    for block in text.split("\n\n"):
        fuzzy = "#, fuzzy" in block or re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if not ids or not strs:
            continue
        msgid = "".join(re.findall(r'"(.*)"', ids.group(1)))
        msgstr = "".join(re.findall(r'"(.*)"', strs.group(1)))
        if msgid:
            out.append((msgid, msgstr, fuzzy))
    return out


def test_catalogue_is_complete_and_compiled() -> None:
    entries = _po_entries(PO.read_text(encoding="utf-8"))
    assert entries, f"{PO}: no entries"
    missing = [i for i, s, f in entries if not s or f]
    assert not missing, f"{PO.name}: no English (or fuzzy) for {missing}"
    still_chinese = [(i, s) for i, s, _ in entries if CJK.search(s)]
    assert not still_chinese, f"{PO.name}: English that is Chinese: {still_chinese}"
    mo = PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= PO.stat().st_mtime - 1, (
        f"{mo.name} is older than {PO.name}: run `django-admin compilemessages` in src/tagcloud/web"
    )
    # Every string of the catalogue must be in the compiled file (a stale .mo passes the mtime check
    # after a checkout).
    import gettext

    with mo.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = [i for i, s, _ in entries if compiled.gettext(i.replace("%%", "%")) == i.replace("%%", "%")
             and compiled.gettext(i) == i]  # fmt: skip
    assert not stale, f"{mo.name} lacks {stale}: run compilemessages"


class _Visible(HTMLParser):
    """HTML in → the text a user reads: text nodes, placeholders, titles and button values, not
    scripts, styles, <code> (typed rules), form field values (what the user typed) or elements marked
    ``lang="zh-hans"`` (Chinese data shown on purpose, e.g. a tag's Chinese name, the language switch)."""

    SKIP = frozenset({"script", "style", "code", "textarea", "option", "datalist"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping: str | None = None  # the tag whose subtree is not read
        self.nest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            self.nest += tag == self.skipping
            return
        if tag in self.SKIP or (dict(attrs).get("lang") or "").startswith("zh"):
            self.skipping, self.nest = tag, 1
            return
        for k, v in attrs:
            if k in ("placeholder", "title", "aria-label", "alt") and v:
                self.parts.append(v)
            elif k == "data-charts" and v:  # chart titles are drawn by script from this JSON
                self.parts += [str(c.get("title", "")) for c in json.loads(v)]

    def handle_endtag(self, tag: str) -> None:
        if self.skipping == tag:
            self.nest -= 1
            if not self.nest:
                self.skipping = None

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def chinese_shown(html: str, data_values: set[str]) -> list[str]:
    """A page in, and the Chinese data it may show (names the users typed) → the Chinese runs left."""
    p = _Visible()
    p.feed(html)
    text = "\n".join(p.parts)
    for v in sorted(data_values, key=len, reverse=True):
        text = text.replace(v, " ")
    return sorted(set(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", text)))


def _english(client: Any) -> Any:
    token = client.get("/").cookies["csrftoken"].value
    client.post("/i18n/setlang/", {"language": "en", "next": "/"}, HTTP_X_CSRFTOKEN=token)
    return client


@pytest.mark.django_db
def test_english_pages_show_no_chinese(clients: dict[str, Any], warehouse: Any, settings: Any) -> None:

    from .conftest import number_in, post
    from .test_campaigns import DESIGN

    settings.CAMPAIGN_APPROVAL_CHAINS = {"county": ["city"]}
    marketer = _english(clients["county_marketer"])
    admin = _english(clients["province_admin"])
    r = post(marketer, "/campaigns/design/", {**DESIGN, "submit": "1"})
    assert r.status_code == 302, r.content.decode()[:500]
    n = number_in(warehouse, "county_id = 'C01K01'")
    pages = {
        "home": marketer.get("/"),
        "tags": marketer.get("/tags/"),
        "tag": marketer.get("/tags/arpu/"),
        "audience": marketer.get("/audience/"),
        "groups": marketer.get("/groups/"),
        "customer": post(marketer, "/customer/", {"msisdn": n}),
        "customer-unknown": post(marketer, "/customer/", {"msisdn": "13000000000"}),
        "audit": admin.get("/audit/"),
        "campaigns": marketer.get("/campaigns/"),
        "campaign": marketer.get("/campaigns/WEB1/"),
        "evaluation": marketer.get("/campaigns/WEB1/evaluation/"),
    }
    # Data, not interface: what the design typed, and the region names of the fixtures.
    from .conftest import REGIONS, synth_regions

    data = {DESIGN["name"], DESIGN["sms_script"], DESIGN["call_script"]}
    data |= {r["name"] for r in REGIONS + synth_regions()}
    found = {}
    for name, resp in pages.items():
        assert resp.status_code in (200, 404), (name, resp.status_code)
        left = chinese_shown(resp.content.decode(), data)
        if left:
            found[name] = left
    assert not found, f"English pages still show Chinese: {found}"
