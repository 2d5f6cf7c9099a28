"""Code tables of the canonical operator model.

Every coded column of the model names one of these tables; ingestion refuses a value that is not
in it (reason ``bad_code``). Each code carries its Chinese and English label, shown to marketers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    zh: str
    en: str


def _codes(*rows: tuple[str, str, str]) -> tuple[Code, ...]:
    return tuple(Code(*row) for row in rows)


CODE_TABLES: dict[str, tuple[Code, ...]] = {
    "brand": _codes(
        ("gotone", "全球通", "GoTone (premium)"),
        ("mzone", "动感地带", "M-Zone (youth)"),
        ("easyown", "神州行", "Easy Own (mass market)"),
    ),
    "payment_type": _codes(("prepaid", "预付费", "prepaid"), ("postpaid", "后付费", "postpaid")),
    "subscriber_status": _codes(
        ("active", "正常", "active"),
        ("suspended", "停机", "suspended"),
        ("closed", "销户", "closed"),
    ),
    "age_band": _codes(
        ("<18", "18岁以下", "under 18"),
        ("18-24", "18-24岁", "18-24"),
        ("25-34", "25-34岁", "25-34"),
        ("35-44", "35-44岁", "35-44"),
        ("45-54", "45-54岁", "45-54"),
        ("55-64", "55-64岁", "55-64"),
        ("65+", "65岁及以上", "65 and over"),
        ("unknown", "未知", "unknown"),
    ),
    "gender": _codes(("M", "男", "male"), ("F", "女", "female"), ("U", "未知", "unknown")),
    "region_level": _codes(
        ("province", "省", "province"),
        ("city", "地市", "city"),
        ("county", "区县", "county"),
        ("township", "乡镇/片区", "township / district"),
    ),
    "area_type": _codes(
        ("urban_residential", "城市住宅小区", "urban residential compound"),
        ("business_district", "商务区", "business district"),
        ("university", "高校校园", "university campus"),
        ("middle_school", "中学", "middle school"),
        ("rural_township", "农村乡镇", "rural township"),
        ("industrial_park", "工业园区", "industrial park"),
        ("transport_hub", "交通枢纽", "transport hub"),
        ("tourist_site", "旅游景区", "tourist site"),
        ("highway", "高速公路", "highway"),
        ("golf_course", "高尔夫球场", "golf course"),
    ),
    "rat": _codes(("2G", "2G", "2G"), ("3G", "3G", "3G"), ("4G", "4G", "4G"), ("5G", "5G", "5G")),
    "direction": _codes(("MO", "主叫/发送", "originated"), ("MT", "被叫/接收", "terminated")),
    "operator": _codes(
        ("CMCC", "中国移动(本网)", "our network"),
        ("CU", "中国联通", "China Unicom"),
        ("CT", "中国电信", "China Telecom"),
        ("CBN", "中国广电", "China Broadnet"),
        ("FIXED", "固定电话", "fixed line"),
        ("SERVICE", "特服号码", "service number"),
        ("INTL", "国际号码", "international"),
    ),
    "roaming_direction": _codes(
        ("out", "漫出", "our subscriber roaming away"),
        ("in", "漫入", "visitor roaming into the province"),
    ),
    "product_kind": _codes(
        ("plan", "主资费套餐", "main plan"),
        ("data_pack", "流量包", "data pack"),
        ("5g_package", "5G套餐包", "5G package"),
        ("broadband", "家庭宽带", "home broadband"),
        ("membership", "视频/音乐会员", "video or music membership"),
        ("vas", "增值业务", "value-added service"),
        ("family", "家庭/V网业务", "family or V-net product"),
    ),
    "order_action": _codes(
        ("subscribe", "订购", "subscribe"),
        ("unsubscribe", "退订", "unsubscribe"),
        ("change", "变更", "change plan"),
    ),
    "channel": _codes(
        ("10086", "10086热线", "10086 hotline"),
        ("hall", "营业厅", "service hall"),
        ("web_hall", "网上营业厅", "web hall"),
        ("sms_hall", "短信营业厅", "SMS hall"),
        ("app", "手机营业厅APP", "mobile app"),
        ("self_terminal", "自助终端", "self-service terminal"),
        ("outbound", "外呼", "outbound call"),
        ("agent", "社会渠道代理", "agent outlet"),
        ("bank", "银行代缴", "bank"),
    ),
    "contact_reason": _codes(
        ("balance_query", "余额查询", "balance query"),
        ("bill_query", "账单查询", "bill query"),
        ("data_query", "流量查询", "data usage query"),
        ("plan_change", "套餐变更", "plan change"),
        ("complaint", "投诉", "complaint"),
        ("fault_report", "故障申告", "fault report"),
        ("product_inquiry", "业务咨询", "product inquiry"),
        ("top_up", "充值缴费", "top-up"),
        ("porting_inquiry", "携号转网咨询", "number-porting inquiry"),
    ),
    "handset_price_tier": _codes(
        ("low", "低端(<1000元)", "low (< 1,000 yuan)"),
        ("mid", "中端(1000-2999元)", "mid (1,000-2,999 yuan)"),
        ("high", "高端(3000-5999元)", "high (3,000-5,999 yuan)"),
        ("flagship", "旗舰(≥6000元)", "flagship (>= 6,000 yuan)"),
    ),
    "handset_os": _codes(
        ("android", "安卓", "Android"),
        ("ios", "iOS", "iOS"),
        ("harmonyos", "鸿蒙", "HarmonyOS"),
        ("feature", "功能机", "feature phone"),
    ),
    "day_type": _codes(
        ("workday", "工作日", "workday"),
        ("weekend", "周末", "weekend"),
        ("holiday", "法定节假日", "public holiday"),
        ("adjusted_workday", "调休上班日", "adjusted workday"),
    ),
}


def code_values(table: str) -> tuple[str, ...]:
    """The codes of one code table, in their defined order."""
    return tuple(c.code for c in CODE_TABLES[table])


def label(table: str, code: str, lang: str = "zh") -> str:
    """The label of one code, in Chinese (default) or English; the code itself if unknown."""
    for c in CODE_TABLES[table]:
        if c.code == code:
            return c.zh if lang == "zh" else c.en
    return code
