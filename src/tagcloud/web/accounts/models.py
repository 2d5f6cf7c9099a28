"""Accounts: a user's role and home region, the roles themselves (data, with permissions), and the
audit log of every unmask, export and customer lookup."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from tagcloud.web.reference.models import Region, RegionLevel


class Role(models.Model):
    """A job on the platform (省管理员, 县市场人员 …): a permission group and the region level its
    holders are assigned at. Roles are rows, so administrators edit their permissions in the admin."""

    code = models.SlugField(_("角色代码"), max_length=40, primary_key=True)
    name = models.CharField(_("名称"), max_length=60)
    name_en = models.CharField(_("英文名称"), max_length=60)
    scope_level = models.CharField(_("区域层级"), max_length=10, choices=RegionLevel.choices)
    group = models.OneToOneField(Group, verbose_name=_("权限组"), on_delete=models.PROTECT)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        ordering = ["code"]
        # The platform's own capabilities; Django creates them, roles hold them through their group.
        permissions = [
            ("build_audience", "即席查询: 建立与统计目标客户群 / build audiences"),
            ("export_audience", "导出客户清单 / export audience lists"),
            ("unmask_msisdn", "查看完整号码 / see unmasked numbers"),
            ("lookup_customer", "反向查询: 客户360 / look up a customer"),
            ("propose_tag_change", "提出标签变更 / propose tag changes"),
            ("review_tag_change", "审核标签变更 / review tag changes"),
            ("view_audit", "查看审计日志 / browse the audit log"),
            ("design_campaign", "设计营销活动 / design campaigns"),
            ("approve_campaign", "审批营销活动 / approve campaigns"),
            ("run_campaign", "执行营销活动、外呼清单 / run campaigns, call lists"),
            ("serve_touchpoint", "触点推荐与反馈 / touchpoint offers and feedback"),
            # Real-time marketing (realtime): event rules and the channel systems' API keys.
            ("design_event_rule", "设计实时营销规则 / design real-time event rules"),
            ("manage_api_keys", "管理渠道系统接口密钥 / manage channel systems' API keys"),
            # The marketers' knowledge wiki (knowledge).
            ("edit_knowledge", "编写与修改营销快点 / write and edit quick points"),
            ("verify_knowledge", "审定营销快点 / verify quick points"),
            # Regional management (regions).
            ("handle_alert", "处理异动预警 / handle KPI alerts"),
            ("manage_alert_rule", "设置预警规则 / set alert rules"),
            ("report_competition", "上报竞争信息 / report competition information"),
            ("review_competition", "审核与分发竞争信息 / verify and distribute competition information"),
            ("manage_hot_area", "划定热点区域 / draw hot areas"),
            ("maintain_cells", "维护小区信息 / maintain cell information"),
            ("review_cells", "审核小区变更 / approve cell changes"),
            ("edit_township_info", "维护乡镇信息库 / maintain the township info base"),
            # Background jobs and schedules.
            ("view_jobs", "查看与管理后台作业 / view and manage background jobs"),
        ]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """The role a user holds and the region they are assigned to (their data scope)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.ForeignKey(Role, verbose_name=_("角色"), on_delete=models.PROTECT, related_name="profiles")
    region = models.ForeignKey(
        Region, verbose_name=_("所属区域"), on_delete=models.PROTECT, related_name="profiles"
    )

    class Meta:
        verbose_name = _("用户档案")
        verbose_name_plural = _("用户档案")

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.region.name}"

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)
        # A user holds exactly their role's group, so permissions follow the role.
        self.user.groups.set([self.role.group])


class AuditAction(models.TextChoices):
    """What was done to personal data, and who signed in or out."""

    UNMASK = "unmask", _("查看完整号码")
    EXPORT = "export", _("导出清单")
    LOOKUP = "lookup", _("客户查询")
    DENIED = "denied", _("越权访问被拒绝")
    # Sign-ins (tagcloud.web.security): every login, logout, failure, lockout and unlock.
    LOGIN = "login", _("登录")
    LOGOUT = "logout", _("退出登录")
    LOGIN_FAILED = "loginfail", _("登录失败")
    LOCKED_OUT = "lockout", _("登录锁定")
    UNLOCKED = "unlock", _("解除锁定")
    PASSWORD_CHANGED = "password", _("修改密码")


class AuditEvent(models.Model):
    """One access to personal data: who, what, which subscribers or audience, from where, when."""

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), null=True, on_delete=models.SET_NULL
    )
    username = models.CharField(_("用户名"), max_length=150)  # kept when the user is deleted
    role = models.CharField(_("角色"), max_length=40, blank=True)
    action = models.CharField(_("操作"), max_length=10, choices=AuditAction.choices, db_index=True)
    target = models.CharField(_("对象"), max_length=200)  # a masked number, a group id, a condition
    rows = models.IntegerField(_("涉及号码数"), default=0)
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.target}"
