"""The `/ws/gamification` WebSocket consumer (docs/protocol.md): one connection, from accept to close.

A connection is in one of four states (`State`): connecting (accepted, not yet said `connected`),
open, closing (the server asked to close: it left the hub, its outbox is shut, the close frame is
on its way) and closed (the socket is gone: its slot is given back, its tasks cancelled). Every way
a connection ends — refused at connect, revoked, too slow, too fast, too big, a delivery that
raised, the client leaving — goes through `close_with` (the server's side) and `_closed` (the
socket gone); every task it starts is kept in `_tasks` and cancelled there.

Events do not reach this consumer through the channel layer: the process's hub (hub.py) receives
each event once and calls `deliver` with frames encoded once per shape. Everything this
connection sends — replies and events — goes through its bounded outbox (outbox.py), in order.
Those three modules are the whole path of a connection (docs/architecture.md, "One connection").
"""

import asyncio
import enum
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from gamification import history, metrics
from gamification.access import Access, access_cache
from gamification.app_settings import app_settings
from gamification.catalogue import ALL_TOPICS, TOPICS
from gamification.commands import Caller, CommandHandler, extra_command, extra_command_names
from gamification.fastpath import daphne
from gamification.hub import Hub, Replay, get_hub
from gamification.middleware import (
    SCOPE_AUTH,
    SCOPE_DAPHNE_PROTOCOL,
    SCOPE_SERVER_SEND,
    SCOPE_SESSION_KEY,
    SCOPE_TOKEN_EXPIRES_AT,
)
from gamification.outbox import AsgiOutbox, Frame, make_outbox
from gamification.protocol import (
    COMMAND_EXPECTED,
    COMMAND_FIELD,
    CONNECTED,
    CONNECTED_MESSAGE,
    ERROR,
    GET_STATS,
    HISTORY_UNAVAILABLE,
    INVALID_FIELD,
    INVALID_JSON,
    MSG_BINARY,
    MSG_HISTORY_UNAVAILABLE,
    MSG_INVALID_FIELD,
    MSG_INVALID_JSON,
    MSG_NOT_AN_OBJECT,
    MSG_UNKNOWN_COMMAND,
    MSG_UNKNOWN_TOPIC,
    NOT_AN_OBJECT,
    PING,
    PONG,
    REQUEST_ID,
    REQUEST_ID_EXPECTED,
    RESUME,
    RESUMED,
    SINCE_EXPECTED,
    STATS,
    SUBSCRIBE,
    SUBSCRIBED,
    TOPICS_EXPECTED,
    UNKNOWN_COMMAND,
    UNKNOWN_TOPIC,
    CloseCode,
    CommandRejected,
    Connected,
    Error,
    Pong,
    Resumed,
    Subscribed,
    required_field,
)
from gamification.ratelimit import TokenBucket
from gamification.resume import ResumeSeam
from gamification.session_users import session_users
from gamification.shapes import EventFrames

logger = logging.getLogger(__name__)

MAX_ID_DIGITS = 18  # `?since=`: an event id fits in a signed 64-bit integer (Redis INCR)
JOIN_WAIT_S = 5.0  # how long a first connection waits for the hub to join the group (Redis may be down)
# No per-connection channel: a consumer normally subscribes its own channel-layer channel (one Redis
# subscription and one reader task per socket); the hub makes that unnecessary. An alias that is not
# in CHANNEL_LAYERS makes channels skip it.
NO_CHANNEL_LAYER = "gamification-no-per-connection-channel"
NO_TASKS: frozenset[Any] = frozenset()
EVERY_TOPIC = frozenset({ALL_TOPICS})  # a new connection's topics, shared (`subscribe` replaces them)

Reply = tuple[str, Mapping[str, Any]] | None
Handler = Callable[[dict[str, Any]], Awaitable[Reply]]


class State(enum.Enum):
    CONNECTING = "connecting"  # accepted; admission, the hub and `connected` still to come
    OPEN = "open"  # `connected` is out: events and commands flow
    CLOSING = "closing"  # the server closed it: out of the hub, outbox shut, close frame sent
    CLOSED = "closed"  # the socket is gone: slot given back, tasks cancelled


