"""Every runner's success, failure and timeout, against real processes, a real HTTP server and real callables."""

import base64
import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from councilors.runners import RUNNERS, RunnerError, get_runner
from councilors.runners.argv_policy import PROMPT_BEFORE_END_OF_OPTIONS
from councilors.runners.http import (
    MAX_REDIRECTS,
    REDIRECT_REFUSED,
    RESPONSE_TOO_LARGE,
    TOO_MANY_REDIRECTS,
    redact_url,
    url_origin,
)
from councilors.runners.python import CALLABLE_NOT_ALLOWED, module_allowed

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


@pytest.mark.usefixtures("no_sandbox")  # the script is a file of the test's own, which a sandbox hides
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


@pytest.mark.usefixtures("no_sandbox")  # its command writes its pids to the test's folder (test_sandbox.py: in bwrap)
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


@pytest.mark.usefixtures("no_sandbox")  # in the sandbox, the run's PID namespace ends such a process with it
def test_command_whose_escaped_child_holds_its_output_open_ends_by_its_timeout_with_its_own_status(tmp_path):
    """A process that left the run's session (docs/security.md: beyond reach) keeps the pipe open; the
    run is not held by it past its timeout, and the exit status of the command decides it."""
    pid_file = tmp_path / "pid"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(60)'])\n"
        "while os.getsid(child.pid) != child.pid: time.sleep(0.01)\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('done', flush=True)\n"
    )
    started = time.monotonic()
    try:
        assert run("command", {"argv": [PY, "-c", script], "timeout": 2}) == "done\n"
        assert time.monotonic() - started < 15
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_command_gets_the_prompt_on_stdin_as_data_never_as_a_command():
    # `sh -c` without {prompt} is allowed: the script reads the prompt; the shell never parses it.
    config = {"argv": ["sh", "-c", 'IFS= read -r line; printf "got: %s\\n" "$line"']}
    assert run("command", config, prompt="hi; id -un") == "got: hi; id -un\n"
    assert run("command", {"argv": ["cat"]}, prompt="hi; id -un\n$(id -un)") == "hi; id -un\n$(id -un)"


def test_command_gets_the_prompt_in_conductor_prompt():
    config = {"argv": ["sh", "-c", 'printf "%s|%s" "$CONDUCTOR_PROMPT" "$CONDUCTOR_AGENT_ID"']}
    assert run("command", config, prompt="`id -un`; x") == "`id -un`; x|tester"


def test_command_that_never_reads_stdin_is_not_blocked_by_a_prompt_larger_than_the_pipe():
    # 100 kB: more than a pipe holds (64 KiB), less than one environment string may be (128 KiB).
    assert run("command", {"argv": [PY, "-c", "print('done')"]}, prompt="x" * 100_000) == "done\n"


def test_command_reads_a_prompt_larger_than_the_pipe_whole_and_in_order():
    # What the pipe takes at once is written before the run's thread writes the rest.
    prompt = "".join(f"{n:07d}\n" for n in range(12_000))  # 96 kB: over a pipe, under an env string
    script = "import hashlib, sys; data = sys.stdin.buffer.read(); print(len(data), hashlib.sha256(data).hexdigest())"
    expected = f"{len(prompt)} {hashlib.sha256(prompt.encode()).hexdigest()}\n"
    assert run("command", {"argv": [PY, "-c", script]}, prompt=prompt) == expected


@pytest.mark.parametrize("prompt", ["--help", "--version"])
def test_command_prompt_after_double_dash_is_an_operand_never_an_option(prompt):
    # printf reuses its format for each operand: `--` and the prompt are both printed, literally.
    assert run("command", {"argv": ["printf", "%s", "--", "{prompt}"]}, prompt=prompt) == f"--{prompt}"


@pytest.mark.parametrize("prompt", ["--help", "--version"])
def test_command_prompt_as_a_bare_argument_is_refused_at_save_and_at_run(prompt):
    config = {"argv": ["python3", "{prompt}"]}
    with pytest.raises(ValidationError) as excinfo:
        RUNNERS["command"].validate_config(config)
    assert excinfo.value.message_dict["runner_config"] == [PROMPT_BEFORE_END_OF_OPTIONS]
    # A row saved before the rule existed is refused when it runs, before anything starts.
    with pytest.raises(RunnerError) as excinfo:
        get_runner("command", config).run(prompt, CONTEXT)
    assert excinfo.value.reason == PROMPT_BEFORE_END_OF_OPTIONS
    assert excinfo.value.output == ""


