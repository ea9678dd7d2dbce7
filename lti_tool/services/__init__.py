"""Use-cases that take a session (and clients) and never commit."""
