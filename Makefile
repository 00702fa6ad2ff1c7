# The same commands for people and CI. Every target installs what it needs first: uv itself (mk/uv
# installs it into .uv-bootstrap/ when the machine has none), then the locked environment (uv sync --frozen).
SHELL := /bin/bash
UV ?= $(CURDIR)/mk/uv
PYTEST_ARGS ?=

.PHONY: install test unit lint bench run help help-main
.DEFAULT_GOAL := help

# Each mk/<area>.mk adds `help: help-<area>`; prerequisites run in order, so these lines come first.
help: help-main
help-main:
	@echo "make run      - the laptop stack (no Docker): deploy, send the seed's examples via the HTTP API and NATS, serve until Ctrl-C"
	@echo "make test     - the whole test suite (installs what it needs)"
	@echo "make install  - uv (when missing) and the locked environment: uv sync --all-extras --frozen"
	@echo "make unit     - the unit tests only (PYTEST_ARGS=... for more pytest options)"
	@echo "make lint     - ruff + mypy (strict on contracts and tradeengine; functions and local too) + the import contracts"
	@echo "make bench    - benchmarks, printed as BENCH key=value"

install:
	@$(UV) sync --all-extras --frozen --quiet

test: install
	$(UV) run pytest $(PYTEST_ARGS)

unit: install
	$(UV) run pytest tests/unit $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check .
	$(UV) run mypy
	MYPYPATH=layers/core $(UV) run mypy --explicit-package-bases functions local
	$(UV) run lint-imports

bench: install
	$(UV) run python -m tests.perf.bench

run: install
	$(UV) run python -m local.stack run

# Each area adds its own targets in mk/<area>.mk (release, stack, ...).
-include mk/*.mk
