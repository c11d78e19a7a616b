# entrasync — two commands: `make demo` and `make test`. Each installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTEST_ARGS ?=

.PHONY: help bootstrap demo test lint typecheck format bench bench-tenants bench-ab soak

help:
	@echo "make demo   - run infrastructure, the Graph simulator and every service; Ctrl-C stops"
	@echo "make test   - lint, format and type checks + the whole test suite (unit, integration, end-to-end)"
	@echo "make typecheck - mypy only (strict for shared/ and the pure domains); make lint - ruff only"
	@echo "make bench  - entrasync vs raw httpx vs msgraph-sdk on a 100k-user simulated tenant"
	@echo "make bench-tenants - 1,000 small tenants on one installation (first sync, steady state, head-of-line)"
	@echo "make bench-ab BENCH_ARGS='TREE_A TREE_B' - one full sync end to end, interleaved A/B of two checkouts"
	@echo "make soak   - the randomised convergence test with 5,000 sequences (a fresh seed each time)"

bootstrap:
	@scripts/bootstrap.sh >/dev/null

# DEMO_ARGS: e.g. --tenants 3 --keep (see `uv run entrasync-demo --help`).
DEMO_ARGS ?=
demo:
	@UV=$$(ENTRASYNC_SKIP_BROWSER=1 scripts/bootstrap.sh) && exec "$$UV" run --frozen entrasync-demo $(DEMO_ARGS)

# The static checks take seconds and run before the suite, so a lint, format or type error fails
# `make test` at once. Recipes set UV (the bootstrap's uv) before using these.
LINT = "$$UV" run --frozen ruff check . && "$$UV" run --frozen ruff format --check .
TYPECHECK = "$$UV" run --frozen mypy

test:
	@UV=$$(scripts/bootstrap.sh) && $(LINT) && $(TYPECHECK) \
	  && UV="$$UV" "$$UV" run --frozen pytest $(PYTEST_ARGS)

lint:
	@UV=$$(scripts/bootstrap.sh) && $(LINT)

# mypy as configured in pyproject.toml ([tool.mypy]: what it checks and where it is strict).
typecheck:
	@UV=$$(scripts/bootstrap.sh) && $(TYPECHECK)

format:
	@UV=$$(scripts/bootstrap.sh) && "$$UV" run --frozen ruff check --fix . && "$$UV" run --frozen ruff format .

# BENCH_ARGS: e.g. --scale 0.1 (a tenth of the tenant) or --sdk-budget 0 (SDK baseline to the end).
BENCH_ARGS ?=
bench:
	@UV=$$(scripts/bootstrap.sh) && "$$UV" run --frozen python bench/sync_vs_sdk.py $(BENCH_ARGS)

# BENCH_ARGS here: e.g. --tenants 50 --steady-seconds 120 --big-users 10000 (see --help).
bench-tenants:
	@UV=$$(scripts/bootstrap.sh) && "$$UV" run --frozen python bench/tenants.py $(BENCH_ARGS)

# BENCH_ARGS here: the checkouts to compare (baseline first), e.g. `/tmp/old .`; --scale, --rounds.
bench-ab:
	@UV=$$(scripts/bootstrap.sh) && "$$UV" run --frozen python bench/full_sync_ab.py $(BENCH_ARGS)

# The randomised convergence test's `soak` profile: 5,000 generated sequences instead of CI's 200.
soak:
	@UV=$$(scripts/bootstrap.sh) && ENTRASYNC_HYPOTHESIS_PROFILE=soak "$$UV" run --frozen pytest \
	  -p no:randomly -o timeout=0 tests/unit/history/test_history_convergence_random.py $(PYTEST_ARGS)
