"""Connect and reconnect storms: the baseline (../shared/bench/seed_peer.py), the floor and our gateway, in one run.

    ulimit -n 20000; .venv/bin/python bench/storm.py                        # 1,000 and 5,000 clients, 3 rounds
    ulimit -n 20000; .venv/bin/python bench/storm.py --clients 1000         # one size
    .venv/bin/python bench/storm.py --quick                                 # 100 clients, one round: checks the harness
    .venv/bin/python bench/storm.py --clients 1000 --resume-command         # also the `resume` command, for comparison
    .venv/bin/python bench/storm.py --clients 2000 --only reconnect --rounds 1

Starts a private Redis, a throwaway SQLite database with a `bench` user, the baseline under its own
virtualenv's uvicorn (no auth) and our ASGI application under daphne (as bench/compare.py does; every
client is the one `bench` user, so the gateways run with GAMIFICATION_WS_MAX_PER_USER=0).

(a) Connect storm. N clients, spread over client processes, connect at once, without retries, to the
    baseline, to the floor (bench/bare_peer.py: a bare `websockets` server, no auth) and to our gateway
    (authenticated by `?token=`), in turn for `--rounds` rounds. Figures:
    wall time from the start until every client has its `connected` message; the server process's CPU
    (user + system) over the connects, the `connected` messages and the closes of all N, divided by N;
    failures (refused, closed before `connected`, timed out). Medians over the rounds, ours/baseline and
    ours/floor.

(b) Reconnect storm (docs/protocol.md, "Resume on connect"). N clients connect to daphne A (not
    measured), then a separate process emits `system_alert` at 10/s (`gamification.events.emit`); daphne B
    runs on the same Redis and database. After `--before-kill` seconds of events A is killed (SIGKILL) and every
    client at once reconnects to B with `?since=<the last id it received>` (with `--resume-command`,
    also a second storm per round whose clients send `{"command":"resume","since":..}` after
    `connected` instead). Each client checks the ids it receives against the deployment's counter
    (ids are consecutive): every id after its first `connected.last_id` must arrive exactly once. Figures:
    the time from the kill until every client is back (`connected` from B) and until every client
    has caught up (has every id up to B's `connected.last_id`, the newest when it reconnected); ids
    lost and doubled over the whole run (both must be 0); how many clients got `complete: true`; and
    the ratio of the catch-up time to the baseline's connect time for N clients measured in (a).
    Emission goes on until every client has had a live event after its replay, then stops.

Logs of every server are in the folder printed first. daphne is started as `make run` and the
deployment docs start it (devserver/gateway.py), with a listen backlog of 4,096; with Twisted's default
of 50, the kernel drops a storm's connection attempts beyond it and clients retry after 1, 3, 7... s.
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import SEED_DIR, bare_argv, bench_environment, bench_token, server  # noqa: E402
from bench.fanout import PROJECT_DIR, _cpu, _wait_until_idle, _with_token  # noqa: E402
from devserver.gateway import daphne_argv  # noqa: E402
from tests.processes import stop  # noqa: E402

GATEWAY_ARGV = daphne_argv(sys.executable, host="127.0.0.1", port="{port}")

FULL_CLIENTS = [1000, 5000]
QUICK_CLIENTS = [100]
EVENT_RATE = 10.0  # events per second during the reconnect storm
BEFORE_KILL_S = 5.0
OPEN_TIMEOUT_S = 60.0  # one connection: TCP, the handshake and `connected` (SYN retries take 1, 3, 7, 15 s...)
SETTLE_TIMEOUT_S = 90.0  # from the kill until every client has had a live event after its replay
RETRY_DELAY_S = 0.2  # a reconnect that fails is tried again after this (a real client would back off)
WARM_CONCURRENCY = 25  # handshakes in flight per client process before the kill: that connect is not measured
# ... and is retried: a gateway busy fanning out to thousands drops handshakes it cannot finish within
# autobahn's 5 s (daphne's --websocket_connect_timeout).
WARM_ATTEMPTS = 5
FAILURE_KINDS = ("refused", "closed", "timeout", "other")
EMITTING = "emitting"  # the emitter's first line, once the deployment has an event id
WS_PATH = "/ws/gamification"


class NotWelcome(Exception):
    """The first message was not `connected`."""


# Both storms' clients -----------------------------------------------------------------------------


async def _open(url: str, timeout: float) -> tuple[ClientConnection, dict[str, Any]]:
    """A socket and its `connected` message, within `timeout` seconds."""
    async with asyncio.timeout(timeout):
        ws = await websockets.connect(
            url, compression=None, ping_interval=None, open_timeout=None, max_size=2**20, proxy=None
        )
        try:
            hello = json.loads(await ws.recv())
        except BaseException:
            ws.transport.abort()
            raise
    if hello.get("type") != "connected":
        ws.transport.abort()
        raise NotWelcome(hello)
    return ws, hello


OPEN_ERRORS = (OSError, WebSocketException, NotWelcome)


def _failure_kind(exc: BaseException) -> str:
    """Refused, closed (by the server, before `connected`) or timed out; "other" is the client's own trouble."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError | WebSocketException | NotWelcome):
        return "closed"
    return "other"  # e.g. EMFILE: raise `ulimit -n`


