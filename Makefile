# ADX CORE task shortcuts. A fresh machine needs only python3: uv is taken from PATH, or else
# installed into a local .tools venv, and `uv sync --locked` builds .venv from uv.lock.

SHELL := /bin/bash
.DEFAULT_GOAL := help

BOOTSTRAP_PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(strip $(UV)),)
UV := .tools/bin/uv
endif

VENV := .venv
PY := $(VENV)/bin/python
# Touched after a successful sync; re-syncs only when the lock or the project file changes.
SYNCED := $(VENV)/.adx-synced
TYPED_PACKAGES := schema resolvers services workflows gateway storage bench
PYTEST_ARGS ?=
# PYTEST_WORKERS=2 runs whole files (whole packages where tests/conftest.py says so) on workers, each with a session
# stack of its own. Default one process: two workers still race on the shared PostgreSQL (role grants) and log captures.
PYTEST_WORKERS ?= 0
BENCH_ARGS ?=

.PHONY: help bootstrap clamav prometheus-package prometheus bench-check run test lint fmt typecheck migrate backup restore clean-data bench bench-signup bench-tenant bench-gateway bench-workflow-runs bench-user-directory bench-user-bulk bench-onboarding bench-file load chaos chaos-short security

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

bootstrap: $(SYNCED) clamav prometheus-package ## install uv if needed, sync .venv from uv.lock, Debian's clamd and prometheus

# The file tests scan with Debian's clamd (services/devstack/clamav.py starts it with the
# project's own signature file; no signature download). Installed where missing and apt exists.
clamav:
	@if [ ! -x /usr/sbin/clamd ] && ! command -v clamd >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian clamav-daemon (clamd) for the file service's virus scans"; \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends clamav-daemon >/dev/null) \
	      || echo "could not install clamav-daemon; the file tests need /usr/sbin/clamd"; \
	  else \
	    echo "clamd missing: install Debian's clamav-daemon (sudo apt-get install clamav-daemon)"; \
	  fi; \
	fi

# The monitoring tests (tests/operations/monitoring) and `make prometheus` run Debian's prometheus
# and promtool on deploy/monitoring/. Installed where missing and apt exists.
prometheus-package:
	@if [ ! -x /usr/bin/prometheus ] && ! command -v prometheus >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian prometheus (prometheus, promtool) for the monitoring tests"; \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	      || echo "could not install prometheus; the monitoring tests need /usr/bin/prometheus"; \
	  else \
	    echo "prometheus missing: install Debian's prometheus (sudo apt-get install prometheus)"; \
	  fi; \
	fi

# A venv of its own keeps uv off the system Python; where python3 has no venv module (Debian
# without python3-venv), pip --target gives the same binary.
.tools/bin/uv:
	@echo "uv not on PATH: installing uv $(UV_VERSION) into .tools"
	@if $(BOOTSTRAP_PYTHON) -m venv .tools >/dev/null 2>&1 && [ -x .tools/bin/pip ]; then \
	  .tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	else \
	  rm -rf .tools && \
	  $(BOOTSTRAP_PYTHON) -m pip install --quiet --disable-pip-version-check \
	    --target .tools/pkgs uv==$(UV_VERSION) && \
	  mkdir -p .tools/bin && ln -sf ../pkgs/bin/uv .tools/bin/uv; \
	fi

$(SYNCED): uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked
	@touch $@

run: bootstrap ## start Temporal, PostgreSQL, Redis and the platform (Ctrl-C stops all)
	$(PY) -m services.devstack

prometheus: bootstrap ## Prometheus on :9090 scraping the stack `make run` started, with the alert rules (deploy/monitoring)
	$(PY) -m services.devstack.prometheus

test: bootstrap ## run the tests on PYTEST_WORKERS processes (default 2; 0 = one process; PYTEST_ARGS="-k name -x" to narrow)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

security: bootstrap ## the security and compliance suite only: JWT attacks, cross-tenant matrices, schemathesis (OpenAPI + GraphQL), erasure check (tests/security_suite.py)
	$(PY) -m pytest -m security $(PYTEST_ARGS)

lint: bootstrap ## import layers (lint-imports), ruff lint and format check
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: bootstrap ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: bootstrap ## mypy over the packages
	$(VENV)/bin/mypy $(TYPED_PACKAGES)

migrate: bootstrap ## apply database migrations to ADX_DATABASE_URL
	$(PY) -m services.cli migrate

