"""What a trivial scheduled run costs in database queries: an upper bound, so that the cost cannot creep back.

bench/runs.py measures the cost (docs/benchmarks.md); each query cut there is held here. The
bound counts each transaction's BEGIN and COMMIT (8 on SQLite and on PostgreSQL; 13, and 23, before).
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from councilors.models import Execution
from councilors.tasks import run_scheduled_councilor_task
from tests.factories import make_agent, make_councilor

# The start in its transaction (councilor lock with its agent and open incidents, one read for overlap
# and repeat, the agent's lock, the insert that numbers the run), and the finish (its update, then the
# agent's metrics with its cap: no queued run can wait for this one).
TRIVIAL_RUN_QUERIES = 8


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_sandbox")
def test_a_trivial_scheduled_run_stays_within_its_query_budget():
    councilor = make_councilor(agent=make_agent(runner_config={"argv": ["true"], "timeout": 10}))
    due = timezone.now() - timedelta(seconds=1)
    run_scheduled_councilor_task(councilor.pk, (due - timedelta(minutes=1)).isoformat())  # a history to read
    with CaptureQueriesContext(connection) as queries:
        run_scheduled_councilor_task(councilor.pk, due.isoformat())
    run = Execution.objects.get(councilor=councilor, scheduled_for=due)
    assert (run.status, run.run_number) == (Execution.Status.COMPLETED, 2)
    listed = "\n".join(query["sql"][:160] for query in queries.captured_queries)
    assert len(queries) <= TRIVIAL_RUN_QUERIES, listed
