"""Validation of a `command` agent's argv: the prompt never becomes code or an option (hostile configs)."""

import sys

import pytest
from django.core.exceptions import ValidationError

from councilors.demo import demo_definitions
from councilors.runners.argv_policy import (
    HOW_TO_PASS,
    PROMPT_AS_SCRIPT,
    PROMPT_BEFORE_END_OF_OPTIONS,
    PROMPT_INSIDE_ARGUMENT,
    PROMPT_TO_CODE_RUNNER,
    PROMPT_TO_REMOTE_SHELL,
    STDIN_PROGRAM,
    XARGS_TO_INTERPRETER,
    argv_problem,
)
from councilors.runners.command import CommandRunner

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
