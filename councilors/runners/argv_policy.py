"""What a `command` agent's argv may do with the prompt: keep it data, never code, a program or an option.

The prompt comes from whoever asks for a run, so it is hostile. It reaches the command on stdin and
in $CONDUCTOR_PROMPT; as an argument only as a whole `{prompt}` after a `--` (so `--help` is an
operand, not an option), and never where it would be code or name code to run: given to an
interpreter that runs code from its command line (`sh -c`, `python -c`, `perl -e`, `pwsh -Command`),
as an interpreter's script, as an awk or sed program, after a program that runs the program named
in its arguments (`env`, `timeout`, `xargs`), to `find` (any of whose arguments may be `-exec`), right
after an option that usually takes code (`-e`, `--eval`, `--command`), or to a program that joins its
arguments into a shell command (`ssh`). Nor may an interpreter read its program from stdin (where
the prompt is), whether by default (`["python3"]`, `["tclsh"]`) or from `-`, `/dev/stdin` or
`/dev/fd/0`, nor xargs turn the prompt into the arguments of such programs.

Interpreters (councilors/runners/programs.py) are matched by base name anywhere in argv, so wrappers
(`env sh -c`, `/bin/sh -c`) are caught. The rules may refuse an argv that would have been safe;
they are meant never to accept one that is not. A command that evaluates its input itself
(`sh -c 'eval "$(cat)"'`) is code the admin wrote, and beyond them: the sandbox (sandbox.py) is
what bounds what any run can reach.
"""

import os

from councilors.runners.programs import (
    CODE_OPTIONS,
    END_OF_OPTIONS,
    FIND,
    REMOTE_SHELLS,
    family_of,
    is_wrapper,
    program_source,
    reads_stdin_anyway,
)

PROMPT_PLACEHOLDER = "{prompt}"
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
PROMPT_AS_PROGRAM_TEXT = (
    "{prompt} cannot be the program %(program)r runs: an awk or sed program is code, and can run commands."
    + HOW_TO_PASS
)
PROMPT_AFTER_WRAPPER = (
    "{prompt} cannot come after %(program)r, which runs the program named in its arguments: the prompt could "
    "become that program. Leave %(program)r out (every run has its own timeout and limits) or call it from a "
    "script." + HOW_TO_PASS
)
PROMPT_TO_FIND = (
    "{prompt} cannot be given to %(program)r: any of its arguments can be an action such as -exec or -delete."
    + HOW_TO_PASS
)
PROMPT_AFTER_CODE_OPTION = "{prompt} cannot follow %(option)r: in most programs that option takes code to run." + (
    HOW_TO_PASS
)
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


def argv_problem(argv: list[str]) -> str | None:
    """Why `argv` would let the prompt become code, a program or an option, or None when it does not."""
    return _placeholder_problem(argv) or _stdin_problem(argv)


def _in_program_place(argv: list[str], index: int) -> bool:
    """Whether argv[index] may be a program that runs: the first argument, or anything after a wrapper."""
    return index == 0 or any(is_wrapper(arg) for arg in argv[:index])


def _placeholder_problem(argv: list[str]) -> str | None:
    places = [index for index, arg in enumerate(argv) if PROMPT_PLACEHOLDER in arg]
    if not places:
        return None
    for index in places:
        if argv[index] != PROMPT_PLACEHOLDER:
            return PROMPT_INSIDE_ARGUMENT % {"arg": argv[index]}
        if END_OF_OPTIONS not in argv[:index]:
            return PROMPT_BEFORE_END_OF_OPTIONS
    # Interpreters first: their message says what the prompt would become (code, a script).
    for rule in (_prompt_to_interpreter_problem, _prompt_to_runner_problem):
        for start in range(len(argv)):
            if (problem := rule(argv, start, places)) is not None:
                return problem
    return _prompt_after_code_option(argv, places)


def _prompt_to_interpreter_problem(argv: list[str], start: int, places: list[int]) -> str | None:
    """Whether the program at `start` would take the prompt as code, a script, or a shell command line."""
    program = argv[start]
    if os.path.basename(program) in REMOTE_SHELLS:
        return PROMPT_TO_REMOTE_SHELL % {"program": program}
    family = family_of(program)
    if family is None:
        return None
    source = program_source(argv, start, family)
    if source.kind == "code" and family.operand != "text":  # awk's and sed's operands are only files
        return PROMPT_TO_CODE_RUNNER % {"program": program, "flag": source.option}
    if source.kind in ("file", "stdin") and source.index in places:
        return PROMPT_AS_SCRIPT % {"program": program}
    if source.kind == "text" and source.index in places:
        return PROMPT_AS_PROGRAM_TEXT % {"program": program}
    return None


def _prompt_to_runner_problem(argv: list[str], start: int, places: list[int]) -> str | None:
    """Whether the program at `start` runs a program named in its arguments (env, timeout) or actions (find)."""
    if not _in_program_place(argv, start) or not any(place > start for place in places):
        return None
    program = argv[start]
    if is_wrapper(program):
        return PROMPT_AFTER_WRAPPER % {"program": program}
    if os.path.basename(program) in FIND:
        return PROMPT_TO_FIND % {"program": program}
    return None


def _prompt_after_code_option(argv: list[str], places: list[int]) -> str | None:
    """{prompt} right after an option that usually takes code (`-e`, `--eval`, `-Command`), `--` between or not."""
    for index in places:
        before = [arg for arg in argv[:index] if arg != END_OF_OPTIONS]
        if before[1:] and before[-1].lower() in CODE_OPTIONS:
            return PROMPT_AFTER_CODE_OPTION % {"option": before[-1]}
    return None


def _stdin_problem(argv: list[str]) -> str | None:
    """An interpreter in a program's place that reads its program from stdin, or xargs feeding one the prompt."""
    for start, program in enumerate(argv):
        if not _in_program_place(argv, start):
            continue
        family = family_of(program)
        fed_by_xargs = any(os.path.basename(arg) == "xargs" for arg in argv[:start])
        runs_code = family is not None or is_wrapper(program) or os.path.basename(program) in FIND
        if fed_by_xargs and runs_code:
            return XARGS_TO_INTERPRETER % {"program": program}
        if family is None:
            continue
        if reads_stdin_anyway(argv, start, family) or program_source(argv, start, family).kind == "stdin":
            return STDIN_PROGRAM % {"program": program}
    return None
