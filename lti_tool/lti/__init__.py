"""LTI 1.3 protocol code: OIDC login, launch validation, the launch message, roles, platform
keys, and the registrations and deployments they trust."""
