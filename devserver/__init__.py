"""`make run`'s machinery: prepare a fresh machine and supervise Redis, daphne and a worker cluster.

Development tooling only: no app imports it, and production runs its processes by other means.
"""
