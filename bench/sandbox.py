"""What the command sandbox costs a short run: `["true"]` run N times through the command runner, with and without it.

Both modes go through the same CommandRunner.run (argv policy, scratch directory, prlimit with the
default limits, stdin fed, output drained, exit status read); `bwrap` adds bubblewrap's namespaces
and mounts (and, for a root worker, setpriv and unshare exec'd in turn). Modes alternate by round,
so that a load change on the machine hits both alike. Prints every round, the median time per run
of each mode, and the difference: the sandbox's cost per run.

A root worker's runs go bwrap → setpriv → unshare → prlimit → the program (docs/security.md says
why); a worker of its own user's go bwrap → prlimit → the program. `--unprivileged-line` makes a root
benchmark use the second command line (bwrap then makes the user namespace itself), to see what the
two exec'd tools cost.

    .venv/bin/python bench/sandbox.py [--runs 100] [--rounds 5] [--argv true] [--unprivileged-line]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductor.settings.base")
os.environ.setdefault("DEBUG", "true")  # the development key will do: nothing is served or stored

MODES = ("none", "bwrap")


def time_runs(mode: str, argv: list[str], runs: int) -> float:
    """Seconds per run of `argv` through the command runner in `mode`."""
    from django.test.utils import override_settings

    from councilors.runners import get_runner

    runner = get_runner("command", {"argv": argv, "timeout": 30})
    context = {"agent_id": "bench", "execution_id": "bench"}
    with override_settings(COUNCILORS_SANDBOX=mode):
        runner.run("", context)  # warm: imports, the bwrap probe, the page cache
        started = time.perf_counter()
        for _ in range(runs):
            runner.run("", context)
        return (time.perf_counter() - started) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs per mode and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--argv", nargs="+", default=["true"], help="the command to run (default: true)")
    parser.add_argument("--unprivileged-line", action="store_true", help="the command line of a non-root worker")
    options = parser.parse_args()

    import django

    django.setup()
    from councilors.runners.sandbox import bwrap, bwrap_probe, worker_is_root

    if options.unprivileged_line:
        bwrap.worker_is_root = lambda: False

    probe = bwrap_probe()
    if not probe.works:
        sys.exit(f"bubblewrap cannot run here ({probe.reason}): nothing to compare")
    line = "root's" if worker_is_root() and not options.unprivileged_line else "an unprivileged worker's"
    print(f"{options.argv} x {options.runs} per mode and round; {line} command line")
    per_run: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_ in range(options.rounds):
        for mode in MODES if round_ % 2 == 0 else reversed(MODES):
            seconds = time_runs(mode, options.argv, options.runs)
            per_run[mode].append(seconds)
            print(f"round {round_ + 1} {mode:<5} {seconds * options.runs:7.3f} s for {options.runs} runs")
    medians = {mode: statistics.median(values) for mode, values in per_run.items()}
    for mode in MODES:
        total = medians[mode] * options.runs
        print(f"median {mode:<5} {total:7.3f} s per {options.runs} runs, {medians[mode] * 1000:6.2f} ms per run")
    cost = medians["bwrap"] - medians["none"]
    print(f"the sandbox costs {cost * 1000:.2f} ms per run ({medians['bwrap'] / medians['none']:.2f}x)")


if __name__ == "__main__":
    main()
