"""Per-process fan-out: each gateway process receives each event once and writes it to its sockets.

Workers publish one message per event to the Channels group. Instead of making every
WebSocket a member of that group — one channel-layer delivery and one JSON encoding per client —
each process has one hub: a single channel joined to the group, which encodes each envelope once
per shape (gamification/shapes.py: the full one, and for a run's private details the public one)
and hands the same frames to every local connection subscribed to its type. Connections are
indexed by topic, so an event touches only its subscribers, and a connection in `all` plus the
event's own topic is skipped in the second pass: each client gets each event exactly once.

`Subscriber.deliver(frame, event_id)` is the one entry point per connection; it must not block (the
consumer queues into its bounded outbox), so a slow client never holds back the others. A
delivery that raises (a bug, a socket broken in a way the outbox did not expect) costs that one
client its connection — logged, dropped from the hub, closed — never the delivery to the others.

Nothing in the receive loop waits on Redis: a gap in the ids is filled from the history by a task
of its own (`GapFill`), while the connections that were there before the gap hold their later
events and the others keep receiving.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from channels.layers import get_channel_layer

from gamification import history, metrics
from gamification.access import Access, AccessSweep, access_cache
from gamification.app_settings import app_settings
from gamification.catalogue import ALL_TOPICS
from gamification.loop_local import loop_local
from gamification.outbox import Frame
from gamification.presence import Presence
from gamification.session_users import session_users
from gamification.shapes import EventFrames, event_frames
from gamification.transport import EVENT_MESSAGE_TYPE, message_requester
from gamification.user_limit import UserSockets

logger = logging.getLogger(__name__)

RETRY_S = 1.0  # pause before rejoining the group after the channel layer failed
MSG_DELIVERY_FAILED = "delivery to client %s failed; dropping and closing it"


class Subscriber(Protocol):
    client_id: str
    topics: frozenset[str]
    user_id: int | None  # None: anonymous
    session_key: str | None  # the session it was opened with (gamification/access.py's sweep checks it)
    may_view_runs: bool  # sees every run's private details (gamification/shapes.py)

    def deliver(self, frame: Frame, event_id: int | None) -> None:
        """Queue one pre-encoded event frame (of the shape this client may see) without blocking."""

    def describe(self) -> dict[str, Any]:
        """What staff see of this client in `get_stats`."""

    def history_lost(self, first_id: int) -> None:
        """Live delivery went on at `first_id` after events the hub could not recover."""

    def abort(self) -> None:
        """The hub dropped this client because a delivery raised: close the connection, without raising."""

    def follow(self, access: Access | None) -> None:
        """The access sweep's news of the user (None: gone, or the session ended): keep up, or close 4401."""


@dataclass(frozen=True)
class Replay:
    """The events a connection missed, oldest first, ready to send."""

    frames: list[EventFrames]
    complete: bool  # False: some events after `since` are no longer kept; reload state instead
    last_id: int  # the newest id the replay covers (live events up to it are not sent again)


def page_frames(page: history.HistoryPage) -> list[EventFrames]:
    """A history page's events, framed once per shape."""
    return [
        event_frames(event, requester=requester, full_text=text)
        for event, text, requester in zip(page.events, page.frames, page.requesters, strict=True)
    ]


class RecentEvents:
    """The last events this hub dispatched, with no hole in their ids: resumes served from memory.

    After a gateway dies, its clients reconnect to the others with their last id, all at once;
    the events they missed are the last few every live hub has just dispatched. Serving those from
    here costs no Redis call per client, and the frames (WebSocket-framed once) are shared. An id
    outside what is kept — older, newer, or across a loss the hub noticed — goes to the Redis
    history (gamification/history.py), which knows about trims and failovers.
    """

    def __init__(self, size: int) -> None:
        self._events: deque[EventFrames] = deque(maxlen=max(1, size))

    def add(self, frames: EventFrames) -> None:
        if self._events and frames.event_id != self._events[-1].event_id + 1:  # type: ignore[operator]
            self._events.clear()  # a hole: what is kept must have none
        self._events.append(frames)

    def clear(self) -> None:
        self._events.clear()

    def replay(self, *, since: int, topics: frozenset[str], until: int | None) -> Replay | None:
        """The kept events of `topics` with since < id <= until (the newest by default); None if not all kept."""
        if not self._events:
            return None
        first, newest = self._events[0].event_id, self._events[-1].event_id
        assert first is not None and newest is not None  # only events with ids are kept
        if since + 1 < first or since > newest:
            return None
        last = newest if until is None else min(until, newest)
        everything = ALL_TOPICS in topics
        frames = [
            event
            for event in islice(self._events, since + 1 - first, None)
            if event.event_id <= last and (everything or event.event_type in topics)  # type: ignore[operator]
        ]
        return Replay(frames=frames, complete=True, last_id=max(last, since))


