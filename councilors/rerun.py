"""Run again: a run page's "Run again" asks for the same run once more (docs/dashboard.md, "Run page").

Under the rules of running the agent from the web (councilors.services.agent_run_allowed: the
councilors.run_agent permission, the agent available through the API, a live worker cluster, the
`execute` rate limit). A councilor's run runs its councilor again (its task's prompt as it is
now, through the councilor's overlap guard); any other run runs its agent with the same prompt and
instance. "Edit and run" is the agent page's run form with the prompt filled in (dashboard.pages).
"""

from councilors.audit import Actor
from councilors.models import ActionRecord, Councilor, Execution
from councilors.services import RunNow, agent_enqueue, agent_run_allowed, councilor_enqueue


def execution_run_again(*, execution: Execution, actor: Actor) -> RunNow:
    """Queue the same run once more for a worker, as asked for by `actor`; RunRefused when its rules say no."""
    agent_run_allowed(agent=execution.agent, actor=actor)
    councilor = _councilor_of(execution)
    if councilor is not None:
        return RunNow(execution_id=councilor_enqueue(councilor=councilor, actor=actor))
    execution_id = agent_enqueue(
        agent=execution.agent,
        prompt=execution.prompt,
        actor=actor,
        instance_id=execution.instance_id,
        action=ActionRecord.Action.RUN_NOW,
    )
    return RunNow(execution_id=execution_id)


def _councilor_of(execution: Execution) -> Councilor | None:
    """The councilor a councilor run belongs to, if it still is one (a demoted agent's runs run the agent)."""
    if execution.kind != Execution.Kind.COUNCILOR or execution.councilor_id is None:
        return None
    return Councilor.objects.select_related("agent").filter(pk=execution.councilor_id).first()
