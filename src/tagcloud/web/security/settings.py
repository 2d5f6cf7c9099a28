"""Security settings, star-imported at the end of ``tagcloud.web.settings`` (one line there) so the
posture is read in one place. Every number can be changed by a ``TAGCLOUD_*`` variable; the
defaults follow 等保 level-3 habits (lock after 5 failures, 30-minute idle timeout, 90-day
passwords of 12+ characters from 3 classes). Production mode (``TAGCLOUD_HTTPS=1``, set by
``tagcloud serve --https``) is behind a TLS-terminating proxy and passes ``check --deploy``."""

from __future__ import annotations

import datetime as dt
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


HTTPS = os.environ.get("TAGCLOUD_HTTPS", "0") == "1"

# ---- login failures (django-axes): per account and per address, each on its own ----------------
AXES_FAILURE_LIMIT = _int("TAGCLOUD_LOGIN_FAILURES", 5)
# Locked for this long, or until an administrator unlocks (admin action, `tagcloud security
# unlock`); 0 = until unlocked.
_LOCK_MINUTES = _int("TAGCLOUD_LOCKOUT_MINUTES", 30)
AXES_COOLOFF_TIME = dt.timedelta(minutes=_LOCK_MINUTES) if _LOCK_MINUTES > 0 else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: a list, not a combination
AXES_RESET_ON_SUCCESS = True  # a right password (while not locked) clears the account's count
AXES_LOCKOUT_CALLABLE = "tagcloud.web.security.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "tagcloud.web.security.lockout.client_ip"
AXES_VERBOSE = False

# ---- sessions: an idle timeout and an absolute one ------------------------------------------
SESSION_IDLE_SECONDS = 60 * _int("TAGCLOUD_SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = 60 * 60 * _int("TAGCLOUD_SESSION_MAX_HOURS", 12)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# ---- passwords: policy, history and age -----------------------------------------------------
PASSWORD_MIN_LENGTH = _int("TAGCLOUD_PASSWORD_MIN_LENGTH", 12)
PASSWORD_MAX_AGE_DAYS = _int("TAGCLOUD_PASSWORD_MAX_DAYS", 90)  # 0 = passwords never expire
PASSWORD_HISTORY = _int("TAGCLOUD_PASSWORD_HISTORY", 5)  # the last N may not be chosen again
_V = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _V + "UserAttributeSimilarityValidator"},
    {"NAME": _V + "MinimumLengthValidator", "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH}},
    {"NAME": _V + "CommonPasswordValidator"},
    {"NAME": _V + "NumericPasswordValidator"},
    {"NAME": "tagcloud.web.security.passwords.CharacterClassValidator", "OPTIONS": {"classes": 3}},
    {"NAME": "tagcloud.web.security.passwords.HistoryValidator", "OPTIONS": {"keep": PASSWORD_HISTORY}},
]

# ---- exports of phone numbers: rows per file by role (region level), masked by default -------
EXPORT_CAPS = {"province": 1_000_000, "city": 300_000, "county": 100_000, "township": 20_000}
EXPORT_CAP_UNMASKED_SHARE = 0.1  # whole numbers: a tenth of the masked cap

# ---- production: HTTPS terminated by a proxy in front of waitress ----------------------------
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _int("TAGCLOUD_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # The header directive only; nothing is submitted to browsers' preload lists by it.
    SECURE_HSTS_PRELOAD = True
    # The proxy's public origin(s), for CSRF checks of HTTPS form posts.
    CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("TAGCLOUD_TRUSTED_ORIGINS", "").split(",") if o]
