"""Password policy beyond Django's validators: characters from several classes, no reuse of the
last few passwords, and a maximum age after which the user must choose a new one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters the password uses."""
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


class CharacterClassValidator:
    """At least ``classes`` of: lower case, upper case, digits, other characters."""

    def __init__(self, classes: int = 3) -> None:
        self.classes = classes

    def validate(self, password: str, user: Any = None) -> None:
        if character_classes(password) < self.classes:
            raise ValidationError(
                _("密码须包含以下四类字符中的至少 %(n)d 类: 小写字母、大写字母、数字、其他符号。"),
                code="password_too_simple",
                params={"n": self.classes},
            )

    def get_help_text(self) -> str:
        return _("至少包含小写字母、大写字母、数字、其他符号中的 %(n)d 类。") % {"n": self.classes}


class HistoryValidator:
    """Refuses the user's last ``keep`` passwords; records each change (its time and hash)."""

    def __init__(self, keep: int = 5) -> None:
        self.keep = keep

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or not getattr(user, "pk", None) or self.keep <= 0:
            return
        from django.contrib.auth.hashers import check_password

        from tagcloud.web.security.models import PasswordChange

        recent = PasswordChange.objects.filter(user=user).values_list("password", flat=True)[: self.keep]
        if any(check_password(password, h) for h in recent):
            raise ValidationError(
                ngettext("不能使用最近 %(n)d 次用过的密码。", "不能使用最近 %(n)d 次用过的密码。", self.keep),
                code="password_reused",
                params={"n": self.keep},
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or not getattr(user, "pk", None):
            return
        from tagcloud.web.security.models import PasswordChange

        PasswordChange.objects.create(user=user, password=user.password)
        old = PasswordChange.objects.filter(user=user).values_list("pk", flat=True)[max(self.keep, 1) :]
        PasswordChange.objects.filter(pk__in=list(old)).delete()

    def get_help_text(self) -> str:
        return _("不能与最近 %(n)d 次用过的密码相同。") % {"n": self.keep}


def password_set_at(user: Any) -> dt.datetime:
    """When the user last set their password (their joining time when no change is on record)."""
    from tagcloud.web.security.models import PasswordChange

    last = PasswordChange.objects.filter(user=user).values_list("at", flat=True).first()
    joined = user.date_joined
    return max(last, joined) if last is not None else joined


def password_expired(user: Any, now: dt.datetime | None = None) -> bool:
    """True when passwords expire (``PASSWORD_MAX_AGE_DAYS`` > 0) and the user's is older."""
    from django.conf import settings

    days = int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0) or 0)
    if days <= 0 or not user.has_usable_password():
        return False
    return (now or timezone.now()) - password_set_at(user) > dt.timedelta(days=days)
