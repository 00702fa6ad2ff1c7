# The original engine's everyday targets, under the names its users know:
#   make setup        install-dev + the uv tool environments of the emulators, sam and kubectl (first run only)
#   make pipeline     the local CI: lint, test, build
#   make build        sam build (the functions and the layer), plus the bridge image where Docker runs
#   make container    the bridge image (Docker)      make run-docker   the LocalStack compose route (Docker)
#   make k8s-status   the bridge's Deployment, pods, PDB, autoscaler  make k8s-logs   its pods' logs
#   make monitor      a live view of a running stack (make monitor API=https://... STACK=name for a deployed one)
.PHONY: setup install-dev pipeline build container run-docker k8s-render k8s-status k8s-logs monitor help-ops

DOCKER ?= docker
K8S_NAMESPACE ?= petrosa
OVERLAY ?= prod
LINES ?= 200
API ?=
STACK ?=
ARGS ?=

help: help-ops
help-ops:
	@echo "make setup        - install-dev, then the tool environments of MiniStack, SecantusDB, sam and kubectl"
	@echo "make install-dev  - the locked environment with the dev tools (pytest, ruff, mypy, ...); prints their versions"
	@echo "make pipeline     - the local CI: make lint, make test, make build"
	@echo "make build        - sam build (needs python3.12), plus the bridge image where a Docker engine runs"
	@echo "make container    - (Docker) the bridge image, $(BRIDGE_IMAGE)"
	@echo "make run-docker   - (Docker) LocalStack, NATS, MongoDB by docker compose, then make run against LocalStack"
	@echo "make k8s-render   - the bridge's manifests, OVERLAY=prod (KEDA) | prod-hpa | local, in namespace K8S_NAMESPACE"
	@echo "make k8s-status   - the bridge's Deployment, pods, Service, PDB and autoscaler in namespace $(K8S_NAMESPACE)"
	@echo "make k8s-logs     - the last $(LINES) log lines of every bridge pod (FOLLOW=1 to follow)"
	@echo "make monitor      - live view: signals by state, recent fills, queue depths, DLQs, errors (API=... STACK=...)"

# $(call need-docker,what,what works without Docker): a plain message instead of a failure deep inside docker.
define need-docker
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "$(1) needs Docker, and '$(DOCKER)' is not installed here. Without Docker: $(2)." >&2; exit 2; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "$(1) needs a running Docker engine, and '$(DOCKER) info' cannot reach one. Start Docker; without it: $(2)." >&2; exit 2; }
endef

# $(call need-cluster,what): kubectl must have a cluster to talk to.
define need-cluster
	@$(KUBECTL) config current-context >/dev/null 2>&1 || { echo "$(1) needs a Kubernetes cluster, and kubectl has no current context (KUBECONFIG). make k3d-up creates a local one where Docker runs." >&2; exit 2; }
endef

install-dev: install
	@$(UV) run --frozen python -c "import importlib.metadata as m; print('dev tools: ' + ', '.join(f'{p} {m.version(p)}' for p in ('pytest', 'hypothesis', 'ruff', 'mypy', 'cfn-lint', 'kubernetes-validate', 'bandit')))"

setup: install-dev
	$(UV) run python -m local.stack setup
	$(SAM) --version
	$(KUBECTL) version --client

pipeline:
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory build

# sam build needs python3.12 (the functions' runtime) on PATH; a pyenv or uv-managed 3.12 is found too.
PYTHON312_DIR = $(shell { python3.12 -c 'import sys, os; print(os.path.dirname(sys.executable))' 2>/dev/null \
	|| { p=$$($(UV) python find 3.12 2>/dev/null) && dirname "$$p"; } \
	|| { p=$$(ls -d $$HOME/.pyenv/versions/3.12*/bin 2>/dev/null | tail -1) && [ -n "$$p" ] && echo "$$p"; }; } | tail -1)

build:
	@dir="$(PYTHON312_DIR)"; [ -n "$$dir" ] || { echo "make build: sam build needs python3.12 (the functions' runtime), and none was found (python3.12, uv python find 3.12, pyenv). Install one, e.g. uv python install 3.12." >&2; exit 2; }; \
		echo "sam build with $$dir/python3.12"; PATH="$$dir:$$PATH" $(SAM) build
	@if command -v $(DOCKER) >/dev/null 2>&1 && $(DOCKER) info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory container; \
	else echo "make build: no Docker engine here, so no bridge image (make container builds it where Docker runs)."; fi

container:
	$(call need-docker,make container,the image's contents are checked offline by make test (tests/infra/test_bridge_image.py))
	$(DOCKER) build -f functions/bridge/Dockerfile --build-arg VERSION=$(BRIDGE_VERSION) -t $(BRIDGE_IMAGE) .

run-docker: install
	$(call need-docker,make run-docker,make run is the same stack with no Docker at all (MiniStack))
	$(DOCKER) compose -f local/docker-compose.yml up -d --wait
	AWS_ENDPOINT_URL=http://127.0.0.1:4566 $(UV) run python -m local.stack run

# The overlay under a throwaway kustomization that sets the namespace of everything, the Namespace included
# (kustomize takes a directory base only by a relative path).
k8s-render:
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	rel=$$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$(CURDIR)/infra/k8s/overlays/$(OVERLAY)" "$$dir"); \
	printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - %s\n' "$(K8S_NAMESPACE)" "$$rel" > "$$dir/kustomization.yaml"; \
	$(KUBECTL) kustomize "$$dir"

k8s-status:
	$(call need-cluster,make k8s-status)
	$(KUBECTL) -n $(K8S_NAMESPACE) get deployment,pods,service,poddisruptionbudget,horizontalpodautoscaler -l app.kubernetes.io/name=petrosa-bridge -o wide
	$(KUBECTL) -n $(K8S_NAMESPACE) rollout status deployment/petrosa-bridge --timeout=10s

k8s-logs:
	$(call need-cluster,make k8s-logs)
	$(KUBECTL) -n $(K8S_NAMESPACE) logs -l app.kubernetes.io/name=petrosa-bridge --all-containers --prefix --tail=$(LINES) $(if $(FOLLOW),--follow)

monitor: install
	$(UV) run python -m local.stack.monitor $(if $(API),--api $(API)) $(if $(STACK),--stack $(STACK)) $(ARGS)