async def _wait_for(condition: Callable[[], bool], tasks: Iterable[asyncio.Task]) -> str | None:
    """Poll until `condition()` holds; the first task error instead, if a task fails first."""
    while not condition():
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception():
                return repr(task.exception())
        await asyncio.sleep(0.05)
    return None


async def _recv(pipe: Connection) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


# (a) Connect storm: client processes --------------------------------------------------------------


@dataclass
class StormTally:
    """What one client process saw of a connect storm."""

    connected_at: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)  # one error message per kind, for the report


async def _storm_client(url: str, timeout: float, tally: StormTally, opened: list[ClientConnection]) -> None:
    try:
        ws, _ = await _open(url, timeout)
    except OPEN_ERRORS as exc:
        kind = _failure_kind(exc)
        tally.failures[kind] += 1
        tally.samples.setdefault(kind, repr(exc))
        return
    tally.connected_at.append(time.time())
    opened.append(ws)


async def _connect_storm_main(count: int, url: str, timeout: float, pipe: Connection) -> None:
    pipe.send(("ready", None))
    await _recv(pipe)  # "go": every process starts at the same moment
    tally, opened = StormTally(), []
    await asyncio.gather(*(_storm_client(url, timeout, tally, opened) for _ in range(count)))
    pipe.send(("connected", tally))
    await _recv(pipe)  # "close"
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    pipe.send(("closed", None))


def _connect_storm_process(count: int, url: str, timeout: float, pipe: Connection) -> None:
    asyncio.run(_connect_storm_main(count, url, timeout, pipe))


# (b) Reconnect storm: client processes ------------------------------------------------------------


