# Release and security targets. The release itself runs in .github/workflows/release.yml;
# these are the same steps a person can run locally without touching anything.
.PHONY: release-dry-run security security-code security-deps security-workflows

SECURITY_PATHS := contracts layers functions local tools
AUDIT_REPORT := $(or $(TMPDIR),/tmp)/petrosa-pip-audit.json

help: help-release
.PHONY: help-release
help-release:
	@echo "make release-dry-run - print the next version and the deploy plan (touches nothing)"
	@echo "make security        - bandit, pip-audit (skips when offline), zizmor (online audits with GH_TOKEN)"

# Tags come from git; the plan comes from tools/release.py, the module the release workflow uses.
# Deploy names can be overridden like the workflow's variables: SAM_CONFIG_ENV=staging make release-dry-run
release-dry-run: install
	@git tag --list 'v*' | $(UV) run python -m tools.release plan

security: security-code security-deps security-workflows

# make test already runs zizmor offline; with a GitHub token (CI) the online audits run too: impostor
# commits and pinned SHAs that do not match their version comment.
security-workflows: install
	$(UV) run zizmor --persona pedantic --no-progress $(if $(GH_TOKEN),,--offline) .github/workflows

# bandit exits 1 on any finding, reviewed or not; tools.audit fails only on findings whose line lacks
# the reviewed ruff noqa for the same rule (B311 = S311) with a reason.
BANDIT_REPORT := $(or $(TMPDIR),/tmp)/petrosa-bandit.json
security-code: install
	@rm -f $(BANDIT_REPORT)
	@$(UV) run bandit -c bandit.yaml -r $(SECURITY_PATHS) -q -f json -o $(BANDIT_REPORT) || true
	@$(UV) run python -m tools.audit bandit $(BANDIT_REPORT)

# pip-audit says "No known vulnerabilities found" even when it could look nothing up; tools.audit tells
# the two apart and prints SKIPPED with the reason instead of a false green.
security-deps: install
	@rm -f $(AUDIT_REPORT)
	@$(UV) run pip-audit --skip-editable --progress-spinner off --format json --output $(AUDIT_REPORT) 2>/dev/null || true
	@$(UV) run python -m tools.audit pip-audit $(AUDIT_REPORT)