# --- http -----------------------------------------------------------------------------------------


class AgentService(BaseHTTPRequestHandler):
    """A stand-in for the external AI-agent service (outside the project, so a local server)."""

    received: list[dict] = []
    headers_seen: list[dict[str, str]] = []
    release = threading.Event()
    other_origin = ""

    def do_GET(self) -> None:
        # What a 301/302/303 turns a POST into; only an attack target would receive one here.
        AgentService.received.append({"path": self.path, "body": None})
        self._reply(200, json.dumps({"result": "stolen"}).encode())

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        AgentService.received.append({"path": self.path, "body": body})
        AgentService.headers_seen.append(dict(self.headers))
        route, _, query = self.path.partition("?")
        code = int(query.removeprefix("code=")) if query.startswith("code=") else 307
        if route.startswith("/hop/"):
            return self._redirect(307, f"/hop/{int(route.rsplit('/', 1)[1]) + 1}")
        if route == "/to-same-origin":
            return self._redirect(308, "/run")
        if route == "/to-other-port":
            return self._redirect(code, f"{AgentService.other_origin}/stolen")
        if route == "/to-other-host":
            return self._redirect(code, f"http://localhost:{self.server.server_address[1]}/stolen")
        if route == "/huge":
            return self._huge()
        if route == "/slow":
            AgentService.release.wait(timeout=30)
        if route == "/fail":
            return self._reply(500, b"agent crashed: out of tokens", "text/plain")
        if route == "/plain":
            return self._reply(200, b"plain text answer", "text/plain")
        self._reply(200, json.dumps({"result": f"reviewed: {body['prompt']}", "tokens": 12}).encode())

    def _redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _huge(self) -> None:
        """50 MB of answer, written until the runner hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(50 * 1_000_000))
        self.end_headers()
        try:
            for _ in range(50):
                self.wfile.write(b"h" * 1_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass

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


@contextlib.contextmanager
def serving() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AgentService)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        AgentService.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def agent_service() -> Iterator[str]:
    AgentService.received = []
    AgentService.headers_seen = []
    AgentService.release = threading.Event()
    with serving() as origin:
        yield origin


@pytest.fixture
def other_service(agent_service) -> Iterator[str]:
    """A second server on another port: what a redirect to another origin would reach."""
    with serving() as origin:
        AgentService.other_origin = origin
        yield origin


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


def test_http_follows_a_few_redirects_within_its_origin_with_the_post_intact(agent_service):
    assert run("http", {"url": f"{agent_service}/to-same-origin"}, prompt="again") == "reviewed: again"
    assert [(seen["path"], seen["body"]["prompt"]) for seen in AgentService.received] == [
        ("/to-same-origin", "again"),
        ("/run", "again"),
    ]
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": f"{agent_service}/hop/0"})
    assert excinfo.value.reason == TOO_MANY_REDIRECTS % {"limit": MAX_REDIRECTS, "url": f"{agent_service}/hop/0"}
    assert len(AgentService.received) == 2 + 1 + MAX_REDIRECTS


@pytest.mark.parametrize("code", [302, 307])
@pytest.mark.parametrize("route", ["/to-other-port", "/to-other-host"])
def test_http_refuses_a_redirect_to_another_origin_and_sends_it_nothing(agent_service, other_service, route, code):
    path = f"{route}?code={code}"
    config = {"url": f"{agent_service}{path}", "headers": {"Authorization": "Bearer service-key"}}
    with pytest.raises(RunnerError) as excinfo:
        run("http", config, prompt="confidential")
    target = other_service if route == "/to-other-port" else agent_service.replace("127.0.0.1", "localhost")
    origins = {"origin": url_origin(agent_service), "target": url_origin(target)}
    shown = f"{agent_service}{route}?[redacted]"
    assert excinfo.value.reason == f"request to {shown} failed: {REDIRECT_REFUSED % origins}"
    assert [seen["path"] for seen in AgentService.received] == [path]


def test_http_reads_at_most_the_limit_of_a_fifty_megabyte_answer(agent_service):
    tracemalloc.start()
    try:
        with pytest.raises(RunnerError) as excinfo:
            run("http", {"url": f"{agent_service}/huge"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    limit = {"url": f"{agent_service}/huge", "limit": 1_048_576}
    assert excinfo.value.reason == RESPONSE_TOO_LARGE % limit
    assert peak < 8 * 1_048_576


def test_http_response_limit_is_a_setting(agent_service, settings):
    settings.COUNCILORS_HTTP_MAX_RESPONSE_BYTES = 10
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": f"{agent_service}/plain"})
    assert excinfo.value.reason == RESPONSE_TOO_LARGE % {"url": f"{agent_service}/plain", "limit": 10}
    settings.COUNCILORS_HTTP_MAX_RESPONSE_BYTES = len(b"plain text answer")
    assert run("http", {"url": f"{agent_service}/plain"}) == "plain text answer"


def test_http_sends_configured_headers_and_url_credentials_as_basic_auth(agent_service):
    url = agent_service.replace("http://", "http://reviewer:p%40ss@") + "/run?tenant=7"
    run("http", {"url": url, "headers": {"X-Api-Key": "k-123"}})
    [headers] = AgentService.headers_seen
    assert headers["X-Api-Key"] == "k-123"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"reviewer:p@ss").decode()
    assert AgentService.received[0]["path"] == "/run?tenant=7"


def test_http_errors_never_show_the_urls_credentials_or_query():
    from tests.processes import free_port

    url = f"http://admin:hunter2@127.0.0.1:{free_port()}/run?token=s3cr3t-t0ken&x=1"
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": url, "timeout": 5})
    reason = excinfo.value.reason
    assert "hunter2" not in reason and "s3cr3t-t0ken" not in reason and "admin" not in reason
    assert reason.startswith(f"request to http://[redacted]@{url.split('@')[1].split('?')[0]}?[redacted] failed: ")


def test_http_error_status_names_the_redacted_url(agent_service):
    url = agent_service.replace("http://", "http://u:hunter2@") + "/fail?token=s3cr3t"
    with pytest.raises(RunnerError) as excinfo:
        run("http", {"url": url})
    assert excinfo.value.reason == f"HTTP 500 from {redact_url(url)}"
    assert redact_url(url) == f"http://[redacted]@{agent_service.removeprefix('http://')}/fail?[redacted]"


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


@pytest.mark.parametrize("path", ["builtins.eval", "os.system", "subprocess.run", "councilors.demonstration.f"])
def test_python_refuses_callables_outside_the_allowed_modules_naming_the_setting(path):
    with pytest.raises(ValidationError) as excinfo:
        RUNNERS["python"].validate_config({"callable": path})
    message = CALLABLE_NOT_ALLOWED % {"path": path, "allowed": "councilors.demo"}
    assert excinfo.value.message_dict["runner_config"] == [message]
    assert "COUNCILORS_PYTHON_RUNNER_MODULES" in message


def test_python_refuses_a_name_an_allowed_module_only_imported():
    # councilors.demo imports agent_create from councilors.services: not the demo's own code.
    with pytest.raises(ValidationError) as excinfo:
        RUNNERS["python"].validate_config({"callable": "councilors.demo.agent_create"})
    assert excinfo.value.message_dict["runner_config"] == [
        CALLABLE_NOT_ALLOWED % {"path": "councilors.demo.agent_create", "allowed": "councilors.demo"}
    ]


def test_python_allowed_modules_are_exact_or_packages_at_a_dot_boundary():
    allowed = ["councilors.demo", "agents"]
    assert module_allowed("councilors.demo", allowed) and module_allowed("agents.review.deep", allowed)
    assert not module_allowed("councilors.demonic", allowed) and not module_allowed("agentsmith", allowed)
    assert not module_allowed("councilors", allowed)


def test_python_checks_the_setting_again_when_it_runs(settings):
    config = {"callable": "councilors.demo.summarize"}
    assert run("python", config, prompt="q") == "Summary of 'q' over 1 context file(s): nothing to report."
    settings.COUNCILORS_PYTHON_RUNNER_MODULES = ["agents"]
    with pytest.raises(RunnerError) as excinfo:
        get_runner("python", config).run("q", CONTEXT)
    assert excinfo.value.reason == CALLABLE_NOT_ALLOWED % {"path": "councilors.demo.summarize", "allowed": "agents"}
