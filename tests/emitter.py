"""A worker stand-in for multi-process tests: emits events the way workers do, until stopped.

`python -m tests.emitter --types system_alert,agent_metrics_updated --interval 0.003` emits one
event per interval through `gamification.events.emit` (the synchronous path django-q2 tasks use),
cycling through the types, and prints "<id> <type>" for each, so a test knows exactly what was sent.
"""

import argparse
import itertools
import os
import re
import time
from pathlib import Path

import django

EMITTED_LINE = re.compile(r"^(\d+) (\w+)$")


def event_data(event_type: str, n: int) -> dict:
    if event_type == "system_alert":
        return {"level": "info", "message": f"event {n}", "source": "tests.emitter"}
    if event_type == "agent_metrics_updated":
        metrics = {
            "total_executions": n,
            "success_rate": 100.0,
            "last_execution": None,
            "last_severity": None,
            "avg_duration_ms": None,
        }
        return {"agent_id": "emitter", "metrics": metrics}
    raise ValueError(f"tests.emitter cannot make data for {event_type!r}")


def emitted_events(log: Path) -> list[tuple[int, str]]:
    """(id, type) of each event an emitter printed to `log`, in order (a line cut short by its stop left out)."""
    text = log.read_text()
    lines = text.splitlines()[: text.count("\n")]
    assert all(EMITTED_LINE.match(line) for line in lines), "the emitter failed: " + text
    return [(int(match[1]), match[2]) for match in map(EMITTED_LINE.match, lines)]


def emitted_ids(log: Path) -> list[int]:
    """The ids an emitter printed to `log`, in order (see emitted_events)."""
    return [event_id for event_id, _type in emitted_events(log)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--types", default="system_alert")
    parser.add_argument("--interval", type=float, default=0.01)
    args = parser.parse_args()
    # Its output is the record of what was sent: only warnings and errors may join it.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    from gamification.events import emit

    types = args.types.split(",")
    for n in itertools.count():
        event_type = types[n % len(types)]
        envelope = emit(event_type, event_data(event_type, n))
        print(envelope["id"], event_type, flush=True)
        time.sleep(args.interval)  # pacing, not synchronisation


if __name__ == "__main__":
    main()
