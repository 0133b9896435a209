from councilors.selectors import agent_metrics_get, agents_metrics_list
from councilors.services import agent_run, execution_start
from tests.factories import make_agent


def test_metrics_are_derived_from_finished_executions(db):
    agent = make_agent()
    agent_run(agent=agent, prompt="go")
    agent_run(agent=agent, prompt="go")
    metrics = agent_metrics_get(agent=agent)
    assert metrics["total_executions"] == 2
    assert metrics["success_rate"] == 100.0
    assert metrics["last_severity"] == "success"
    assert metrics["avg_duration_ms"] is not None


def test_an_agent_without_runs_has_empty_metrics(db):
    agent = make_agent()
    assert agents_metrics_list()[agent.agent_id] == {
        "total_executions": 0,
        "success_rate": 0.0,
        "last_execution": None,
        "last_severity": None,
        "avg_duration_ms": None,
    }


def test_a_running_execution_counts_in_total_but_not_in_rates(db):
    agent = make_agent()
    agent_run(agent=agent, prompt="go")
    failing = make_agent(runner_config={"argv": ["false"], "timeout": 5})
    agent_run(agent=failing, prompt="go")
    execution_start(agent=agent, prompt="still going")
    metrics = agents_metrics_list()
    assert metrics[agent.agent_id]["total_executions"] == 2
    assert metrics[agent.agent_id]["success_rate"] == 100.0
    assert metrics[failing.agent_id]["success_rate"] == 0.0
    assert metrics[failing.agent_id]["last_severity"] == "error"
