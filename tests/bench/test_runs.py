"""bench/runs.py works end to end on a tiny schedule: every run due starts, and it prints every figure it names.

Behaviour, not speed: the figures themselves are not checked (docs/benchmarks.md has them).
"""

import re
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
TINY = ["--databases", "sqlite", "--councilors", "4", "--clusters", "1", "--minutes", "0.1", "--grace", "60"]
FIGURE = r"[\d.]+"


def test_a_tiny_schedule_is_measured_against_stock_django_q2():
    argv = [
        *(sys.executable, "bench/runs.py", *TINY),
        *("--quiet", "3", "--quiet-ticks", "3", "--baseline", "4"),
        *("--baseline-seconds", "1", "--baseline-min-tasks", "10"),
    ]
    done = subprocess.run(argv, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(rf"quiet tick, 3 councilors none due: scheduler CPU {FIGURE} µs/tick", out), out
    burst = r"stock django-q2 qcluster, async_task running true \+ a row, queued all at once: 4/4 started"
    assert re.search(burst, out), out
    ours = re.search(
        rf"sqlite, 4 councilors every minute, 1 cluster: 4/4 started, {FIGURE} runs/s;"
        rf" start delay p50 {FIGURE} s, p99 {FIGURE} s, max {FIGURE} s; cluster CPU {FIGURE} ms/run .*;"
        rf" ({FIGURE}) queries/run; 0 skipped",
        out,
    )
    assert ours, out
    assert float(ours.group(1)) > 0  # the worker processes' queries were counted
    # Stock fed at the schedule's rate (4 due in 6 s) on as many clusters, just before ours and just
    # after: half of the 10 tasks at the least each time, pooled.
    before_and_after = (
        r"stock django-q2 qcluster, .* queued 0\.7 a second on 1 cluster, before and after ours: 10/10 started"
    )
    assert re.search(before_and_after, out), out
    for name in ("at the same rate", "queued at once"):
        assert re.search(rf"per-run cluster CPU vs stock django-q2 {name}: {FIGURE}x; with the queueing", out), out
