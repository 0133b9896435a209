"""HTTP endpoints of the gateway: `GET /api/events` for clients that poll instead of resuming
(docs/protocol.md, "Event ids and resume"), and the AsyncAPI document of the WebSocket.

Authentication is the API's (the session or `Authorization: Bearer <token>`), set on the NinjaAPI;
the AsyncAPI document is public, as the OpenAPI schema is.
"""

import asyncio
import logging
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext, gettext_noop
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from gamification import history
from gamification.app_settings import app_settings
from gamification.asyncapi import asyncapi_document
from gamification.catalogue import TOPICS
from gamification.protocol import DETAILS_PERMISSION
from gamification.shapes import envelope_for_viewer

logger = logging.getLogger(__name__)

router = Router(tags=["events"])

# In English here (the tests compare against them), in the request's language when answered.
UNKNOWN_TOPICS = gettext_noop("Unknown topic(s): {unknown}; valid topics: {valid}.")
HISTORY_UNAVAILABLE = gettext_noop("The event history is not available; reload the state from the REST API.")


class EventsQuery(Schema):
    since: int = Field(..., ge=0, description="The last event id the client has (its `last_id`, or 0).")
    topics: str = Field("all", description="Comma-separated topics (event types, or `all`).")


class EventsPage(Schema):
    events: list[dict[str, Any]] = Field(..., description="Envelopes with id > since, oldest first.")
    complete: bool = Field(..., description="False: events after `since` are no longer kept; reload the state.")
    last_id: int = Field(..., description="The newest id this answer covers: the next `since`.")


def _topics(raw: str) -> frozenset[str]:
    topics = frozenset(topic.strip() for topic in raw.split(",") if topic.strip()) or frozenset({"all"})
    unknown = sorted(topics - TOPICS)
    if unknown:
        raise HttpError(
            400, gettext(UNKNOWN_TOPICS).format(unknown=", ".join(unknown), valid=", ".join(sorted(TOPICS)))
        )
    return topics


@router.get("/events", response=EventsPage, summary="Events since an id (as the WebSocket's resume)")
async def events_since(request: HttpRequest, query: Query[EventsQuery]) -> dict[str, Any]:
    """The kept events of the topics with id > since, as `resume` replays them on the WebSocket.

    Each in the shape this user may see (docs/protocol.md, "Private run details"): a run's private
    details only for its requester and holders of councilors.view_execution.
    """
    topics = _topics(query.topics)
    if not app_settings.HISTORY_ENABLED:
        raise HttpError(503, gettext(HISTORY_UNAVAILABLE))
    try:
        page = await asyncio.wait_for(
            history.history_since(since=query.since, topics=topics), timeout=app_settings.HISTORY_TIMEOUT_S
        )
    except Exception as exc:  # noqa: BLE001 - Redis down or slow: a clear 503, never a 500
        logger.warning("GET /api/events: history unavailable (%r)", exc)
        raise HttpError(503, gettext(HISTORY_UNAVAILABLE)) from exc
    user = request.auth  # type: ignore[attr-defined]  # the API's authentication puts the user there
    sees_all_details = await user.ahas_perm(DETAILS_PERMISSION)
    events = [
        envelope_for_viewer(event, requester=requester, user_id=user.pk, sees_all_details=sees_all_details)
        for event, requester in zip(page.events, page.requesters, strict=True)
    ]
    return {"events": events, "complete": page.complete, "last_id": page.last_id}


@router.get(
    "/asyncapi.json", auth=None, response=dict[str, Any], summary="The AsyncAPI 3.0 document of /ws/gamification"
)
def asyncapi(request: HttpRequest) -> dict[str, Any]:
    """The WebSocket protocol, generated from the event catalogue and gamification/protocol.py."""
    return asyncapi_document()
