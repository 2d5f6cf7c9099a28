"""The stored wiki: quick points, every version of each, ratings, comments, follows and the
campaigns that used a point. The point's rules (conditions, products, strategies) are
``tagcloud.knowledge.points``; this module only keeps them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PointStatus(models.TextChoices):
    DRAFT = "draft", _("待审定")  # written and editable; not a tag yet
    VERIFIED = "verified", _("已审定")  # an editor verified a version: published as a knowledge tag


CONTENT_FIELDS = (
    "title",
    "condition",
    "knowledge",
    "knowledge_en",
    "dimension",
    "description",
    "products",
    "region_id",
)


class QuickPoint(models.Model):
    """A quick point (快点): behaviour (a condition) → knowledge → recommended products. The row
    holds the latest version; :class:`PointVersion` keeps every version."""

    title = models.CharField(_("标题"), max_length=200)
    condition = models.TextField(_("行为条件"))
    knowledge = models.CharField(_("客户知识"), max_length=200)
    knowledge_en = models.CharField(_("客户知识(英文)"), max_length=200, blank=True)
    dimension = models.CharField(_("知识维度"), max_length=20)  # tagcloud.knowledge.points.Dimension
    description = models.TextField(_("说明"), blank=True)
    products = models.JSONField(_("推荐产品"), default=list)  # [{product_id, reason, strategy}]
    region = models.ForeignKey(
        "reference.Region",
        verbose_name=_("适用范围"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )  # None: province-wide
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("作者"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    status = models.CharField(
        _("状态"), max_length=10, choices=PointStatus.choices, default=PointStatus.DRAFT
    )
    verified_version = models.PositiveIntegerField(_("审定版本"), null=True, blank=True)
    verified_by = models.CharField(_("审定人"), max_length=150, blank=True)
    verified_at = models.DateTimeField(_("审定时间"), null=True, blank=True)
    uses = models.PositiveIntegerField(_("使用次数"), default=0)  # extractions and campaigns started
    search_text = models.TextField(blank=True)  # title, knowledge, description, condition, products: searched
    rating_sum = models.PositiveIntegerField(default=0)
    rating_count = models.PositiveIntegerField(default=0)
    rating_avg = models.FloatField(null=True, blank=True)  # kept with the sum and count: the list sorts by it
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("营销快点")
        verbose_name_plural = _("营销快点")
        ordering = ["-updated_at"]
        # the wiki home's lists: newest, recently changed, best rated, most used
        indexes = [
            models.Index(fields=["-created_at"], name="knowledge_newest"),
            models.Index(fields=["-updated_at"], name="knowledge_changed"),
            models.Index(fields=["-rating_avg", "-rating_count"], name="knowledge_best"),
            models.Index(fields=["-uses"], name="knowledge_used"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def tag_id(self) -> str:
        return f"kp_{self.pk}"

    @property
    def rating(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None

    def content(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in CONTENT_FIELDS}


class PointVersion(models.Model):
    """One version of a point, as it was saved (versions are never changed or deleted)."""

    point = models.ForeignKey(QuickPoint, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=200)
    condition = models.TextField(_("行为条件"))
    knowledge = models.CharField(_("客户知识"), max_length=200)
    knowledge_en = models.CharField(_("客户知识(英文)"), max_length=200, blank=True)
    dimension = models.CharField(_("知识维度"), max_length=20)
    description = models.TextField(_("说明"), blank=True)
    products = models.JSONField(_("推荐产品"), default=list)
    region_id = models.CharField(_("适用范围"), max_length=20, null=True, blank=True)
    edited_by = models.CharField(_("编辑人"), max_length=150)
    note = models.CharField(_("修改说明"), max_length=300, blank=True)
    at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("快点版本")
        verbose_name_plural = _("快点版本")
        ordering = ["point", "version"]
        constraints = [models.UniqueConstraint(fields=["point", "version"], name="knowledge_version_once")]

    def content(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in CONTENT_FIELDS}


class Rating(models.Model):
    point = models.ForeignKey(QuickPoint, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    stars = models.PositiveSmallIntegerField(_("评分"))
    at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["point", "user"], name="knowledge_rating_once"),
            models.CheckConstraint(
                condition=models.Q(stars__gte=1, stars__lte=5), name="knowledge_stars_1_5"
            ),
        ]


class Comment(models.Model):
    point = models.ForeignKey(QuickPoint, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150)
    text = models.TextField(_("评论"))
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]


class Follow(models.Model):
    point = models.ForeignKey(QuickPoint, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["point", "user"], name="knowledge_follow_once")]


class PointUse(models.Model):
    """A campaign (or a real-time rule, or an extraction) that used the point's group; the loop
    back from the campaign's evaluation reads ``campaign_id``."""

    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", _("营销活动")
        RULE = "rule", _("实时规则")
        EXTRACT = "extract", _("名单提取")

    point = models.ForeignKey(QuickPoint, on_delete=models.CASCADE, related_name="used_by")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    ref = models.CharField(max_length=100, blank=True)  # campaign id / rule id
    username = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
