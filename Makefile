# The two commands: `make demo` (set up + run the demo) and `make test` (set up + run every check).
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_LINK_MODE := copy
DEMO_DIR ?= var/demo
DEMO_SUBSCRIBERS ?= 100000
# 60 days: the churn model reads its pre-decision signs from two months of detail (docs/models.md)
DEMO_DAYS ?= 60

.PHONY: bootstrap web-assets browser setup demo test lint typecheck pytest bench-quick clean

bootstrap:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --user --quiet uv

setup: bootstrap web-assets
	$(UV) sync --frozen

# The web platform's browser libraries (htmx, ECharts) from the npm registry, served locally.
web-assets:
	cd src/tagcloud/web && npm ci --no-audit --no-fund --loglevel=error

# Browser tests drive Debian's chromium (never a downloaded browser build); CJK fonts for screenshots.
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium fonts-noto-cjk)

demo: setup
	$(UV) run tagcloud demo --subscribers $(DEMO_SUBSCRIBERS) --days $(DEMO_DAYS) --dir $(DEMO_DIR)

lint: setup
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench
	$(UV) run lint-imports  # import contracts: .importlinter

typecheck: setup
	$(UV) run mypy

pytest: setup
	$(UV) run pytest

test: browser lint typecheck pytest

clean:
	rm -rf var .venv .mypy_cache .ruff_cache .pytest_cache
