"""Run output published to a per-execution Redis Stream, and a failing Redis never failing the run."""

import json
import logging
import sys

import pytest
import redis

from councilors import output_stream
from councilors.app_settings import app_settings as app_settings_councilors
from councilors.models import Execution
from councilors.output_stream import OutputPublisher, split_lines, stream_key
from councilors.runners.bounded import TRUNCATION_SLACK
from councilors.services import agent_run
from infrastructure.app_settings import app_settings
from tests.councilors.flood import OUTPUT_TRUNCATED_LINE, flood_config
from tests.factories import make_agent
from tests.processes import free_port


@pytest.fixture
def dead_redis(monkeypatch):
    """Point the publisher at a port where no Redis listens: a real connection failure."""
    client = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    monkeypatch.setattr(output_stream, "redis_sync", lambda: client)
    return client


def test_lines_are_appended_with_their_number_as_id_then_the_end_marker(redis_client):
    publisher = OutputPublisher(execution_id="exec_test_lines_1")
    publisher("first\n")
    publisher("second\nthird\n")
    publisher.end(status="completed", severity="warning")

    entries = redis_client.xrange(stream_key("exec_test_lines_1"))

    assert [entry_id for entry_id, _ in entries] == [b"1-0", b"2-0", b"3-0", b"4-0"]
    assert [fields[b"line"] for _, fields in entries[:3]] == [b"first", b"second", b"third"]
    assert json.loads(entries[3][1][b"end"]) == {"status": "completed", "severity": "warning"}
    assert 0 < redis_client.ttl(stream_key("exec_test_lines_1")) <= app_settings.STREAM_TTL_S


def test_the_callers_own_callback_still_gets_every_chunk(redis_client):
    seen = []
    publisher = OutputPublisher(execution_id="exec_test_forward_1", forward=seen.append)
    publisher("a\nb\n")
    assert seen == ["a\nb\n"]


@pytest.mark.django_db
def test_a_run_streams_its_output_as_it_goes(redis_client):
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", "print('one'); print('two')"], "timeout": 10})
    execution = agent_run(agent=agent, prompt="x")

    entries = redis_client.xrange(stream_key(execution.execution_id))

    assert [fields.get(b"line") for _, fields in entries[:2]] == [b"one", b"two"]
    assert json.loads(entries[2][1][b"end"]) == {"status": "completed", "severity": "success"}


@pytest.mark.django_db
def test_a_failing_redis_does_not_fail_the_run_and_is_logged_once(dead_redis, caplog):
    script = "\n".join(f"print('line {n}')" for n in range(5))
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", script], "timeout": 20})

    with caplog.at_level(logging.WARNING, logger="councilors.output_stream"):
        execution = agent_run(agent=agent, prompt="x")

    execution.refresh_from_db()
    assert execution.status == Execution.Status.COMPLETED
    assert execution.output == "".join(f"line {n}\n" for n in range(5))
    warnings = [record for record in caplog.records if record.name == "councilors.output_stream"]
    assert len(warnings) == 1
    assert execution.execution_id in warnings[0].getMessage()


@pytest.mark.django_db
def test_fifty_megabytes_of_output_are_stored_and_streamed_bounded_ending_with_the_marker(redis_client):
    execution = agent_run(agent=make_agent(runner_config=flood_config()), prompt="x")

    execution.refresh_from_db()
    assert execution.status == Execution.Status.COMPLETED
    assert len(execution.output.encode()) <= app_settings_councilors.OUTPUT_MAX_BYTES + TRUNCATION_SLACK
    assert execution.output.endswith(f"\n{OUTPUT_TRUNCATED_LINE}\n")
    *_, (last_line_id, last_line), (end_id, end) = redis_client.xrange(stream_key(execution.execution_id))
    assert last_line[b"line"] == OUTPUT_TRUNCATED_LINE.encode()
    # The stream numbers lines as the stored output does: the marker is its last line.
    assert int(last_line_id.split(b"-")[0]) == len(split_lines(execution.output))
    assert json.loads(end[b"end"]) == {"status": "completed", "severity": "success"}


def test_published_lines_are_what_a_reader_has_had_so_far_numbered(redis_client):
    publisher = OutputPublisher(execution_id="exec_test_published_1")
    publisher("first\nsecond\n")
    publisher("third\n")
    assert output_stream.published_lines(execution_id="exec_test_published_1") == [
        (1, "first"),
        (2, "second"),
        (3, "third"),
    ]
    publisher.end(status="completed", severity="success")
    assert len(output_stream.published_lines(execution_id="exec_test_published_1")) == 3, "the end marker is no line"
    assert output_stream.published_lines(execution_id="exec_test_published_none") == []


def test_published_lines_with_redis_down_is_none(dead_redis, caplog):
    assert output_stream.published_lines(execution_id="exec_test_published_2") is None
    assert "unreadable for the run page" in caplog.text