@dataclass
class IdWatch:
    """One client's view of the deployment's event ids: every id after its first `connected.last_id`, once."""

    baseline: int | None = None  # `connected.last_id` on gateway A
    last: int = 0  # the newest id received: what the client resumes from
    through: int = 0  # every id in (baseline, through] has arrived
    seen: set[int] = field(default_factory=set)
    doubled: int = 0
    last_at_kill: int = 0
    target: int | None = None  # B's `connected.last_id`: the newest id when the client came back
    reconnected_at: float | None = None
    caught_up_at: float | None = None  # when every id through `target` had arrived
    replay_over: bool = False  # `connected` from B with ?since=, or `resumed` for the command
    replay_left: int = 0  # replayed events still to come after `connected` (?since=)
    settled: bool = False  # a live event arrived after the replay: nothing can fill a gap any more
    replayed: int | None = None
    complete: bool | None = None
    failures: Counter = field(default_factory=Counter)  # reconnects to B that failed (and were retried)
    warm_failures: Counter = field(default_factory=Counter)  # connects to A that failed (and were retried)
    errors: Counter = field(default_factory=Counter)  # `error` replies by code (e.g. history_unavailable)

    def start(self, last_id: int) -> None:
        self.baseline = self.last = self.through = last_id

    def event(self, event_id: int, now: float) -> None:
        if self.replay_over:
            # With ?since= the replay follows `connected` (it says how long it is); after `resumed`
            # every event is live.
            self.settled = self.settled or self.replay_left == 0
            self.replay_left = max(self.replay_left - 1, 0)
        if event_id in self.seen:
            self.doubled += 1
            return
        self.seen.add(event_id)
        self.last = max(self.last, event_id)
        while self.through + 1 in self.seen:
            self.through += 1
        self._check_caught_up(now)

    def rejoined(self, data: dict[str, Any], now: float, *, by_command: bool) -> None:
        self.target, self.reconnected_at = data["last_id"], now
        if not by_command:  # a gateway that ignores ?since= sends neither field
            self.replayed, self.complete, self.replay_over = data.get("replayed"), data.get("complete"), True
            self.replay_left = self.replayed or 0
        self._check_caught_up(now)

    def resumed(self, data: dict[str, Any]) -> None:
        self.replayed, self.complete, self.replay_over = data["replayed"], data["complete"], True

    def refused(self, code: str) -> None:
        """An `error` reply: after a reconnect, the resume failed (e.g. history_unavailable); no replay will come."""
        self.errors[code] += 1
        if self.reconnected_at is not None and not self.replay_over:
            self.complete, self.replay_over = False, True

    def lost(self) -> int:
        """Ids after the baseline, up to the newest received, that never arrived."""
        return self.last - self.baseline - sum(1 for event_id in self.seen if event_id > self.baseline)

    def report(self) -> dict[str, Any]:
        names = ("reconnected_at", "caught_up_at", "replayed", "complete", "settled", "doubled", "target")
        return {name: getattr(self, name) for name in names} | {
            "lost": self.lost(),
            "missed": (self.target - self.last_at_kill) if self.target is not None else None,
            "failures": self.failures,
            "warm_failures": self.warm_failures,
            "errors": self.errors,
        }

    def _check_caught_up(self, now: float) -> None:
        if self.caught_up_at is None and self.target is not None and self.through >= self.target:
            self.caught_up_at = now


async def _read(ws: ClientConnection, watch: IdWatch) -> None:
    """Take every message until the connection ends."""
    try:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("id") is not None:
                watch.event(message["id"], time.time())
            elif message.get("type") == "resumed":
                watch.resumed(message["data"])
            elif message.get("type") == "error":
                watch.refused(message["data"]["code"])
    except ConnectionClosed:
        pass  # gateway A was killed (1006), or this process is being torn down


async def _reconnect(watch: IdWatch, url_b: str, timeout: float, by_command: bool) -> ClientConnection:
    """Back at once on gateway B from the last id received; failed attempts are counted and tried again."""
    while True:
        url = url_b if by_command else f"{url_b}&since={watch.last}"
        try:
            ws, hello = await _open(url, timeout)
            break
        except OPEN_ERRORS as exc:
            watch.failures[_failure_kind(exc)] += 1
            await asyncio.sleep(RETRY_DELAY_S)
    watch.rejoined(hello["data"], time.time(), by_command=by_command)
    if by_command:
        await ws.send(json.dumps({"command": "resume", "since": watch.last}))
    return ws


async def _warm_open(
    watch: IdWatch, url: str, timeout: float, gate: asyncio.Semaphore
) -> tuple[ClientConnection, dict[str, Any]]:
    """The connection to gateway A, before the storm: a few attempts, counted."""
    async with gate:
        for attempt in range(1, WARM_ATTEMPTS + 1):
            try:
                return await _open(url, timeout)
            except OPEN_ERRORS as exc:
                watch.warm_failures[_failure_kind(exc)] += 1
                if attempt == WARM_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)


