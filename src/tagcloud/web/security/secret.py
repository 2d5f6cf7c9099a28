"""The secret key that signs sessions and CSRF tokens: never one that is in the public source.

``TAGCLOUD_SECRET_KEY`` when set; else the install's own key in ``<var dir>/secret_key`` (or
``TAGCLOUD_SECRET_KEY_FILE``), generated on first run with file mode 0600. In production mode
(``require_explicit``: HTTPS behind a proxy, possibly several app servers) nothing is generated: the
key must be given, so that every server signs with the same one and a forgotten setting stops the
start instead of silently minting a key per server."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# The development key older versions shipped in the source: refused wherever it appears.
PUBLIC_KEYS = frozenset({"tagcloud-dev-only-not-for-production-3f9c2a7e51d84b06"})
KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#%^&*(-_=+)"
KEY_LENGTH = 50  # Django's check --deploy asks for at least 50 characters, 5 of them distinct


class SecretKeyError(ImproperlyConfigured):
    """No usable secret key; the message says how to provide one."""


def generate_key() -> str:
    return "".join(secrets.choice(KEY_CHARS) for _ in range(KEY_LENGTH))


def _check(key: str, where: str) -> str:
    if key in PUBLIC_KEYS:
        raise SecretKeyError(f"{where} is the development key published in Tagcloud's source; set a new one")
    if len(key) < KEY_LENGTH or len(set(key)) < 5:
        raise SecretKeyError(
            f"{where} is too weak: at least {KEY_LENGTH} characters, 5 of them different "
            "(`tagcloud security secret-key` writes one)"
        )
    return key


def key_file(var_dir: Path, environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    return Path(environ.get("TAGCLOUD_SECRET_KEY_FILE") or Path(var_dir) / "secret_key")


def write_key_file(path: Path) -> str:
    """Create ``path`` holding a new key, mode 0600 from its first byte (never overwrites: a key
    in use signs live sessions). Returns the key in the file (another process's if it won a race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"secret key file {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    return _check(path.read_text(encoding="utf-8").strip(), f"secret key file {path}")


def secret_key(
    var_dir: Path,
    require_explicit: bool = False,
    environ: os._Environ[str] | dict[str, str] = os.environ,
) -> str:
    """The key: the environment's, else the key file's, else (unless ``require_explicit``) a new
    key written to the key file. Raises ``SecretKeyError`` with the way out."""
    key = environ.get("TAGCLOUD_SECRET_KEY", "")
    if key:
        return _check(key, "TAGCLOUD_SECRET_KEY")
    path = key_file(var_dir, environ)
    if path.exists():
        return read_key_file(path)
    if require_explicit:
        raise SecretKeyError(
            "no secret key: production mode (HTTPS) needs TAGCLOUD_SECRET_KEY, the same on every app "
            f"server, or a key file at {path} (create it with `tagcloud security secret-key`)"
        )
    return write_key_file(path)
