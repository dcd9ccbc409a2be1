"""`python -m drill preflight`: read-only checks of an account and region before `pulumi up`."""
