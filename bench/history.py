"""The fan-out benchmark with the event history on and off, back to back (issue: ids and resume).

Starts a private Redis, a throwaway SQLite database with a `bench` user, and two daphne gateways
of the same application: one with GAMIFICATION_HISTORY_ENABLED on (ids assigned, events stored,
published by the history script), one with it off (ids null, plain `group_send`). Each scenario
runs against both, alternating, `--rounds` times; the emitting process gets the same setting as
the gateway it measures. Prints every run and the median per scenario and setting, and the cost of one emit from a
worker process (a blocking `emit`: the history script's EVAL vs a plain PUBLISH), measured alone.

    ulimit -n 20000; .venv/bin/python bench/history.py [--quick] [--rounds 3]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import bench_environment, bench_token, server  # noqa: E402
from bench.fanout import PROJECT_DIR, format_run, run  # noqa: E402
from devserver.gateway import daphne_argv  # noqa: E402

FULL = [(1000, 100, 10.0), (5000, 40, 2.0), (10, 200, 10.0)]  # clients, events, events/s
QUICK = [(200, 20, 10.0), (10, 50, 10.0)]
SETTINGS = {"history on": "true", "history off": "false"}
FIGURES = ("p50_ms", "p95_ms", "p99_ms", "deliveries_per_s", "cpu_s_per_1000")


def emit_cost_main(events: int, rounds: int) -> None:
    """(Runs in a child with the benchmark's environment.) Time blocking emits, history on and off."""
    import django
    from django.test.utils import override_settings

    django.setup()
    from gamification.events import emit

    data = {"level": "info", "message": "cost", "source": "bench.history"}
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds):
        for enabled in (True, False) if round_ % 2 == 0 else (False, True):
            with override_settings(GAMIFICATION_HISTORY_ENABLED=enabled):
                started = time.perf_counter()
                for _ in range(events):
                    emit("system_alert", data)
                timings[enabled].append((time.perf_counter() - started) / events * 1e6)
    for enabled, label in ((True, "history on"), (False, "history off")):
        runs = ", ".join(f"{value:.0f}" for value in timings[enabled])
        print(f"emit cost {label:<12} median {statistics.median(timings[enabled]):.0f} µs per emit ({runs})")


def main() -> None:
    if sys.argv[1:2] == ["emit-cost"]:
        emit_cost_main(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the harness")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--scenarios", help="clients:events:rate,... instead of the default set, e.g. 1000:100:10")
    parser.add_argument("--off-first", action="store_true", help="start the history-off gateway first")
    parser.add_argument("--emit-cost", type=int, default=2000, help="emits per timing of the emit cost (0: skip)")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    # Under var/ (git-ignored), not /tmp: a shared /tmp gets swept while a long benchmark runs.
    (PROJECT_DIR / "var").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-history-", dir=PROJECT_DIR / "var"))
    env = bench_environment(workdir)
    token = bench_token(env)
    daphne = daphne_argv(sys.executable, host="127.0.0.1", port="{port}")
    results: dict[tuple, list[dict]] = {}
    with ExitStack() as stack:
        running = {
            label: stack.enter_context(
                server(daphne, {**env, "GAMIFICATION_HISTORY_ENABLED": value}, PROJECT_DIR, workdir / f"{value}.log")
            )
            for label, value in (reversed(SETTINGS.items()) if args.off_first else SETTINGS.items())
        }
        print(f"logs in {workdir}", flush=True)
        scenarios = QUICK if args.quick else FULL
        if args.scenarios:
            parts = (item.split(":") for item in args.scenarios.split(","))
            scenarios = [(int(clients), int(events), float(rate)) for clients, events, rate in parts]
        for clients, events, rate in scenarios:
            for round_ in range(args.rounds):
                order = list(running.items()) if round_ % 2 == 0 else list(reversed(running.items()))
                for label, (pid, port) in order:
                    # The emitter is a child of this process: it reads the setting from our environment.
                    os.environ.update(
                        {
                            key: env[key]
                            for key in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "REDIS_URL", "CHANNEL_PREFIX")
                        }
                    )
                    os.environ["GAMIFICATION_HISTORY_ENABLED"] = SETTINGS[label]
                    try:
                        figures = run(
                            url=f"ws://127.0.0.1:{port}/ws/gamification",
                            token=token,
                            gateway_pid=pid,
                            clients=clients,
                            events=events,
                            rate=rate,
                            client_procs=min(args.client_procs, clients),
                        )
                    except SystemExit as failure:  # e.g. handshakes timing out on a loaded machine
                        print(f"{label:<28} {clients:>6} clients: run failed ({failure}); skipped", flush=True)
                        continue
                    results.setdefault((clients, events, rate, label), []).append(figures)
                    print(format_run(label, figures), flush=True)
                    time.sleep(2)
    if args.emit_cost:
        # The emitting side alone: one blocking emit = one round trip (EVAL of the history script, or PUBLISH).
        argv = [sys.executable, __file__, "emit-cost", str(args.emit_cost), str(2 * args.rounds)]
        subprocess.run(argv, cwd=PROJECT_DIR, env=env, check=True)
    print("\nmedians")
    for (clients, _events, rate, label), runs in results.items():
        medians = {name: statistics.median(figures[name] for figures in runs) for name in FIGURES}
        delivered = sum(figures["delivered"] for figures in runs)
        expected = sum(figures["expected"] for figures in runs)
        print(
            f"{label:<12} {clients:>6} clients {rate:>5g} ev/s  delivered {delivered}/{expected}"
            f"  p50 {medians['p50_ms']:.1f} p95 {medians['p95_ms']:.1f} p99 {medians['p99_ms']:.1f} ms"
            f"  {medians['deliveries_per_s']:.0f} deliveries/s  CPU {medians['cpu_s_per_1000']:.3f} s/1000"
        )


if __name__ == "__main__":
    main()
