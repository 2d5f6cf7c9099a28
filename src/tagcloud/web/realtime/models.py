"""Channel systems' API keys (渠道系统接口密钥): the 10086 CRM, the hall front desk, the web hall and
the SMS hall call ``decide`` and feedback with a key of their own, scoped to touchpoint channels and
a region. Only a hash of the secret is stored; the secret is shown once, when it is created or
rotated. Every create / rotate / revoke is kept in ``ApiKeyEvent``; every call in the audit log."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tagcloud.web.reference.models import Region

KEY_PREFIX = "tck"  # tagcloud channel key: tck_<id>_<secret>


def hash_secret(secret: str) -> str:
    """SHA-256 of a 256-bit random secret: a slow password hash buys nothing against that entropy."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """One channel system's key: its touchpoint channels, its region, whether it still works."""

    name = models.CharField(_("渠道系统"), max_length=100)
    key_id = models.CharField(_("密钥标识"), max_length=16, unique=True)  # the public part, shown in lists
    secret_hash = models.CharField(_("密钥摘要"), max_length=64)
    channels = models.JSONField(_("触点渠道"), default=list)
    region = models.ForeignKey(
        Region, verbose_name=_("区域"), on_delete=models.PROTECT, related_name="api_keys"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("轮换时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("渠道系统接口密钥")
        verbose_name_plural = _("渠道系统接口密钥")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, name: str, channels: list[str], region: Region, by: object) -> tuple[ApiKey, str]:
        """A new key; returns it and the whole key text (shown once, never stored)."""
        key = cls(name=name, channels=sorted(set(channels)), region=region, created_by=by)
        text = key._new_secret()
        key.save()
        ApiKeyEvent.objects.create(key=key, action=ApiKeyEvent.Action.CREATED, by=by)
        return key, text

    def _new_secret(self) -> str:
        self.key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self.secret_hash = hash_secret(secret)
        return f"{KEY_PREFIX}_{self.key_id}_{secret}"

    def rotate(self, by: object) -> str:
        """A new secret (and id) for the same system; the old key stops working at once."""
        if not self.active:
            raise ValueError(f"key {self.key_id} is revoked: issue a new one")
        text = self._new_secret()
        self.rotated_at = timezone.now()
        self.save()
        ApiKeyEvent.objects.create(key=self, action=ApiKeyEvent.Action.ROTATED, by=by)
        return text

    def revoke(self, by: object) -> None:
        if self.active:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
            ApiKeyEvent.objects.create(key=self, action=ApiKeyEvent.Action.REVOKED, by=by)

    @classmethod
    def find(cls, text: str) -> tuple[ApiKey | None, str]:
        """The key a presented text names and whether it holds: (key, "") or (key or None, why not)."""
        parts = text.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None, "malformed key"
        key = cls.objects.select_related("region").filter(key_id=parts[1]).first()
        if key is None:
            return None, "unknown key"
        if not hmac.compare_digest(key.secret_hash, hash_secret(parts[2])):
            return key, "wrong secret (rotated?)"
        if not key.active:
            return key, "revoked key"
        return key, ""


class ApiKeyEvent(models.Model):
    """A key's life: created, rotated, revoked — by whom, when."""

    class Action(models.TextChoices):
        CREATED = "created", _("创建")
        ROTATED = "rotated", _("轮换")
        REVOKED = "revoked", _("吊销")

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("操作"), max_length=10, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("密钥操作记录")
        verbose_name_plural = _("密钥操作记录")
        ordering = ["-at"]
