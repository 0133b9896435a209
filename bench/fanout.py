"""Fan-out benchmark: N token-authenticated WebSocket clients, M events at R/s from another process.

Prints delivered/expected, latency percentiles (receive time minus the envelope's `timestamp`,
which the emitter stamps once), deliveries/s and the gateway's CPU seconds per 1,000 deliveries.
Run by hand against a running gateway (docs/benchmarks.md, "Fan-out: which server, daphne or uvicorn"), e.g.:

    python bench/fanout.py run --url ws://127.0.0.1:5006/ws/gamification --token "$(manage.py ws_token bench)" \
        --gateway-pid PID --clients 1000 --events 100 --rate 10
    python bench/fanout.py run ... --seed-emit http://127.0.0.1:7101/emit   # the baseline in ../shared/bench
    python bench/fanout.py hold --url ... --token ... --gateway-pid PID --clients 10000   # RSS when idle

Events go out from a separate process: through `gamification.events.emit` (it needs the gateway's
DJANGO_SETTINGS_MODULE, REDIS_URL and CHANNEL_PREFIX in the environment), or, for the baseline,
as POST /emit. Clients are spread over several processes so that the client side is not the
bottleneck; raise `ulimit -n` for thousands of them.
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import websockets

PROJECT_DIR = Path(__file__).resolve().parent.parent
OPEN_CONCURRENCY = 25  # handshakes in flight per client process
CONNECT_ATTEMPTS = 5
DRAIN_S = 20.0  # how long after the last emit deliveries may still arrive


# Clients ------------------------------------------------------------------------------------------


async def _client(url: str, tag: str, expected: int, stats: dict, ready: asyncio.Semaphore, opened: list) -> None:
    async with ready:
        for attempt in range(CONNECT_ATTEMPTS):  # a loaded 2-core machine drops some handshakes in a storm
            try:
                ws = await websockets.connect(
                    url, compression=None, ping_interval=None, open_timeout=60, max_size=2**20
                )
                hello = json.loads(await ws.recv())
                break
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException):
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        assert hello["type"] == "connected", hello
    opened.append(ws)
    received = 0
    async for raw in ws:
        now = time.time()
        message = json.loads(raw)
        if message.get("type") != "system_alert" or message["data"].get("source") != tag:
            continue
        stats["latencies"].append(now - message["timestamp"])
        stats["last"] = max(stats["last"], now)
        stats["first_emitted"] = min(stats["first_emitted"], message["timestamp"])
        received += 1
        if received == expected:
            stats["complete"] += 1
            if stats["complete"] == stats["clients"]:
                stats["all_done"].set()


async def _client_process_main(url: str, count: int, tag: str, events: int, pipe: Any) -> None:
    stats: dict[str, Any] = {"latencies": [], "last": 0.0, "first_emitted": float("inf"), "complete": 0}
    stats["clients"] = count
    stats["all_done"] = asyncio.Event()
    opened: list = []
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    tasks = [asyncio.create_task(_client(url, tag, events, stats, gate, opened)) for _ in range(count)]
    while len(opened) < count:
        failed = [task for task in tasks if task.done() and task.exception()]
        if failed:
            pipe.send(("failed", repr(failed[0].exception())))
            return
        await asyncio.sleep(0.1)
    pipe.send(("ready", count))
    loop = asyncio.get_running_loop()
    collect = loop.run_in_executor(None, pipe.recv)
    if events:
        done = asyncio.create_task(stats["all_done"].wait())
        await asyncio.wait({done, collect}, return_when=asyncio.FIRST_COMPLETED)
        if done.done():
            pipe.send(("done", None))
    await collect
    pipe.send(("result", {key: stats[key] for key in ("latencies", "last", "first_emitted")}))
    for ws in opened:
        ws.transport.abort()  # fast teardown; closing handshakes for thousands of sockets take long


def _client_process(url: str, count: int, tag: str, events: int, pipe: Any) -> None:
    asyncio.run(_client_process_main(url, count, tag, events, pipe))


def _start_clients(url: str, clients: int, procs: int, tag: str, events: int) -> list[tuple[mp.Process, Any]]:
    workers = []
    ctx = mp.get_context("spawn")
    for index in range(procs):
        count = clients // procs + (1 if index < clients % procs else 0)
        if count == 0:
            continue
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_client_process, args=(url, count, tag, events, child), daemon=True)
        process.start()
        workers.append((process, parent))
    for _, pipe in workers:
        kind, value = pipe.recv()
        if kind != "ready":
            raise SystemExit(f"a client process failed to connect: {value}")
    return workers


# Emitter (a separate process) -----------------------------------------------------------------


def emit_main(events: int, rate: float, tag: str, seed_emit: str | None) -> None:
    data = lambda i: {"level": "info", "message": f"bench event {i}", "source": tag}  # noqa: E731
    if seed_emit:
        pool = ThreadPoolExecutor(max_workers=8)  # the baseline answers after its broadcast: keep the pace

        def send(i: int) -> None:
            body = json.dumps({"type": "system_alert", "data": data(i), "timestamp": time.time()}).encode()
            request = urllib.request.Request(seed_emit, body, {"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=60).read()

        emit_one = lambda i: pool.submit(send, i)  # noqa: E731
    else:
        sys.path.insert(0, str(PROJECT_DIR))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductor.settings.base")
        import django

        django.setup()
        from gamification.events import emit

        emit_one = lambda i: emit("system_alert", data(i))  # noqa: E731
    start = time.monotonic()
    for i in range(events):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        emit_one(i)
    if seed_emit:
        pool.shutdown(wait=True)


# Orchestration ------------------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(pct * 10) - 1] if len(values) > 1 else values[0]


def _processes(pids: int | Sequence[int] | None) -> list[psutil.Process]:
    if pids is None:
        return []
    return [psutil.Process(pid) for pid in ([pids] if isinstance(pids, int) else pids)]


def _cpu(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of `processes`, summed."""
    return sum(times.user + times.system for times in (process.cpu_times() for process in processes))


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, over all cores."""
    times = psutil.cpu_times()
    total = sum(times)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def _wait_until_idle(processes: list[psutil.Process], *, below: float = 0.05, timeout: float = 120.0) -> None:
    """Wait until the gateways use less than `below` of a core over a second."""
    deadline = time.monotonic() + timeout
    while processes and time.monotonic() < deadline:
        before = _cpu(processes)
        time.sleep(1.0)
        if _cpu(processes) - before < below:
            return


def _with_token(url: str, token: str | None) -> str:
    return f"{url}{'&' if '?' in url else '?'}token={token}" if token else url


def run(
    *,
    url: str,
    token: str | None,
    gateway_pid: int | Sequence[int] | None,
    clients: int,
    events: int,
    rate: float,
    client_procs: int,
    seed_emit: str | None = None,
    watch: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """One benchmark run; returns the figures it prints.

    `gateway_pid` may name several gateway processes (behind one load balancer): their CPU is summed.
    `watch` names other processes (e.g. nginx's workers) whose CPU seconds during the emission are
    returned under `watched_cpu_s`, with the whole machine's busy share under `machine_busy`.
    """
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    gateway = _processes(gateway_pid)
    watched = {name: _processes(pids) for name, pids in (watch or {}).items()}
    _wait_until_idle(gateway)  # the previous run's disconnects must not count against this one
    workers = _start_clients(_with_token(url, token), clients, client_procs, tag, events)
    _wait_until_idle(gateway)  # nor this run's connect burst
    cpu_before, started = _cpu(gateway), time.time()
    watched_before = {name: _cpu(processes) for name, processes in watched.items()}
    machine_before = _machine_busy()
    emitter = subprocess.run(
        [sys.executable, __file__, "emit", "--events", str(events), "--rate", str(rate), "--tag", tag]
        + (["--seed-emit", seed_emit] if seed_emit else []),
        cwd=PROJECT_DIR,
    )
    if emitter.returncode:
        raise SystemExit("the emitter failed")
    deadline = time.monotonic() + DRAIN_S
    pending = {id(pipe): pipe for _, pipe in workers}
    while pending and time.monotonic() < deadline:
        for key, pipe in list(pending.items()):
            if pipe.poll(0.05):
                pipe.recv()  # "done"
                del pending[key]
    cpu_after = _cpu(gateway)
    watched_cpu = {name: _cpu(processes) - watched_before[name] for name, processes in watched.items()}
    machine_after = _machine_busy()
    latencies: list[float] = []
    last, first_emitted = started, float("inf")
    for process, pipe in workers:
        pipe.send("collect")
        kind, value = pipe.recv()
        latencies += value["latencies"]
        last = max(last, value["last"])
        first_emitted = min(first_emitted, value["first_emitted"])
        process.join(timeout=30)
    delivered, expected = len(latencies), clients * events
    ms = sorted(latency * 1000 for latency in latencies) or [float("nan")]
    return {
        "clients": clients,
        "events": events,
        "rate": rate,
        "delivered": delivered,
        "expected": expected,
        "p50_ms": _percentile(ms, 50),
        "p95_ms": _percentile(ms, 95),
        "p99_ms": _percentile(ms, 99),
        "max_ms": ms[-1],
        # From the first event's emission to the last delivery (the emitter's start-up is not counted).
        "deliveries_per_s": delivered / max(last - min(first_emitted, last), 1e-9),
        "cpu_s_per_1000": (cpu_after - cpu_before) / delivered * 1000 if delivered and gateway else float("nan"),
        "gateway_cpu_s": cpu_after - cpu_before,
        "watched_cpu_s": watched_cpu,
        "machine_busy": (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1e-9),
    }


def hold(*, url: str, token: str | None, gateway_pid: int, clients: int, client_procs: int) -> dict[str, Any]:
    """Open `clients` idle connections and report the gateway's resident memory."""
    gateway = psutil.Process(gateway_pid)
    rss_before = gateway.memory_info().rss
    workers = _start_clients(_with_token(url, token), clients, client_procs, "hold", 0)
    time.sleep(5.0)  # idle: heartbeats and GC run once
    rss = gateway.memory_info().rss
    for process, pipe in workers:
        pipe.send("collect")
        pipe.recv()
        process.join(timeout=60)
    return {
        "clients": clients,
        "rss_mb": rss / 2**20,
        "rss_before_mb": rss_before / 2**20,
        "kb_per_connection": (rss - rss_before) / clients / 1024,
    }


def format_run(label: str, figures: dict[str, Any]) -> str:
    return (
        f"{label:<28} {figures['clients']:>6} clients {figures['rate']:>5g} ev/s  delivered {figures['delivered']}"
        f"/{figures['expected']}  p50 {figures['p50_ms']:.1f} p95 {figures['p95_ms']:.1f} p99 {figures['p99_ms']:.1f}"
        f" max {figures['max_ms']:.1f} ms  {figures['deliveries_per_s']:.0f} deliveries/s"
        f"  CPU {figures['cpu_s_per_1000']:.3f} s/1000"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="mode", required=True)
    for name in ("run", "hold"):
        sub = commands.add_parser(name)
        sub.add_argument("--url", required=True, help="ws://host:port/ws/gamification")
        sub.add_argument("--token", help="a JWT from `manage.py ws_token <username>`")
        sub.add_argument("--gateway-pid", type=int, help="the gateway process, for CPU and RSS")
        sub.add_argument("--clients", type=int, default=1000)
        sub.add_argument("--client-procs", type=int, default=4)
        if name == "run":
            sub.add_argument("--events", type=int, default=100)
            sub.add_argument("--rate", type=float, default=10.0, help="events per second")
            sub.add_argument("--seed-emit", help="POST /emit URL of the baseline instead of gamification.events.emit")
    emitter = commands.add_parser("emit", help="(internal) the emitting process")
    emitter.add_argument("--events", type=int, required=True)
    emitter.add_argument("--rate", type=float, required=True)
    emitter.add_argument("--tag", required=True)
    emitter.add_argument("--seed-emit")
    args = parser.parse_args()
    if args.mode == "emit":
        emit_main(args.events, args.rate, args.tag, args.seed_emit)
    elif args.mode == "run":
        figures = run(
            url=args.url,
            token=args.token,
            gateway_pid=args.gateway_pid,
            clients=args.clients,
            events=args.events,
            rate=args.rate,
            client_procs=args.client_procs,
            seed_emit=args.seed_emit,
        )
        print(format_run("fanout", figures))
    else:
        figures = hold(
            url=args.url,
            token=args.token,
            gateway_pid=args.gateway_pid,
            clients=args.clients,
            client_procs=args.client_procs,
        )
        print(
            f"hold {figures['clients']} idle clients: gateway RSS {figures['rss_mb']:.0f} MB "
            f"(before {figures['rss_before_mb']:.0f} MB, {figures['kb_per_connection']:.1f} KB per connection)"
        )


if __name__ == "__main__":
    main()
