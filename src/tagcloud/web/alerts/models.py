"""KPI alerts in the platform's database: rules set by city staff, alerts and every step of their
loop, the in-app inbox, the SMS notices sent over SMPP, and staff mobile numbers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tagcloud.regions.alerts import AlertAction, AlertState, ThresholdKind
from tagcloud.regions.kpi import KPIS
from tagcloud.web.reference.models import Region

KPI_CHOICES = [(k.kpi_id, k.name) for k in KPIS]
KIND_CHOICES = [
    (ThresholdKind.ABSOLUTE.value, _("指标值")),
    (ThresholdKind.CHANGE_DAY.value, _("较昨日变化(%)")),
    (ThresholdKind.CHANGE_WEEK.value, _("较上周同日变化(%)")),
    (ThresholdKind.CHANGE_MONTH.value, _("较上月同日变化(%)")),
    (ThresholdKind.ANOMALY.value, _("异常分值(稳健Z分数)")),
]
STATE_CHOICES = [
    (AlertState.RAISED.value, _("待汇报")),
    (AlertState.RETURNED.value, _("退回修改")),
    (AlertState.IN_REVIEW.value, _("审核中")),
    (AlertState.AT_OWNER.value, _("待最终负责人")),
    (AlertState.TRACKING.value, _("跟踪期")),
    (AlertState.HISTORY.value, _("历史预警")),
]
ACTION_CHOICES = [
    (AlertAction.RAISE.value, _("发起预警")),
    (AlertAction.REPORT.value, _("汇报")),
    (AlertAction.REVISE_AND_REPORT.value, _("修改并汇报")),
    (AlertAction.APPROVE.value, _("同意并上报")),
    (AlertAction.RETURN.value, _("退回修改")),
    (AlertAction.CLOSE.value, _("结束流程")),
    (AlertAction.COMMENT.value, _("信息反馈")),
    (AlertAction.END_TRACKING.value, _("跟踪结束")),
]
LEVEL_CHOICES = [
    ("city", _("地市")),
    ("county", _("区县")),
    ("township", _("乡镇/片区")),
    ("cell", _("小区")),
]


class StaffContact(models.Model):
    """A staff member's mobile number, for the alerts' SMS (accounts has none)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_contact"
    )
    mobile = models.CharField(_("手机号码"), max_length=15)

    def __str__(self) -> str:
        return f"{self.user} {self.mobile}"


class AlertRule(models.Model):
    """A rule set by city staff: KPI, scope, threshold, handling chain, due date, tracking, report."""

    name = models.CharField(_("规则名称"), max_length=100)
    kpi = models.CharField(_("指标"), max_length=40, choices=KPI_CHOICES)
    region = models.ForeignKey(Region, verbose_name=_("监控范围"), on_delete=models.PROTECT, related_name="+")
    level = models.CharField(_("监控层级"), max_length=10, choices=LEVEL_CHOICES)
    channel = models.CharField(_("渠道"), max_length=20, default="*")
    kind = models.CharField(_("门限类型"), max_length=20, choices=KIND_CHOICES)
    operator = models.CharField(_("比较"), max_length=2, default="<")
    threshold = models.FloatField(_("预警门限值"))
    min_volume = models.FloatField(_("最小样本量"), default=0)
    history_days = models.PositiveSmallIntegerField(_("历史天数"), default=14)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("汇报负责人"), on_delete=models.PROTECT, related_name="+"
    )
    reviewer_ids = models.JSONField(_("审核人"), default=list)  # user ids in order (上级负责人 …)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("最终负责人"), on_delete=models.PROTECT, related_name="+"
    )
    due_days = models.PositiveSmallIntegerField(_("完成天数"), default=3)
    tracking_days = models.PositiveSmallIntegerField(_("跟踪天数"), default=7)
    report_url = models.CharField(_("关联报表"), max_length=300, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One alert: the KPI's value on a day for a place, its chain, where it is in the loop."""

    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    kpi = models.CharField(_("指标"), max_length=40, choices=KPI_CHOICES)
    region = models.ForeignKey(Region, verbose_name=_("区域"), on_delete=models.PROTECT, related_name="+")
    place_id = models.CharField(_("对象"), max_length=32)  # the region id, or a cell id
    level = models.CharField(_("层级"), max_length=10)
    channel = models.CharField(_("渠道"), max_length=20, default="*")
    day = models.DateField(_("日期"))
    value = models.FloatField(_("指标值"), null=True)
    baseline = models.FloatField(_("对比值"), null=True)
    metric = models.FloatField(null=True)
    condition = models.CharField(_("预警条件"), max_length=200)
    text = models.TextField(_("预警内容"))
    state = models.CharField(_("状态"), max_length=12, choices=STATE_CHOICES, default=AlertState.RAISED.value)
    step = models.PositiveSmallIntegerField(default=0)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer_ids = models.JSONField(default=list)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField(_("完成日期"))
    tracking_days = models.PositiveSmallIntegerField(_("跟踪天数"), default=7)
    closed_on = models.DateField(null=True, blank=True)
    report = models.TextField(_("原因分析"), blank=True)
    report_url = models.CharField(_("关联报表"), max_length=300, blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "place_id", "channel", "day"], name="one_alert_per_rule_place_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kpi} {self.place_id}"


class AlertEvent(models.Model):
    """One step of an alert's loop (or a comment): who, what, when, the text, from and to state."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(_("操作"), max_length=12, choices=ACTION_CHOICES)
    text = models.TextField(_("内容"), blank=True)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class InboxMessage(models.Model):
    """A system message (系统信息) to one user about an alert."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_messages"
    )
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="messages")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class SmsNotice(models.Model):
    """An SMS about an alert, as submitted to the SMSC (status and message id from the SMPP reply)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="sms")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    mobile = models.CharField(max_length=15)
    text = models.TextField()
    status = models.CharField(max_length=12)
    message_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(auto_now_add=True)
