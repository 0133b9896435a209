"""What the argv policy knows of programs that run code: how each finds its program, and which run others.

A family is a set of interpreters that read their program the same way: from code given with an
option (`python -c`, `perl -e`, `pwsh -Command`), from a file named by an option (`awk -f`,
`Rscript`'s operand, `pwsh -File`), as the text of their first operand (awk, sed), or from stdin
when given none of those (`python3`, `sh`, `tclsh`, `R`). `program_source` says which it is for one
argv. Programs are recognised by base name (`/usr/bin/python3.11` is python).
"""

import os
import re
from dataclasses import dataclass

END_OF_OPTIONS = "--"
# Arguments that name the standard input (where the prompt is) as a file to read a program from.
STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0", "/proc/thread-self/fd/0"})


@dataclass(frozen=True)
class Family:
    """Interpreters that find their program alike. Option names are matched exactly, or case-blind with prefixes."""

    name: str
    pattern: re.Pattern[str]
    # Letters of short options (alone or in a cluster: -c, -lc, -ne) that run code given on the command line.
    code_letters: str = ""
    # Long options (or, for case-blind families, words) that run code given on the command line.
    code_words: frozenset[str] = frozenset()
    # Options whose value is the program file.
    file_options: frozenset[str] = frozenset()
    # Options whose value is the next argument (skipped when looking for the program operand).
    value_options: frozenset[str] = frozenset()
    # Options after which the interpreter prints something and exits, reading no program.
    info_options: frozenset[str] = frozenset()
    # The first operand is: "file" (a script to run), "text" (the program itself: awk, sed) or "" (ignored).
    operand: str = "file"
    # With no program given, it reads one from stdin (awk and sed print their usage instead).
    reads_stdin_by_default: bool = True
    # Letters of short options that make it read its program from stdin whatever else is given (bash -s).
    stdin_letters: str = ""
    # PowerShell: options are case-blind, with one or two dashes, and any unambiguous prefix of a word.
    case_blind: bool = False

    def matches(self, program: str) -> bool:
        return bool(self.pattern.match(os.path.basename(program)))


def _words(*words: str) -> frozenset[str]:
    return frozenset(words)


FAMILIES = (
    Family(
        "shell",
        re.compile(r"^(sh|ash|bash|dash|zsh|ksh|mksh|pdksh|fish|csh|tcsh|yash|posh|su)$"),
        code_letters="c",
        code_words=_words("--command"),
        value_options=_words("-o", "+o", "-O", "+O", "--rcfile", "--init-file"),
        info_options=_words("--version", "--help"),
        stdin_letters="s",
    ),
    Family(
        "python",
        re.compile(r"^(python|pypy)(\d+(\.\d+)*)?[dmw]?$"),
        code_letters="c",
        value_options=_words("-W", "-X", "--check-hash-based-pycs"),
        info_options=_words("--version", "-V", "-VV", "--help", "-h", "--help-env", "--help-xoptions", "--help-all"),
    ),
    Family(
        "perl",
        re.compile(r"^perl(\d+(\.\d+)*)?$"),
        code_letters="eE",
        info_options=_words("--version", "-v", "-V", "--help", "-h"),
    ),
    Family(
        "ruby",
        re.compile(r"^(ruby|jruby|truffleruby)(\d+(\.\d+)*)?$"),
        code_letters="e",
        value_options=_words("-I", "-r", "-C", "-E", "-F", "--encoding", "--external-encoding"),
        info_options=_words("--version", "-v", "--help", "-h"),
    ),
    Family(
        "node",
        re.compile(r"^(node|nodejs|deno|bun)(\d+)?$"),
        code_letters="ep",
        code_words=_words("--eval", "--print"),
        value_options=_words("-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions"),
        info_options=_words("--version", "-v", "--help", "-h"),
    ),
    Family(
        "php",
        re.compile(r"^php(\d+(\.\d+)*)?(-cli)?$"),
        code_letters="rRBE",
        file_options=_words("-f", "--file"),
        value_options=_words("-c", "-d", "-z", "-t"),
        info_options=_words("--version", "-v", "--help", "-h", "-i", "-m"),
    ),
    Family(
        "lua",
        re.compile(r"^(lua|luajit)(\d+(\.\d+)*)?$"),
        code_letters="e",
        value_options=_words("-l"),
        info_options=_words("-v"),
    ),
    Family(
        "tcl",
        re.compile(r"^(tclsh|wish|jimsh|expect)(\d+(\.\d+)*)?$"),
        code_letters="c",
        file_options=_words("-f"),
        value_options=_words("-encoding"),
    ),
    Family(
        "rscript",
        re.compile(r"^Rscript$"),
        code_letters="e",
        info_options=_words("--version", "--help", "-h"),
        reads_stdin_by_default=False,  # prints its usage; `Rscript -` reads stdin
    ),
    Family(
        "r",
        re.compile(r"^R$"),
        code_letters="e",
        file_options=_words("-f", "--file"),
        info_options=_words("--version", "--help", "-h"),
        operand="",  # R ignores operands and reads its program from stdin or --file
    ),
    Family(
        "pwsh",
        re.compile(r"^(pwsh|powershell)(-preview)?(\.exe)?$", re.IGNORECASE),
        code_words=_words("command", "c", "encodedcommand", "e", "ec", "commandwithargs", "cwa"),
        file_options=_words("file", "f"),
        value_options=_words("executionpolicy", "ex", "ep", "workingdirectory", "wd"),
        info_options=_words("version", "v", "help", "?"),
        case_blind=True,
    ),
    Family(
        "awk",
        re.compile(r"^(awk|gawk|mawk|nawk|goawk)$"),
        code_letters="e",
        code_words=_words("--source"),
        file_options=_words("-f", "--file", "-E", "--exec", "-i", "--include"),
        value_options=_words("-v", "-F", "--assign", "--field-separator", "-l", "--load"),
        info_options=_words("--version", "-V", "--help", "-h"),
        operand="text",
        reads_stdin_by_default=False,
    ),
    Family(
        "sed",
        re.compile(r"^(sed|gsed|ssed)$"),
        code_letters="e",
        code_words=_words("--expression"),
        file_options=_words("-f", "--file"),
        value_options=_words("-l", "--line-length"),
        info_options=_words("--version", "--help"),
        operand="text",
        reads_stdin_by_default=False,
    ),
)
# Programs that run the program named in their arguments: whatever follows them may be a program.
WRAPPERS = frozenset(
    {"env", "nice", "nohup", "setsid", "stdbuf", "timeout", "sudo", "doas", "time", "ionice", "chrt", "taskset"}
    | {"flock", "unbuffer", "busybox", "xargs", "exec", "command", "strace", "ltrace", "valgrind", "nsenter"}
    | {"unshare", "chroot", "runuser", "setpriv", "prlimit", "systemd-run", "firejail", "bwrap", "proot"}
    | {"faketime", "torsocks", "proxychains", "proxychains4", "catchsegv", "pkexec", "sg", "capsh", "parallel"}
)
# Programs that join their arguments into a command line for a shell (here or on another host).
REMOTE_SHELLS = frozenset({"ssh", "rsh", "watch", "parallel", "script"})
# find's actions that run a command, and `find` itself: any of its arguments may be an action.
FIND = frozenset({"find", "gfind", "bfs"})
# Options that, in most programs, take code to run as their value (for programs the policy does not know).
CODE_OPTIONS = frozenset(
    {"-c", "-e", "-x", "-p", "--eval", "--evaluate", "-eval", "--exec", "--execute", "-exec", "-execdir", "-ok"}
    | {"-okdir", "--command", "-command", "--code", "--script", "--expression", "--source", "--print", "--run"}
)


