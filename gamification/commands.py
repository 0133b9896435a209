"""Commands other apps add to `/ws/gamification` (docs/protocol.md, "Control commands").

The gateway knows how to parse, rate-limit and answer commands, but not what a councilor is: the
councilors app registers the control commands (pause, resume, run) when Django starts, so the
gateway never imports the domain and the domain only imports the gateway's vocabulary.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Reply = tuple[str, dict[str, Any]] | None


@dataclass(frozen=True)
class Caller:
    """Who sent a command: the connection's user and where the connection comes from."""

    user: Any  # the Django user as loaded at most GAMIFICATION_ACCESS_TTL_S ago (AnonymousUser when anonymous)
    address: str  # the client's IP address as the server saw it ("" when unknown)
    may_control: bool = False  # may pause, resume and run councilors (gamification/access.py, as old as `user`)


# handler(caller, content) -> the reply for the caller, or None when it replied itself.
CommandHandler = Callable[[Caller, dict[str, Any]], Awaitable[Reply]]

_handlers: dict[str, CommandHandler] = {}


def register_command(name: str, handler: CommandHandler) -> None:
    """Add (or replace) the handler of one extra command; called from an AppConfig.ready()."""
    _handlers[name] = handler


def extra_command(name: str) -> CommandHandler | None:
    """The handler another app registered for `name`, or None."""
    return _handlers.get(name)


def extra_command_names() -> frozenset[str]:
    return frozenset(_handlers)
