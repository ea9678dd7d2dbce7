"""LTI 1.3 protocol code: OIDC login, launch validation, roles, platform keys."""
