"""Every runner's success, failure and timeout, against real processes, a real HTTP server and real callables."""

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from councilors.runners import RUNNERS, RunnerError, get_runner

PY = sys.executable
CONTEXT = {"agent_id": "tester", "instance_id": "inst-1", "execution_id": "exec_x", "context_files": ["a.md"]}


def run(runner: str, config: dict, prompt: str = "do it", on_output=None) -> str:
    RUNNERS[runner].validate_config(config)
    return get_runner(runner, config).run(prompt, CONTEXT, on_output)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


# --- command --------------------------------------------------------------------------------------


def test_command_output_is_stdout_and_stderr_in_order():
    script = "import sys; print('out one', flush=True); print('err two', file=sys.stderr, flush=True); print('out 3')"
    assert run("command", {"argv": [PY, "-c", script]}) == "out one\nerr two\nout 3\n"


def test_command_gets_the_prompt_cwd_and_env(tmp_path):
    script = "import os; print(os.getcwd()); print(os.environ['CONDUCTOR_PROMPT']); print(os.environ['EXTRA'])"
    config = {"argv": [PY, "-c", script], "cwd": str(tmp_path), "env": {"EXTRA": "yes"}}
    assert run("command", config, prompt="audit now").splitlines() == [str(tmp_path), "audit now", "yes"]


def test_command_prompt_placeholder_is_an_argument_never_a_shell_string(tmp_path):
    script = tmp_path / "last_argument.py"
    script.write_text("import sys; print(sys.argv[-1])")
    config = {"argv": [PY, str(script), "--", "{prompt}"]}
    assert run("command", config, prompt="$(echo hacked); rm -rf /") == "$(echo hacked); rm -rf /\n"


def test_command_streams_lines_as_they_come():
    lines: list[str] = []
    run("command", {"argv": [PY, "-c", "print('a'); print('b')"]}, on_output=lines.append)
    assert lines == ["a\n", "b\n"]


def test_command_non_zero_exit_is_an_error_with_its_output():
    with pytest.raises(RunnerError) as excinfo:
        run("command", {"argv": [PY, "-c", "import sys; print('partial'); sys.exit(4)"]})
    assert excinfo.value.reason == "exited with status 4"
    assert excinfo.value.output == "partial\n"


def test_command_missing_binary_is_an_error_naming_it():
    with pytest.raises(RunnerError) as excinfo:
        run("command", {"argv": ["/nonexistent/conductor-tool", "--check"]})
    assert excinfo.value.reason.startswith("could not start '/nonexistent/conductor-tool': ")
    assert "No such file" in excinfo.value.reason


def test_command_timeout_kills_it_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(RunnerError) as excinfo:
        run("command", {"argv": [PY, "-c", script], "timeout": 1.5})
    assert excinfo.value.reason == "timed out after 1.5s"
    assert excinfo.value.output == "started\n"
    assert time.monotonic() - started < 15
    parent, child = map(int, pids.read_text().split())
    deadline = time.monotonic() + 5
    while (pid_alive(parent) or pid_alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(parent) and not pid_alive(child)


# --- http -----------------------------------------------------------------------------------------


class AgentService(BaseHTTPRequestHandler):
    """A stand-in for the external AI-agent service (outside the project, so a local server)."""

    received: list[dict] = []
    release = threading.Event()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        AgentService.received.append({"path": self.path, "body": body})
        if self.path == "/slow":
            AgentService.release.wait(timeout=30)
        if self.path == "/fail":
            return self._reply(500, b"agent crashed: out of tokens", "text/plain")
        if self.path == "/plain":
            return self._reply(200, b"plain text answer", "text/plain")
        self._reply(200, json.dumps({"result": f"reviewed: {body['prompt']}", "tokens": 12}).encode())

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except BrokenPipeError:
            pass  # the timeout test's runner gave up before the slow answer; nothing left to tell it

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def agent_service() -> Iterator[str]:
    AgentService.received = []
    AgentService.release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), AgentService)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    AgentService.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_posts_the_spec_body_and_returns_the_result_field(agent_service):
    output = run("http", {"url": f"{agent_service}/run"}, prompt="check deps")
    assert output == "reviewed: check deps"
    assert AgentService.received == [
        {
            "path": "/run",
            "body": {"agent_id": "tester", "prompt": "check deps", "instance_id": "inst-1", "context_files": ["a.md"]},
        }
    ]


def test_http_without_a_result_field_returns_the_body(agent_service):
    assert run("http", {"url": f"{agent_service}/plain"}) == "plain text answer"


def test_http_error_status_is_an_error_with_the_body(agent_service):
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": f"{agent_service}/fail"})
    assert excinfo.value.reason == f"HTTP 500 from {agent_service}/fail"
    assert excinfo.value.output == "agent crashed: out of tokens"


def test_http_timeout_is_an_error(agent_service):
    started = time.monotonic()
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": f"{agent_service}/slow", "timeout": 0.5})
    assert excinfo.value.reason == "timed out after 0.5s"
    assert time.monotonic() - started < 10


def test_http_unreachable_service_is_an_error():
    from tests.processes import free_port

    url = f"http://127.0.0.1:{free_port()}/run"
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": url, "timeout": 5})
    assert excinfo.value.reason.startswith(f"request to {url} failed: ")


# --- python ---------------------------------------------------------------------------------------

release_slow = threading.Event()


def echo(prompt: str, context: dict) -> str:
    return f"{prompt} for {context['agent_id']}"


def count(prompt: str, context: dict) -> int:
    return len(prompt)


def explode(prompt: str, context: dict) -> str:
    raise ValueError("the model refused")


def slow(prompt: str, context: dict) -> str:
    release_slow.wait(timeout=30)
    return "late"


@pytest.mark.usefixtures("allow_test_callables")
def test_python_callable_result_is_the_output():
    assert run("python", {"callable": "tests.councilors.test_runners.echo"}, prompt="hi") == "hi for tester"


@pytest.mark.usefixtures("allow_test_callables")
def test_python_non_string_result_is_turned_into_text():
    assert run("python", {"callable": "tests.councilors.test_runners.count"}, prompt="four") == "4"


@pytest.mark.usefixtures("allow_test_callables")
def test_python_exception_is_an_error_naming_it():
    with pytest.raises(RunnerError) as excinfo:
        run("python", {"callable": "tests.councilors.test_runners.explode"})
    assert excinfo.value.reason == "ValueError: the model refused"


@pytest.mark.usefixtures("allow_test_callables")
def test_python_timeout_is_an_error():
    release_slow.clear()
    started = time.monotonic()
    try:
        with pytest.raises(RunnerError) as excinfo:
            run("python", {"callable": "tests.councilors.test_runners.slow", "timeout": 0.3})
    finally:
        release_slow.set()
    assert excinfo.value.reason == "timed out after 0.3s"
    assert time.monotonic() - started < 10
