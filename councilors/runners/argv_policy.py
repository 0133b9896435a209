"""What a `command` agent's argv may do with the prompt: keep it data, never code or an option.

The prompt comes from whoever asks for a run, so it is hostile. It reaches the command on stdin and
in $CONDUCTOR_PROMPT; as an argument only as a whole `{prompt}` after a `--` (so `--help` is an
operand, not an option), and never to a shell or interpreter that runs code given on its command
line (`sh -c`, `python -c`, `perl -e`, `node -e`, …), runs the prompt as its script, or reads its
program from stdin (where the prompt now is). Programs are matched by base name anywhere in argv,
so wrappers (`env sh -c`, `timeout 5 bash -c`, `/bin/sh -c`) are caught. The rules may refuse an
argv that would have been safe; they are meant never to accept one that is not. A command that
evaluates its input itself (`sh -c 'eval "$(cat)"'`) is code the admin wrote, and beyond them.
"""

import os
import re

PROMPT_PLACEHOLDER = "{prompt}"
END_OF_OPTIONS = "--"
HOW_TO_PASS = (
    " Read the prompt from stdin or from $CONDUCTOR_PROMPT instead, or give {prompt} as a whole "
    "argument after a -- argument to a program that does not run it as code."
)
PROMPT_INSIDE_ARGUMENT = "{prompt} must be a whole argument, not part of %(arg)r." + HOW_TO_PASS
PROMPT_BEFORE_END_OF_OPTIONS = (
    "{prompt} must follow a -- argument, so that a prompt such as --help cannot act as an option." + HOW_TO_PASS
)
PROMPT_TO_CODE_RUNNER = "{prompt} cannot be given to %(program)r run with %(flag)s: it could become code." + HOW_TO_PASS
PROMPT_AS_SCRIPT = "{prompt} cannot be the script %(program)r runs: it could name code to run." + HOW_TO_PASS
PROMPT_TO_REMOTE_SHELL = "{prompt} cannot be given to %(program)r: it joins its arguments into a shell command." + (
    HOW_TO_PASS
)
STDIN_PROGRAM = (
    "%(program)r would read its program from stdin, where the prompt is: give it a script or code to run "
    "(such as -c '…') that reads the prompt from stdin or $CONDUCTOR_PROMPT."
)
XARGS_TO_INTERPRETER = (
    "xargs would turn the prompt (on stdin) into arguments of %(program)r, where it could become code: "
    "let the program read stdin or $CONDUCTOR_PROMPT itself."
)

SHELLS = frozenset({"sh", "ash", "bash", "dash", "zsh", "ksh", "mksh", "pdksh", "fish", "csh", "tcsh", "su"})
INTERPRETERS = (
    ("python", re.compile(r"^(python|pypy)(\d+(\.\d+)*)?[dmw]?$")),
    ("perl", re.compile(r"^perl(\d+(\.\d+)*)?$")),
    ("ruby", re.compile(r"^(ruby|jruby)(\d+(\.\d+)*)?$")),
    ("node", re.compile(r"^(node|nodejs|deno|bun)$")),
    ("php", re.compile(r"^php(\d+(\.\d+)*)?$")),
    ("lua", re.compile(r"^(lua|luajit)(\d+(\.\d+)*)?$")),
)
# The letters with which each family runs code given on its command line, alone or in a cluster
# (-c, -lc, -e, -ne), and the long options that do the same.
CODE_LETTERS = {"shell": "c", "python": "c", "perl": "eE", "ruby": "e", "node": "ep", "php": "r", "lua": "e"}
CODE_LONG_OPTIONS = frozenset({"--command", "--eval", "--print", "--exec"})
# Options after which an interpreter prints something and exits, reading no program (bash's -v
# and python's -v are verbose modes, which still read one: they are not listed).
INFO_OPTIONS = {
    "shell": frozenset({"--version", "--help"}),
    "python": frozenset({"--version", "-V", "-VV", "--help", "-h"}),
    "perl": frozenset({"--version", "-v", "-V", "--help", "-h"}),
    "ruby": frozenset({"--version", "--help", "-h"}),
    "node": frozenset({"--version", "-v", "--help", "-h"}),
    "php": frozenset({"--version", "-v", "--help", "-h"}),
    "lua": frozenset({"-v"}),
}
# Programs that join their arguments into a command line for a shell (here or on another host).
REMOTE_SHELLS = frozenset({"ssh", "watch"})
# Programs that run the program named after them: an interpreter there is in a program's place.
WRAPPERS = frozenset({"env", "nice", "nohup", "setsid", "stdbuf", "timeout", "sudo", "doas", "time", "ionice"})
WRAPPERS |= {"chrt", "taskset", "flock", "unbuffer", "busybox", "xargs", "exec", "command"}


