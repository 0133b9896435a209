"""How a daphne gateway is started: by `make run`, the tests and the benchmarks alike.

daphne's `-b/-p` listen with Twisted's default backlog of 50 pending connections. When every
client comes back at once (a gateway restart, a load balancer failing a node over), the kernel
drops the connection attempts beyond it and the clients retry 1, 3, 7, 15 s later: a 5,000-client
storm took a minute instead of seconds (bench/storm.py). A Twisted endpoint string sets the
backlog; Linux caps it at net.core.somaxconn (4,096 by default since 5.4).

A request whose headers or body never finish is closed by the application itself, whichever way
daphne is started (API_REQUEST_RECEIVE_TIMEOUT_S, gamification/fastpath/request_deadline.py):
daphne's own `--http-timeout` bounds the answer, not the request, and would cut SSE streams.
"""

ASGI_APPLICATION = "conductor.asgi:application"
LISTEN_BACKLOG = 4096
# daphne's access log: a line per HTTP request and three per WebSocket (connecting, connected,
# disconnected), each formatted and written on the event loop (unbuffered: a system call each),
# about 25 µs of a connection's CPU. nginx in front (deploy/nginx.conf) logs every request and
# upgrade already; a gateway started from here writes it only when asked: `-` (its console) or a file.
ACCESS_LOG_ENV = "GATEWAY_ACCESS_LOG"


def daphne_endpoint(*, host: str, port: int) -> str:
    """The Twisted endpoint daphne's `-e` takes: TCP on host:port with LISTEN_BACKLOG."""
    interface = host.replace(":", r"\:")  # an IPv6 address's colons would end the field
    return f"tcp:port={port}:interface={interface}:backlog={LISTEN_BACKLOG}"


def daphne_argv(python: str, *, host: str, port: int, access_log: str | None = None) -> list[str]:
    """The command line of one daphne gateway serving the project's ASGI application.

    With `access_log` (`-` or a file) daphne writes its access log there; without, none (`-v 0`:
    daphne's only other use of its verbosity, the level of its start-up logging, is overridden by
    the project's LOGGING).
    """
    logging = ["--access-log", access_log] if access_log else ["-v", "0"]
    return [python, "-m", "daphne", *logging, "-e", daphne_endpoint(host=host, port=port), ASGI_APPLICATION]