async def _resuming_client(
    watch: IdWatch, urls: tuple[str, str], timeout: float, by_command: bool, gate: asyncio.Semaphore
) -> None:
    ws, hello = await _warm_open(watch, urls[0], timeout, gate)
    watch.start(hello["data"]["last_id"])
    await _read(ws, watch)
    watch.last_at_kill = watch.last
    await _read(await _reconnect(watch, urls[1], timeout, by_command), watch)


async def _reconnect_storm_main(
    count: int, urls: tuple[str, str], timeout: float, by_command: bool, pipe: Connection
) -> None:
    watches = [IdWatch() for _ in range(count)]
    gate = asyncio.Semaphore(WARM_CONCURRENCY)
    tasks = [asyncio.create_task(_resuming_client(watch, urls, timeout, by_command, gate)) for watch in watches]
    error = await _wait_for(lambda: all(watch.baseline is not None for watch in watches), tasks)
    pipe.send(("failed", error) if error else ("ready", None))
    collect = asyncio.create_task(_recv(pipe))
    settled = asyncio.create_task(_wait_for(lambda: all(watch.settled for watch in watches), tasks))
    await asyncio.wait({collect, settled}, return_when=asyncio.FIRST_COMPLETED)
    if settled.done():
        pipe.send(("done", settled.result()))
    await collect
    settled.cancel()
    errors = [repr(task.exception()) for task in tasks if task.done() and not task.cancelled() and task.exception()]
    pipe.send(("result", {"clients": [watch.report() for watch in watches], "errors": errors[:3]}))
    for task in tasks:
        task.cancel()


def _reconnect_storm_process(
    count: int, urls: tuple[str, str], timeout: float, by_command: bool, pipe: Connection
) -> None:
    asyncio.run(_reconnect_storm_main(count, urls, timeout, by_command, pipe))


# The emitter (a separate process) -----------------------------------------------------------------


