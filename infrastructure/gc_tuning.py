"""The garbage collector tuned for a gateway process that holds thousands of connections.

Each WebSocket connection allocates a few hundred objects that live as long as it does (daphne's
protocol, Twisted's transport, the consumer, its outbox and tasks). With CPython's default
thresholds (700, 10, 10) a storm of connections triggers young collections every few connections
and full collections that walk the whole heap — Django, the application and every connection —
again and again: in a 2,000-client connect storm under daphne, a third of the gateway's CPU.

`tune_garbage_collector()` moves what exists at start-up (modules, settings, URL patterns) out of
the collector's sight (`gc.freeze()`), and collects young objects every 20,000 allocations instead
of 700. Cyclic garbage is still collected, a little later; memory per connection is unchanged
(bench/storm.py and bench/compare.py measure both).
"""

import gc

# (generation 0 allocations, generation 1 and generation 2 collections between the next older ones).
THRESHOLDS = (20_000, 20, 10)


def tune_garbage_collector() -> None:
    """Freeze the objects alive now and raise the young-generation threshold (call once, at start-up)."""
    gc.collect()  # leave no garbage behind in the frozen generation
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
