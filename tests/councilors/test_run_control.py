"""RunControl: a run stopped on request (process tree killed, request dropped, callable asked), and its timeout."""

import sys
import threading
import time

import pytest

from councilors.runners import RunCancelled, RunControl, RunTimedOut, get_runner
from tests.councilors.test_runners import AgentService, agent_service, pid_alive  # noqa: F401 - fixture

PY = sys.executable
CONTEXT = {"agent_id": "tester", "instance_id": "", "execution_id": "exec_x", "context_files": []}


def cancel_when(control: RunControl, ready: threading.Event) -> threading.Thread:
    """Set the stop request once `ready` is set (the run has visibly started)."""

    def cancel() -> None:
        ready.wait(timeout=30)
        control.stop.set()

    thread = threading.Thread(target=cancel, daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("no_sandbox")  # its command writes its pids to the test's folder (test_sandbox.py: in bwrap)
def test_a_cancelled_command_has_its_whole_tree_killed_and_keeps_its_output(tmp_path):
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "print('working', flush=True)\n"
        "time.sleep(60)\n"
    )
    control, started = RunControl(), threading.Event()
    cancel_when(control, started)

    def on_output(text: str) -> None:
        started.set()

    with pytest.raises(RunCancelled) as excinfo:
        get_runner("command", {"argv": [PY, "-c", script], "timeout": 60}).run("x", CONTEXT, on_output, control)
    stopped = time.monotonic()
    assert excinfo.value.reason == "cancelled"
    assert excinfo.value.output == "working\n"
    parent, child = map(int, pids.read_text().split())
    while (pid_alive(parent) or pid_alive(child)) and time.monotonic() - stopped < 2:
        time.sleep(0.05)
    assert not pid_alive(parent) and not pid_alive(child)


def test_the_control_timeout_overrides_the_configured_one():
    with pytest.raises(RunTimedOut) as excinfo:
        config = {"argv": [PY, "-c", "import time; time.sleep(60)"], "timeout": 60}
        get_runner("command", config).run("x", CONTEXT, None, RunControl(timeout_s=0.5))
    assert excinfo.value.seconds == 0.5
    assert excinfo.value.reason == "timed out after 0.5s"


def test_a_cancelled_http_run_ends_without_waiting_for_the_answer(agent_service):  # noqa: F811 - fixture
    control = RunControl()
    timer = threading.Timer(0.3, control.stop.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(RunCancelled):
        get_runner("http", {"url": f"{agent_service}/slow", "timeout": 30}).run("x", CONTEXT, None, control)
    assert time.monotonic() - started < 5


stop_seen = threading.Event()


def cooperative(prompt: str, context: dict) -> str:
    while not context["cancelled"]():
        time.sleep(0.01)
    stop_seen.set()
    return "stopped early"


@pytest.mark.usefixtures("allow_test_callables")
def test_a_callable_that_checks_returns_early_and_the_run_is_cancelled_with_its_output():
    control = RunControl()
    threading.Timer(0.2, control.stop.set).start()
    with pytest.raises(RunCancelled) as excinfo:
        get_runner("python", {"callable": "tests.councilors.test_run_control.cooperative", "timeout": 30}).run(
            "x", CONTEXT, None, control
        )
    assert stop_seen.is_set()
    assert excinfo.value.output == "stopped early"


release = threading.Event()


def stubborn(prompt: str, context: dict) -> str:
    release.wait(timeout=30)
    return "late"


@pytest.mark.usefixtures("allow_test_callables")
def test_a_callable_that_ignores_the_check_is_abandoned_at_its_timeout_as_cancelled():
    control = RunControl()
    control.stop.set()
    try:
        with pytest.raises(RunCancelled):
            get_runner("python", {"callable": "tests.councilors.test_run_control.stubborn", "timeout": 0.3}).run(
                "x", CONTEXT, None, control
            )
    finally:
        release.set()
