"""Validation of a `command` agent's argv: the prompt never becomes code or an option (hostile configs)."""

import json
import sys

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from councilors.demo import demo_definitions
from councilors.runners import RunnerError, get_runner
from councilors.runners.argv_policy import (
    HOW_TO_PASS,
    PROMPT_AFTER_CODE_OPTION,
    PROMPT_AFTER_WRAPPER,
    PROMPT_AS_PROGRAM_TEXT,
    PROMPT_AS_SCRIPT,
    PROMPT_BEFORE_END_OF_OPTIONS,
    PROMPT_INSIDE_ARGUMENT,
    PROMPT_TO_CODE_RUNNER,
    PROMPT_TO_FIND,
    PROMPT_TO_REMOTE_SHELL,
    STDIN_PROGRAM,
    XARGS_TO_INTERPRETER,
    argv_problem,
)
from councilors.runners.command import CommandRunner
from tests.councilors.test_admin import agent_post, assert_refused

PY = sys.executable
ECHO_ARG = 'printf "%s\\n" "$1"'


def refusal(argv: list[str]) -> str:
    with pytest.raises(ValidationError) as excinfo:
        CommandRunner.validate_config({"argv": argv})
    [message] = excinfo.value.message_dict["runner_config"]
    return message


def test_the_issues_shell_config_is_refused_saying_how_to_pass_the_prompt():
    message = refusal(["sh", "-c", "echo {prompt}"])
    assert message == PROMPT_INSIDE_ARGUMENT % {"arg": "echo {prompt}"}
    assert "stdin" in message and "$CONDUCTOR_PROMPT" in message and "after a -- argument" in message


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["sh", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["bash", "-lc", ECHO_ARG, "--", "{prompt}"], "-lc"),
        (["dash", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["zsh", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["ksh", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["fish", "--command=echo $argv", "--", "{prompt}"], "--command=echo $argv"),
        (["/bin/sh", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["/usr/bin/env", "sh", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["timeout", "5", "bash", "-c", ECHO_ARG, "--", "{prompt}"], "-c"),
        (["python3", "-c", "import sys; print(sys.argv[1])", "--", "{prompt}"], "-c"),
        (["python3.11", "-Ic", "import sys; print(sys.argv[1])", "--", "{prompt}"], "-Ic"),
        ([PY, "-c", "import sys; print(sys.argv[1])", "--", "{prompt}"], "-c"),
        (["perl", "-e", "print @ARGV", "--", "{prompt}"], "-e"),
        (["perl", "-ne", "print", "--", "{prompt}"], "-ne"),
        (["node", "-e", "console.log(process.argv[1])", "--", "{prompt}"], "-e"),
        (["node", "--eval=console.log(1)", "--", "{prompt}"], "--eval=console.log(1)"),
        (["ruby", "-e", "puts ARGV", "--", "{prompt}"], "-e"),
    ],
)
def test_prompt_anywhere_in_a_shell_or_interpreter_run_with_code_is_refused(argv, flag):
    program = next(arg for arg in argv if arg not in ("timeout", "5", "/usr/bin/env"))
    assert refusal(argv) == PROMPT_TO_CODE_RUNNER % {"program": program, "flag": flag}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["python3", "{prompt}"], PROMPT_BEFORE_END_OF_OPTIONS),
        (["printf", "%s", "{prompt}"], PROMPT_BEFORE_END_OF_OPTIONS),
        (["{prompt}", "--"], PROMPT_BEFORE_END_OF_OPTIONS),
        (["grep", "--regexp={prompt}", "--"], PROMPT_INSIDE_ARGUMENT % {"arg": "--regexp={prompt}"}),
        (["printf", "%s", "--", "x{prompt}"], PROMPT_INSIDE_ARGUMENT % {"arg": "x{prompt}"}),
        (["python3", "--", "{prompt}"], PROMPT_AS_SCRIPT % {"program": "python3"}),
        (["bash", "--", "{prompt}"], PROMPT_AS_SCRIPT % {"program": "bash"}),
        (["ssh", "build-host", "--", "{prompt}"], PROMPT_TO_REMOTE_SHELL % {"program": "ssh"}),
    ],
)
def test_prompt_that_could_be_an_option_or_a_script_is_refused(argv, message):
    assert refusal(argv) == message
    assert message.endswith(HOW_TO_PASS)


