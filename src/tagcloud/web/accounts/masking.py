"""Phone-number masking (136****6297) is the audience engine's (``tagcloud.audience.dictionary``);
this module decides who may see whole numbers: roles holding ``accounts.unmask_msisdn``. Every
unmasked view is audited by the caller."""

from __future__ import annotations

from typing import Any

from tagcloud.audience.dictionary import mask_number as mask_msisdn

__all__ = ["mask_msisdn", "may_unmask"]


def may_unmask(user: Any) -> bool:
    """True when the user's role lets them see full numbers."""
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("accounts.unmask_msisdn"))
