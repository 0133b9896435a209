"""Speed that needs foreign libraries' private state: one module per library, each checked at start-up.

- `daphne`: daphne's WebSocket stack (its protocol, the Twisted transport, autobahn frames);
- `daphne_upgrade`: daphne's WebSocket upgrade, a plain one handed to autobahn without daphne's
  HTTP request (Twisted's HTTP channel and daphne's request skipped);
- `twisted_reactor`: daphne's reactor calling a ready socket's handler without Twisted's legacy log
  context;
- `channels_redis`: the pub/sub layer's group channel names and wire format;
- `request_deadline`: daphne's HTTP requests, closed when not received whole in time (not for
  speed: for slow clients).

Each module's `check()` proves what it relies on is there and logs once which path is taken; the
tests assert that under the pinned versions the fast paths are the ones used.
"""


def report() -> None:
    """Run every capability check (each logs once); the ASGI application calls it at start-up."""
    from gamification.fastpath import channels_redis, daphne, daphne_upgrade, request_deadline, twisted_reactor

    daphne.check()
    daphne_upgrade.use_upgrade_front()
    twisted_reactor.use_direct_callbacks()
    channels_redis.check()
    request_deadline.enforce()