@pytest.mark.parametrize(
    "argv, program",
    [
        (["sh"], "sh"),
        (["bash", "-s", "--", "x"], "bash"),
        (["python3"], "python3"),
        ([PY, "-"], PY),
        (["/usr/bin/env", "perl"], "perl"),
    ],
)
def test_an_interpreter_reading_its_program_from_stdin_is_refused_since_the_prompt_is_there(argv, program):
    assert refusal(argv) == STDIN_PROGRAM % {"program": program}


def test_xargs_feeding_the_prompt_to_a_shell_is_refused():
    assert refusal(["xargs", "sh", "-c", 'echo "$@"', "_"]) == XARGS_TO_INTERPRETER % {"program": "sh"}


@pytest.mark.parametrize(
    "argv",
    [
        ["printf", "%s", "--", "{prompt}"],
        [PY, "/opt/agents/review.py", "--", "{prompt}"],
        [PY, "-m", "agents.review", "--", "{prompt}"],
        ["sh", "-c", "cat"],
        [PY, "-c", "import sys; print(sys.stdin.read())"],
        [PY, "--version"],
        ["bash", "/opt/agents/audit.sh"],
        ["grep", "-c", "error", "/var/log/app.log"],
    ],
)
def test_argvs_that_keep_the_prompt_data_are_accepted(argv):
    CommandRunner.validate_config({"argv": argv})


def test_the_demo_agents_pass():
    configs = [demo.agent["runner_config"] for demo in demo_definitions()]
    argvs = [config["argv"] for config in configs if "argv" in config]
    assert len(argvs) == 4  # python-version, dependency-audit, backup-check, the heartbeat
    assert [argv_problem(argv) for argv in argvs] == [None] * len(argvs)


# --- the prompt as a program (issue 19): each attack that passed before is refused -------------------------


@pytest.mark.parametrize(
    "argv, program",
    [
        (["python3", "-", "x"], "python3"),
        (["python3", "-W", "ignore", "-"], "python3"),
        (["bash", "/dev/stdin"], "bash"),
        (["bash", "-o", "posix", "/dev/stdin"], "bash"),
        (["sh", "-"], "sh"),
        (["zsh"], "zsh"),
        (["perl", "/dev/fd/0"], "perl"),
        (["ruby", "/proc/self/fd/0"], "ruby"),
        (["node", "-"], "node"),
        (["php"], "php"),
        (["lua", "-"], "lua"),
        (["tclsh"], "tclsh"),
        (["wish", "-"], "wish"),
        (["Rscript", "-"], "Rscript"),
        (["R", "--no-save"], "R"),
        (["pwsh", "-Command", "-"], "pwsh"),
        (["pwsh", "-c", "-"], "pwsh"),
        (["powershell", "-File", "-"], "powershell"),
        (["pwsh", "-NoProfile"], "pwsh"),
        (["awk", "-f", "-"], "awk"),
        (["gawk", "--file=/dev/stdin"], "gawk"),
        (["sed", "-f", "/dev/stdin"], "sed"),
        (["/usr/bin/env", "python3", "/dev/stdin"], "python3"),
    ],
)
def test_an_interpreter_reading_its_program_from_stdin_by_any_name_is_refused(argv, program):
    assert refusal(argv) == STDIN_PROGRAM % {"program": program}


@pytest.mark.parametrize("program", ["awk", "gawk", "mawk", "nawk", "sed"])
def test_the_prompt_as_an_awk_or_sed_program_is_refused(program):
    assert refusal([program, "--", "{prompt}"]) == PROMPT_AS_PROGRAM_TEXT % {"program": program}


@pytest.mark.parametrize(
    "argv, wrapper",
    [
        (["env", "--", "{prompt}"], "env"),
        (["env", "FOO=1", "--", "{prompt}"], "env"),
        (["/usr/bin/env", "--", "{prompt}"], "/usr/bin/env"),
        (["nice", "-n", "5", "--", "{prompt}"], "nice"),
        (["timeout", "5", "--", "{prompt}"], "timeout"),
        (["sudo", "-u", "cat", "--", "{prompt}"], "sudo"),
    ],
)
def test_the_prompt_after_a_program_that_runs_programs_is_refused(argv, wrapper):
    assert refusal(argv) == PROMPT_AFTER_WRAPPER % {"program": wrapper}