def _request_id(content: dict[str, Any]) -> Any:
    return content.get(REQUEST_ID)


class GamificationConsumer(AsyncJsonWebsocketConsumer):
    """One browser or program watching events."""

    channel_layer_alias = NO_CHANNEL_LAYER
    # command name → handler name; a handler returns the reply (type, data) or None if it replied itself.
    commands: dict[str, str] = {
        PING: "handle_ping",
        SUBSCRIBE: "handle_subscribe",
        GET_STATS: "handle_get_stats",
        RESUME: "handle_resume",
    }

    groups: tuple[str, ...] = ()  # channels' groups: none (the hub fans out), and no list per instance
    # Thousands sit idle at once: attributes in slots, not in an instance dict (channels' base
    # classes still give instances one, for attributes set elsewhere).
    __slots__ = (
        "scope",
        "base_send",
        "channel_layer",
        "state",
        "hub",
        "outbox",
        "user_id",
        "session_key",
        "token_generation",
        "may_view_runs",
        "leased",
        "counted",
        "expiry",
        "_tasks",
        "client_id",
        "topics",
        "user",
        "connected_at",
        "rate",
        "seam",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = State.CONNECTING
        self.hub: Hub | None = None
        self.outbox: AsgiOutbox | None = None
        self.user_id: int | None = None  # the authenticated user's pk; None for an anonymous connection
        self.session_key: str | None = None  # the session it was opened with (session authentication only)
        self.token_generation: str | None = None  # the user's token generation when a token opened it
        self.may_view_runs = False  # sees every run's private details (DETAILS_PERMISSION), as the sweep last said
        self.leased = False  # holds one of its user's GAMIFICATION_WS_MAX_PER_USER slots
        self.counted = False  # in the connections gauge
        self.expiry: asyncio.TimerHandle | None = None  # closes a token's connection when the token expires
        # Until a task is spawned, every connection shares this empty one.
        self._tasks: set[asyncio.Task[Any]] = NO_TASKS  # type: ignore[assignment]

    # Lifecycle ---------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Accept, then close with 4401 (no user) or 4429 (too many sockets), else say `connected`."""
        self.client_id = str(uuid.uuid4())
        self.topics: frozenset[str] = EVERY_TOPIC
        self.user = self.scope.get("user")
        self.connected_at = time.time()
        # Admitted before the accept, so that nothing is awaited between the handshake's answer and
        # `connected`: under daphne both leave in one write (fastpath/daphne.py, `held`).
        refusal = await self._admit()
        await self.accept()
        if (protocol := self.scope.get(SCOPE_DAPHNE_PROTOCOL)) is not None:
            daphne.compact_protocol(protocol)  # the handshake is over: drop what only it needed
        if refusal is not None:
            self.close_with(refusal)
            return
        self.outbox = make_outbox(
            # The server's `send` directly: channels' session wrapper around it has nothing to do
            # after the accept, and skipping it saves a coroutine per delivered frame.
            send=self.scope.get(SCOPE_SERVER_SEND, self.base_send),
            daphne_protocol=self.scope.get(SCOPE_DAPHNE_PROTOCOL),
            limit=app_settings.WS_OUTBOX_FRAMES,
            on_overflow=partial(self.close_with, CloseCode.SLOW_CONSUMER),
        )
        self.rate = TokenBucket(rate=app_settings.WS_RATE_LIMIT_PER_S, burst=app_settings.WS_RATE_LIMIT_BURST)
        self.hub = get_hub()
        await self._wait_for_the_group()
        # Live frames wait until `connected` is out; `last_id` is read after joining, so every event
        # with a greater id reaches this connection live.
        self.seam = ResumeSeam()
        self.seam.hold()
        self.hub.add(self)
        self.counted = True
        metrics.connection_opened()
        # The hub's newest id (seeded from Redis when it joined): every later event reaches this
        # connection live. Only when the hub could not learn it (Redis down at start) ask Redis.
        last_id = self.hub.last_id if self.hub.last_id is not None else await self._newest_id()
        hello = Connected(message=CONNECTED_MESSAGE, client_id=self.client_id, last_id=last_id)
        since = self._since_in_url()
        if since is None:
            self.reply(CONNECTED, hello)
            self._put_all(self.seam.release())
        elif not await self._resume_on_connect(since, hello):
            return  # the client went away during the replay
        if self.state is State.CONNECTING:
            self.state = State.OPEN
            self._expire_with_token()

    def close_with(self, code: CloseCode) -> None:
        """The one way the server ends a connection: leave the hub, shut the outbox, send the close frame.

        Never raises and never waits (the hub and the outbox call it from their callbacks); the
        close frame goes out in a task of this connection. The socket's end (`_closed`) follows.
        """
        self._close(int(code), code.reason)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Channels' `close`, routed through the same routine (no way around it)."""
        self._close(code if isinstance(code, int) and not isinstance(code, bool) else 1000, reason or "")

    def _close(self, code: int, reason: str) -> None:
        if self.state in (State.CLOSING, State.CLOSED):
            return
        self.state = State.CLOSING
        self._leave()
        self._spawn(self._send_close(code, reason))

    async def _send_close(self, code: int, reason: str) -> None:
        protocol = self.scope.get(SCOPE_DAPHNE_PROTOCOL)
        if protocol is not None:  # daphne's `websocket.close` drops the reason; its protocol sends it
            daphne.send_close(protocol, code=code, reason=reason)
            return
        await self.base_send({"type": "websocket.close", "code": code, "reason": reason})

    def _leave(self) -> None:
        """Out of the fan-out, nothing more written; the connections gauge counts it no more."""
        if self.expiry is not None:
            self.expiry.cancel()
        if self.hub is not None:
            self.hub.remove(self)
        if self.outbox is not None:
            self.outbox.close()
        if self.counted:
            self.counted = False
            metrics.connection_closed()

    async def _closed(self) -> None:
        """The socket is gone (the client left, or its close handshake ended): give everything back."""
        self.state = State.CLOSED
        self._leave()
        current = asyncio.current_task()
        for task in tuple(self._tasks):
            if task is not current:
                task.cancel()
        if (protocol := self.scope.get(SCOPE_DAPHNE_PROTOCOL)) is not None:
            daphne.release_protocol(protocol)
        if self.leased and self.user_id is not None:
            self.leased = False
            await get_hub().user_sockets.release(user_id=self.user_id, client_id=self.client_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a step of this connection in a task that is kept (asyncio holds tasks only weakly)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        if not self._tasks:
            self._tasks = set()  # its own set: the class's empty one is shared
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Channels' handler without its thread hop (`aclose_old_connections`; see `dispatch`).

        This consumer joins no channel-layer group (the hub fans out), so there is nothing to discard.
        """
        await self._closed()
        raise StopConsumer()

    # Admission --------------------------------------------------------------------------------

    async def _admit(self) -> CloseCode | None:
        """Why this connection may not stay, or None; takes its user's slot."""
        if not self.scope.get(SCOPE_AUTH):
            return None if app_settings.WS_ALLOW_ANONYMOUS else CloseCode.UNAUTHORIZED
        access = await access_cache().get(self.user.pk)
        if access is None or not access.active:  # deactivated since the middleware looked
            return CloseCode.UNAUTHORIZED
        self.user_id = self.user.pk
        self.session_key = self.scope.get(SCOPE_SESSION_KEY)
        if self.scope.get(SCOPE_AUTH) == "token":
            self.token_generation = access.token_generation
        self.may_view_runs = access.may_view_runs
        if not await get_hub().user_sockets.acquire(user_id=self.user_id, client_id=self.client_id):
            return CloseCode.TOO_MANY_CONNECTIONS
        self.leased = True
        return None

    async def _wait_for_the_group(self) -> None:
        """The first socket of a process waits for the group membership, so that an event emitted
        right after `connected` is not missed; with Redis down it goes on without it."""
        assert self.hub is not None
        if not self.hub.joined.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.hub.joined), timeout=JOIN_WAIT_S)
            except TimeoutError:
                pass

    def _expire_with_token(self) -> None:
        """A connection authenticated by a token ends (4401) the moment the token expires."""
        expires_at = self.scope.get(SCOPE_TOKEN_EXPIRES_AT)
        if expires_at is not None:
            self.expiry = asyncio.get_running_loop().call_later(max(0.0, expires_at - time.time()), self.revoke)

    def follow(self, access: Access | None) -> None:
        """The access sweep's news of this connection's user (None: gone, inactive, or its session ended).

        A token socket also ends when its user's token generation moved on (a password change,
        a deactivation, the user re-created): close 4401. Otherwise its rights follow the user.
        """
        if access is None or (self.token_generation is not None and access.token_generation != self.token_generation):
            self.revoke()
            return
        self.may_view_runs = access.may_view_runs

    def revoke(self) -> None:
        """The user's rights ended (token expired or stale, session gone, user deactivated): close with 4401."""
        self.close_with(CloseCode.UNAUTHORIZED)

    def abort(self) -> None:
        """The hub dropped this client because writing to it raised: stop writing and close it."""
        self.close_with(CloseCode.INTERNAL_ERROR)

    # Outgoing ---------------------------------------------------------------------------------

    def deliver(self, frame: Frame, event_id: int | None) -> None:
        """Queue one event frame from the hub (never blocks); held back while a replay runs."""
        if self.seam.admit(frame, event_id):
            self.outbox.put(frame)  # type: ignore[union-attr]  # set before the hub knows this connection
        elif self.seam.held_count > app_settings.WS_OUTBOX_FRAMES:  # held frames count as queued ones
            self.close_with(CloseCode.SLOW_CONSUMER)

    def history_lost(self, first_id: int) -> None:
        """The hub lost events before `first_id`: a later `resume` replays from the history up to it."""
        self.seam.restart_at(first_id)

    def _put_all(self, frames: list[Frame]) -> None:
        assert self.outbox is not None
        for frame in frames:
            self.outbox.put(frame)

    def _shaped(self, events: list[EventFrames]) -> list[Frame]:
        return [event.for_viewer(user_id=self.user_id, sees_all_details=self.may_view_runs) for event in events]

    async def _newest_id(self) -> int:
        if not app_settings.HISTORY_ENABLED:
            return 0
        try:
            return await asyncio.wait_for(history.newest_id(), timeout=app_settings.HISTORY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - Redis down: the connection works, it just cannot resume
            logger.warning("newest event id unavailable (%r); connected.last_id is 0", exc)
            return 0

    def reply(self, event_type: str, data: Mapping[str, Any], request_id: Any = None) -> None:
        """Send a message to this client only (never replayable, so `id` is null)."""
        assert self.outbox is not None
        if request_id is not None:
            data = {**data, REQUEST_ID: request_id}
        self.outbox.put(Frame(json.dumps({"type": event_type, "data": data, "timestamp": time.time(), "id": None})))

    def describe(self) -> dict[str, Any]:
        user = self.user.get_username() if self.user is not None and self.user.is_authenticated else None
        return {
            "client_id": self.client_id,
            "user": user,
            "topics": sorted(self.topics),
            "connected_at": self.connected_at,
        }

    # Resume -----------------------------------------------------------------------------------

    def _since_in_url(self) -> int | CommandRejected | None:
        """`?since=<id>` (a resume in the handshake): the id, an error to report, or None when absent."""
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1"), keep_blank_values=True).get("since")
        if not values:
            return None
        text = values[0]
        if len(values) > 1 or not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
            return CommandRejected(INVALID_FIELD, MSG_INVALID_FIELD.format(field="since", expected=SINCE_EXPECTED))
        return int(text)

    async def _resume_on_connect(self, since: int | CommandRejected, hello: Connected) -> bool:
        """`connected` with `replayed` and `complete`, the missed events, then the live ones held meanwhile.

        The seam has held live frames since the hub added this connection, so none overtakes the
        replay, and those the replay already covered are dropped. False if the client went away.
        """
        page, refusal = None, since if isinstance(since, CommandRejected) else None
        if isinstance(since, int):
            try:
                page = await self._missed_events(since, until=None)
            except CommandRejected as error:
                refusal = error
        replayed = len(page.frames) if page else 0
        self.reply(CONNECTED, Connected(**hello, replayed=replayed, complete=bool(page and page.complete)))
        if page is not None and not await self._replay(page.frames):
            self.seam.release()
            return False
        if refusal is not None:  # said after `connected`: the connection works, it just was not resumed
            self.reply(ERROR, Error(code=refusal.code, message=refusal.message))
        self._put_all(self.seam.release(replayed_through=page.last_id if page else 0))
        return True

    async def _missed_events(self, since: int, *, until: int | None) -> Replay:
        """This connection's topics' events with since < id <= until; CommandRejected when unavailable."""
        assert self.hub is not None
        if not app_settings.HISTORY_ENABLED:
            raise CommandRejected(HISTORY_UNAVAILABLE, MSG_HISTORY_UNAVAILABLE)
        try:
            return await self.hub.missed_events(since=since, topics=self.topics, until=until)
        except Exception as exc:  # noqa: BLE001 - Redis down or slow: say so, lose no live frame
            logger.warning("resume failed: history unavailable (%r)", exc)
            raise CommandRejected(HISTORY_UNAVAILABLE, MSG_HISTORY_UNAVAILABLE) from exc

    async def _replay(self, events: list[EventFrames]) -> bool:
        """Queue the events as fast as the client takes them; False if the connection went away."""
        assert self.outbox is not None
        frames = self._shaped(events)
        chunk = max(1, app_settings.WS_OUTBOX_FRAMES // 2)
        for start in range(0, len(frames), chunk):
            batch = frames[start : start + chunk]
            if not await self.outbox.wait_room(len(batch) + 1):  # +1: room for the `resumed` reply
                return False
            self.outbox.put_many(batch)
        return await self.outbox.wait_room(1)

    # Incoming ---------------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' consumer loop without its task per message (`await_many_dispatch`).

        Channels wraps each `receive()` in a task and waits on it with `asyncio.wait`, to listen to
        the client and to a channel-layer channel at once; this consumer has no such channel (the
        hub fans out), so it awaits `receive()` itself: the same messages in the same order, and
        an idle connection holds no extra task, waiter and coroutines while it waits.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every message.

        That call hops to a thread for each message (connect, each command, disconnect) to close
        stale database connections. Nothing here touches the database on the event loop: user
        lookups run in their own thread (gamification/lookups.py), commands through
        `database_sync_to_async`, and both close stale connections around each call themselves.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.state is not State.OPEN:  # refused in connect, or closing: nothing more to say
            return
        if not self.rate.take():
            self.close_with(CloseCode.RATE_LIMITED)
            return
        if text_data is None:
            self.reply(ERROR, Error(code=INVALID_JSON, message=MSG_BINARY))
            return
        if (
            len(text_data) > app_settings.WS_MAX_MESSAGE_BYTES
            or len(text_data.encode()) > app_settings.WS_MAX_MESSAGE_BYTES
        ):
            self.close_with(CloseCode.MESSAGE_TOO_BIG)
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes ("[[[[...")
            self.reply(ERROR, Error(code=INVALID_JSON, message=MSG_INVALID_JSON))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Look the command up in `commands` and reply; bad input gets an error reply, never an exception."""
        if not isinstance(content, dict):
            self.reply(ERROR, Error(code=NOT_AN_OBJECT, message=MSG_NOT_AN_OBJECT))
            return
        request_id = content.get(REQUEST_ID)
        try:
            if request_id is not None:
                request_id = required_field(content, REQUEST_ID, (str, int), REQUEST_ID_EXPECTED)
            command = required_field(content, COMMAND_FIELD, str, COMMAND_EXPECTED)
            result = await self._handler(command)(content)
        except CommandRejected as error:
            # Echo only a well-formed request_id; a malformed one is what the error is about.
            echo = request_id if isinstance(request_id, str | int) and not isinstance(request_id, bool) else None
            self.reply(ERROR, Error(code=error.code, message=error.message), echo)
            return
        if result is not None and self.state is State.OPEN:
            self.reply(result[0], result[1], request_id)  # a payloads.Event carries a requester too: not sent

    def _handler(self, command: str) -> Handler:
        if command in self.commands:
            handler: Handler = getattr(self, self.commands[command])
            return handler
        extra = extra_command(command)
        if extra is None:
            known = ", ".join(sorted(self.commands.keys() | extra_command_names()))
            raise CommandRejected(UNKNOWN_COMMAND, MSG_UNKNOWN_COMMAND.format(command=command, known=known))
        return partial(self._call_extra, extra)

    async def _call_extra(self, handler: CommandHandler, content: dict[str, Any]) -> Reply:
        caller = await self.caller()
        if caller is None:  # the user or the session is gone: the connection is closing, no reply
            return None
        return await handler(caller, content)

    async def caller(self) -> Caller | None:
        """This connection as the sender of a command (for handlers other apps register).

        Its user as the access cache has them now (at most GAMIFICATION_ACCESS_TTL_S old), so a
        revoked permission counts; its session looked up afresh, so a logout counts at once. None,
        after revoking the connection, when the user or the session is gone.
        """
        client = self.scope.get("client") or ("", 0)
        address = client[0] or ""
        if self.user_id is None:
            return Caller(user=self.user, address=address)
        if self.session_key is not None:
            access = await session_users().access(self.session_key, fresh=True)
        else:
            access = await access_cache().get(self.user_id)
        if access is None or not access.active or access.user.pk != self.user_id:
            self.revoke()
            return None
        self.follow(access)
        if self.state is not State.OPEN:  # its token went stale
            return None
        return Caller(user=access.user, address=address, may_control=access.may_control)

    # Command handlers -------------------------------------------------------------------------

    async def handle_ping(self, content: dict[str, Any]) -> Reply:
        return PONG, Pong(timestamp=time.time())

    async def handle_subscribe(self, content: dict[str, Any]) -> Reply:
        assert self.hub is not None
        topics = required_field(content, "topics", list, TOPICS_EXPECTED)
        if not all(isinstance(topic, str) for topic in topics):
            raise CommandRejected(INVALID_FIELD, MSG_INVALID_FIELD.format(field="topics", expected=TOPICS_EXPECTED))
        unknown = sorted(set(topics) - TOPICS)
        if unknown:
            raise CommandRejected(
                UNKNOWN_TOPIC, MSG_UNKNOWN_TOPIC.format(unknown=", ".join(unknown), valid=", ".join(sorted(TOPICS)))
            )
        self.hub.set_topics(self, frozenset(topics))
        return SUBSCRIBED, Subscribed(topics=sorted(self.topics))

    async def handle_get_stats(self, content: dict[str, Any]) -> Reply:
        assert self.hub is not None
        access = await access_cache().get(self.user_id) if self.user_id is not None else None
        return STATS, await self.hub.stats(include_clients=bool(access and access.is_staff))

    async def handle_resume(self, content: dict[str, Any]) -> Reply:
        """Replay the kept events of this client's topics with id > since, then say `resumed`."""
        since = required_field(content, "since", int, SINCE_EXPECTED)
        if since < 0:
            raise CommandRejected(INVALID_FIELD, MSG_INVALID_FIELD.format(field="since", expected=SINCE_EXPECTED))
        until = self.seam.hold()
        try:
            page = await self._missed_events(since, until=until)
        except CommandRejected:
            self._put_all(self.seam.release())
            raise
        if not await self._replay(page.frames):  # the client went away meanwhile
            self.seam.release()
            return None
        self.reply(
            RESUMED,
            Resumed(since=since, replayed=len(page.frames), complete=page.complete),
            _request_id(content),
        )
        self._put_all(self.seam.release(replayed_through=page.last_id))
        return None
