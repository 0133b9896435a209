"""Side-by-side fan-out benchmark: the baseline (../shared/bench/seed_peer.py) and the floor vs our gateway.

Starts a private Redis, a throwaway SQLite database with a `bench` user, the baseline under its
own virtualenv's uvicorn, the floor (bench/bare_peer.py: a bare `websockets` server that only
broadcasts the same frames, fed from the same Redis channel as the gateway) and our ASGI
application under daphne and under uvicorn; then runs each scenario against each server back to
back (same clients, same events) and prints the figures, then the gateway's ratios to the floor and
to the baseline: CPU per delivered frame, memory per idle connection.

    ulimit -n 20000; .venv/bin/python bench/compare.py [--quick] [--seed-venv /work/seedvenv]
    ulimit -n 20000; .venv/bin/python bench/compare.py --only seed bare daphne --hold 8000
"""

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import PROJECT_DIR, format_run, hold, run  # noqa: E402
from devserver.embedded_redis import start_private_server  # noqa: E402
from devserver.gateway import daphne_argv  # noqa: E402
from tests.processes import UVICORN_ARGS, free_port, stop, wait_for_port  # noqa: E402

# ../shared/bench beside the checkout, or beside the folder of worktrees it is in.
SEED_DIR = next(
    (folder / "shared" / "bench" for folder in PROJECT_DIR.parents if (folder / "shared" / "bench").is_dir()),
    PROJECT_DIR.parent / "shared" / "bench",
)
FULL = [(1000, 100, 10.0), (5000, 40, 2.0), (10, 200, 10.0)]  # clients, events, events/s
QUICK = [(200, 20, 10.0), (10, 50, 10.0)]
BARE = "bare (websockets)"
SEED = "seed (uvicorn)"
DAPHNE = "gateway daphne"


def bare_argv(env: dict[str, str]) -> list[str]:
    """bench/bare_peer.py's command line, on the Redis channel the gateways of `env` listen on."""
    script = str(PROJECT_DIR / "bench" / "bare_peer.py")
    argv = [sys.executable, script, "--print-channel"]
    channel = subprocess.run(argv, cwd=PROJECT_DIR, env=env, check=True, capture_output=True, text=True).stdout.strip()
    return [sys.executable, script, "--port", "{port}", "--redis-url", env["REDIS_URL"], "--channel", channel]


def print_ratios(label: str, figures: dict[str, dict[str, float]], name: str, unit: str) -> None:
    """The gateway's `name` against the floor's and the baseline's, measured in this run."""
    ours = figures.get(DAPHNE, {}).get(name)
    if not ours:
        return
    parts = [f"daphne {ours:{unit}}"]
    for other in (BARE, SEED):
        theirs = figures.get(other, {}).get(name)
        if theirs:
            parts.append(f"{other.split()[0]} {theirs:{unit}} (daphne/{other.split()[0]} {ours / theirs:.2f}x)")
    print(f"=> {label}: " + ", ".join(parts), flush=True)


@contextmanager
def server(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in argv]
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process)
            yield process.pid, port
        finally:
            stop(process)


def bench_environment(workdir: Path) -> dict[str, str]:
    """Private Redis, a migrated SQLite database with a `bench` user; the environment for every process."""
    # A throwaway stack: a key of its own (DEBUG off refuses to start without one), given as SECRET_KEY
    # to every process, this one included (its emitter), so no SECRET_KEY_FILE may linger beside it.
    os.environ.pop("SECRET_KEY_FILE", None)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "conductor.settings.base",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "REDIS_URL": start_private_server(),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "CHANNEL_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "GAMIFICATION_WS_MAX_PER_USER": "0",  # every client is the one `bench` user
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True)
    create_user = (
        "import django; django.setup(); from django.contrib.auth.models import User; User.objects.create_user('bench')"
    )
    subprocess.run([sys.executable, "-c", create_user], cwd=PROJECT_DIR, env=env, check=True)
    return env


def bench_token(env: dict[str, str]) -> str:
    argv = [sys.executable, "manage.py", "ws_token", "bench", "--ttl", "86400"]
    return subprocess.run(argv, cwd=PROJECT_DIR, env=env, check=True, capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the harness")
    parser.add_argument("--seed-venv", default="/work/seedvenv")
    parser.add_argument("--seed-dir", default=str(SEED_DIR), help="the folder of seed_peer.py (from another worktree)")
    parser.add_argument("--hold", type=int, default=10000, help="idle connections for the RSS figure (0: skip)")
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--only", nargs="*", default=["seed", "bare", "daphne", "uvicorn"])
    parser.add_argument("--scenario", nargs=3, type=float, action="append", metavar=("CLIENTS", "EVENTS", "RATE"))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    workdir = Path(tempfile.mkdtemp(prefix="conductor-bench-"))
    env = bench_environment(workdir)
    os.environ.update(
        {
            key: env[key]
            for key in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "REDIS_URL", "DATABASE_URL", "CHANNEL_PREFIX")
        }
    )
    token = bench_token(env)

    servers = {
        SEED: (
            [f"{args.seed_venv}/bin/uvicorn", "seed_peer:app", "--port", "{port}", "--no-access-log"],
            Path(args.seed_dir),
        ),
        BARE: (bare_argv(env), PROJECT_DIR),
        DAPHNE: (daphne_argv(sys.executable, host="127.0.0.1", port="{port}"), PROJECT_DIR),
        "gateway uvicorn": (
            [sys.executable, "-m", "uvicorn", "--port", "{port}", *UVICORN_ARGS, "conductor.asgi:application"],
            PROJECT_DIR,
        ),
    }
    servers = {label: spec for label, spec in servers.items() if any(name in label for name in args.only)}
    with ExitStack() as stack:
        running = {
            label: stack.enter_context(
                server(argv, env, cwd, workdir / f"{label.split()[1 if 'gateway' in label else 0]}.log")
            )
            for label, (argv, cwd) in servers.items()
        }
        print(f"logs in {workdir}", flush=True)
        scenarios = [(int(c), int(e), r) for c, e, r in args.scenario] if args.scenario else None
        for clients, events, rate in scenarios or (QUICK if args.quick else FULL):
            by_server: dict[str, dict[str, float]] = {}
            for label, (pid, port) in running.items():
                seed = label.startswith("seed")
                figures = run(
                    url=f"ws://127.0.0.1:{port}/ws/gamification",
                    token=token,
                    gateway_pid=pid,
                    clients=clients,
                    events=events,
                    rate=rate,
                    client_procs=min(args.client_procs, clients),
                    seed_emit=f"http://127.0.0.1:{port}/emit" if seed else None,
                )
                print(format_run(label, figures), flush=True)
                by_server[label] = figures
                time.sleep(2)
            print_ratios(f"CPU per 1,000 delivered frames, {clients} clients", by_server, "cpu_s_per_1000", ".4f")
        if args.hold:
            held: dict[str, dict[str, float]] = {}
            for label, (pid, port) in running.items():
                figures = hold(
                    url=f"ws://127.0.0.1:{port}/ws/gamification",
                    token=token,
                    gateway_pid=pid,
                    clients=args.hold,
                    client_procs=args.client_procs,
                )
                print(
                    f"{label:<28} holding {figures['clients']} idle: RSS {figures['rss_mb']:.0f} MB "
                    f"(before {figures['rss_before_mb']:.0f} MB, {figures['kb_per_connection']:.1f} KB/connection)",
                    flush=True,
                )
                held[label] = figures
                time.sleep(3)
            print_ratios(f"idle memory per connection, {args.hold} held, KB", held, "kb_per_connection", ".1f")


if __name__ == "__main__":
    main()
