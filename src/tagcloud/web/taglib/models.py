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