def interpreter_family(arg: str) -> str | None:
    """The interpreter family of the program `arg` names (a path or a bare name), or None."""
    name = os.path.basename(arg)
    if name in SHELLS:
        return "shell"
    return next((family for family, pattern in INTERPRETERS if pattern.match(name)), None)


def argv_problem(argv: list[str]) -> str | None:
    """Why `argv` would let the prompt become code or an option, or None when it does not."""
    return _placeholder_problem(argv) or _interpreter_problem(argv)


def _placeholder_problem(argv: list[str]) -> str | None:
    places = [index for index, arg in enumerate(argv) if PROMPT_PLACEHOLDER in arg]
    for index in places:
        if argv[index] != PROMPT_PLACEHOLDER:
            return PROMPT_INSIDE_ARGUMENT % {"arg": argv[index]}
        if END_OF_OPTIONS not in argv[:index]:
            return PROMPT_BEFORE_END_OF_OPTIONS
    for start, program in enumerate(argv):
        family = interpreter_family(program)
        if places and os.path.basename(program) in REMOTE_SHELLS:
            return PROMPT_TO_REMOTE_SHELL % {"program": program}
        if not places or family is None:
            continue
        flag = _code_flag(argv, start, family)
        if flag is not None:
            return PROMPT_TO_CODE_RUNNER % {"program": program, "flag": flag}
        if _script_operand(argv, start) in places:
            return PROMPT_AS_SCRIPT % {"program": program}
    return None


def _interpreter_problem(argv: list[str]) -> str | None:
    """An interpreter in a program's place that reads its program from stdin, or is fed by xargs."""
    for start, program in enumerate(argv):
        family = interpreter_family(program)
        wrappers = {os.path.basename(arg) for arg in argv[:start]}
        if family is None or (start > 0 and not wrappers & WRAPPERS):
            continue
        if "xargs" in wrappers:
            return XARGS_TO_INTERPRETER % {"program": program}
        if _reads_program_from_stdin(argv, start, family):
            return STDIN_PROGRAM % {"program": program}
    return None


def _reads_program_from_stdin(argv: list[str], start: int, family: str) -> bool:
    if _code_flag(argv, start, family) is not None or INFO_OPTIONS[family] & set(argv[start + 1 :]):
        return False
    shell_reads_stdin = family == "shell" and any(_short_cluster_has(arg, "s") for arg in argv[start + 1 :])
    return shell_reads_stdin or _script_operand(argv, start) is None


def _short_cluster_has(arg: str, letters: str) -> bool:
    return arg.startswith("-") and not arg.startswith("--") and any(letter in arg[1:] for letter in letters)


def _code_flag(argv: list[str], start: int, family: str) -> str | None:
    """The first option after the interpreter at `start` that makes it run code from its command line."""
    for arg in argv[start + 1 :]:
        if arg.split("=", 1)[0] in CODE_LONG_OPTIONS or _short_cluster_has(arg, CODE_LETTERS[family]):
            return arg
    return None


def _script_operand(argv: list[str], start: int) -> int | None:
    """Index of the first operand after `start` (the interpreter's script), skipping options and `--`."""
    for index in range(start + 1, len(argv)):
        if argv[index] != END_OF_OPTIONS and not argv[index].startswith("-"):
            return index
    return None
