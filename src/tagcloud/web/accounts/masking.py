"""Phone-number masking (136****6297): numbers are masked on every page, list and export unless
the user's role holds ``accounts.unmask_msisdn``; every unmasked view is audited by the caller."""

from __future__ import annotations

from typing import Any


def mask_msisdn(msisdn: str) -> str:
    """``13612346297`` → ``136****6297``: keep the 3-digit prefix and last 4 digits of an 11-digit
    mobile number; anything shorter than 8 characters is fully starred."""
    s = str(msisdn)
    if len(s) < 8:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 7) + s[-4:]


def mask_column(values: Any) -> Any:
    """Mask a whole column (Arrow / numpy of strings) without a Python loop per number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(arr, 0, 3), pc.utf8_slice_codeunits(arr, -4), "****"
    )


def may_unmask(user: Any) -> bool:
    """True when the user's role lets them see full numbers."""
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("accounts.unmask_msisdn"))
