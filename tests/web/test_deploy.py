"""No shared default secret and a clean ``check --deploy`` in production mode. Each case starts a
fresh Python process with its own environment, as an install would start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tagcloud.web.security.secret import PUBLIC_KEYS, generate_key

pytestmark = pytest.mark.slow  # each case starts Python processes

PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def _env(var: Path, **extra: str) -> dict[str, str]:
    # a fresh install's environment: none of this test run's settings (the browser tests' async
    # override included, which `check --deploy` rightly reports)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TAGCLOUD_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tagcloud.web.settings",
        TAGCLOUD_VAR_DIR=str(var),
        TAGCLOUD_DATABASE_URL=f"sqlite:///{var / 'db.sqlite3'}",
    )
    env.update(extra)
    return env


def _run(code: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *code], env=env, capture_output=True, text=True, timeout=120)


def test_first_run_generates_a_private_key_per_install(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    first = _run(["-c", PRINT_KEY], _env(a))
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50 and key not in PUBLIC_KEYS
    f = a / "secret_key"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and f.read_text().strip() == key
    assert _run(["-c", PRINT_KEY], _env(a)).stdout.strip() == key  # kept across restarts
    assert _run(["-c", PRINT_KEY], _env(b)).stdout.strip() != key  # another install, another key


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    assert _run(["-c", PRINT_KEY], _env(tmp_path)).returncode == 0
    (tmp_path / "secret_key").chmod(0o644)
    r = _run(["-c", PRINT_KEY], _env(tmp_path))
    assert r.returncode != 0 and "chmod 600" in r.stderr


@pytest.mark.parametrize("key", [*PUBLIC_KEYS, "short-key"])
def test_the_published_or_a_weak_key_is_refused(tmp_path: Path, key: str) -> None:
    r = _run(["-c", PRINT_KEY], _env(tmp_path, TAGCLOUD_SECRET_KEY=key))
    assert r.returncode != 0 and "TAGCLOUD_SECRET_KEY" in r.stderr


def test_production_mode_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    r = _run(["-c", PRINT_KEY], _env(tmp_path, TAGCLOUD_HTTPS="1"))
    assert r.returncode != 0 and "no secret key" in r.stderr
    assert not (tmp_path / "secret_key").exists()  # nothing minted behind the operator's back
    # The key file made by the CLI, or the environment's key, lets it start.
    cli = "import sys; from tagcloud.cli import app; sys.argv[1:] = ['security', 'secret-key']; app()"
    made = _run(["-c", cli], _env(tmp_path))
    assert made.returncode == 0 and "written" in made.stdout, made.stderr
    assert _run(["-c", PRINT_KEY], _env(tmp_path, TAGCLOUD_HTTPS="1")).returncode == 0
    key = generate_key()
    r = _run(["-c", PRINT_KEY], _env(tmp_path / "other", TAGCLOUD_HTTPS="1", TAGCLOUD_SECRET_KEY=key))
    assert r.returncode == 0 and r.stdout.strip() == key


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run(["-m", "django", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    env = _env(tmp_path, TAGCLOUD_HTTPS="1", TAGCLOUD_SECRET_KEY=generate_key())
    r = _check_deploy(env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "System check identified no issues" in r.stdout


def test_check_deploy_flags_plain_http_mode(tmp_path: Path) -> None:
    r = _check_deploy(_env(tmp_path))
    assert r.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in r.stderr, code  # HSTS, SSL redirect, session and CSRF cookies not secure
