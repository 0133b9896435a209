"""What every fastpath module's start-up check answers, and how it says so (once, in the log)."""

import logging
from dataclasses import dataclass


@dataclass(frozen=True)
class Capability:
    """Whether a library's internals are where a fast path expects them, and why (for the log)."""

    available: bool
    reason: str


def logged(capability: Capability, logger: logging.Logger, *, available: str, unavailable: str) -> Capability:
    """Log which path is taken (info when the fast one, a warning otherwise) and return the capability."""
    if capability.available:
        logger.info(available, capability.reason)
    else:
        logger.warning(unavailable, capability.reason)
    return capability
