"""Regional markets' records. Every row that belongs somewhere carries its region, so pages list
them through the user's RegionScope; every workflow step is a row of its own (who, when, what)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tagcloud.regions.competition import COMPETITORS, IMPACTS, KINDS, CompetitionState

USER = settings.AUTH_USER_MODEL


class CompetitionReport(models.Model):
    """One report of a competitor's move (竞争信息), from the field."""

    competitor = models.CharField(
        _("竞争对手"), max_length=20, choices=[(k, v[0]) for k, v in COMPETITORS.items()]
    )
    kind = models.CharField(_("类型"), max_length=20, choices=[(k, v[0]) for k, v in KINDS.items()])
    region = models.ForeignKey(
        "reference.Region", verbose_name=_("区域"), on_delete=models.PROTECT, related_name="+"
    )
    happened_on = models.DateField(_("发生日期"))
    title = models.CharField(_("标题"), max_length=120)
    text = models.TextField(_("内容"))
    impact = models.CharField(_("影响"), max_length=10, choices=[(k, v[0]) for k, v in IMPACTS.items()])
    state = models.CharField(_("状态"), max_length=20, default=CompetitionState.REPORTED.value)
    importance = models.IntegerField(_("重要程度"), null=True, blank=True)
    proposal = models.TextField(_("应对建议"), blank=True)
    response = models.TextField(_("应对方案"), blank=True)
    kpis = models.CharField(_("关联指标"), max_length=300, blank=True)  # KPI names, comma-separated
    shared = models.BooleanField(_("全省共享"), default=False)  # 外网营销政策共享: visible to every city
    reporter = models.ForeignKey(
        USER, verbose_name=_("上报人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("上报时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def kpi_names(self) -> list[str]:
        return [k.strip() for k in self.kpis.split(",") if k.strip()]


class CompetitionEvent(models.Model):
    """One transition of a report: who did what, from which state to which, with their comment."""

    report = models.ForeignKey(CompetitionReport, on_delete=models.CASCADE, related_name="events")
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=20)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class CompetitionRecipient(models.Model):
    """A marketing head the city reviewer distributed the report to."""

    report = models.ForeignKey(CompetitionReport, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta:
        unique_together = [("report", "user")]


class CompetitionReply(models.Model):
    """A reply under a report (跟帖), by county level and above; ``parent`` threads it."""

    report = models.ForeignKey(CompetitionReport, on_delete=models.CASCADE, related_name="replies")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class CompetitionRead(models.Model):
    """The user has opened the report (the feed marks the others "new")."""

    report = models.ForeignKey(CompetitionReport, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("report", "user")]


class CompetitionAttachment(models.Model):
    """A photo or file of a report, checked by type, content and size before it is kept."""

    report = models.ForeignKey(CompetitionReport, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=200)
    ext = models.CharField(max_length=10)
    size = models.IntegerField()
    file = models.FileField(upload_to="competition/%Y/%m/")


class HotArea(models.Model):
    """A hot area (热点区域): cells drawn by hand by a user at any level, for their region."""

    class Kind(models.TextChoices):
        CAMPUS = "campus", _("校园")
        MARKET_TOWN = "market_town", _("集镇")
        COMPOUND = "compound", _("住宅社区")
        INDUSTRIAL_PARK = "industrial_park", _("工业园区")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=80)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    basis = models.CharField(_("归属依据"), max_length=10, default="either")  # regions.hotareas.Basis
    cells = models.JSONField(_("小区"), default=list)
    polygon = models.JSONField(_("多边形"), default=list, blank=True)  # as drawn: [[lon, lat], ...]
    region = models.ForeignKey(
        "reference.Region", verbose_name=_("区域"), on_delete=models.PROTECT, related_name="+"
    )
    owner = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class TownshipInfo(models.Model):
    """The township info base (乡镇信息库, seed 003 table 1); fields as the data model's ``townships``."""

    township = models.OneToOneField(
        "reference.Region", primary_key=True, on_delete=models.CASCADE, related_name="township_info"
    )
    name = models.CharField(max_length=100)
    is_administrative = models.BooleanField(null=True)
    population = models.IntegerField(null=True)
    agricultural_population = models.IntegerField(null=True)
    working_population = models.IntegerField(null=True)
    migrant_out_population = models.IntegerField(null=True)
    male_population = models.IntegerField(null=True)
    households = models.IntegerField(null=True)
    gdp = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    religion = models.CharField(max_length=200, blank=True, null=True)
    pillar_industry = models.CharField(max_length=200, blank=True, null=True)
    income_per_capita = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    competitor_channels = models.IntegerField(null=True)
    own_channels = models.IntegerField(null=True)
    mobile_penetration = models.FloatField(null=True)
    market_share = models.FloatField(null=True)
    version = models.IntegerField(default=0)
    updated_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class TownshipInfoVersion(models.Model):
    """Every change of a township record: the whole record after it, the fields changed, who, when, how."""

    township = models.ForeignKey("reference.Region", on_delete=models.CASCADE, related_name="+")
    version = models.IntegerField()
    data = models.JSONField()
    changed = models.JSONField(default=list)
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=200)  # "form" or "import <file name>"
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        unique_together = [("township", "version")]


class CellTask(models.Model):
    """A new, changed or retired cell from the network feed, to classify and approve (§2.4)."""

    class State(models.TextChoices):
        OPEN = "open", _("待分类")  # detected; the region owner classifies it
        CLASSIFIED = "classified", _("待审核")  # classified; a reviewer approves or returns it
        APPROVED = "approved", _("已生效")  # written to the reference cell (a new version)
        RETURNED = "returned", _("已退回")  # back to the owner with a comment

    cell_id = models.CharField(max_length=32, db_index=True)
    kind = models.CharField(max_length=10)  # regions.cells.ChangeKind
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    fields = models.JSONField(default=list)
    township = models.ForeignKey("reference.Region", null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    klass = models.CharField(max_length=20, blank=True)  # regions.cells.CLASSES
    area_type = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=20, blank=True)
    comment = models.TextField(blank=True)
    classified_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    detected_at = models.DateTimeField(auto_now_add=True)
    reminded_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["state", "cell_id"]


class CellVersion(models.Model):
    """Each approved state of a reference cell (the Cell row holds the latest)."""

    cell_id = models.CharField(max_length=32, db_index=True)
    version = models.IntegerField()
    data = models.JSONField()  # the cell's fields, {} when retired
    channel = models.CharField(max_length=20, blank=True)
    task = models.ForeignKey(CellTask, null=True, on_delete=models.SET_NULL, related_name="+")
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cell_id", "-version"]
        unique_together = [("cell_id", "version")]


class Message(models.Model):
    """An in-app message (站内消息): a reminder or a step of a workflow waiting for the user."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="market_messages")
    text = models.CharField(max_length=300)
    text_en = models.CharField(max_length=300, blank=True)
    link = models.CharField(max_length=200, blank=True)
    read = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
