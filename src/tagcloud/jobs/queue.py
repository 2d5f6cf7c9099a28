"""The Huey instance that carries job ids from whoever submits to the workers. Storage by URL
(``TAGCLOUD_JOBS_QUEUE``): ``sqlite:///path`` (default ``<var dir>/jobs-queue.sqlite``, embedded)
or ``redis://127.0.0.1:6379/0`` (several machines). The tasks on it are the worker's (``worker``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_huey: Any = None
_url = ""


def queue_url() -> str:
    url = os.environ.get("TAGCLOUD_JOBS_QUEUE", "")
    if url:
        return url
    var = Path(os.environ.get("TAGCLOUD_VAR_DIR", "var/web")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var / 'jobs-queue.sqlite'}"


class QueueUrlError(ValueError):
    """A queue URL naming no storage Huey has here."""


def _make(url: str) -> Any:
    from huey import RedisHuey, SqliteHuey

    name = os.environ.get("TAGCLOUD_JOBS_QUEUE_NAME", "") or "tagcloud"  # one Redis, several installs
    if url.startswith(("redis://", "rediss://")):
        h = RedisHuey(name, url=url, utc=False)
    elif url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not path:
            raise QueueUrlError(f"queue URL {url!r} has no file path (sqlite:///path/queue.sqlite)")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        h = SqliteHuey(name, filename=path, utc=False, timeout=60)
    else:
        raise QueueUrlError(f"queue URL {url!r}: use sqlite:///path or redis://host:port/db")

    return h


def get_huey() -> Any:
    """The queue for the current ``TAGCLOUD_JOBS_QUEUE`` (made once per URL)."""
    global _huey, _url
    url = queue_url() + "#" + os.environ.get("TAGCLOUD_JOBS_QUEUE_NAME", "")
    with _lock:
        if _huey is None or url != _url:
            _huey, _url = _make(queue_url()), url
        return _huey


def pending() -> int:
    return int(get_huey().pending_count())
