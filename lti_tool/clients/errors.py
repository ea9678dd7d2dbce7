"""One root for platform trouble, so a caller that reports it to a teacher or retries later
catches one class, whichever layer (plain HTTP, the retrying platform layer, a service
answer) gave up."""

from __future__ import annotations


class PlatformError(RuntimeError):
    """A platform call gave no usable answer; the message says which URL and what came back."""

    def __init__(self, message: str, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
