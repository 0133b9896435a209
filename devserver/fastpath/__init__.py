"""Private state of foreign libraries that `make run` relies on: one module per library, each checked.

- `honcho`: how long honcho waits after Ctrl+C before it kills what still runs.
"""
