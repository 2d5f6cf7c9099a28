"""Tag change proposals: a tag owner proposes a new rule or 口径; an approver reviews it before it
may go online (the tags module's definitions are then changed and rebuilt)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", _("待审核")  # waiting for an approver
    APPROVED = "approved", _("已批准")  # may go online with the next definitions change and build
    REJECTED = "rejected", _("已驳回")  # closed; the note says why


OPEN_STATES = (ProposalStatus.PROPOSED,)


class TagChangeProposal(models.Model):
    """A proposed change of one tag's rule and/or definition (口径)."""

    tag = models.CharField(_("标签"), max_length=64, db_index=True)
    rule = models.TextField(_("新规则"), blank=True)
    definition_zh = models.TextField(_("新口径(中文)"), blank=True)
    definition_en = models.TextField(_("新口径(英文)"), blank=True)
    reason = models.TextField(_("变更原因"))
    status = models.CharField(
        _("状态"), max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提出人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_note = models.TextField(_("审核意见"), blank=True)
    created_at = models.DateTimeField(_("提出时间"), auto_now_add=True)
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("标签变更申请")
        verbose_name_plural = _("标签变更申请")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.tag} · {self.get_status_display()}"


class TagVersion(models.Model):
    """One version of a catalogued tag in the application database: the package's definitions
    loaded by ``tagcloud web load-tags``, and the versions approved here (``origin='local'``).
    The latest version of a tag gives its status on the tag pages."""

    tag = models.CharField(_("标签"), max_length=64, db_index=True)
    version = models.PositiveIntegerField(_("版本"))
    status = models.CharField(_("状态"), max_length=10)  # tagcloud.tags.catalogue.Status
    name_zh = models.CharField(_("名称"), max_length=200)
    name_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    rule = models.TextField(_("规则"), blank=True)
    definition_zh = models.TextField(_("口径(中文)"), blank=True)
    definition_en = models.TextField(_("口径(英文)"), blank=True)
    change = models.TextField(_("变更"), blank=True)
    by = models.CharField(_("变更人"), max_length=150, blank=True)
    date = models.CharField(_("日期"), max_length=10, blank=True)  # ISO date as the history has it
    origin = models.CharField(_("来源"), max_length=10, default="package")  # package | local
    document = models.JSONField(_("定义"), default=dict)  # the tag's whole entry, definitions form

    class Meta:
        verbose_name = _("标签版本")
        verbose_name_plural = _("标签版本")
        ordering = ["tag", "-version"]
        constraints = [models.UniqueConstraint(fields=["tag", "version"], name="taglib_tag_version_unique")]

    def __str__(self) -> str:
        return f"{self.tag} v{self.version} · {self.status}"
