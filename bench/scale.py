"""Scale-out figures: the same clients and events through nginx in front of one, then two, daphne gateway
processes, in one run; and what one gateway process holds.

    ulimit -n 20000; .venv/bin/python bench/scale.py            # the full run (minutes; on a quiet machine)
    .venv/bin/python bench/scale.py --quick                     # small sizes: checks the harness in a minute

Starts a private Redis, a throwaway SQLite database with a `bench` user (as bench/compare.py does),
two daphne gateways A and B, and two nginx running deploy/nginx.conf (rendered by
tests/deploy/nginx.py): "one" in front of A alone, "two" in front of A and B. Each scenario runs
through "one" and "two" alternately for `--rounds` rounds with bench/fanout.py (clients spread over
client processes, events emitted from another process, latency = receive time - the event's
timestamp). Then:

- the two-vs-one ratio of deliveries/s and of p99 (medians over the rounds), per scenario;
- what one gateway process holds: idle connections per GB of RSS (`--hold` idle clients on A),
  and deliveries per second per core (1,000 / the gateway CPU seconds per 1,000 deliveries in the
  "one" runs);
- where the CPU went during the emission (gateways, nginx, the whole machine's busy share), which
  says what bounds the ratio: on a machine whose cores are all busy, a second gateway process
  only shares them.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import bench_environment, bench_token, server  # noqa: E402
from bench.fanout import PROJECT_DIR, format_run, hold, run  # noqa: E402
from devserver.gateway import daphne_argv  # noqa: E402
from tests.deploy.nginx import nginx  # noqa: E402

FULL = [(1000, 100, 10.0), (2000, 60, 20.0)]  # clients, events, events/s
QUICK = [(100, 20, 10.0)]
GB_KB = 2**20


@contextmanager
def front(gateway_ports: list[int], workdir: Path) -> Iterator[tuple[int, list[int]]]:
    """nginx with deploy/nginx.conf in front of `gateway_ports`; yields its port and its worker pids."""
    with nginx(gateway_ports=gateway_ports, workdir=workdir) as (process, port):
        yield port, [child.pid for child in psutil.Process(process.pid).children()]


def median(runs: list[dict[str, Any]], name: str) -> float:
    return statistics.median(figures[name] for figures in runs)


def print_ratio(scenario: str, one: list[dict[str, Any]], two: list[dict[str, Any]]) -> None:
    """The two-vs-one gateway ratio of deliveries/s and p99 (medians over the rounds)."""
    rate_one, rate_two = median(one, "deliveries_per_s"), median(two, "deliveries_per_s")
    p99_one, p99_two = median(one, "p99_ms"), median(two, "p99_ms")
    delivered = {
        label: (sum(f["delivered"] for f in runs), sum(f["expected"] for f in runs))
        for label, runs in (("one", one), ("two", two))
    }
    print(
        f"=> {scenario}, medians of {len(one)}: deliveries/s one {rate_one:.0f}, two {rate_two:.0f}:"
        f" ratio two/one {rate_two / rate_one:.2f}; p99 one {p99_one:.1f} ms, two {p99_two:.1f} ms:"
        f" ratio two/one {p99_two / p99_one:.2f}; delivered one {delivered['one'][0]}/{delivered['one'][1]},"
        f" two {delivered['two'][0]}/{delivered['two'][1]}",
        flush=True,
    )


def print_where_the_cpu_went(label: str, runs: list[dict[str, Any]]) -> None:
    gateway = median(runs, "gateway_cpu_s")
    proxy = statistics.median(figures["watched_cpu_s"]["nginx"] for figures in runs)
    busy = median(runs, "machine_busy")
    cores = psutil.cpu_count()
    print(
        f"  {label}: gateway CPU {gateway:.2f} s, nginx CPU {proxy:.2f} s during the emission;"
        f" machine busy {busy:.0%} of {cores} cores",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the harness")
    parser.add_argument("--rounds", type=int, help="one/two alternations per scenario (default 3; 1 with --quick)")
    parser.add_argument("--hold", type=int, help="idle connections for the memory figure (default 5000; 300 quick)")
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--scenario", nargs=3, type=float, action="append", metavar=("CLIENTS", "EVENTS", "RATE"))
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    idle = args.hold if args.hold is not None else (300 if args.quick else 5000)
    scenarios = [(int(c), int(e), r) for c, e, r in args.scenario] if args.scenario else (QUICK if args.quick else FULL)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    workdir = Path(tempfile.mkdtemp(prefix="conductor-scale-"))
    env = bench_environment(workdir)
    os.environ.update(
        {key: env[key] for key in ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "DATABASE_URL", "CHANNEL_PREFIX")}
    )
    token = bench_token(env)
    daphne = daphne_argv(sys.executable, host="127.0.0.1", port="{port}")
    with ExitStack() as stack:
        (pid_a, port_a), (pid_b, port_b) = (
            stack.enter_context(server(daphne, env, PROJECT_DIR, workdir / f"daphne-{name}.log")) for name in "ab"
        )
        fronts = {
            "one": (stack.enter_context(front([port_a], workdir / "nginx-one")), [pid_a]),
            "two": (stack.enter_context(front([port_a, port_b], workdir / "nginx-two")), [pid_a, pid_b]),
        }
        print(f"logs in {workdir}; {psutil.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
        for clients, events, rate in scenarios:
            results: dict[str, list[dict[str, Any]]] = {"one": [], "two": []}
            for _ in range(rounds):
                for label, ((port, nginx_pids), gateway_pids) in fronts.items():
                    figures = run(
                        url=f"ws://127.0.0.1:{port}/ws/gamification",
                        token=token,
                        gateway_pid=gateway_pids,
                        clients=clients,
                        events=events,
                        rate=rate,
                        client_procs=min(args.client_procs, clients),
                        watch={"nginx": nginx_pids},
                    )
                    results[label].append(figures)
                    print(format_run(f"nginx + {label} gateway{'s' if label == 'two' else ''}", figures), flush=True)
                    time.sleep(2)
            one, two = results["one"], results["two"]
            print_ratio(f"{clients} clients x {rate:g} ev/s", one, two)
            print_where_the_cpu_went("one", one)
            print_where_the_cpu_went("two", two)
            per_core = 1000 / median(one, "cpu_s_per_1000")
            print(f"  one gateway process: {per_core:,.0f} deliveries per second per core of its CPU", flush=True)
        if idle:
            held = hold(
                url=f"ws://127.0.0.1:{port_a}/ws/gamification",
                token=token,
                gateway_pid=pid_a,
                clients=idle,
                client_procs=args.client_procs,
            )
            per_gb = GB_KB / held["kb_per_connection"] if held["kb_per_connection"] > 0 else float("nan")
            print(
                f"one gateway process holding {held['clients']} idle connections: RSS {held['rss_mb']:.0f} MB"
                f" (before {held['rss_before_mb']:.0f} MB), {held['kb_per_connection']:.1f} KB each"
                f" => {per_gb:,.0f} idle connections per GB",
                flush=True,
            )


if __name__ == "__main__":
    main()
