"""django-q2 task functions: thin wrappers that look the object up and call the run service."""

from councilors.models import Agent
from councilors.selectors import councilor_get
from councilors.services import agent_run, councilor_run


def run_councilor_task(councilor_id: str, execution_id: str | None = None) -> str:
    """Worker entry point for one councilor run; returns the execution id."""
    return councilor_run(councilor=councilor_get(councilor_id=councilor_id), execution_id=execution_id).execution_id


def run_agent_task(agent_id: str, prompt: str, instance_id: str = "", execution_id: str | None = None) -> str:
    """Worker entry point for one agent run (the HTTP API's execute); returns the execution id."""
    agent = Agent.objects.get(agent_id=agent_id)
    return agent_run(agent=agent, prompt=prompt, instance_id=instance_id, execution_id=execution_id).execution_id
