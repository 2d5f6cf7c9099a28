"""Who saved which group. The group itself (members, condition, build) is the audience engine's
snapshot in the warehouse; this row records its owner and region so the group list is scoped."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SavedGroup(models.Model):
    """A saved group (目标号码群) as the platform knows it: owner, region, size, when."""

    name = models.CharField(_("名称"), max_length=80, unique=True)
    kind = models.CharField(
        _("类型"), max_length=20, default="audience"
    )  # audience | combine | action | control
    condition = models.TextField(_("条件"))
    members = models.IntegerField(_("用户数"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, on_delete=models.SET_NULL
    )
    # The owner's region when saved: the group lists of users whose scope covers it show it.
    region = models.ForeignKey(
        "reference.Region", verbose_name=_("区域"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("目标客户群")
        verbose_name_plural = _("目标客户群")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
