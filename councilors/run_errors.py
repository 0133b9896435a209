"""A run's error in the reader's language, at the point of display.

Runners and the run service record an error as English text in `Execution.error` (the worker that
writes it has no reader, so no language). The pages, the admin and the commands show it through
`run_error_text`, which recognizes the texts the project itself writes (councilors/runners/,
councilors/reaper.py, councilors/services.py) and words them in the active language; anything else
(a program's own message, an exception's text) is shown as recorded. The same table reaches the
scripts (`runErrorPatterns`, rendered into each page's config) so live events read the same.

Each line is built from the English template the runner formats (its named constant), so the two
cannot drift apart: the template's `%(name)X` placeholders become the pattern's named groups. What a
group captured is worded too when it is one of the project's own texts (a sandbox's reason, "the
project directory"): `fragment` lines are matched only there, never as a whole error.

The alerts the project emits (councilors/notifications.py) are worded by the same table: a
`system_alert`'s message is English on the wire, like a run's error.

A new error text written by a runner gets a line here (and its translation);
tests/councilors/test_run_errors.py finds the texts that have none.
"""

import errno
import os
import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from councilors import notifications
from councilors.reaper import WORKER_LOST
from councilors.runners import argv_policy, base, command, http, limits, python
from councilors.runners.sandbox import bwrap, mode, paths
from councilors.runners.sandbox import run as sandbox_run
from councilors.services import DATABASE_LOST, ERROR_TRUNCATED

PLACEHOLDER = re.compile(r"%\((?P<name>\w+)\)[-#0 +]*\d*(?:\.\d+)?(?P<conversion>[sdgfir])")
# What each conversion of a placeholder can produce; %(name)s takes as little as lets the rest match.
CONVERSIONS = {
    "s": r".+?",
    "d": r"-?\d+",
    "i": r"-?\d+",
    "g": r"-?[\d.]+(?:e[-+]?\d+)?",
    "f": r"-?[\d.]+",
    "r": r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"",
}
# How a run ended, as command.py words it before the limit it hit.
SIGNAL_NAME = r"SIG[A-Z0-9+]+"
RUN_ENDED = rf"(?:exited with status -?\d+|was killed by {SIGNAL_NAME})"


@dataclass(frozen=True)
class ErrorText:
    pattern: re.Pattern[str]
    message: Promise  # with %(name)s for each named group of the pattern
    fragment: bool = False  # matched only as a part of another text (a captured group), never a whole error


def template_pattern(template: str, **groups: str) -> re.Pattern[str]:
    """The pattern matching what `template % params` can produce; `groups` narrows a placeholder's group."""
    parts, seen, last = ["^"], set(), 0
    for placeholder in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : placeholder.start()]))
        name = placeholder["name"]
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>{groups.get(name, CONVERSIONS[placeholder['conversion']])})")
            seen.add(name)
        last = placeholder.end()
    parts += [re.escape(template[last:]), "$"]
    return re.compile("".join(parts), re.DOTALL)


def _line(template: str, message: Promise, *, fragment: bool = False, **groups: str) -> ErrorText:
    return ErrorText(template_pattern(template, **groups), message, fragment)


def _refusal(template: str, message: Promise) -> ErrorText:
    """An argv refusal: its advice on passing the prompt (HOW_TO_PASS, the same for all) is worded once, below."""
    how = re.escape(argv_policy.HOW_TO_PASS)
    return _line(template.replace(argv_policy.HOW_TO_PASS, "%(how)s"), message, how=how)


