"""Who did what, from where: the actor every pause, resume, run now and execute carries, and its record.

The services write an ActionRecord in the same transaction as the change they make, so a change
is never without its record and a record never outlives a change that was rolled back.
"""

import socket
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from councilors.models import ActionRecord


@dataclass(frozen=True)
class Actor:
    """Who asks for an action (a user, or a name on a command line), through which edge, from where."""

    user: Any  # the Django user; None for a management command
    name: str
    source: str  # an ActionRecord.Source
    address: str = ""

    @classmethod
    def of_user(cls, user: Any, *, source: str, address: str) -> "Actor":
        """A logged-in user acting through the admin, the WebSocket or the API."""
        return cls(user=user, name=user.get_username(), source=source, address=address)

    @classmethod
    def of_command(cls, name: str) -> "Actor":
        """An operator at a shell: the name given (`--by`, or the OS user) and this machine's host name."""
        return cls(user=None, name=name, source=ActionRecord.Source.COMMAND, address=socket.gethostname())

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


def request_address(request: HttpRequest) -> str:
    """The client's address as the server saw it.

    Behind a reverse proxy this is the proxy's address, unless daphne runs with `--proxy-headers`
    (it then takes X-Forwarded-For, which only a proxy the clients cannot bypass may be trusted to set).
    """
    return request.META.get("REMOTE_ADDR") or ""


def action_record_create(*, actor: Actor, action: str, target: str, execution_id: str = "") -> ActionRecord:
    """Record one action; call it inside the transaction that makes the change."""
    record = ActionRecord(
        actor=actor.user,
        actor_name=actor.name,
        action=action,
        target=target,
        execution_id=execution_id,
        source=actor.source,
        address=actor.address,
    )
    record.full_clean()
    record.save()
    return record
