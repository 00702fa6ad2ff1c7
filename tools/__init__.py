"""Project tooling run by make and the release workflow (not shipped in the Lambda layer)."""
