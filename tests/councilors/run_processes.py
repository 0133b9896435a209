"""Finding a command run's processes on the host, whatever namespace they live in: by a marker in their argv."""

import time
import uuid

import psutil


def new_marker() -> str:
    return f"conductor-test-{uuid.uuid4().hex}"


def processes_with(marker: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose command line holds `marker`: bwrap, the program, its children."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(process.info["cmdline"] or ()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def wait_until_gone(marker: str, *, within: float) -> list[psutil.Process]:
    """The processes with `marker` still alive after `within` seconds (an empty list as soon as none is)."""
    deadline = time.monotonic() + within
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def wait_until_running(marker: str, *, count: int, within: float = 30.0) -> list[psutil.Process]:
    deadline = time.monotonic() + within
    while len(found := processes_with(marker)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} processes with {marker} not seen within {within}s: {found}")
        time.sleep(0.05)
    return found


# A run that starts a child (and a grandchild that leaves the session) and then sleeps, all marked.
TREE_SCRIPT = """import os, subprocess, sys, time
marker = sys.argv[1]
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', marker])
subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(120)', marker])
print('tree started', flush=True)
time.sleep(120)
"""
