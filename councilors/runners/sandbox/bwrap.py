"""The bubblewrap command line of a run: namespaces, the read-only system, what else it binds, who it runs as."""

import functools
import glob
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from councilors.runners.base import RunnerError
from councilors.runners.sandbox import paths

# The run's user inside the sandbox; on the host it is the worker's user, or nobody for a root worker.
RUN_UID = RUN_GID = 1000
NOBODY_UID = NOBODY_GID = 65534
ROOT_CAPABILITIES = ("CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID")
TOOL_MISSING = "%(tool)s (util-linux) is not installed; command runs need it to apply their limits."
# Merged-/usr systems make these symlinks into /usr; older ones have directories.
SYSTEM_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# What of /etc programs need at run time: name resolution, certificates (not /etc/ssl/private), the
# time zone, the dynamic loader's cache, the alternatives' links (awk, editor, java…), Java's own
# settings where Java is installed. Each entry costs every run a mount: the list stays short.
ETC_ENTRIES = (
    "alternatives",
    "crypto-policies",
    "hosts",
    "java-*",
    "ld.so.cache",
    "localtime",
    "nsswitch.conf",
    "os-release",
    "pki/ca-trust",
    "pki/tls/certs",
    "protocols",
    "resolv.conf",
    "services",
    "ssl/certs",
    "ssl/openssl.cnf",
)


def worker_is_root() -> bool:
    return os.geteuid() == 0


def tool(name: str) -> str:
    """The path of a util-linux tool every run uses (prlimit; setpriv and unshare for a root worker)."""
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if path is None:
        raise RunnerError(TOOL_MISSING % {"tool": name})
    return path


def namespace_options(*, network: bool) -> list[str]:
    options = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    options += ["--die-with-parent", "--new-session"]
    if not network:
        options.append("--unshare-net")
    if worker_is_root():
        # Only what bwrap needs to enter the scratch directory (nobody's) and setpriv to become nobody;
        # the kernel clears them all when setpriv leaves uid 0.
        options += ["--cap-drop", "ALL"]
        options += [arg for cap in ROOT_CAPABILITIES for arg in ("--cap-add", cap)]
    else:
        options += ["--unshare-user", "--uid", str(RUN_UID), "--gid", str(RUN_GID)]
    return options


def user_drop() -> list[str]:
    """For a root worker: become the host's nobody, then enter a user namespace of the run's own."""
    if not worker_is_root():
        return []
    setpriv = [tool("setpriv"), f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups", "--"]
    return [*setpriv, tool("unshare"), "--user", f"--map-user={RUN_UID}", f"--map-group={RUN_GID}", "--"]


@functools.cache
def system_binds() -> tuple[str, ...]:
    """The read-only system part of every sandbox, the same for every run of this process."""
    binds = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_TOP_LEVEL:
        binds += _mirror(f"/{name}")
    made = set()
    for pattern in ETC_ENTRIES:
        for path in sorted(glob.glob(f"/etc/{pattern}")):
            # bwrap would make the folders above it 0700 (root's): the run could not look inside.
            parents = [str(parent) for parent in reversed(Path(path).parents) if str(parent) not in ("/", *made)]
            binds += [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]
            made.update(parents)
            binds += _mirror(path)
    binds += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    binds += ["--perms", "1777", "--tmpfs", "/dev/shm"]
    return tuple(binds)


def _mirror(path: str) -> list[str]:
    """A system path as the host has it: the same symlink, or the file or directory read-only."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.exists(path):
        return ["--ro-bind", path, path]
    return []


def _bind(option: str, path: str) -> list[str]:
    """`option` for `path` at the same place, with its parents created traversable (bwrap makes them 0700)."""
    parents = [str(parent) for parent in reversed(Path(path).parents) if str(parent) != "/"]
    made = [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]
    return [*made, option, path, path]


def bwrap_argv(*, argv: list[str], config: Mapping[str, Any], scratch: str, identity_fds: tuple[int, int]) -> list:
    bwrap = shutil.which("bwrap") or "bwrap"
    cwd = config.get("cwd") or scratch
    command = [bwrap, *namespace_options(network=config.get("network", True) is not False), *system_binds()]
    passwd_fd, group_fd = identity_fds
    command += ["--perms", "0644", "--ro-bind-data", str(passwd_fd), "/etc/passwd"]
    command += ["--perms", "0644", "--ro-bind-data", str(group_fd), "/etc/group"]
    for path in [*paths.interpreter_prefixes(), *paths.read_only_paths()]:
        command += _bind("--ro-bind-try", path)
    command += _bind("--bind", scratch)
    if config.get("cwd"):
        command += _bind("--ro-bind", config["cwd"])
    return [*command, "--chdir", cwd, "--", *user_drop(), *argv]


@contextmanager
def identity_files(home: str) -> Iterator[tuple[int, int]]:
    """/etc/passwd and /etc/group of the sandbox, as pipes bwrap reads once.

    The run's user, and nobody: in the run's user namespace every file it does not own shows as nobody's.
    """
    contents = (
        f"run:x:{RUN_UID}:{RUN_GID}:Conductor run:{home}:/bin/sh\n"
        f"nobody:x:{NOBODY_UID}:{NOBODY_GID}:nobody:/nonexistent:/usr/sbin/nologin\n",
        f"run:x:{RUN_GID}:\nnogroup:x:{NOBODY_GID}:\n",
    )
    fds: list[int] = []
    try:
        for content in contents:
            read_end, write_end = os.pipe()
            fds.append(read_end)
            os.write(write_end, content.encode())  # far below a pipe's capacity: never blocks
            os.close(write_end)
        yield fds[0], fds[1]
    finally:
        for fd in fds:
            os.close(fd)