ERROR_TEXTS = (
    # Any of the texts below, cut by the run service at ERROR_MAX_CHARS.
    _line("%(error)s" + ERROR_TRUNCATED, gettext_lazy("%(error)s [error truncated]")),
    # councilors/runners/base.py
    _line(base.TIMED_OUT, gettext_lazy("timed out after %(seconds)s s")),
    _line(base.CANCELLED, gettext_lazy("cancelled")),
    # councilors/runners/command.py
    _line(command.LIMIT_EXCEEDED, gettext_lazy("%(ended)s: %(hit)s"), ended=RUN_ENDED),
    _line(command.EXITED, gettext_lazy("exited with status %(status)s")),
    _line(command.KILLED, gettext_lazy("was killed by %(signal)s"), signal=SIGNAL_NAME),
    _line(
        command.COULD_NOT_START + command.IN_THE_SANDBOX,
        gettext_lazy(
            "could not start %(program)s: %(reason)s (in the sandbox, which shows /usr, /bin, /lib*, the worker's "
            "Python, the agent's cwd and COUNCILORS_SANDBOX_READ_ONLY_PATHS)"
        ),
    ),
    _line(command.COULD_NOT_START, gettext_lazy("could not start %(program)s: %(reason)s"), program=r".+?"),
    # councilors/runners/limits.py: the limit a run hit (after how it ended, above)
    _line(limits.CPU.hit, gettext_lazy("exceeded its CPU time limit (%(value)s s)"), fragment=True),
    _line(limits.MEMORY.hit, gettext_lazy("hit its memory limit (%(value)s MB)"), fragment=True),
    _line(limits.PROCESSES.hit, gettext_lazy("hit its process limit (%(value)s processes)"), fragment=True),
    _line(limits.FILE_SIZE.hit, gettext_lazy("hit its file size limit (%(value)s MB)"), fragment=True),
    # Why a program could not start, in the system's words (strerror, English in the worker's locale):
    # the reasons a misconfigured agent gives most often, worded inside COULD_NOT_START.
    _line(os.strerror(errno.ENOENT), gettext_lazy("No such file or directory"), fragment=True),
    _line(os.strerror(errno.EACCES), gettext_lazy("Permission denied"), fragment=True),
    _line(os.strerror(errno.ENOEXEC), gettext_lazy("Exec format error"), fragment=True),
    _line(os.strerror(errno.ENOTDIR), gettext_lazy("Not a directory"), fragment=True),
    # councilors/runners/argv_policy.py: an agent saved before these rules, refused when it runs
    _refusal(
        argv_policy.PROMPT_INSIDE_ARGUMENT,
        gettext_lazy("{prompt} must be a whole argument, not part of %(arg)s.%(how)s"),
    ),
    _refusal(
        argv_policy.PROMPT_BEFORE_END_OF_OPTIONS,
        gettext_lazy(
            "{prompt} must follow a -- argument, so that a prompt such as --help cannot act as an option.%(how)s"
        ),
    ),
    _refusal(
        argv_policy.PROMPT_TO_CODE_RUNNER,
        gettext_lazy("{prompt} cannot be given to %(program)s run with %(flag)s: it could become code.%(how)s"),
    ),
    _refusal(
        argv_policy.PROMPT_AS_SCRIPT,
        gettext_lazy("{prompt} cannot be the script %(program)s runs: it could name code to run.%(how)s"),
    ),
    _refusal(
        argv_policy.PROMPT_AS_PROGRAM_TEXT,
        gettext_lazy(
            "{prompt} cannot be the program %(program)s runs: an awk or sed program is code, and can run "
            "commands.%(how)s"
        ),
    ),
    _refusal(
        argv_policy.PROMPT_AFTER_WRAPPER,
        gettext_lazy(
            "{prompt} cannot come after %(program)s, which runs the program named in its arguments: the prompt "
            "could become that program. Leave %(program)s out (every run has its own timeout and limits) or call "
            "it from a script.%(how)s"
        ),
    ),
    _refusal(
        argv_policy.PROMPT_TO_FIND,
        gettext_lazy(
            "{prompt} cannot be given to %(program)s: any of its arguments can be an action such as -exec or "
            "-delete.%(how)s"
        ),
    ),
    _refusal(
        argv_policy.PROMPT_AFTER_CODE_OPTION,
        gettext_lazy("{prompt} cannot follow %(option)s: in most programs that option takes code to run.%(how)s"),
    ),
    _refusal(
        argv_policy.PROMPT_TO_REMOTE_SHELL,
        gettext_lazy("{prompt} cannot be given to %(program)s: it joins its arguments into a shell command.%(how)s"),
    ),
    _line(
        argv_policy.HOW_TO_PASS,
        gettext_lazy(
            " Read the prompt from stdin or from $CONDUCTOR_PROMPT instead, or give {prompt} as a whole "
            "argument after a -- argument to a program that does not run it as code."
        ),
        fragment=True,
    ),
    _line(
        argv_policy.STDIN_PROGRAM,
        gettext_lazy(
            "%(program)s would read its program from stdin, where the prompt is: give it a script or code to run "
            "(such as -c '…') that reads the prompt from stdin or $CONDUCTOR_PROMPT."
        ),
    ),
    _line(
        argv_policy.XARGS_TO_INTERPRETER,
        gettext_lazy(
            "xargs would turn the prompt (on stdin) into arguments of %(program)s, where it could become code: "
            "let the program read stdin or $CONDUCTOR_PROMPT itself."
        ),
    ),
    # councilors/runners/sandbox/
    _line(
        mode.SANDBOX_INVALID,
        gettext_lazy("COUNCILORS_SANDBOX must be bwrap or none; got %(value)s."),
        choices=re.escape(" or ".join(mode.SANDBOXES)),
    ),
    _line(
        mode.SANDBOX_UNAVAILABLE,
        gettext_lazy(
            "COUNCILORS_SANDBOX is bwrap but bubblewrap cannot run here (%(reason)s), and command runs never run "
            "unsandboxed by surprise: install it (apt-get install bubblewrap), or set COUNCILORS_SANDBOX=none to "
            "run commands with the worker's rights."
        ),
    ),
    _line(mode.BWRAP_MISSING, gettext_lazy("bwrap is not installed"), fragment=True),
    _line(mode.BWRAP_FAILED, gettext_lazy("bwrap exited with status %(status)s"), fragment=True),
    _line(
        bwrap.TOOL_MISSING,
        gettext_lazy("%(tool)s (util-linux) is not installed; command runs need it to apply their limits."),
    ),
    _line(sandbox_run.CWD_MISSING, gettext_lazy("cwd %(cwd)s is not a directory on this worker.")),
    _line(
        paths.PATH_HIDDEN,
        gettext_lazy("%(what)s %(path)s would show command runs %(hidden)s, which the sandbox hides."),
    ),
    _line(paths.PATH_NOT_ABSOLUTE, gettext_lazy("%(what)s %(path)s must be an absolute path.")),
    _line(paths.READ_ONLY_PATH, gettext_lazy("COUNCILORS_SANDBOX_READ_ONLY_PATHS entry"), fragment=True),
    _line(paths.PROJECT_DIRECTORY, gettext_lazy("the project directory"), fragment=True),
    _line(paths.DATABASE_FOLDER, gettext_lazy("the database's folder"), fragment=True),
    # councilors/runners/http.py
    _line(http.HTTP_ERROR, gettext_lazy("HTTP %(status)s from %(url)s")),
    _line(http.REQUEST_FAILED, gettext_lazy("request to %(url)s failed: %(reason)s"), url=r"\S+"),
    _line(http.REDIRECT_REFUSED, gettext_lazy("redirect from %(origin)s to another origin (%(target)s) refused")),
    _line(http.TOO_MANY_REDIRECTS, gettext_lazy("more than %(limit)s redirects from %(url)s")),
    _line(
        http.RESPONSE_TOO_LARGE,
        gettext_lazy("response from %(url)s is larger than %(limit)s bytes (COUNCILORS_HTTP_MAX_RESPONSE_BYTES)"),
    ),
    # councilors/runners/python.py (a callable refused at run time: the settings changed since it was saved)
    _line(
        python.CALLABLE_NOT_ALLOWED,
        gettext_lazy(
            "callable %(path)s is not in a module listed in COUNCILORS_PYTHON_RUNNER_MODULES (now: %(allowed)s); "
            "an admin of the server adds the module (or its package) to that setting."
        ),
    ),
    _line(
        python.CALLABLE_INVALID,
        gettext_lazy('callable must be a dotted path to a function, e.g. "myapp.agents.review".'),
    ),
    _line(python.CANNOT_IMPORT, gettext_lazy("cannot import %(path)s: %(reason)s")),
    _line(python.NO_MODULES, gettext_lazy("none"), fragment=True),
    # councilors/reaper.py, councilors/services.py
    _line(WORKER_LOST, gettext_lazy("worker lost (its process ended during the run)")),
    _line(DATABASE_LOST, gettext_lazy("database connection lost while the run was in flight: %(error)s")),
    # The alerts the project emits (councilors/notifications.py): a system_alert's message, worded alike.
    _line(notifications.STREAK_MESSAGE, gettext_lazy("%(title)s failed %(count)s runs in a row"), title=r".+"),
    _line(
        notifications.WORKERS_DOWN_MESSAGE,
        gettext_lazy("No worker cluster seen for %(seconds)ss: councilors are not running"),
    ),
    _line(notifications.WORKERS_BACK_MESSAGE, gettext_lazy("Worker clusters are back (%(count)s alive)")),
)


def run_error_text(error: str | None) -> str:
    """`error` in the active language when it is one of the project's own texts, else as recorded."""
    return _worded(error or "", whole=True)


def error_part_text(part: str) -> str:
    """A part of an error (a reason, what a path would show) in the active language when the project wrote it."""
    return _worded(part, whole=False)


def _worded(text: str, *, whole: bool) -> str:
    for known in ERROR_TEXTS:
        if known.fragment and whole:
            continue
        match = known.pattern.match(text)
        if match:
            # A captured part is shorter than the text, so this ends; most parts match nothing.
            params = {name: error_part_text(value) for name, value in match.groupdict().items()}
            return str(known.message) % params
    return text


def run_error_patterns() -> list[dict[str, str | bool]]:
    """The table for the pages' scripts: each pattern (JavaScript syntax) and its message, translated."""
    return [
        {
            "pattern": re.sub(r"\(\?P=(\w+)\)", r"\\k<\1>", known.pattern.pattern.replace("(?P<", "(?<")),
            "flags": "s" if known.pattern.flags & re.DOTALL else "",
            "message": str(known.message),
            "fragment": known.fragment,
        }
        for known in ERROR_TEXTS
    ]
