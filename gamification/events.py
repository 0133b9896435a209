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


def _publish_all_logged(published: list[tuple[dict[str, Any], int | None]]) -> None:
    try:
        failures = transport.publish_all(published)
    except Exception as exc:  # noqa: BLE001 - the transport must never break the caller's work
        failures = [exc] * len(published)
    for (envelope, _requester), failure in zip(published, failures, strict=True):
        _counted(envelope, failure)


def _counted(envelope: dict[str, Any], failure: Exception | None) -> None:
    if failure is None:
        metrics.event_emitted(envelope["type"])
        return
    logger.warning("event %s not published (channel layer unreachable: %r)", envelope["type"], failure)
    metrics.event_not_published(envelope["type"])


def emit(
    event_type: str, data: dict[str, Any], requester: int | None = None, *, using: str | None = None
) -> dict[str, Any]:
    """Publish an event once the current transaction commits (at once outside a transaction).

    `requester`: the pk of the user who asked for the run the event is about, if anyone did: its
    private details (docs/protocol.md, "Private run details") are theirs. A `payloads.Event`
    carries it, so `emit(*event)` passes it on.
    """
    envelope = build_envelope(event_type, data)
    transaction.on_commit(lambda: _publish_all_logged([(envelope, requester)]), using=using)
    return envelope


def emit_all(*events: tuple[str, dict[str, Any], int | None]) -> list[dict[str, Any]]:
    """`emit` for several events (`payloads.Event`s) at once: published together once the transaction
    commits, in the order given, on the usual deployment in one round trip to Redis (a run's finish
    announces two)."""
    published = [(build_envelope(event_type, data), requester) for event_type, data, requester in events]
    transaction.on_commit(lambda: _publish_all_logged(published))
    return [envelope for envelope, _requester in published]


async def aemit(event_type: str, data: dict[str, Any], requester: int | None = None) -> dict[str, Any]:
    """Async `emit` for consumers and async views, which publish at once (they hold no transaction)."""
    envelope = build_envelope(event_type, data)
    try:
        await transport.apublish(envelope, requester=requester)
    except Exception as exc:  # noqa: BLE001 - the transport must never break the caller's work
        _counted(envelope, exc)
    else:
        _counted(envelope, None)
    return envelope