def emit_forever(rate: float) -> None:
    """Emit one `system_alert`, print EMITTING, wait for a line on stdin, then emit at `rate` per second.

    The clients connect to gateway A in between: a first event gives them a `connected.last_id`
    other than 0, and A's connect storm is not measured, so it need not compete with the fan-out.
    """
    import django

    django.setup()
    from gamification.events import emit

    def alert(index: int) -> None:
        emit("system_alert", {"level": "info", "message": f"storm event {index}", "source": "bench-storm"})

    alert(0)
    print(EMITTING, flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    index = 1
    while True:
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        alert(index)
        index += 1


def _start_emitter(env: dict[str, str], rate: float, log: Path) -> subprocess.Popen:
    """The emitter, once its first event has an id (a client's `connected.last_id` is then never 0)."""
    argv = [sys.executable, __file__, "--emit", str(rate)]
    with open(log, "ab") as errors:
        emitter = subprocess.Popen(
            argv, cwd=PROJECT_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    if emitter.stdout.readline().strip() != EMITTING:
        stop(emitter)
        raise SystemExit(f"the emitter failed (see {log})")
    return emitter


# Orchestration ------------------------------------------------------------------------------------


Workers = list[tuple[mp.Process, Connection]]


def _start_workers(target: Callable[..., None], clients: int, procs: int, *args: Any) -> Workers:
    """`clients` spread over `procs` spawned processes, each running `target(count, *args, pipe)`."""
    ctx = mp.get_context("spawn")
    workers = []
    for index in range(min(procs, clients)):
        count = clients // procs + (1 if index < clients % procs else 0)
        parent, child = ctx.Pipe()
        process = ctx.Process(target=target, args=(count, *args, child), daemon=True)
        process.start()
        workers.append((process, parent))
    return workers


def _expect(workers: Workers, kind: str) -> list[Any]:
    """One message of `kind` from every worker, in order."""
    values = []
    for _, pipe in workers:
        got, value = pipe.recv()
        if got != kind:
            raise SystemExit(f"a client process sent {got!r} instead of {kind!r}: {value}")
        values.append(value)
    return values


def _send_all(workers: Workers, message: str) -> None:
    for _, pipe in workers:
        pipe.send(message)


def _join(workers: Workers) -> None:
    for process, _ in workers:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def connect_storm(*, url: str, server_pid: int, clients: int, procs: int, timeout: float) -> dict[str, Any]:
    """(a) N clients connect at once; wall time until all have `connected`, server CPU per connection."""
    server_process = psutil.Process(server_pid)
    workers = _start_workers(_connect_storm_process, clients, procs, url, timeout)
    _expect(workers, "ready")
    _wait_until_idle([server_process])  # the previous storm's clean-up must not count against this one
    cpu_before, started = _cpu([server_process]), time.time()
    _send_all(workers, "go")
    tallies: list[StormTally] = _expect(workers, "connected")
    _send_all(workers, "close")
    _expect(workers, "closed")
    _wait_until_idle([server_process])  # the server's own clean-up after the closes counts too
    cpu = _cpu([server_process]) - cpu_before
    _join(workers)
    times = sorted(moment - started for tally in tallies for moment in tally.connected_at)
    failures: Counter = sum((tally.failures for tally in tallies), Counter())
    return {
        "clients": clients,
        "connected": len(times),
        "wall_s": times[-1] if times else float("nan"),
        "p50_s": statistics.median(times) if times else float("nan"),
        "cpu_ms_per_connection": cpu / clients * 1000,
        "failures": failures,
        "samples": {kind: sample for tally in tallies for kind, sample in tally.samples.items()},
    }


def _await_done(workers: Workers, timeout: float) -> None:
    """Until every client process says all its clients settled, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    pending = [pipe for _, pipe in workers]
    while pending and time.monotonic() < deadline:
        for pipe in list(pending):
            if pipe.poll(0.02):
                pipe.recv()  # ("done", None)
                pending.remove(pipe)


@dataclass(frozen=True)
class Deployment:
    """What every process of the run shares: the environment (Redis, database, key), a token, the log folder."""

    env: dict[str, str]
    token: str
    workdir: Path


def reconnect_storm(
    *, deployment: Deployment, gateway_b: tuple[int, int], clients: int, args: argparse.Namespace, by_command: bool
) -> dict[str, Any]:
    """(b) N clients on gateway A, A killed, all back on B from their last id: lost, doubled, time to catch up."""
    env, token, workdir = deployment.env, deployment.token, deployment.workdir
    pid_b, port_b = gateway_b
    url_b = _with_token(f"ws://127.0.0.1:{port_b}{WS_PATH}", token)
    b_process = psutil.Process(pid_b)
    emitter = _start_emitter(env, EVENT_RATE, workdir / "emitter.log")
    try:
        with server(GATEWAY_ARGV, env, PROJECT_DIR, workdir / "daphne-a.log") as (pid_a, port_a):
            urls = (_with_token(f"ws://127.0.0.1:{port_a}{WS_PATH}", token), url_b)
            workers = _start_workers(
                _reconnect_storm_process, clients, args.client_procs, urls, args.open_timeout, by_command
            )
            _expect(workers, "ready")
            _wait_until_idle([b_process])
            emitter.stdin.write("go\n")  # events flow from now on
            emitter.stdin.flush()
            time.sleep(args.before_kill)
            cpu_before, killed = _cpu([b_process]), time.time()
            os.kill(pid_a, signal.SIGKILL)
            _await_done(workers, args.settle_timeout)
            cpu_b = _cpu([b_process]) - cpu_before
            _send_all(workers, "collect")
            reports = _expect(workers, "result")
            _join(workers)
    finally:
        stop(emitter)
        emitter.stdin.close()
        emitter.stdout.close()
    return _reconnect_figures(reports, clients=clients, killed=killed, cpu_b=cpu_b)


def _reconnect_figures(reports: list[dict[str, Any]], *, clients: int, killed: float, cpu_b: float) -> dict[str, Any]:
    rows = [row for report in reports for row in report["clients"]]
    back = sorted(row["reconnected_at"] - killed for row in rows if row["reconnected_at"] is not None)
    caught_up = sorted(row["caught_up_at"] - killed for row in rows if row["caught_up_at"] is not None)
    missed = [row["missed"] for row in rows if row["missed"] is not None]
    return {
        "clients": clients,
        "back": len(back),
        "back_max_s": back[-1] if len(back) == clients else float("nan"),
        "caught_up": len(caught_up),
        "caught_up_p50_s": statistics.median(caught_up) if caught_up else float("nan"),
        "caught_up_max_s": caught_up[-1] if len(caught_up) == clients else float("nan"),
        "settled": sum(row["settled"] for row in rows),
        "missed_mean": statistics.mean(missed) if missed else float("nan"),
        "replayed": sum(row["replayed"] or 0 for row in rows),
        "lost": sum(row["lost"] for row in rows),
        "lost_clients": sum(row["lost"] > 0 for row in rows),
        "doubled": sum(row["doubled"] for row in rows),
        "doubled_clients": sum(row["doubled"] > 0 for row in rows),
        "complete_true": sum(row["complete"] is True for row in rows),
        "no_resume_fields": sum(row["complete"] is None for row in rows),
        "failures": sum((row["failures"] for row in rows), Counter()),
        "warm_failures": sum((row["warm_failures"] for row in rows), Counter()),
        "error_replies": sum((row["errors"] for row in rows), Counter()),
        "b_cpu_s": cpu_b,
        "errors": [error for report in reports for error in report["errors"]],
    }


# Output -------------------------------------------------------------------------------------------

SEED = "baseline (seed, uvicorn)"
BARE = "floor (bare websockets)"
OURS = "gateway (daphne, token)"
SINCE = "?since="
COMMAND = "resume command"


def _failures(failures: Counter) -> str:
    return "/".join(str(failures.get(kind, 0)) for kind in FAILURE_KINDS)


def _median(runs: list[dict[str, Any]], name: str) -> float:
    return statistics.median(figures[name] for figures in runs)


def print_connect_run(label: str, round_: int, figures: dict[str, Any]) -> None:
    print(
        f"connect storm {figures['clients']:>5} clients  {label:<24} round {round_}:"
        f" {figures['connected']}/{figures['clients']} connected, all in {figures['wall_s']:.2f} s"
        f" (p50 {figures['p50_s']:.2f} s), server CPU {figures['cpu_ms_per_connection']:.2f} ms/connection,"
        f" failures refused/closed/timeout/other {_failures(figures['failures'])}",
        flush=True,
    )
    for kind, sample in figures["samples"].items():
        print(f"    {kind}, e.g.: {sample}", flush=True)


def print_connect_table(results: dict[int, dict[str, list[dict[str, Any]]]]) -> None:
    print("\n(a) Connect storm: N clients at once; medians over the rounds\n")
    print(
        "| clients | server | connected (worst round) | all connected, s | p50, s | server CPU ms/connection"
        " | failures refused/closed/timeout/other (all rounds) |"
    )
    print("|---|---|---|---|---|---|---|")
    for clients, by_server in results.items():
        for label, runs in by_server.items():
            failures = sum((figures["failures"] for figures in runs), Counter())
            print(
                f"| {clients} | {label} | {min(f['connected'] for f in runs)}/{clients}"
                f" | {_median(runs, 'wall_s'):.2f} | {_median(runs, 'p50_s'):.2f}"
                f" | {_median(runs, 'cpu_ms_per_connection'):.2f} | {_failures(failures)} |"
            )
        for other, name in ((SEED, "baseline"), (BARE, "floor")):
            if other in by_server and OURS in by_server:
                theirs, ours = by_server[other], by_server[OURS]
                names = ("wall_s", "p50_s", "cpu_ms_per_connection")
                ratio = [_median(ours, name) / _median(theirs, name) for name in names]
                print(f"| {clients} | **ratio ours/{name}** | | " + " | ".join(f"{r:.2f}" for r in ratio) + " | |")


def print_reconnect_run(mode: str, round_: int, figures: dict[str, Any]) -> None:
    clients = figures["clients"]
    print(
        f"reconnect storm {clients:>5} clients  {mode:<14} round {round_}: back {figures['back']}/{clients}"
        f" (all in {figures['back_max_s']:.2f} s), caught up {figures['caught_up']}/{clients}"
        f" (p50 {figures['caught_up_p50_s']:.2f} s, all in {figures['caught_up_max_s']:.2f} s), lost"
        f" {figures['lost']} ({figures['lost_clients']} clients), doubled {figures['doubled']}"
        f" ({figures['doubled_clients']} clients), complete:true {figures['complete_true']}/{clients},"
        f" B CPU {figures['b_cpu_s']:.2f} s",
        flush=True,
    )
    if figures["settled"] < clients:
        print(f"    only {figures['settled']}/{clients} clients had a live event after their replay in time")
    if mode == SINCE and figures["no_resume_fields"]:
        print(
            f"    B's `connected` had no `replayed`/`complete` for {figures['no_resume_fields']} clients:"
            " this gateway ignores ?since= (it predates the resume on connect)"
        )
    if figures["warm_failures"]:
        print(f"    connects to A before the kill that failed (retried), by kind: {dict(figures['warm_failures'])}")
    if figures["error_replies"]:
        print(f"    `error` replies by code: {dict(figures['error_replies'])}")
    for error in figures["errors"]:
        print(f"    client error: {error}")


def print_reconnect_table(results: dict[int, dict[str, list[dict[str, Any]]]], seed_wall: dict[int, float]) -> None:
    print(
        f"\n(b) Reconnect storm: N clients on daphne A at {EVENT_RATE:g} ev/s, A killed (SIGKILL), every client"
        " back at once on daphne B from its last id; times from the kill\n"
    )
    print(
        "| clients | resume by | round | back, all s | caught up p50 / all, s | caught up | missed per client"
        " | replayed | lost (clients) | doubled (clients) | complete: true | reconnect failures r/c/t/o"
        " | B CPU s (live events included) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for clients, by_mode in results.items():
        for mode, runs in by_mode.items():
            for round_, f in enumerate(runs, 1):
                print(
                    f"| {clients} | {mode} | {round_} | {f['back_max_s']:.2f} | {f['caught_up_p50_s']:.2f} /"
                    f" {f['caught_up_max_s']:.2f} | {f['caught_up']}/{clients} | {f['missed_mean']:.1f}"
                    f" | {f['replayed']} | {f['lost']} ({f['lost_clients']}) | {f['doubled']} ({f['doubled_clients']})"
                    f" | {f['complete_true']}/{clients} | {_failures(f['failures'])} | {f['b_cpu_s']:.2f} |"
                )
    print()
    for clients, by_mode in results.items():
        for mode, runs in by_mode.items():
            print(_reconnect_verdict(clients, mode, runs, seed_wall.get(clients)))


def _reconnect_verdict(clients: int, mode: str, runs: list[dict[str, Any]], seed_wall: float | None) -> str:
    """The catch-up time (median over the rounds) against the baseline's plain connect storm of as many clients."""
    behind = [figures["caught_up"] for figures in runs if figures["caught_up"] < clients]
    if behind:
        return (
            f"=> {clients} clients, resume by {mode}: {len(behind)} of {len(runs)} rounds left clients behind"
            f" (worst: {min(behind)}/{clients} caught up): no catch-up time"
        )
    caught_up = _median(runs, "caught_up_max_s")
    line = f"=> {clients} clients, resume by {mode}: all caught up {caught_up:.2f} s after the kill"
    line += f" (median of {len(runs)})"
    if seed_wall:
        line += f" = {caught_up / seed_wall:.2f} x the baseline's plain connect storm of {clients} ({seed_wall:.2f} s)"
    return line


# Main ---------------------------------------------------------------------------------------------


def run_connect_storms(
    deployment: Deployment, servers: dict[str, tuple[int, int]], clients: int, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """(a) for each server, alternately, `args.rounds` times."""
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in servers}
    for round_ in range(1, args.rounds + 1):
        for label, (pid, port) in servers.items():
            url = f"ws://127.0.0.1:{port}{WS_PATH}"
            figures = connect_storm(
                url=_with_token(url, deployment.token) if label == OURS else url,
                server_pid=pid,
                clients=clients,
                procs=args.client_procs,
                timeout=args.open_timeout,
            )
            results[label].append(figures)
            print_connect_run(label, round_, figures)
    return results


def run_reconnect_storms(
    deployment: Deployment, gateway_b: tuple[int, int], clients: int, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """(b) `args.rounds` times (alternating with the resume command, if asked), each with a fresh gateway A."""
    modes = {SINCE: False, COMMAND: True} if args.resume_command else {SINCE: False}
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for round_ in range(1, args.rounds + 1):
        for mode, by_command in modes.items():
            figures = reconnect_storm(
                deployment=deployment, gateway_b=gateway_b, clients=clients, args=args, by_command=by_command
            )
            results[mode].append(figures)
            print_reconnect_run(mode, round_, figures)
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 clients, one round, a 2 s run before the kill")
    parser.add_argument("--clients", type=int, nargs="+", help="N (default: 1000 5000; 100 with --quick)")
    parser.add_argument("--rounds", type=int, help="alternations per N (default 3; 1 with --quick)")
    parser.add_argument("--only", nargs="+", choices=("connect", "reconnect"), default=["connect", "reconnect"])
    parser.add_argument("--resume-command", action="store_true", help="(b) also with the `resume` command")
    parser.add_argument("--before-kill", type=float, help=f"(b) seconds of events before A dies ({BEFORE_KILL_S:g})")
    parser.add_argument("--settle-timeout", type=float, default=SETTLE_TIMEOUT_S, help="(b) seconds after the kill")
    parser.add_argument("--open-timeout", type=float, default=OPEN_TIMEOUT_S, help="seconds per connection")
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--seed-venv", default="/work/seedvenv")
    parser.add_argument("--seed-dir", default=str(SEED_DIR), help="the folder of seed_peer.py (from another worktree)")
    parser.add_argument("--emit", type=float, metavar="RATE", help=argparse.SUPPRESS)  # the emitter process
    args = parser.parse_args()
    args.clients = args.clients or (QUICK_CLIENTS if args.quick else FULL_CLIENTS)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.before_kill is None:
        args.before_kill = 2.0 if args.quick else BEFORE_KILL_S
    return args


def main() -> None:
    args = parse_args()
    if args.emit:
        emit_forever(args.emit)
        return
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers and client processes
    workdir = Path(tempfile.mkdtemp(prefix="conductor-storm-"))
    env = bench_environment(workdir)
    deployment = Deployment(env=env, token=bench_token(env), workdir=workdir)
    seed_argv = [f"{args.seed_venv}/bin/uvicorn", "seed_peer:app", "--port", "{port}", "--no-access-log"]
    connect: dict[int, dict[str, list[dict[str, Any]]]] = {}
    reconnect: dict[int, dict[str, list[dict[str, Any]]]] = {}
    with (
        server(seed_argv, env, Path(args.seed_dir), workdir / "seed.log") as seed,
        server(bare_argv(env), env, PROJECT_DIR, workdir / "bare.log") as bare,
        # Our gateway of (a) is also gateway B of (b): the survivor the clients come back to.
        server(GATEWAY_ARGV, env, PROJECT_DIR, workdir / "daphne-b.log") as ours,
    ):
        print(f"logs in {workdir}; {psutil.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
        for clients in args.clients:
            if "connect" in args.only:
                servers = {SEED: seed, BARE: bare, OURS: ours}
                connect[clients] = run_connect_storms(deployment, servers, clients, args)
            if "reconnect" in args.only:
                reconnect[clients] = run_reconnect_storms(deployment, ours, clients, args)
    if connect:
        print_connect_table(connect)
    if reconnect:
        seed_wall = {clients: _median(by_server[SEED], "wall_s") for clients, by_server in connect.items()}
        print_reconnect_table(reconnect, seed_wall)


if __name__ == "__main__":
    main()
