# Deployable stack: template.yaml (SAM), infra/ (CDK), the shared layer (layers/Makefile).
#   make validate           cfn-lint + sam validate --lint + cdk synth (with cdk-nag), all offline
#   make deploy ENV=dev     sam build && sam deploy --config-env dev   (needs AWS credentials; not run in tests)
#   make cdk-deploy ENV=dev the CDK route: npx aws-cdk deploy (same resources, plus the dashboard)
#   make layer              build the layer alone into .aws-sam/layer (what sam build does for CoreLayer)
#   make layer-requirements regenerate layers/deps/requirements.txt from uv.lock (tests fail on drift)
.PHONY: validate deploy cdk-synth cdk-deploy layer layer-requirements help-infra

ENV ?= dev
SAM_CLI_VERSION ?= 1.170.0
CDK_CLI_VERSION ?= 2.1148.1
SAM := SAM_CLI_TELEMETRY=0 $(UV) tool run --from aws-sam-cli==$(SAM_CLI_VERSION) sam
CDK_OUT ?= cdk.out

help: help-infra
help-infra:
	@echo "make validate       - cfn-lint + sam validate --lint on template.yaml, cdk synth + cdk-nag of infra/"
	@echo "make deploy ENV=dev - sam build && sam deploy --config-env ENV (samconfig.toml: local, dev, prod)"
	@echo "make layer          - build the shared Lambda layer into .aws-sam/layer"

validate: install
	$(UV) run cfn-lint template.yaml
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM) validate --lint
	$(MAKE) --no-print-directory cdk-synth

# In-process synth (no CDK CLI, no AWS credentials): infra/app.py writes $(CDK_OUT) and fails on unsuppressed
# cdk-nag errors.
cdk-synth: install
	CDK_OUTDIR=$(CDK_OUT) $(UV) run python -m infra.app

# make build (mk/ops.mk) runs sam build with python3.12 found on PATH, uv or pyenv (the layer cross-builds with uv).
deploy: build
	$(SAM) deploy --config-env $(ENV)

# The CDK route, for operators who prefer it: the CDK CLI from npm; Environment comes from ENV.
cdk-deploy: install
	npx --yes aws-cdk@$(CDK_CLI_VERSION) deploy --app "$(UV) run python -m infra.app" \
		--context environment=$(ENV) --require-approval broadening

layer:
	$(MAKE) --no-print-directory -C layers build-CoreLayer ARTIFACTS_DIR=$(CURDIR)/.aws-sam/layer UV="$(UV)"

# boto3/botocore: the Lambda runtime has them. nats-py, rich: the bridge and the CLI, not the functions.
layer-requirements:
	$(UV) export --frozen --format requirements.txt --no-dev --extra runtime --no-emit-project \
		--prune boto3 --prune nats-py --prune rich --output-file layers/deps/requirements.txt --quiet
