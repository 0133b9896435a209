"""The settings of every process bench/runs.py starts: the project's, plus its query counter (bench/runs_support.py)."""

from bench.runs_support import install
from conductor.settings.base import *  # noqa: F403

install()
