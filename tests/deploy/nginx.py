"""deploy/nginx.conf run for real: the file itself, with this machine's ports and folders put in, under
an nginx in the foreground (no daemon, no root paths: its logs, pid and temporary files in `workdir`)."""

import getpass
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import PROJECT_DIR, free_port, stop, wait_for_port

NGINX_CONF = PROJECT_DIR / "deploy" / "nginx.conf"
DEBIAN_NGINX = "/usr/sbin/nginx"
MSG_NO_NGINX = "nginx is not installed: `apt-get install nginx` (.ci/run installs it when absent)"
MSG_STALE = "deploy/nginx.conf no longer contains {old!r}: update tests/deploy/nginx.py to match"
# A gateway line of the upstream block: `server 127.0.0.1:5006 max_fails=1 fail_timeout=10s;`.
GATEWAY_LINE = re.compile(r"^(?P<indent>[ \t]*)server 127\.0\.0\.1:\d+(?P<options>[^;\n]*);\n", re.MULTILINE)


def nginx_binary() -> str:
    found = shutil.which("nginx") or (DEBIAN_NGINX if Path(DEBIAN_NGINX).exists() else None)
    if found is None:
        raise RuntimeError(MSG_NO_NGINX)
    return found


def _gateways(text: str, ports: list[int]) -> str:
    """The file's upstream lines replaced by one per port, with the file's own options (max_fails…)."""
    lines = list(GATEWAY_LINE.finditer(text))
    assert lines, MSG_STALE.format(old="server 127.0.0.1:<port> ...;")
    first = lines[0]
    ours = "".join(f"{first['indent']}server 127.0.0.1:{port}{first['options']};\n" for port in ports)
    return text[: first.start()] + ours + GATEWAY_LINE.sub("", text[first.start() :])


def render(*, listen_port: int, gateway_ports: list[int], static_dir: Path, workdir: Path) -> str:
    """deploy/nginx.conf with the test's gateways, port, static folder, logs and temporary files."""
    text = _gateways(NGINX_CONF.read_text(), gateway_ports)
    replacements = {
        # Ignored (with a warning) unless nginx runs as root; as root, workers that run as this user
        # can read the test's folders.
        "user www-data;": f"user {getpass.getuser()};",
        "listen 80;": f"listen 127.0.0.1:{listen_port};",
        "/srv/conductor/var/static/": f"{static_dir}/",
        "/var/log/nginx/": f"{workdir}/",
        "/var/lib/nginx/": f"{workdir}/",
    }
    for old, new in replacements.items():
        assert old in text, MSG_STALE.format(old=old)
        text = text.replace(old, new)
    return text


@contextmanager
def nginx(
    *, gateway_ports: list[int], workdir: Path, static_dir: Path | None = None
) -> Iterator[tuple[subprocess.Popen, int]]:
    """nginx with deploy/nginx.conf in front of `gateway_ports`, on a free port of 127.0.0.1."""
    workdir.mkdir(parents=True, exist_ok=True)
    static_dir = static_dir or workdir / "static"
    static_dir.mkdir(exist_ok=True)
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(render(listen_port=port, gateway_ports=gateway_ports, static_dir=static_dir, workdir=workdir))
    argv = [nginx_binary(), "-p", str(workdir), "-c", str(config), "-e", str(workdir / "error.log")]
    argv += ["-g", f"daemon off; pid {workdir / 'nginx.pid'};"]
    with open(workdir / "nginx.out", "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, process)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"nginx did not start: {(workdir / 'error.log').read_text()}") from error
        yield process, port
    finally:
        stop(process)
