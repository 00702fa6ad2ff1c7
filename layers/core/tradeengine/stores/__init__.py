"""Adapters that keep state outside the process: DynamoDB (rules cache, paper book), Secrets Manager."""
