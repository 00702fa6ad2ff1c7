"""AWS CDK app (Python) for the same stack as template.yaml, plus a CloudWatch dashboard; `python -m infra.app`."""
