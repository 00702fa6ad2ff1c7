# Proof under faults and bad input: the fault matrix, the full fuzz run, and the e2e/package benches.
#   make chaos          every fault scenario at full size (tests/chaos), then schemathesis with >= 1,000 requests
#                       and the malformed-NATS run (tests/fuzz); exit 0 only if all survived
#   make bench-e2e      API -> order acknowledged over the real handlers on MiniStack + the local exchange
#   make bench-package  cold import per handler beside its dependencies, package size per function
.PHONY: chaos fuzz-full bench-e2e bench-package help-chaos

FUZZ_FULL_EXAMPLES ?= 150

help: help-chaos
help-chaos:
	@echo "make chaos         - the fault matrix (FAULT lines, faults survived: k/n) and the full fuzz run"
	@echo "make bench-e2e     - e2e latency and throughput over the real handlers (BENCH lines)"
	@echo "make bench-package - cold import per handler and package size per function (BENCH lines)"

chaos: install
	$(UV) run python -m tests.chaos
	$(MAKE) --no-print-directory fuzz-full

fuzz-full: install
	FUZZ_EXAMPLES=$(FUZZ_FULL_EXAMPLES) $(UV) run pytest -q -p no:cacheprovider tests/fuzz

bench-e2e: install
	$(UV) run python -m tests.perf.bench_e2e

bench-package: install
	$(UV) run python -m tests.perf.bench_package

# make bench prints these beside the sizing figures.
bench: bench-package bench-e2e