class GapFill:
    """Events the hub missed, read from the history in a task of its own while live events go on.

    The connections present when the gap was seen (`behind`) get nothing live until the missed
    events are read: their later events wait here (`pending`), in order. Connections that join
    meanwhile were told a `last_id` past the gap and receive live events at once. The read waits at
    most GAMIFICATION_HISTORY_TIMEOUT_S; if it fails, the clients behind it are told the events are
    lost (a later `resume` says `complete: false`) and get the held events.
    """

    def __init__(self, behind: Iterable[Subscriber]) -> None:
        self.behind: set[Subscriber] = set(behind)
        # In order: a range still to read (since, until) or an event that came after it.
        self.pending: deque[tuple[int, int] | EventFrames] = deque()
        self.task: asyncio.Task[None] | None = None


class Hub:
    """The local connections of one process (one event loop) and its single group membership.

    It also starts what watches those connections: presence (counts in Redis), the access sweep
    (access.py) and the renewal of the per-user socket leases (user_limit.py).
    """

    def __init__(self) -> None:
        self.connections: set[Subscriber] = set()
        self._by_topic: dict[str, set[Subscriber]] = {}
        self.joined: asyncio.Future[str] = asyncio.get_running_loop().create_future()  # set once the group is joined
        self.changed = asyncio.Event()  # connections or subscriptions changed: refresh the stats
        self._tasks: list[asyncio.Task[None]] = []
        # The newest event id received (ids arrive in order), or the newest at joining, if later.
        self.last_id: int | None = None
        self.user_sockets = UserSockets()
        self.recent = RecentEvents(app_settings.HISTORY_SIZE)
        self.gap: GapFill | None = None  # events missed and being read, while live ones go on

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.presence = Presence(local=self)
        self.sweep = AccessSweep(local=self, cache=access_cache(), sessions=session_users())
        self._tasks = [
            loop.create_task(self._receive_forever()),
            loop.create_task(self.presence.run()),
            loop.create_task(self.sweep.run()),
            loop.create_task(self.user_sockets.run()),
        ]

    def add(self, subscriber: Subscriber) -> None:
        self.connections.add(subscriber)
        self._index(subscriber, subscriber.topics)
        self.changed.set()

    def remove(self, subscriber: Subscriber) -> None:
        if subscriber in self.connections:
            self.connections.discard(subscriber)
            self._unindex(subscriber, subscriber.topics)
            if self.gap is not None:
                self.gap.behind.discard(subscriber)
            self.changed.set()

    def set_topics(self, subscriber: Subscriber, topics: frozenset[str]) -> None:
        """Replace a connection's topics (the caller sets `subscriber.topics` through this)."""
        if subscriber in self.connections:
            self._unindex(subscriber, subscriber.topics)
            self._index(subscriber, topics)
            self.changed.set()
        subscriber.topics = topics

    async def stats(self, *, include_clients: bool) -> dict[str, Any]:
        """`get_stats` totals over every gateway process of the deployment (per-client lists on request)."""
        return await self.presence.totals(include_clients=include_clients)

    async def missed_events(self, *, since: int, topics: frozenset[str], until: int | None) -> Replay:
        """Events of `topics` with since < id <= until (the newest by default), for a resume.

        From this hub's memory when it kept them all (no Redis call, frames shared), else from the
        history; raises when Redis does not answer within GAMIFICATION_HISTORY_TIMEOUT_S.
        """
        replay = self.recent.replay(since=since, topics=topics, until=until)
        if replay is not None:
            return replay
        page = await asyncio.wait_for(
            history.history_since(since=since, topics=topics, until=until, seen=self.last_id),
            timeout=app_settings.HISTORY_TIMEOUT_S,
        )
        return Replay(frames=page_frames(page), complete=page.complete, last_id=page.last_id)

    def topic_counts(self) -> dict[str, int]:
        return {topic: len(members) for topic, members in self._by_topic.items() if members}

    def on_event(self, envelope: dict[str, Any], *, requester: int | None = None) -> None:
        """A live event from the group: dispatched now; if ids were skipped, a GapFill reads them meanwhile.

        The history gives ids without holes and publishes them in order, so a gap means this hub
        missed events: its Redis connection dropped (Redis restarted, or failed over to a replica)
        and was re-subscribed by the layer meanwhile, or a failover skipped ids (gamification/history.py).
        The missed ones reach the connections that were there before this event, ahead of it, so
        every client still gets every event once and in order; an id at or below the last one
        received was already sent. Never waits: the receive loop goes straight on to the next event.
        """
        event_id = envelope.get("id")
        if event_id is not None and self.last_id is not None:
            if event_id <= self.last_id:
                return
            if event_id > self.last_id + 1:
                self._open_gap(since=self.last_id, until=event_id - 1)
        if event_id is not None:
            self.last_id = event_id
        self.dispatch(event_frames(envelope, requester=requester))

    def dispatch(self, frames: EventFrames) -> int:
        """Deliver an event (framed once per shape) to each subscriber once; returns how many got it now."""
        if frames.event_id is not None:
            self.recent.add(frames)
        subscribers = self._subscribers(frames.event_type)
        if self.gap is not None:  # those behind a gap get it after the events they missed
            self.gap.pending.append(frames)
            behind = self.gap.behind
            subscribers = [subscriber for subscriber in subscribers if subscriber not in behind]
        return self._deliver(frames, subscribers)

    def _subscribers(self, event_type: str) -> list[Subscriber]:
        """Who wants an event of this type, each once (a snapshot: a delivery may remove a client)."""
        everyone = self._by_topic.get(ALL_TOPICS, ())
        # Those in `all` are served through it, not again through the type's own topic.
        own = [subscriber for subscriber in self._by_topic.get(event_type, ()) if ALL_TOPICS not in subscriber.topics]
        return [*everyone, *own] if own else list(everyone)

    def _deliver(self, frames: EventFrames, subscribers: Iterable[Subscriber]) -> int:
        delivered = 0
        frame, event_id = frames.full, frames.event_id
        shaped = frames.public is not frame  # a run's private details: each client gets the shape it may see
        # The try block costs nothing while no delivery raises (zero-cost exceptions since Python 3.11).
        for subscriber in subscribers:
            try:
                subscriber.deliver(
                    frames.for_viewer(user_id=subscriber.user_id, sees_all_details=subscriber.may_view_runs)
                    if shaped
                    else frame,
                    event_id,
                )
            except Exception:  # noqa: BLE001 - one client's failure must not stop the fan-out
                self._drop_failed(subscriber)
                continue
            delivered += 1
        if delivered:
            metrics.event_delivered(frames.event_type, delivered)
        return delivered

    def _drop_failed(self, subscriber: Subscriber) -> None:
        """A delivery raised: log it (once: the client leaves the hub here), drop the client and close it."""
        logger.exception(MSG_DELIVERY_FAILED, subscriber.client_id)
        self.remove(subscriber)
        try:
            subscriber.abort()
        except Exception:  # noqa: BLE001 - a client broken enough to fail twice is still only one client
            logger.exception("could not close client %s after its delivery failed", subscriber.client_id)

    def _index(self, subscriber: Subscriber, topics: Iterable[str]) -> None:
        for topic in topics:
            self._by_topic.setdefault(topic, set()).add(subscriber)

    def _unindex(self, subscriber: Subscriber, topics: Iterable[str]) -> None:
        for topic in topics:
            self._by_topic.get(topic, set()).discard(subscriber)

    async def _receive_forever(self) -> None:
        layer = get_channel_layer()
        channel: str | None = None
        while True:
            try:
                if channel is None:
                    channel = await layer.new_channel()
                    await layer.group_add(app_settings.GROUP, channel)
                    if not self.joined.done():
                        await self._learn_newest_id()
                        self.joined.set_result(channel)
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down: keep the sockets, retry the layer
                logger.warning("gateway hub lost the channel layer (%r); retrying", exc)
                channel = None
                await asyncio.sleep(RETRY_S)
                continue
            if message.get("type") == EVENT_MESSAGE_TYPE:
                try:
                    self.on_event(message["envelope"], requester=message_requester(message))
                except Exception:  # a malformed message must not stop the hub
                    logger.exception("could not fan out %r", message)

    async def _learn_newest_id(self) -> None:
        """Start `last_id` at the deployment's newest id, read after joining the group.

        So `connected.last_id` comes from here, not from a Redis call per connection, and an event
        published while the group subscription was on its way shows as a gap the hub fills from the
        history. Without Redis it stays unknown (None) and connections ask Redis themselves.
        """
        if not app_settings.HISTORY_ENABLED:
            return
        try:
            newest = await asyncio.wait_for(history.newest_id(), timeout=app_settings.HISTORY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - Redis down: connections ask for the newest id themselves
            logger.warning("gateway hub could not read the newest event id (%r)", exc)
            return
        self.last_id = max(self.last_id or 0, newest)
        await self._remember_recent_history(newest)

    async def _remember_recent_history(self, newest: int) -> None:
        """Start the memory of recent events (RecentEvents) with the history's newest ones, up to `newest`.

        A gateway that has just started (a deploy, a restart) is where the clients of a failed one
        land: with the history's tail in memory their resumes cost no Redis call either.
        """
        if newest <= 0:
            return
        oldest_kept = max(0, newest - app_settings.HISTORY_SIZE)
        try:
            page = await asyncio.wait_for(
                history.history_since(since=oldest_kept, topics={ALL_TOPICS}, until=newest),
                timeout=app_settings.HISTORY_TIMEOUT_S,
            )
        except Exception as exc:  # noqa: BLE001 - only slower resumes: they read the history themselves
            logger.warning("gateway hub could not read the recent events (%r)", exc)
            return
        for frames in page_frames(page):
            self.recent.add(frames)

    def _open_gap(self, *, since: int, until: int) -> None:
        """Ids since < id <= until were missed: read them in a task, the connections here now wait for them."""
        if self.gap is None:
            self.gap = GapFill(self.connections)
            self.gap.task = asyncio.get_running_loop().create_task(self._fill_gaps(self.gap))
            self._tasks.append(self.gap.task)
        self.gap.pending.append((since, until))

    async def _fill_gaps(self, gap: GapFill) -> None:
        """Send the clients behind the gap what they missed, then what came meanwhile, in order."""
        try:
            while gap.pending:
                item = gap.pending.popleft()
                if isinstance(item, EventFrames):
                    self._deliver_behind(gap, item)
                else:
                    await self._fill(gap, since=item[0], until=item[1])
        finally:
            # Nothing awaited since the last `pending` check: no event is left behind.
            self.gap = None
            if gap.task in self._tasks:
                self._tasks.remove(gap.task)

    def _deliver_behind(self, gap: GapFill, frames: EventFrames) -> None:
        behind = gap.behind
        wanted = [subscriber for subscriber in self._subscribers(frames.event_type) if subscriber in behind]
        self._deliver(frames, wanted)

    async def _fill(self, gap: GapFill, *, since: int, until: int) -> None:
        try:
            page = await asyncio.wait_for(
                # `seen`: if a failover lost ids this hub dispatched, every gateway's `resume` must know.
                history.history_since(since=since, topics={ALL_TOPICS}, until=until, seen=since),
                timeout=app_settings.HISTORY_TIMEOUT_S,
            )
        except Exception as exc:  # noqa: BLE001 - Redis gone again: the gap stays a loss, said below
            logger.warning("gateway hub could not read the events it missed (%r)", exc)
            page = None
        for frames in page_frames(page) if page else ():
            self._deliver_behind(gap, frames)
        if page is None or not page.complete:
            # Some ids are gone for good (a Redis that lost its data starts its ids anew): a client's
            # `resume` from before the gap must answer `complete: false`, so it reloads its state.
            restart = page.events[0]["id"] if page and page.events else until + 1
            logger.warning("gateway hub missed events %s..%s that the history no longer has", since + 1, restart - 1)
            self.recent.clear()  # a resume from before the loss must ask the history, which knows it
            for subscriber in tuple(gap.behind):
                subscriber.history_lost(restart)


def _started_hub() -> Hub:
    hub = Hub()
    hub.start()
    return hub


# This event loop's hub, started on first use (one per server process).
get_hub: Callable[[], Hub] = loop_local(_started_hub)
