"""Password changes: when each user last set a password (its age → forced change) and the hashes
of the last few (no reuse). Written by ``passwords.HistoryValidator.password_changed``, which Django
calls whenever a user's password is saved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PasswordChange(models.Model):
    """One password a user set: when, and its hash (the hash only, as Django stores passwords)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_changes"
    )
    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    password = models.CharField(_("密码散列"), max_length=128)

    class Meta:
        verbose_name = _("密码修改记录")
        verbose_name_plural = _("密码修改记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.at:%Y-%m-%d %H:%M}"
