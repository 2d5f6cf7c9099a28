"""The platform's security posture (等保 habits): login lockout (django-axes), login/logout/failure
audit, a per-install secret key, session timeouts, password policy and expiry, HTTPS behind a proxy,
watermarked and capped exports. ``secret`` and ``settings`` are imported by the settings module and
so import nothing of Django's models."""
