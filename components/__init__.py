"""Pulumi ComponentResources of the aiops-demo stack."""