def family_of(program: str) -> Family | None:
    """The interpreter family of the program `program` names (a path or a bare name), or None."""
    return next((family for family in FAMILIES if family.matches(program)), None)


def is_wrapper(program: str) -> bool:
    return os.path.basename(program) in WRAPPERS


@dataclass(frozen=True)
class ProgramSource:
    """Where an interpreter started at some index of argv takes its program from."""

    # "code" (an option's value), "file" (the index of a file to run), "text" (the index of the program's
    # text: awk, sed), "stdin", or "none" (it prints something and exits).
    kind: str
    option: str = ""
    index: int | None = None


def _matches(family: Family, arg: str, names: frozenset[str]) -> bool:
    name = arg.split("=", 1)[0]
    if not family.case_blind:
        return name in names
    # PowerShell: -c, -Command, --command, -com…: an alias, or a prefix of two letters or more of a word.
    word = name.lstrip("-").lower()
    return word in names or (len(word) >= 2 and any(candidate.startswith(word) for candidate in names))


def _short_cluster_has(arg: str, letters: str) -> bool:
    return arg.startswith("-") and not arg.startswith("--") and any(letter in arg[1:] for letter in letters)


def _classify(family: Family, arg: str) -> str:
    """What an option does for `family`: "info", "code", "file", "value" (takes the next argument) or "option"."""
    if _matches(family, arg, family.info_options):
        return "info"
    # Exact names first (tclsh's -encoding is no -c cluster); for PowerShell, code wins an ambiguous prefix.
    kinds = ("code", "file", "value") if family.case_blind else ("file", "value", "code")
    names = {"code": family.code_words, "file": family.file_options, "value": family.value_options}
    for kind in kinds:
        if _matches(family, arg, names[kind]):
            return kind
    if not family.case_blind and _short_cluster_has(arg, family.code_letters):
        return "code"
    return "option"


def program_source(argv: list[str], start: int, family: Family) -> ProgramSource:
    """Where the interpreter at `argv[start]` takes its program from."""
    if any(_classify(family, arg) == "info" for arg in argv[start + 1 :] if arg.startswith("-")):
        return ProgramSource("none")
    index, options_over = start + 1, False
    while index < len(argv):
        arg = argv[index]
        if options_over or arg == "-" or not arg.startswith(("-", "+")):
            if family.operand:
                kind = "stdin" if arg in STDIN_NAMES else family.operand
                return ProgramSource(kind, index=index)
        elif arg == END_OF_OPTIONS:
            options_over = True
        else:
            kind = _classify(family, arg)
            if kind == "code":
                # `pwsh -Command -`, `python -c -`: the code is read from stdin after all.
                value = arg.split("=", 1)[1] if "=" in arg else (argv[index + 1] if index + 1 < len(argv) else "")
                return ProgramSource("stdin" if value in STDIN_NAMES else "code", option=arg)
            if kind == "file":
                value_index = index if "=" in arg else index + 1
                value = arg.split("=", 1)[1] if "=" in arg else (argv[value_index] if value_index < len(argv) else "")
                return ProgramSource("stdin" if value in STDIN_NAMES else "file", option=arg, index=value_index)
            if kind == "value" and "=" not in arg:
                index += 1  # its value is the next argument, not an operand
        index += 1
    return ProgramSource("stdin" if family.reads_stdin_by_default else "none")


def reads_stdin_anyway(argv: list[str], start: int, family: Family) -> bool:
    """Whether an option makes the interpreter read its program from stdin whatever else is given (bash -s)."""
    return any(_short_cluster_has(arg, family.stdin_letters) for arg in argv[start + 1 :] if family.stdin_letters)
