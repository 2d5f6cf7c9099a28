"""The password-change page (also where an expired password sends its user)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from tagcloud.web.accounts.audit import record_sign_in
from tagcloud.web.accounts.models import AuditAction


class PasswordChange(auth_views.PasswordChangeView):
    """Django's change form (old password, new twice, every validator), audited."""

    template_name = "security/password_change.html"
    success_url = reverse_lazy("home")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["expired"] = self.request.GET.get("expired") == "1"
        from django.contrib.auth.password_validation import password_validators_help_texts

        ctx["policy"] = password_validators_help_texts()
        return ctx

    def form_valid(self, form: Any) -> Any:
        resp = super().form_valid(form)
        record_sign_in(
            self.request, AuditAction.PASSWORD_CHANGED, self.request.user.get_username(), self.request.user
        )
        messages.success(self.request, _("密码已修改。"))
        return resp
