"""The platform's roles and what each may do. Created once (post-migrate); administrators may
then change a role's permissions in the admin without code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoleDefinition:
    code: str
    name: str
    name_en: str
    scope_level: str  # region level its holders are assigned at (province, city, county, township)
    permissions: tuple[str, ...]  # codenames of accounts.Role permissions
    description: str = ""
    maintains_reference: bool = False  # edits regions, cells, products, channels, users in the admin


MARKETER = ("build_audience", "export_audience", "lookup_customer", "propose_tag_change")
# Marketers design campaigns in their region and run the approved ones (waves, call lists).
CAMPAIGNER = ("design_campaign", "run_campaign")
# Every marketer writes and improves quick points in the knowledge wiki (营销快点吧).
KNOWLEDGE = ("edit_knowledge",)
# Regional management: alerts, alert rules, competition reports, hot areas, cells, the township info base.
REGIONAL = (
    "handle_alert",
    "manage_alert_rule",
    "report_competition",
    "manage_hot_area",
    "maintain_cells",
    "edit_township_info",
)

ROLES: tuple[RoleDefinition, ...] = (
    RoleDefinition(
        "province_admin",
        "省级管理员",
        "Province administrator",
        "province",
        (
            *MARKETER,
            *CAMPAIGNER,
            *KNOWLEDGE,
            *REGIONAL,
            "serve_touchpoint",
            "unmask_msisdn",
            "review_tag_change",
            "view_audit",
            "design_event_rule",
            "manage_api_keys",
            "verify_knowledge",
            "review_competition",
            "review_cells",
            "view_jobs",
        ),
        "全省数据; 维护参考数据与账号; 可查看完整号码; 浏览审计日志",
        maintains_reference=True,
    ),
    RoleDefinition(
        "city_marketer",
        "地市营销人员",
        "City marketer",
        "city",
        (
            *MARKETER,
            *CAMPAIGNER,
            *KNOWLEDGE,
            *REGIONAL,
            "design_event_rule",
            "review_competition",
            "review_cells",
        ),
        "本地市用户; 号码脱敏",
    ),
    RoleDefinition(
        "county_marketer",
        "区县营销人员",
        "County marketer",
        "county",
        (*MARKETER, *CAMPAIGNER, *KNOWLEDGE, *REGIONAL, "design_event_rule", "review_competition"),
        "本区县用户; 号码脱敏",
    ),
    RoleDefinition(
        "township_manager",
        "乡镇/片区经理",
        "Township / district manager",
        "township",
        (
            "build_audience",
            "lookup_customer",
            *KNOWLEDGE,
            "handle_alert",
            "report_competition",
            "maintain_cells",
            "edit_township_info",
        ),
        "本片区用户的统计与客户查询; 不可导出",
    ),
    RoleDefinition(
        "analyst",
        "数据分析师",
        "Analyst",
        "province",
        ("build_audience", "propose_tag_change", *KNOWLEDGE, "view_jobs"),
        "全省统计与画像; 不可导出清单、不可查询单个客户",
    ),
    RoleDefinition(
        "approver",
        "审批人",
        "Approver",
        "province",
        ("review_tag_change", "view_audit", "approve_campaign", "review_cells", "view_jobs"),
        "审核标签变更与营销活动; 浏览审计日志",
    ),
    RoleDefinition(
        "channel_agent",
        "渠道代理",
        "Channel agent",
        "township",
        ("lookup_customer", "serve_touchpoint", "report_competition"),
        "在营业网点查询面前客户 (本片区, 号码脱敏); 推荐营销活动并记录反馈",
    ),
    RoleDefinition(
        "knowledge_editor",
        "知识编辑",
        "Knowledge editor",
        "province",
        ("build_audience", "propose_tag_change", "edit_knowledge", "verify_knowledge"),
        "审定营销快点, 发布为知识标签",
    ),
)

ROLE_BY_CODE = {r.code: r for r in ROLES}


def ensure_roles() -> None:
    """Create the roles and their permission groups that do not exist yet (never overwrites)."""
    from django.contrib.auth.models import Group, Permission

    from tagcloud.web.accounts.models import Role

    perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="accounts")}
    # The admin's reference data: every model permission of these models, plus viewing the audit log.
    reference = list(
        Permission.objects.filter(
            content_type__app_label__in=["reference", "auth", "accounts"],
            content_type__model__in=["region", "cell", "product", "channel", "user", "profile"],
        )
    ) + [p for c, p in perms.items() if c == "view_auditevent"]
    for d in ROLES:
        if Role.objects.filter(code=d.code).exists():
            continue
        group, _ = Group.objects.get_or_create(name=f"role:{d.code}")
        group.permissions.set(
            [perms[c] for c in d.permissions if c in perms] + (reference if d.maintains_reference else [])
        )
        Role.objects.create(
            code=d.code,
            name=d.name,
            name_en=d.name_en,
            scope_level=d.scope_level,
            group=group,
            description=d.description,
        )
