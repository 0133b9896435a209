"""`python -m devserver.procgroup <argv...>`: run a command in its own process group, signalling only it.

honcho stops a process by signalling its whole process group. django-q2's `qcluster` does not
survive that: its forked workers receive the SIGTERM too and the cluster hangs until it is
SIGKILLed. Here the command gets SIGTERM alone, stops its own children, and is killed (with its
group) only when it has not finished within the grace period.
"""

import os
import signal
import subprocess
import sys
import time

GRACE_S = 10.0


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv: list[str], *, grace: float = GRACE_S) -> int:
    """Run `argv`, pass SIGINT/SIGTERM on as one SIGTERM to it alone; return its exit status."""
    child = subprocess.Popen(argv, start_new_session=True)
    stop_requested: list[float] = []

    def forward(signum: int, frame: object) -> None:
        if not stop_requested:
            stop_requested.append(time.monotonic())
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while child.poll() is None:
        if stop_requested and time.monotonic() - stop_requested[0] > grace:
            _kill_group(child.pid)
        time.sleep(0.1)
    _kill_group(child.pid)  # whatever it left behind
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m devserver.procgroup <command> [args...]")
    sys.exit(run(sys.argv[1:]))