@pytest.mark.parametrize("program", ["env", "nice", "timeout", "sed", "awk", "find", "python3", "bash"])
def test_xargs_feeding_the_prompt_to_a_program_that_runs_code_or_programs_is_refused(program):
    assert refusal(["xargs", program]) == XARGS_TO_INTERPRETER % {"program": program}
    assert refusal(["xargs", "-n", "1", program]) == XARGS_TO_INTERPRETER % {"program": program}


@pytest.mark.parametrize(
    "argv",
    [
        ["find", ".", "-exec", "cat", "{}", ";", "--", "{prompt}"],
        ["find", ".", "-execdir", "grep", "-l", "x", "{}", "+", "--", "{prompt}"],
        ["find", ".", "-ok", "rm", "{}", ";", "--", "{prompt}"],
        ["find", "--", "{prompt}"],
    ],
)
def test_the_prompt_given_to_find_is_refused(argv):
    assert refusal(argv) == PROMPT_TO_FIND % {"program": "find"}


@pytest.mark.parametrize(
    "argv, option",
    [
        (["mytool", "-e", "--", "{prompt}"], "-e"),
        (["mytool", "-c", "--", "{prompt}"], "-c"),
        (["mytool", "--", "--eval", "{prompt}"], "--eval"),
        (["mytool", "--exec", "--", "{prompt}"], "--exec"),
        (["mytool", "--command", "--", "{prompt}"], "--command"),
        (["mytool", "-Command", "--", "{prompt}"], "-Command"),
    ],
)
def test_an_unknown_program_given_the_prompt_right_after_a_code_option_is_refused(argv, option):
    assert refusal(argv) == PROMPT_AFTER_CODE_OPTION % {"option": option}


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["pwsh", "-Command", "Write-Output $args", "--", "{prompt}"], "-Command"),
        (["pwsh", "-c", "echo", "--", "{prompt}"], "-c"),
        (["Rscript", "-e", "print(commandArgs())", "--", "{prompt}"], "-e"),
        (["expect", "-c", "puts hi", "--", "{prompt}"], "-c"),
        (["php", "-r", "echo 1;", "--", "{prompt}"], "-r"),
    ],
)
def test_the_prompt_to_more_interpreters_run_with_code_is_refused(argv, flag):
    assert refusal(argv) == PROMPT_TO_CODE_RUNNER % {"program": argv[0], "flag": flag}


@pytest.mark.parametrize(
    "argv",
    [
        ["cat", "--", "{prompt}"],
        ["awk", "{print toupper($0)}", "--", "{prompt}"],
        ["sed", "-e", "s/a/b/", "--", "{prompt}"],
        ["sed", "s/a/b/"],
        ["pwsh", "-NoProfile", "-File", "/opt/agents/audit.ps1"],
        ["Rscript", "/opt/agents/report.R"],
        ["R", "--no-save", "-f", "/opt/agents/report.R"],
        ["tclsh", "/opt/agents/check.tcl"],
        ["python3", "-W", "ignore", "/opt/agents/review.py", "-", "--", "{prompt}"],
        ["xargs", "-n", "1", "echo"],
        ["find", "/srv/logs", "-name", "*.log", "-mtime", "-1"],
        ["grep", "-r", "env", "/etc/app"],
    ],
)
def test_argvs_where_the_prompt_stays_data_are_still_accepted(argv):
    CommandRunner.validate_config({"argv": argv})


def test_a_stored_agent_that_no_longer_passes_fails_its_runs_with_the_reason():
    with pytest.raises(RunnerError) as excinfo:
        get_runner("command", {"argv": ["python3", "-", "x"]}).run("print('owned')", {})
    assert excinfo.value.reason == STDIN_PROGRAM % {"program": "python3"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "argv, message",
    [
        (["python3", "-", "x"], STDIN_PROGRAM % {"program": "python3"}),
        (["awk", "--", "{prompt}"], PROMPT_AS_PROGRAM_TEXT % {"program": "awk"}),
        (["env", "--", "{prompt}"], PROMPT_AFTER_WRAPPER % {"program": "env"}),
    ],
)
def test_the_admin_form_says_why_an_argv_is_refused(admin_client, argv, message):
    response = admin_client.post(
        reverse("admin:councilors_agent_add"), agent_post(runner_config=json.dumps({"argv": argv}))
    )
    assert_refused(response, "runner_config", message)
