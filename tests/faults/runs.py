"""Councilors that run for a while on a real worker, and waiting for their executions in the database."""

import asyncio
import sys
import time

from asgiref.sync import sync_to_async

from councilors.models import Councilor, Execution
from councilors.services import councilor_enqueue
from tests.factories import make_actor, make_agent, make_councilor


@sync_to_async
def setup_councilors(count: int, *, run_seconds: float) -> list[Councilor]:
    """`count` councilors whose run sleeps `run_seconds`, then prints a line and succeeds."""
    argv = [sys.executable, "-c", f"import time; time.sleep({run_seconds}); print('all good')"]
    return [
        make_councilor(agent=make_agent(runner_config={"argv": argv, "timeout": 30}), schedule_value="1d")
        for _ in range(count)
    ]


@sync_to_async
def enqueue(councilors: list[Councilor]) -> list[str]:
    return [councilor_enqueue(councilor=councilor, actor=make_actor()) for councilor in councilors]


@sync_to_async
def statuses(execution_ids: list[str]) -> dict[str, str]:
    return dict(Execution.objects.filter(execution_id__in=execution_ids).values_list("execution_id", "status"))


async def wait_all_finished(execution_ids: list[str], timeout: float) -> dict[str, str]:
    """Poll the database (the worker is another process) until every execution has a final status."""
    deadline = time.monotonic() + timeout
    while True:
        found = await statuses(execution_ids)
        if len(found) == len(execution_ids) and Execution.Status.RUNNING not in found.values():
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"executions not all finished after {timeout}s: {found}")
        await asyncio.sleep(0.5)


async def wait_all_running(execution_ids: list[str], timeout: float) -> None:
    """Poll the database until every execution is recorded as running (the worker has started them)."""
    deadline = time.monotonic() + timeout
    while list((await statuses(execution_ids)).values()) != [Execution.Status.RUNNING] * len(execution_ids):
        if time.monotonic() > deadline:
            raise AssertionError(f"executions not all running after {timeout}s")
        await asyncio.sleep(0.1)
