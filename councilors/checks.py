"""System checks: the worker configuration django-q2 itself only warns about, the command sandbox, stored agents."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from councilors.app_settings import app_settings
from councilors.runners.sandbox import (
    INSTALL_HINT,
    NONE,
    SANDBOXES,
    SandboxUnavailable,
    bwrap_probe,
    chosen_sandbox,
    path_problem,
    sandbox_mode,
)

TIMEOUT_RETRY_CONFLICT = (
    "Q_CLUSTER['timeout'] ({timeout}) must be set and smaller than Q_CLUSTER['retry'] ({retry}): the ORM broker "
    "hands a task to another worker after `retry` seconds, so a slow run would be delivered twice."
)
TIMEOUT_RETRY_HINT = "Set Q_TIMEOUT below Q_RETRY (defaults: 900 and 960)."
BROKER_NOT_ORM = "Q_CLUSTER['orm'] is not set: councilor runs need the ORM broker, which keeps a task until it is done."


@checks.register(checks.Tags.compatibility)
def check_worker_timeouts(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a timeout that is missing or not below retry; require the ORM broker."""
    conf = getattr(settings, "Q_CLUSTER", {})
    errors = []
    timeout, retry = conf.get("timeout"), conf.get("retry", 60)
    if not timeout or timeout >= retry:
        errors.append(
            checks.Error(
                TIMEOUT_RETRY_CONFLICT.format(timeout=timeout, retry=retry),
                hint=TIMEOUT_RETRY_HINT,
                id="councilors.E001",
            )
        )
    if not conf.get("orm"):
        errors.append(checks.Error(BROKER_NOT_ORM, id="councilors.E002"))
    return errors


SANDBOX_OFF = (
    "Command runs are not sandboxed (COUNCILORS_SANDBOX is %(mode)s%(why)s): each runs with the worker's rights and "
    "can read its files, its database and the other processes' environment."
)
SANDBOX_OFF_HINT = (
    "Install bubblewrap (" + INSTALL_HINT + ") on every worker machine and leave COUNCILORS_SANDBOX unset "
    "(or set it to bwrap); docs/security.md says what the sandbox hides."
)
SANDBOX_BROKEN_HINT = "Install bubblewrap (" + INSTALL_HINT + ") or set COUNCILORS_SANDBOX=none; docs/security.md."
READ_ONLY_PATH_HINT = "Remove it from COUNCILORS_SANDBOX_READ_ONLY_PATHS: runs must never see the server's files."
STORED_AGENT_REFUSED = "Agent %(agent_id)r (%(name)s) no longer passes the rules for command agents: %(reason)s"
STORED_AGENT_HINT = "Its runs fail with this reason until its runner settings are changed in the admin."


@checks.register(checks.Tags.security)
def check_sandbox_setting(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """COUNCILORS_SANDBOX names a sandbox, bwrap works where it is asked for, read-only paths hide nothing."""
    messages: list[checks.CheckMessage] = []
    try:
        sandbox_mode()
    except SandboxUnavailable as exc:
        invalid = chosen_sandbox() not in SANDBOXES
        messages.append(
            checks.Error(exc.reason, id="councilors.E003")
            if invalid
            else checks.Warning(exc.reason, hint=SANDBOX_BROKEN_HINT, id="councilors.W003")
        )
    for path in app_settings.SANDBOX_READ_ONLY_PATHS:
        problem = path_problem(path, what="COUNCILORS_SANDBOX_READ_ONLY_PATHS entry")
        if problem is not None:
            messages.append(checks.Error(problem, hint=READ_ONLY_PATH_HINT, id="councilors.E004"))
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_sandbox_on(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """In production (DEBUG off), warn when command runs would run unsandboxed."""
    if settings.DEBUG or chosen_sandbox() != NONE:
        return []
    why = "" if app_settings.SANDBOX else f": bubblewrap cannot run here, {bwrap_probe().reason}"
    return [checks.Warning(SANDBOX_OFF % {"mode": NONE, "why": why}, hint=SANDBOX_OFF_HINT, id="councilors.W001")]


@checks.register(checks.Tags.database)
def check_stored_command_agents(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """Command agents saved before today's rules (argv policy, cwd, limits) that now fail: one warning each.

    A database check: `manage.py migrate` and `manage.py check --database default` run it.
    """
    if not databases or "default" not in databases:
        return []
    from councilors.models import Agent

    messages: list[checks.CheckMessage] = []
    try:
        agents = list(Agent.objects.filter(runner=Agent.Runner.COMMAND).order_by("agent_id"))
    except DatabaseError:
        return []  # not migrated yet: there is nothing stored to check
    for agent in agents:
        reason = _command_config_problem(agent.runner_config)
        if reason is not None:
            message = STORED_AGENT_REFUSED % {"agent_id": agent.agent_id, "name": agent.name, "reason": reason}
            messages.append(checks.Warning(message, hint=STORED_AGENT_HINT, obj=agent, id="councilors.W002"))
    return messages


def _command_config_problem(config: object) -> str | None:
    from councilors.models import RUNNER_CONFIG_NOT_OBJECT
    from councilors.runners.command import CommandRunner

    if not isinstance(config, dict):
        return RUNNER_CONFIG_NOT_OBJECT
    try:
        CommandRunner.validate_config(config)
    except ValidationError as exc:
        return " ".join(exc.message_dict.get("runner_config", exc.messages))
    return None
