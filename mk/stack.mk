# The laptop stack: MiniStack + nats-server + SecantusDB + local exchange + bridge, no Docker.
# `make run` itself is defined in the main Makefile (it runs `python -m local.stack run`).
.PHONY: demo invoke stack-up stack-stop stack-status dry-run e2e help-stack

help: help-stack
help-stack:
	@echo "make demo        - the laptop stack + the seed's examples through the HTTP API and NATS; exit 0 if all reached their state"
	@echo "make stack-up    - start (or reuse) the laptop stack and deploy template.yaml into it; print the URLs"
	@echo "make stack-stop  - stop every server of the laptop stack by its PID (data stays in .local-stack/)"
	@echo "make invoke FUNCTION=SizingFunction EVENT=local/events/sqs-signal.json - sam local invoke, in-process"
	@echo "make dry-run     - what the engine would send for each example (nothing started, nothing sent)"
	@echo "make e2e         - the end-to-end tests against a stack of their own"

demo: install
	$(UV) run python -m local.stack demo

stack-up: install
	$(UV) run python -m local.stack up

stack-stop: install
	$(UV) run python -m local.stack down

stack-status: install
	$(UV) run python -m local.stack status

FUNCTION ?= SizingFunction
EVENT ?= local/events/sqs-signal.json
invoke: install
	$(UV) run python -m local.invoke $(FUNCTION) $(EVENT)

dry-run: install
	$(UV) run python -m local.examples

e2e: install
	$(UV) run pytest tests/e2e $(PYTEST_ARGS)
