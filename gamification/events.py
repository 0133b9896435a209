"""The one emitter of real-time events (docs/protocol.md, "The envelope"): validate, stamp once, publish after commit.

Publishing never raises into the caller: when Redis is down the failure is logged and the
caller's database work stands.
"""

import logging
import time
from typing import Any

from django.db import transaction

from gamification import metrics, transport
from gamification.catalogue import validate_event

logger = logging.getLogger(__name__)


def build_envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate the event and stamp it: the timestamp is taken once, here, for every client."""
    validate_event(event_type, data)
    return {"type": event_type, "data": data, "timestamp": time.time(), "id": None}


def _publish_logged(envelope: dict[str, Any], requester: int | None) -> None:
    try:
        transport.publish(envelope, requester=requester)
    except Exception as exc:  # noqa: BLE001 - the transport must never break the caller's work
        logger.warning("event %s not published (channel layer unreachable: %r)", envelope["type"], exc)
        metrics.event_not_published(envelope["type"])
    else:
        metrics.event_emitted(envelope["type"])


def emit(
    event_type: str, data: dict[str, Any], requester: int | None = None, *, using: str | None = None
) -> dict[str, Any]:
    """Publish an event once the current transaction commits (at once outside a transaction).

    `requester`: the pk of the user who asked for the run the event is about, if anyone did: its
    private details (docs/protocol.md, "Private run details") are theirs. A `payloads.Event`
    carries it, so `emit(*event)` passes it on.
    """
    envelope = build_envelope(event_type, data)
    transaction.on_commit(lambda: _publish_logged(envelope, requester), using=using)
    return envelope


async def aemit(event_type: str, data: dict[str, Any], requester: int | None = None) -> dict[str, Any]:
    """Async `emit` for consumers and async views, which publish at once (they hold no transaction)."""
    envelope = build_envelope(event_type, data)
    try:
        await transport.apublish(envelope, requester=requester)
    except Exception as exc:  # noqa: BLE001 - the transport must never break the caller's work
        logger.warning("event %s not published (channel layer unreachable: %r)", event_type, exc)
        metrics.event_not_published(event_type)
    else:
        metrics.event_emitted(event_type)
    return envelope
