"""Private state of foreign libraries that shared infrastructure relies on: one module per library.

- `asgiref`: the context variable that picks the thread Django runs a request's sync code on.

As in gamification/fastpath: each module checks at start-up that what it relies on is there, logs
once which path it takes, and falls back to the public behaviour otherwise; nothing else in the
project touches those internals (pyproject.toml's import contracts, tests/test_imports.py).
"""
