"""Shared infrastructure the apps build on: Redis access, JWT tokens, HTTP API authentication, streaming.

It imports no app of the project: apps import it, never the other way round.
"""
