"""honcho's `manager.KILL_WAIT` (honcho is pinned in requirements.txt): the one internal `make run` sets.

honcho SIGKILLs whatever still runs KILL_WAIT (5) seconds after Ctrl+C and offers no public way to
change it; the worker cluster needs longer to finish what it runs (devserver/procgroup.py). Setting
the module global is checked first: if a honcho release drops it, `make run` says so once and
keeps honcho's own wait (the worker may then be cut short at Ctrl+C).
"""

import honcho.manager
from honcho.manager import SYSTEM_PRINTER_NAME, Manager
from honcho.printer import Message, Printer

# The rest of honcho that `make run` uses is public; it is reached through here, so that this module
# is the one place that imports honcho (pyproject.toml's import contracts).
__all__ = ["SYSTEM_PRINTER_NAME", "Manager", "Message", "Printer", "grant_grace"]

MSG_UNAVAILABLE = "make run: honcho has no KILL_WAIT any more; Ctrl+C may cut the worker's grace period short."


def grant_grace(seconds: float) -> bool:
    """Let the processes run up to `seconds` after Ctrl+C before honcho kills them; False if it cannot."""
    if not isinstance(getattr(honcho.manager, "KILL_WAIT", None), int | float):
        print(MSG_UNAVAILABLE, flush=True)
        return False
    honcho.manager.KILL_WAIT = seconds
    return True
