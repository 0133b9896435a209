"""The gateway process's garbage collector: start-up objects frozen, young collections less often."""

import gc

from infrastructure import gc_tuning


def test_the_asgi_application_tunes_the_collector_at_start_up():
    import conductor.asgi  # noqa: F401 - importing it is what starts a gateway process

    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert gc.get_freeze_count() > 10_000  # Django, the project and their modules are out of the collector's way


def test_cycles_are_still_collected():
    class Node:
        pass

    collected_before = sum(generation["collected"] for generation in gc.get_stats())
    for _ in range(1_000):
        node = Node()
        node.self = node  # a cycle: only the collector frees it
    del node
    gc.collect()
    assert sum(generation["collected"] for generation in gc.get_stats()) - collected_before >= 1_000
