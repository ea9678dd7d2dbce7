"""Every outbound HTTP call of the tool, each behind a small interface with a timeout."""
