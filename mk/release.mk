# Release and security targets (issue 8). The release itself runs in .github/workflows/release.yml;
# these are the same steps a person can run locally without touching anything.
.PHONY: release-dry-run security security-code security-deps

SECURITY_PATHS := contracts layers functions local tools
AUDIT_REPORT := $(or $(TMPDIR),/tmp)/petrosa-pip-audit.json

help: help-release
.PHONY: help-release
help-release:
	@echo "make release-dry-run - print the next version and the deploy plan (touches nothing)"
	@echo "make security        - bandit on the code + pip-audit on the locked deps (skips when offline)"

# Tags come from git; the plan comes from tools/release.py, the module the release workflow uses.
# Deploy names can be overridden like the workflow's variables: SAM_CONFIG_ENV=staging make release-dry-run
release-dry-run: install
	@git tag --list 'v*' | $(UV) run python -m tools.release plan

security: security-code security-deps

security-code: install
	$(UV) run bandit -c bandit.yaml -r $(SECURITY_PATHS) -q

# pip-audit says "No known vulnerabilities found" even when it could look nothing up; tools.audit tells
# the two apart and prints SKIPPED with the reason instead of a false green.
security-deps: install
	@rm -f $(AUDIT_REPORT)
	-@$(UV) run pip-audit --skip-editable --progress-spinner off --format json --output $(AUDIT_REPORT) 2>/dev/null
	@$(UV) run python -m tools.audit $(AUDIT_REPORT)