backup: bootstrap ## back up PostgreSQL, Temporal's dev store and the blobs into OUT (default backups/<UTC time>; docs/runbooks/restore.md)
	$(PY) -m services.cli backup create --out $(or $(OUT),backups/$(shell date -u +%Y%m%dT%H%M%SZ)) $(BACKUP_ARGS)

restore: bootstrap ## restore FROM=<backup dir> into an empty stack, checksums first (RESTORE_ARGS="--embedded-postgres"; docs/runbooks/restore.md)
	@test -n "$(FROM)" || { echo "usage: make restore FROM=<backup dir> [RESTORE_ARGS=...]" >&2; exit 2; }
	$(PY) -m services.cli backup restore --from "$(FROM)" $(RESTORE_ARGS)

bench: bootstrap ## auth benchmark: logins/s, refreshes/s vs raw argon2id (BENCH_ARGS="--json out.json")
	$(PY) -m bench.auth_bench $(BENCH_ARGS)

bench-signup: bootstrap ## sign-up answer time: new vs pending vs existing address, medians within 20 % (BENCH_ARGS="--json out.json")
	$(PY) -m bench.signup_timing $(BENCH_ARGS)

bench-tenant: bootstrap ## tenant switching vs refresh (calls/s, p99) and createTenant vs a bare workflow, targets <= 1.5x (BENCH_ARGS="--json out.json")
	$(PY) -m bench.tenant_switching $(BENCH_ARGS)

bench-gateway: bootstrap ## gateway overhead: user(id)/me vs the user service at 200/s (p50 <= 1.3x, p99 < 25 ms), signUp vs its start (<= 1.5x), subscription lag with 1,000 subscribers (BENCH_ARGS="--json out.json")
	$(PY) -m bench.gateway_bench $(BENCH_ARGS)

bench-workflow-runs: bootstrap ## workflowRuns list latency p50/p99 through the gateway vs the workflow service, 10,000 runs visible to the tenant (BENCH_ARGS="--json out.json")
	$(PY) -m bench.workflow_runs_bench $(BENCH_ARGS)

bench-user-directory: bootstrap ## directory search p50/p99 over 100,000 members, the user service vs the same SQL on PostgreSQL (p50 <= 2x, p99 < 50 ms) (BENCH_ARGS="--json out.json")
	$(PY) -m bench.user_directory $(BENCH_ARGS)

bench-onboarding: bootstrap ## user_onboarding end to end vs a bare workflow of the same shape (no-op activities and children, one queue per service as the real run uses), target p50 <= 1.3x (BENCH_ARGS="--json out.json")
	$(PY) -m bench.onboarding_bench $(BENCH_ARGS)

bench-user-bulk: bootstrap ## bulk import rows/s: 10,000 CSV rows through POST /users/bulk and bulk_user_operation to completed (target >= 500 rows/s) (BENCH_ARGS="--rows 10000 --json out.json")
	$(PY) -m bench.user_bulk $(BENCH_ARGS)

bench-file: bootstrap ## file service upload/download MiB/s of a 256 MiB file vs the blob store directly (>= 0.7x), RSS growth over a 1 GiB upload (< 64 MiB) (BENCH_ARGS="--json out.json")
	$(PY) -m bench.file_bench $(BENCH_ARGS)

load: bootstrap ## mixed traffic (logins, queries, createTenant, progress subscriptions) at a fixed rate for a bounded time: latency p50/p95/p99/max and errors per kind, server errors (BENCH_ARGS="--rate 20 --seconds 60 --json out.json"; --gateway-url URL --database-url URL for a running stack)
	$(PY) -m bench.mixed_load $(BENCH_ARGS)

chaos: bootstrap ## chaos scenarios under the mixed load on a platform of their own, 30 s outages (worker/Temporal/gateway kill -9, ...): figures and a verdict each, exit 1 on a failed one; CI does not run it (BENCH_ARGS="--scenario worker_kill --json out.json"; docs/runbooks/chaos.md)
	$(PY) -m bench.chaos --outage 30 --seconds 60 --rate 20 $(BENCH_ARGS)

chaos-short: bootstrap ## the chaos scenarios' short versions (5 s outages, light load) as the tests CI runs: pytest -m chaos tests/operations/chaos
	$(PY) -m pytest -m chaos tests/operations/chaos $(PYTEST_ARGS)

bench-check: bootstrap ## compare bench results (BENCH_RESULTS="a.json b.json") with bench/baseline.json by ratio; exit 1 on a regression
	$(PY) -m bench.regression check $(BENCH_RESULTS)

clean-data: ## delete local state (.data: Temporal, PostgreSQL, Redis, blobs)
	rm -rf .data
