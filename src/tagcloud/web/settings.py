"""Django settings. SQLite under ``var/web/`` by default; PostgreSQL (or any database URL) through
``TAGCLOUD_DATABASE_URL``. Everything a deployment changes comes from ``TAGCLOUD_*`` variables."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url

from tagcloud.web.security.secret import secret_key

WEB_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("TAGCLOUD_VAR_DIR", "var/web")).resolve()

# The warehouse the pages read (simulate → ingest → build writes it); the demo sets it.
WAREHOUSE_DIR = Path(os.environ.get("TAGCLOUD_WAREHOUSE", "var/demo/warehouse")).resolve()

# The campaigns' contact ledger (shared contact memory), when campaigns run: customer 360 shows
# each customer's contacts and responses from it.
CAMPAIGN_DB = os.environ.get("TAGCLOUD_CAMPAIGN_DB", "")
CAMPAIGN_SMSC = os.environ.get("TAGCLOUD_CAMPAIGN_SMSC", "")  # "host:port"; empty: a local SMSC

DEBUG = os.environ.get("TAGCLOUD_DEBUG", "0") == "1"
# Behind a TLS-terminating proxy (`tagcloud serve --https`): secure cookies, HSTS, redirects (below).
HTTPS = os.environ.get("TAGCLOUD_HTTPS", "0") == "1"
# TAGCLOUD_SECRET_KEY, else a key generated for this install on first run (docs/security.md).
SECRET_KEY = secret_key(VAR_DIR, require_explicit=HTTPS)
ALLOWED_HOSTS = os.environ.get("TAGCLOUD_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "tagcloud.web.reference",
    "tagcloud.web.accounts",
    "tagcloud.web.audiences",
    "tagcloud.web.taglib",
    "tagcloud.web.markets",
    "tagcloud.web.alerts",
    "axes",
    "tagcloud.web.security",
    "tagcloud.web.jobs",
    "tagcloud.web.knowledge",
    "tagcloud.web.matching",
    "tagcloud.web.realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tagcloud.web.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tagcloud.web.security.middleware.SessionAndPasswordAgeMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "tagcloud.web.urls"
WSGI_APPLICATION = "tagcloud.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [WEB_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tagcloud.web.accounts.context.current_role",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("TAGCLOUD_DATABASE_URL", f"sqlite:///{VAR_DIR / 'tagcloud.sqlite3'}"),
        conn_max_age=60,
    )
}
if os.environ.get("TAGCLOUD_TEST_DATABASE"):
    # A test run's own throw-away database, so concurrent runs on one server do not collide.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TAGCLOUD_TEST_DATABASE"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and sessions: process memory by default; Redis at scale (TAGCLOUD_CACHE_URL, e.g.
# redis://127.0.0.1:6379/1), shared by every app server. Sessions then live in the cache, written
# through to the database (cached_db), so a Redis restart logs nobody out.
if os.environ.get("TAGCLOUD_CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["TAGCLOUD_CACHE_URL"],
            "KEY_PREFIX": os.environ.get("TAGCLOUD_CACHE_PREFIX", "tagcloud"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out accounts and addresses
    "tagcloud.web.accounts.backends.CachedPermissionsBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Chinese (Simplified) first: the province's marketers work in it; English second.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [WEB_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "uploads"  # attachments of competition reports (web/markets)
# Browser libraries come from the npm registry (`make setup` runs `npm ci` here) and are served
# from this machine: operator intranets have no internet, so no CDN.
_NODE = WEB_DIR / "node_modules"
STATICFILES_DIRS = [
    WEB_DIR / "static",
    ("vendor/htmx", _NODE / "htmx.org" / "dist"),
    ("vendor/echarts", _NODE / "echarts" / "dist"),
]

# WhiteNoise serves them straight from the finders: no collectstatic step before `tagcloud serve`.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at")
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True  # more session and cookie settings: tagcloud.web.security.settings
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken on every POST
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}

# Login lockout, session timeout, password policy and expiry, HTTPS behind a proxy: docs/security.md.
from tagcloud.web.security.settings import *  # noqa: E402, F403
